"""Faulty runtimes for what only cgroup v2 has (conformance/test_cgroups_v2.py):
handing the cgroup to the container's user, unified keys, cgroup v1 settings
without a v2 equivalent, checkBeforeUpdate.

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
    """create with the real runtime, then ``change(cgroup dir, config)``; a status
    ``change`` returns is create's instead."""
    read = read_config(call)
    if call.command != "create" or read is None:
        return None
    status = exit_of(run(call.real).returncode)
    where = _cgroup_of(read[1])
    if status == 0 and where is not None:
        failed = change(where, read[1])
        return status if failed is None else int(failed)
    return status


#: The kernel's list of the files a delegated cgroup's user may write.
DELEGATE_LIST = Path("/sys/kernel/cgroup/delegate")


def _asks_for_handing_over(config: Config) -> bool:
    """A user namespace, a new cgroup namespace and /sys/fs/cgroup mounted read-write."""
    namespaces = config.get("linux", {}).get("namespaces") or []
    new = {ns.get("type") for ns in namespaces if isinstance(ns, dict) and not ns.get("path")}
    mounts = config.get("mounts") or []
    writable = any(
        isinstance(m, dict) and m.get("destination") == "/sys/fs/cgroup"
        and "ro" not in (m.get("options") or [])
        for m in mounts
    )  # fmt: skip
    return {"user", "cgroup"} <= new and writable


def _hand_over_listed(call: Call, strict: bool) -> int | None:
    """create with the real runtime, then hand the cgroup to the container user as
    a runtime that chowns would: the directory and the files the kernel's delegate
    list names. ``strict``: a listed file the cgroup lacks is an error (the
    container is deleted again); else no list means no file beyond the directory."""

    def hand_over(where: Path, config: Config) -> int | None:
        uid = _host_uid(config)
        if uid is None or not _asks_for_handing_over(config):
            return None
        try:
            names = DELEGATE_LIST.read_text().split()
        except OSError:
            names = []  # the fault: no fallback list
        os.chown(where, uid, -1)
        for name in names:
            target = where / name
            if target.exists():
                os.chown(target, uid, -1)
            elif strict:
                run([call.real_binary, *call.global_opts, "delete", "--force", call.container_id])
                sys.stderr.write(f"cannot chown {target}: No such file or directory\n")
                return 1
        return None

    return _after_create(call, hand_over)


@acts_on("create")
def delegate_files_required(call: Call) -> int | None:
    """After create, hand the cgroup over; a delegate-listed file it lacks fails create."""
    return _hand_over_listed(call, strict=True)


@acts_on("create")
def no_delegate_fallback(call: Call) -> int | None:
    """After create, hand the cgroup over; without a delegate list, only its directory."""
    return _hand_over_listed(call, strict=False)


#: cgroup v1 settings that have no cgroup v2 equivalent, by resource section.
V1_ONLY = {
    "cpu": ("realtimeRuntime", "realtimePeriod"),
    "memory": ("swappiness", "disableOOMKiller", "useHierarchy"),
    "blockIO": ("leafWeight",),
}


#: The check's cases (its parameter ids), one per setting above.
V1_ONLY_CASES = ("cpu-realtime-runtime", "cpu-realtime-period", "memory-swappiness",
                 "memory-oom-killer-off", "memory-no-hierarchy", "blkio-leaf-weight")  # fmt: skip


def _drop_v1_only(config: Config) -> None:
    for section, names in V1_ONLY.items():
        found = _resources(config).get(section)
        if isinstance(found, dict):
            for name in names:
                found.pop(name, None)


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
        "cg2-delegate-files-required",
        "hands the cgroup over, and fails create when a file the delegate list names is absent",
        {
            CG2 + "test_delegate_list_naming_absent_files_does_not_fail_the_container": (
                "a file the container cgroup lacks"
            )
        },
        intercept=delegate_files_required,
    ),
    Fault(
        "cg2-no-delegate-fallback",
        "hands the cgroup over, but without /sys/kernel/cgroup/delegate only its directory",
        {
            CG2 + "test_without_a_delegate_list_the_fallback_files_are_handed_over": (
                "the fallback files of"
            )
        },
        intercept=no_delegate_fallback,
    ),
    Fault(
        "cg2-v1-settings-ignored",
        "ignores the cgroup v1 settings that cgroup v2 cannot express (no error)",
        {
            f"{CG2}test_v1_setting_without_a_v2_equivalent_is_refused[{case}]": (
                "no cgroup v2 equivalent"
            )
            for case in V1_ONLY_CASES
        },
        mutate=_drop_v1_only,
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
