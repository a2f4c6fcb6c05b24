"""Control groups that only cgroup v2 has: a delegated cgroup, unified keys,
cgroup v1 settings that v2 cannot express, and a memory limit checked
against usage before an update.

Rules: runtime spec config-linux.md "Cgroup ownership" (a v2 cgroup handed
to the container's user, by the list in /sys/kernel/cgroup/delegate or its
fallback), "Unified" (keys written as given, their controllers enabled, v1
settings without a v2 equivalent refused) and "Memory"
(``checkBeforeUpdate``). Every check here needs a pure cgroup v2 host
(``runc_cgroup("v2")``: elsewhere they skip with ``host:``). The checks read
the container's cgroup on the host, at its configured absolute
``cgroupsPath``.

What the kernel's /sys/kernel/cgroup/delegate says cannot be changed on the
host; the delegate checks run the runtime's ``create`` in a mount namespace of
its own (``delegate_view``) where that directory is a small tmpfs holding the
list the check wants, or none. Nothing outside that namespace sees it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

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
#: The kernel's directory that holds the delegate list.
KERNEL_CGROUP = Path("/sys/kernel/cgroup")
#: A name for the delegate list that no cgroup has a file of.
ABSENT_FILE = "prt.absent"


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


def ask_for_handing_over(request, bundle) -> None:
    """The config that asks for the container's cgroup to be handed over: a user
    namespace (process uid 0 = host 100000), a new cgroup namespace and
    /sys/fs/cgroup mounted read-write."""
    request.getfixturevalue("mapped_rootfs")
    bundle.add_namespace("user")
    bundle.linux["uidMappings"] = [dict(m) for m in MAPPINGS]
    bundle.linux["gidMappings"] = [dict(m) for m in MAPPINGS]
    bundle.add_namespace("cgroup")
    for mount in bundle.config["mounts"]:
        if mount["destination"] == "/sys/fs/cgroup":
            options = [o for o in mount.get("options", []) if o not in ("ro", "rw")]
            mount["options"] = [*options, "rw"]


def create_handed(bundle, made, *, check: bool = True) -> tuple[Path, Any]:
    """Create ``made`` (its process waits) in a cgroup of its own: (that cgroup, create's result)."""
    path = f"/{made.id}-handed"
    bundle.linux["cgroupsPath"] = path
    bundle.command("sleep", "60")
    done = made.create(check=check)
    return CGROUP_ROOT / path.lstrip("/"), done


@pytest.fixture
def handed_cgroup(request, bundle, container) -> Path:
    """A created container whose config asks for its cgroup to be handed over
    (``ask_for_handing_over``): its cgroup directory."""
    ask_for_handing_over(request, bundle)
    where, _ = create_handed(bundle, container())
    assert where.is_dir(), f"no cgroup at {where} for the created container"
    return where


#: Run as ``sh VIEW NAMES RUNTIME ARG...`` in a mount namespace of its own:
#: /sys/kernel/cgroup becomes a tmpfs with the kernel's ``features`` copied and
#: a ``delegate`` listing NAMES (``-``: no delegate file), then RUNTIME runs.
#: A failure of its own exits 125 with a line that says so.
DELEGATE_VIEW = r"""
fail() { echo "pytest-runc delegate view: $*" >&2; exit 125; }
dir=/sys/kernel/cgroup
features=$(cat "$dir/features" 2>/dev/null) || features=
mount -t tmpfs -o size=64k,mode=0755 prt-delegate-view "$dir" || fail "cannot mount a tmpfs on $dir"
if [ -n "$features" ]; then
  printf '%s\n' "$features" > "$dir/features" || fail "cannot write $dir/features"
fi
if [ "$1" != - ]; then
  for name in $1; do printf '%s\n' "$name"; done > "$dir/delegate" || fail "cannot write $dir/delegate"
fi
shift
exec "$@"
"""


def sys_bound_from_the_host(bundle) -> None:
    """/sys in the container is the runtime's /sys, bound (rbind), not a new sysfs.

    In a user namespace the kernel mounts a new sysfs only where every sysfs
    mount of the runtime's namespace is fully visible, and a delegate view
    covers /sys/kernel/cgroup: runc's sysfs mount would fail with EPERM for a
    reason of ours. A bind (what ``runc spec --rootless`` writes) needs no such
    thing, and whether the cgroup is handed over does not depend on /sys."""
    for mount in bundle.config["mounts"]:
        if mount["destination"] == "/sys":
            mount.update(type="bind", source="/sys",
                         options=["rbind", "nosuid", "noexec", "nodev", "ro"])  # fmt: skip


def delegate_view(runtime, where: Path, names: Sequence[str] | None):
    """``runtime`` run in its own mount namespace where /sys/kernel/cgroup/delegate
    lists ``names`` (None: there is no such file); skips where that cannot be made."""
    unshare = shutil.which("unshare")
    if unshare is None:
        skips.skip_environment("no unshare(1) (util-linux) to give the runtime its own view")
    if not KERNEL_CGROUP.is_dir():
        skips.skip_host(f"no {KERNEL_CGROUP}: this kernel has no cgroup delegate list")
    inner = where / "delegate-view.sh"
    inner.write_text(DELEGATE_VIEW)
    listed = "-" if names is None else " ".join(names)
    view = where / "delegate-view"
    view.write_text(
        "#!/bin/sh\n"
        f"exec {shlex.quote(unshare)} --mount --propagation private -- /bin/sh"
        f' {shlex.quote(str(inner))} {shlex.quote(listed)} {shlex.quote(runtime.binary)} "$@"\n'
    )
    view.chmod(0o755)
    viewed = replace(runtime, binary=str(view))
    # A view that cannot be made (no mount namespace for us here) is the
    # environment's lack, not the runtime's failure: find out before create.
    trial = viewed.invoke("--version", global_root=False, check=False)
    if trial.returncode != 0:
        said = (trial.stderr.strip().splitlines() or ["no message"])[-1]
        skips.skip_environment(f"cannot run the runtime with a delegate list of ours: {said}")
    return viewed


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


@pytest.mark.oci_rule("config-linux.cgroup-ownership.missing-delegate-files-ok")
def test_delegate_list_naming_absent_files_does_not_fail_the_container(
    request, bundle, container, runtime
):
    """config-linux.md "Cgroup ownership": not every file /sys/kernel/cgroup/delegate
    lists exists in every cgroup, and the runtime MUST NOT fail then: with the
    list also naming a file no cgroup has, the container is created."""
    ask_for_handing_over(request, bundle)
    sys_bound_from_the_host(bundle)
    made = container()
    listed = (*delegate_files(), ABSENT_FILE)
    made.runtime = delegate_view(runtime, bundle.path, listed)
    try:
        _, done = create_handed(bundle, made, check=False)
    finally:
        made.runtime = runtime
    assert done.returncode == 0, (
        f"create failed (exit {done.returncode}) when /sys/kernel/cgroup/delegate names"
        f" {ABSENT_FILE}, a file the container cgroup lacks: {done.stderr.strip()[-400:]}"
    )


@pytest.mark.oci_rule("config-linux.cgroup-ownership.delegate-fallback")
def test_without_a_delegate_list_the_fallback_files_are_handed_over(
    request, bundle, container, runtime
):
    """config-linux.md "Cgroup ownership": a runtime that hands the cgroup over
    MUST fall back to cgroup.procs, cgroup.subtree_control and cgroup.threads
    when /sys/kernel/cgroup/delegate does not exist: those three belong to the
    container user's host uid."""
    ask_for_handing_over(request, bundle)
    sys_bound_from_the_host(bundle)
    where, _ = create_handed(bundle, container())
    if owner(where) != CONTAINER_USER:
        skips.skip_runtime(
            "it does not hand the container cgroup over (a SHOULD of its own:"
            " config-linux.cgroup-ownership.rw-mount-chown), so it has no fallback to use"
        )
    made = container()
    made.runtime = delegate_view(runtime, bundle.path, None)
    try:
        where, _ = create_handed(bundle, made)
    finally:
        made.runtime = runtime
    kept = {name: owner(where / name) for name in FALLBACK_DELEGATE if (where / name).exists()}
    kept = {name: uid for name, uid in kept.items() if uid != CONTAINER_USER}
    assert not kept, (
        f"without /sys/kernel/cgroup/delegate, the fallback files of {where} were not handed"
        f" to uid {CONTAINER_USER} (file: owner): {kept}"
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


#: cgroup v1 settings that cgroup v2 cannot express, the controller v2 has
#: for them, and why no conversion exists.
V1_ONLY: dict[str, tuple[str, dict[str, Any], str]] = {
    "cpu-realtime-runtime": ("cpu", {"cpu": {"realtimeRuntime": 10000}},
                             "v2 has no realtime group scheduling"),
    "cpu-realtime-period": ("cpu", {"cpu": {"realtimePeriod": 500000}},
                            "v2 has no realtime group scheduling"),
    "memory-swappiness": ("memory", {"memory": {"swappiness": 37}},
                          "v2 has no per-cgroup swappiness"),
    "memory-oom-killer-off": ("memory", {"memory": {"disableOOMKiller": True}},
                              "v2 cannot turn the OOM killer off for a cgroup"),
    "memory-no-hierarchy": ("memory", {"memory": {"useHierarchy": False}},
                            "v2 accounts memory hierarchically, always"),
    "blkio-leaf-weight": ("io", {"blockIO": {"leafWeight": 300}},
                          "v2 has no leaf weight"),
}  # fmt: skip


@pytest.mark.oci_rule("config-linux.unified.conversion-error")
@pytest.mark.oci_inputs(
    "config:linux.resources.cpu.realtimeRuntime",
    "config:linux.resources.cpu.realtimePeriod",
    "config:linux.resources.memory.swappiness",
    "config:linux.resources.memory.disableOOMKiller",
    "config:linux.resources.memory.useHierarchy",
    "config:linux.resources.blockIO.leafWeight",
)
@pytest.mark.parametrize("name", list(V1_ONLY))
def test_v1_setting_without_a_v2_equivalent_is_refused(bundle, container, name):
    """config-linux.md "Unified": a runtime MAY convert cgroup v1 settings to v2,
    and MUST generate an error when the conversion is not possible. Each case
    is a v1 setting with no v2 counterpart, for a controller this host enables:
    the container is not created."""
    controller, resources, why = V1_ONLY[name]
    require_controller(controller)
    made = container()
    bundle.resources(**resources)
    bundle.command("true")
    done = made.create(check=False)
    assert done.returncode != 0, (
        f"{name}: the runtime created a container whose config sets {resources}, which has"
        f" no cgroup v2 equivalent on this cgroup v2 host ({why}), with no error"
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
