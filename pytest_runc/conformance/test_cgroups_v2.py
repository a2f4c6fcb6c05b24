"""Control groups that only cgroup v2 has: a delegated cgroup, unified keys,
and a memory limit checked against usage before an update.

Rules: runtime spec config-linux.md "Cgroup ownership" (a v2 cgroup handed
to the container's user), "Unified" (keys written as given, their
controllers enabled) and "Memory" (``checkBeforeUpdate``). Every check here
needs a pure cgroup v2 host (``runc_cgroup("v2")``: elsewhere they skip with
``host:``). The checks read the container's cgroup on the host, at its
configured absolute ``cgroupsPath``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_runc.oci import skips
from pytest_runc.oci.constants import CGROUP_ROOT

pytestmark = [pytest.mark.runc, pytest.mark.runc_root, pytest.mark.runc_cgroup("v2")]

#: Container root is host uid/gid 100000: the owner a handed-over cgroup gets.
MAPPINGS = [{"containerID": 0, "hostID": 100000, "size": 65536}]
CONTAINER_USER = 100000

#: What cgroups(7) says a delegated cgroup's user may write, where the
#: kernel has no /sys/kernel/cgroup/delegate to say it.
FALLBACK_DELEGATE = ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads")


def require_controller(name: str) -> None:
    """Skip unless the host's root cgroup offers controller ``name``."""
    if name not in (CGROUP_ROOT / "cgroup.controllers").read_text().split():
        skips.skip_host(f"no {name} controller in {CGROUP_ROOT}/cgroup.controllers")


def delegate_files() -> tuple[str, ...]:
    """The files of a cgroup its delegatee may write (/sys/kernel/cgroup/delegate)."""
    try:
        text = Path("/sys/kernel/cgroup/delegate").read_text()
    except OSError:
        return FALLBACK_DELEGATE
    return tuple(text.split())


# -- ownership ---------------------------------------------------------


@pytest.fixture
def handed_cgroup(request, bundle, container) -> Path:
    """A created container whose config asks for its cgroup to be handed over
    (user namespace, new cgroup namespace, read-write cgroup mount at
    /sys/fs/cgroup, process uid 0 = host 100000): its cgroup directory."""
    request.getfixturevalue("mapped_rootfs")
    bundle.add_namespace("user")
    bundle.linux["uidMappings"] = [dict(m) for m in MAPPINGS]
    bundle.linux["gidMappings"] = [dict(m) for m in MAPPINGS]
    bundle.add_namespace("cgroup")
    for mount in bundle.config["mounts"]:
        if mount["destination"] == "/sys/fs/cgroup":
            options = [o for o in mount.get("options", []) if o not in ("ro", "rw")]
            mount["options"] = [*options, "rw"]
    made = container()
    path = f"/{made.id}-handed"
    bundle.linux["cgroupsPath"] = path
    bundle.command("sleep", "60")
    made.create()
    where = CGROUP_ROOT / path.lstrip("/")
    assert where.is_dir(), f"no cgroup at {where} for the created container"
    return where


def owner(path: Path) -> int:
    return os.stat(path).st_uid


@pytest.mark.oci_rule("config-linux.cgroup-ownership.rw-mount-chown")
def test_cgroup_is_handed_to_the_container_user(handed_cgroup):
    """config-linux.md "Cgroup ownership": with a user namespace, a new cgroup
    namespace and /sys/fs/cgroup mounted read-write, the container's cgroup
    directory belongs to the host uid of the process's user."""
    seen = owner(handed_cgroup)
    assert seen == CONTAINER_USER, (
        f"the container cgroup {handed_cgroup} is owned by uid {seen}, not by the"
        f" container user's host uid {CONTAINER_USER}"
    )


@pytest.mark.oci_rule("config-linux.cgroup-ownership.chown-existing-delegate-files")
def test_delegated_files_are_handed_to_the_container_user(handed_cgroup):
    """config-linux.md "Cgroup ownership": each file of /sys/kernel/cgroup/delegate
    that the container's cgroup has belongs to the container user's host uid."""
    present = [name for name in delegate_files() if (handed_cgroup / name).exists()]
    kept = {name: owner(handed_cgroup / name) for name in present}
    kept = {name: uid for name, uid in kept.items() if uid != CONTAINER_USER}
    assert present and not kept, (
        f"delegated files of {handed_cgroup} not handed to uid {CONTAINER_USER}"
        f" (file: owner): {kept or 'none of ' + ', '.join(delegate_files()) + ' exists'}"
    )


@pytest.mark.oci_rule(
    "config-linux.cgroup-ownership.delegate-files-only",
    "config-linux.cgroup-ownership.no-other-files",
)
def test_only_delegated_files_are_handed_over(handed_cgroup):
    """config-linux.md "Cgroup ownership": no file of the container's cgroup
    other than those /sys/kernel/cgroup/delegate names belongs to the container
    user (a user owning e.g. memory.max could raise its own limit)."""
    allowed = set(delegate_files())
    others = sorted(
        entry.name
        for entry in handed_cgroup.iterdir()
        if entry.is_file() and entry.name not in allowed and owner(entry) == CONTAINER_USER
    )
    assert not others, (
        f"files of {handed_cgroup} that /sys/kernel/cgroup/delegate does not name were"
        f" handed to uid {CONTAINER_USER}: {', '.join(others)}"
    )


# -- unified -----------------------------------------------------------


def created_cgroup(bundle, made, path: str) -> Path:
    """Create ``made`` (its process waits) at ``cgroupsPath`` ``path``: its cgroup."""
    bundle.linux["cgroupsPath"] = path
    bundle.command("sleep", "60")
    made.create()
    return CGROUP_ROOT / path.lstrip("/")


@pytest.mark.oci_rule("config-linux.unified.write-unknown-keys")
def test_unified_key_is_written_as_given(bundle, container):
    """config-linux.md "Unified": a key no other field of the config stands for
    (memory.oom.group) is written to the container's cgroup file of that name."""
    require_controller("memory")
    made = container()
    bundle.resources(unified={"memory.oom.group": "1"})
    where = created_cgroup(bundle, made, f"/{made.id}-unified")
    file = where / "memory.oom.group"
    seen = file.read_text().strip() if file.exists() else "<absent>"
    assert seen == "1", f"{file} holds {seen}, unified memory.oom.group is '1'"


@pytest.fixture
def parent_cgroup(container) -> Iterator[Path]:
    """A cgroup of ours with no controller enabled for its children (after
    ``container``: removed once the test's containers are gone)."""
    where = CGROUP_ROOT / f"{container.new_id()}-parent"
    where.mkdir()
    try:
        yield where
    finally:
        container.cleanup()  # the runtime removes the container's own cgroup
        with contextlib.suppress(OSError):  # else the run's sweeper removes ours
            where.rmdir()


@pytest.mark.oci_rule("config-linux.unified.enable-controllers")
def test_unified_key_gets_its_controller_enabled(bundle, container, parent_cgroup):
    """config-linux.md "Unified": under a parent cgroup that enables no
    controller for its children, a unified pids.max key makes the runtime
    enable pids for the container's cgroup, and the value is written there."""
    require_controller("pids")
    assert "pids" not in (parent_cgroup / "cgroup.subtree_control").read_text().split()
    made = container()
    bundle.resources(unified={"pids.max": "42"})
    where = created_cgroup(bundle, made, f"/{parent_cgroup.name}/{made.id}")
    enabled = (where / "cgroup.controllers").read_text().split()
    file = where / "pids.max"
    seen = file.read_text().strip() if file.exists() else "<absent>"
    assert "pids" in enabled and seen == "42", (
        f"unified pids.max '42' under {parent_cgroup}: the container cgroup has"
        f" controllers {enabled} and pids.max {seen}"
    )


# -- memory ------------------------------------------------------------


def update_memory(runtime, made, bundle, limit: int):
    """``update -r FILE`` of the memory limit, with checkBeforeUpdate on."""
    resources = bundle.path / f"update-{limit}.json"
    resources.write_text(json.dumps({"memory": {"limit": limit, "checkBeforeUpdate": True}}))
    return runtime.invoke("update", "-r", str(resources), made.id, check=False)


@pytest.mark.oci_rule("config-linux.memory.check-before-update-reject")
def test_memory_limit_below_usage_is_rejected(bundle, container, runtime):
    """config-linux.md "Memory": with checkBeforeUpdate, an update to a memory
    limit below what the container already uses is refused (and one above it,
    made first, is applied: the refusal is the check's, not a broken update)."""
    require_controller("memory")
    made = container()
    bundle.resources(memory={"limit": 256 << 20, "checkBeforeUpdate": True})
    where = created_cgroup(bundle, made, f"/{made.id}-check")
    raised = update_memory(runtime, made, bundle, 128 << 20)
    applied = (where / "memory.max").read_text().strip()
    assert raised.returncode == 0 and applied == str(128 << 20), (
        f"update to a memory limit of {128 << 20} (above usage) exited {raised.returncode}"
        f" and left memory.max {applied}: {raised.stderr.strip()[-300:]}"
    )
    usage = int((where / "memory.current").read_text())
    limit = (usage // 2) & ~4095
    if limit < 4096:
        skips.skip_host(f"the created container uses {usage} bytes: no page-sized limit below it")
    done = update_memory(runtime, made, bundle, limit)
    after = (where / "memory.max").read_text().strip()
    assert done.returncode != 0, (
        f"update with checkBeforeUpdate accepted a memory limit of {limit} bytes, below the"
        f" container's usage of {usage} (memory.max is now {after})"
    )
