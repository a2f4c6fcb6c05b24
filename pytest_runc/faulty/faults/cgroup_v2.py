"""Faulty runtimes for what only cgroup v2 has (conformance/test_cgroups_v2.py):
handing the cgroup to the container's user, unified keys, checkBeforeUpdate.

What happens to the cgroup after ``create`` (its owners) is an intercept
that lets the real runtime create the container, then changes the cgroup as
the faulty runtime would have left it. The rest are config edits, or an edit
of the resources ``update`` reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pytest_runc.faulty.behaviours import Call, acts_on, exit_of, read_config, run
from pytest_runc.faulty.model import Config, Fault

TYPE_CHECKING = False  # as typing's, which a wrapper call need not import
if TYPE_CHECKING:
    from typing import Any

CG2 = "conformance/test_cgroups_v2.py::"
CGROUP_ROOT = Path("/sys/fs/cgroup")

#: Unified keys that some other field of the config also sets: the only
#: ones a runtime that "writes what it understands" would write.
KNOWN_UNIFIED = frozenset(
    {"cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems", "memory.max", "memory.low",
     "memory.swap.max", "pids.max", "io.weight", "io.max"}
)  # fmt: skip


def _resources(config: Config) -> dict[str, Any]:
    resources: dict[str, Any] = config.setdefault("linux", {}).get("resources") or {}
    return resources


def _host_uid(config: Config) -> int | None:
    """The host uid of the process's user, through the user namespace's mappings."""
    uid = int((config.get("process") or {}).get("user", {}).get("uid", 0))
    for mapping in config.get("linux", {}).get("uidMappings") or []:
        start, size = int(mapping["containerID"]), int(mapping["size"])
        if start <= uid < start + size:
            return int(mapping["hostID"]) + uid - start
    return None


def _cgroup_of(config: Config) -> Path | None:
    """The container's v2 cgroup directory, for an absolute cgroupsPath."""
    path = str(config.get("linux", {}).get("cgroupsPath", ""))
    if not path.startswith("/"):
        return None
    where = CGROUP_ROOT / path.lstrip("/")
    return where if where.is_dir() else None


def _after_create(call: Call, change: Any) -> int | None:
    """create with the real runtime, then ``change(cgroup dir, config)``."""
    read = read_config(call)
    if call.command != "create" or read is None:
        return None
    status = exit_of(run(call.real).returncode)
    where = _cgroup_of(read[1])
    if status == 0 and where is not None:
        change(where, read[1])
    return status


def _give_back_to_root(where: Path, config: Config) -> None:
    for target in (where, *where.iterdir()):
        os.chown(target, 0, 0)


@acts_on("create")
def cgroup_kept_by_root(call: Call) -> int | None:
    """After create, the container's cgroup and its files belong to root again."""
    return _after_create(call, _give_back_to_root)


def _hand_everything_over(where: Path, config: Config) -> None:
    uid = _host_uid(config)
    if uid is None:
        return
    for target in (where, *where.iterdir()):
        os.chown(target, uid, -1)


@acts_on("create")
def whole_cgroup_handed_over(call: Call) -> int | None:
    """After create, every file of the container's cgroup belongs to its user."""
    return _after_create(call, _hand_everything_over)


def _only_known_unified(config: Config) -> None:
    unified = _resources(config).get("unified")
    if unified:
        _resources(config)["unified"] = {k: v for k, v in unified.items() if k in KNOWN_UNIFIED}


def _skip_keys_of_disabled_controllers(config: Config) -> None:
    """Drop the unified keys whose controller the cgroupsPath's parent does not
    enable for its children (where that parent exists already)."""
    unified = _resources(config).get("unified")
    path = str(config.get("linux", {}).get("cgroupsPath", ""))
    parent = (CGROUP_ROOT / path.lstrip("/")).parent
    if not unified or not path.startswith("/") or not parent.is_dir():
        return
    enabled = (parent / "cgroup.subtree_control").read_text().split()
    _resources(config)["unified"] = {
        key: value for key, value in unified.items() if key.split(".")[0] in enabled
    }


def _drop_check_before_update(config: Config) -> None:
    memory = _resources(config).get("memory")
    if isinstance(memory, dict):
        memory.pop("checkBeforeUpdate", None)


@acts_on("update")
def check_before_update_ignored(call: Call) -> int | None:
    """``update -r``: the resources lose checkBeforeUpdate before the real runtime reads them."""
    if call.command != "update" or "-r" not in call.sub:
        return None
    index = call.sub.index("-r") + 1
    source = call.sub[index] if index < len(call.sub) else "-"
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        resources = json.loads(text)
    except (OSError, ValueError):
        return None
    if isinstance(resources, dict):
        _drop_check_before_update({"linux": {"resources": resources}})
    args = [*call.global_opts, "update", *call.sub[: index - 1], "-r", "-", *call.sub[index + 1 :]]
    done = subprocess.run(
        [call.real_binary, *args], input=json.dumps(resources).encode(), check=False
    )
    return exit_of(done.returncode)


FAULTS = [
    Fault(
        "cg2-cgroup-kept-by-root",
        "never hands the container cgroup to the container's user",
        {
            CG2 + "test_cgroup_is_handed_to_the_container_user": "is owned by uid",
            CG2 + "test_delegated_files_are_handed_to_the_container_user": "not handed to uid",
        },
        intercept=cgroup_kept_by_root,
    ),
    Fault(
        "cg2-whole-cgroup-handed-over",
        "hands every file of the container cgroup to the container's user (chown -R)",
        {CG2 + "test_only_delegated_files_are_handed_over": "does not name were handed"},
        intercept=whole_cgroup_handed_over,
    ),
    Fault(
        "cg2-unified-unknown-keys-dropped",
        "writes only the unified keys it maps from other fields",
        {CG2 + "test_unified_key_is_written_as_given": "unified memory.oom.group is"},
        mutate=_only_known_unified,
    ),
    Fault(
        "cg2-unified-controllers-not-enabled",
        "skips unified keys whose controller the parent cgroup does not enable",
        {CG2 + "test_unified_key_gets_its_controller_enabled": "the container cgroup has"},
        mutate=_skip_keys_of_disabled_controllers,
    ),
    Fault(
        "cg2-check-before-update-ignored",
        "ignores memory.checkBeforeUpdate (at create and in update's resources)",
        {CG2 + "test_memory_limit_below_usage_is_rejected": "accepted a memory limit"},
        mutate=_drop_check_before_update,
        intercept=check_before_update_ignored,
    ),
]
