"""Control groups: where the container's cgroup is, what the runtime writes
there, what it refuses, who owns it, and ``runc update``.

Rules: runtime spec config-linux.md "Control groups", "Cgroups path",
"Cgroup ownership", "PIDs", "Unified"; the resource values themselves
(cpu, cpuset, memory, blkio, hugetlb) and ``runc update`` as runc conventions.
The checks read the container's own cgroup files from inside, where runc
mounts the container's cgroup at /sys/fs/cgroup (v1: one directory per
controller), or from the host for an absolute ``cgroupsPath``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_runc import skips
from pytest_runc.assertions import run_output

pytestmark = [pytest.mark.runc, pytest.mark.runc_root]

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_lines(text: str) -> dict[str, str]:
    """/proc/PID/cgroup text -> {controllers: path} (``""`` for the v2 line)."""
    lines = (line.split(":", 2) for line in text.splitlines() if line.count(":") >= 2)
    return {controllers: path for _, controllers, path in lines}


def v2_only(cgroup_mode: str) -> bool:
    return cgroup_mode == "v2"


def inside(cgroup_mode: str, v1: str, v2: str) -> str:
    """The file of the container's cgroup as seen inside, for this host's mode."""
    return f"/sys/fs/cgroup/{v2 if v2_only(cgroup_mode) else v1}"


def host_dir(cgroup_mode: str, controller: str, path: str) -> Path:
    """Where an absolute cgroupsPath lands on the host for ``controller``."""
    relative = path.lstrip("/")
    return CGROUP_ROOT / relative if v2_only(cgroup_mode) else CGROUP_ROOT / controller / relative


def read_all(container, bundle, files: list[str]) -> list[str]:
    """Each file's content (builtin ``read``: no fork, so it works under pids.max 0)."""
    script = "; ".join(f"read v < {f} && echo \"$v\" || echo '<unreadable>'" for f in files)
    return run_output(container, bundle, script).splitlines()


# -- cgroupsPath -------------------------------------------------------


@pytest.mark.oci_rule("config-linux.cgroups-path.absolute-under-mount")
def test_absolute_cgroups_path_is_under_the_cgroup_mount(bundle, container):
    """config-linux.md "Cgroups path": an absolute cgroupsPath is taken from
    the root of the cgroup filesystem, for every hierarchy the process is in."""
    made = container()
    path = f"/{made.id}-abs"
    bundle.linux["cgroupsPath"] = path
    bundle.shell("cat /proc/self/cgroup")
    done = made.run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    lines = cgroup_lines(done.stdout)
    wrong = {ctrl or "v2": where for ctrl, where in lines.items() if where != path}
    assert lines and not wrong, f"the process is not at the configured {path}: {wrong}"


@pytest.mark.oci_rule("config-linux.cgroups-path.consistent")
def test_same_cgroups_path_gives_the_same_cgroup(bundle, container):
    """config-linux.md "Cgroups path": the same (relative) cgroupsPath puts two
    containers, one after the other, in the same cgroups."""
    path = f"{container().id}-same"
    bundle.linux["cgroupsPath"] = path
    bundle.shell("cat /proc/self/cgroup")
    places = []
    for _ in range(2):
        done = container().run()
        assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
        places.append(cgroup_lines(done.stdout))
    assert places[0] and places[0] == places[1], (
        f"cgroupsPath {path!r} led to different cgroups: {places[0]} then {places[1]}"
    )


@pytest.mark.oci_rule("config-linux.cgroups-path.invalid-error")
def test_invalid_cgroups_path_is_refused(bundle, container):
    """config-linux.md "Cgroups path": a cgroupsPath no path can be (it holds a
    NUL byte) makes the runtime fail instead of running the container elsewhere."""
    made = container()
    bundle.linux["cgroupsPath"] = f"/{made.id}\0invalid"
    bundle.command("true")
    done = made.run()
    assert done.returncode != 0, "the runtime accepted a cgroupsPath holding a NUL byte"


@pytest.mark.oci_rule("config-linux.control-groups.unfit-cgroup-error")
def test_create_in_an_occupied_cgroup_is_refused(bundle_factory, container):
    """config-linux.md "Control groups": creating a container in a cgroup that
    already holds another container's process fails."""
    first = bundle_factory()
    first.command("sleep", "60")
    holder = container(first)
    first.linux["cgroupsPath"] = f"/{holder.id}-shared"
    holder.create()
    second = bundle_factory()
    second.linux["cgroupsPath"] = first.linux["cgroupsPath"]
    second.command("true")
    done = container(second).create(check=False)
    assert done.returncode != 0, (
        f"the runtime created a container in {second.linux['cgroupsPath']},"
        f" which holds the process {holder.state().pid} of another container"
    )


# -- ownership ---------------------------------------------------------

#: Container root is host uid/gid 100000.
MAPPINGS = [{"containerID": 0, "hostID": 100000, "size": 65536}]


OWNERSHIP_CASES = {
    "cgroup-v1": pytest.param(
        True, True, marks=pytest.mark.oci_rule("config-linux.cgroup-ownership.not-on-v1")
    ),
    "no-cgroup-namespace": pytest.param(
        False, True, marks=pytest.mark.oci_rule("config-linux.cgroup-ownership.needs-cgroupns")
    ),
    "no-rw-cgroup-mount": pytest.param(
        True, False, marks=pytest.mark.oci_rule("config-linux.cgroup-ownership.no-mount-no-chown")
    ),
}


@pytest.mark.parametrize(
    ("cgroupns", "rw_mount"),
    list(OWNERSHIP_CASES.values()),
    ids=list(OWNERSHIP_CASES),
)
def test_cgroup_is_not_handed_to_the_container(
    request, bundle, container, cgroup_mode, cgroupns, rw_mount
):
    """config-linux.md "Cgroup ownership": with a user namespace, the runtime
    leaves the container's cgroup owned by host root on cgroup v1, without a
    cgroup namespace, and without a read-write /sys/fs/cgroup mount (the last
    two on any cgroup version)."""
    case = request.node.callspec.id
    if case == "cgroup-v1" and v2_only(cgroup_mode):
        skips.skip_host("cgroup v2 only: the cgroup v1 case needs a v1 or hybrid host")
    request.getfixturevalue("mapped_rootfs")
    bundle.add_namespace("user")
    bundle.linux["uidMappings"] = [dict(m) for m in MAPPINGS]
    bundle.linux["gidMappings"] = [dict(m) for m in MAPPINGS]
    if cgroupns:
        bundle.add_namespace("cgroup")
    for mount in bundle.config["mounts"]:
        if mount["destination"] == "/sys/fs/cgroup":
            options = [o for o in mount.get("options", []) if o not in ("ro", "rw")]
            mount["options"] = [*options, "rw" if rw_mount else "ro"]
    made = container()
    path = f"/{made.id}-own"
    bundle.linux["cgroupsPath"] = path
    bundle.command("true")
    made.create()
    where = host_dir(cgroup_mode, "pids", path)
    owners = {str(p): os.stat(p)[4:6] for p in (where, where / "cgroup.procs") if os.path.exists(p)}
    assert owners, f"no cgroup at {where} for the created container"
    handed = {p: owner for p, owner in owners.items() if owner != (0, 0)}
    assert not handed, f"the runtime chowned the container cgroup (uid, gid): {handed}"


# -- resources ---------------------------------------------------------


@pytest.mark.oci_rule("config-linux.pids.zero-limit-honoured")
def test_pids_limit_zero_is_a_limit(bundle, container, cgroup_mode):
    """config-linux.md "PIDs": a limit of 0 is written as 0, not read as "unset"."""
    bundle.resources(pids={"limit": 0})
    seen = read_all(container, bundle, [inside(cgroup_mode, "pids/pids.max", "pids.max")])
    assert seen == ["0"], f"pids.max inside is {seen}, configured limit 0"


@pytest.mark.oci_rule("config-linux.unified.missing-controller-error")
def test_unified_key_of_an_absent_controller_is_refused(bundle, container, cgroup_mode):
    """config-linux.md "Unified": a unified key whose controller the container's
    cgroup v2 does not have (pids, on a v1/hybrid host; a made-up one on v2)
    makes the runtime fail."""
    key = "prtnone.max" if v2_only(cgroup_mode) else "pids.max"
    bundle.resources(unified={key: "10"})
    bundle.command("true")
    done = container().run()
    assert done.returncode != 0, (
        f"the runtime accepted unified {{{key!r}: '10'}} on a {cgroup_mode} host,"
        " whose cgroup v2 has no such controller"
    )


#: name -> (resources, [(v1 file, v2 file, expected value inside)])
RESOURCES = {
    "cpu-quota-period": (
        {"cpu": {"quota": 50000, "period": 100000}},
        [("cpu/cpu.cfs_quota_us", "cpu.max", "50000"),
         ("cpu/cpu.cfs_period_us", "cpu.max", "100000")],
    ),
    "cpuset": (
        {"cpu": {"cpus": "0", "mems": "0"}},
        [("cpuset/cpuset.cpus", "cpuset.cpus", "0"),
         ("cpuset/cpuset.mems", "cpuset.mems", "0")],
    ),
    "memory-reservation": (
        {"memory": {"limit": 64 << 20, "reservation": 32 << 20}},
        [("memory/memory.soft_limit_in_bytes", "memory.low", str(32 << 20))],
    ),
    "memory-swap": (
        {"memory": {"limit": 64 << 20, "swap": 96 << 20}},
        [("memory/memory.memsw.limit_in_bytes", "memory.swap.max", str(96 << 20))],
    ),
    "blkio-throttle": (
        {"blockIO": {"throttleReadBpsDevice": [{"major": 7, "minor": 0, "rate": 1 << 20}]}},
        [("blkio/blkio.throttle.read_bps_device", "io.max", f"7:0 {1 << 20}")],
    ),
}  # fmt: skip

#: What the v2 file holds for a v1 value (cpu.max is "quota period", io.max
#: has one line per device with every limit, memory.swap.max is swap only).
V2_VALUES = {
    "cpu-quota-period": ["50000 100000", "50000 100000"],
    "memory-reservation": [str(32 << 20)],
    "memory-swap": [str((96 - 64) << 20)],
    "blkio-throttle": [f"7:0 rbps={1 << 20} wbps=max riops=max wiops=max"],
}


def host_has(cgroup_mode: str, v1: str, v2: str) -> bool:
    if not v2_only(cgroup_mode):
        return (CGROUP_ROOT / v1).exists()
    controllers = (CGROUP_ROOT / "cgroup.controllers").read_text().split()
    return v2.split(".")[0] in controllers


@pytest.mark.runc_cli("runc-cli.run.cgroup-resources")
@pytest.mark.parametrize("name", list(RESOURCES))
def test_resource_value_is_written_to_the_cgroup(bundle, container, cgroup_mode, name):
    """runc writes each configured resource value to the container's cgroup
    file of that controller (cpu quota/period, cpuset, memory reservation and
    swap, blkio read throttle)."""
    resources, files = RESOURCES[name]
    missing = [v1 if not v2_only(cgroup_mode) else v2 for v1, v2, _ in files
               if not host_has(cgroup_mode, v1, v2)]  # fmt: skip
    if missing:
        skips.skip_host(f"no {', '.join(missing)} under /sys/fs/cgroup on this host")
    for key, value in resources.items():
        if isinstance(value, dict):
            bundle.resources(**{key: value})
        else:
            bundle.linux.setdefault("resources", {})[key] = value
    paths = [inside(cgroup_mode, v1, v2) for v1, v2, _ in files]
    seen = read_all(container, bundle, paths)
    wanted = [value for _, _, value in files]
    if v2_only(cgroup_mode):
        wanted = V2_VALUES.get(name, wanted)
    assert seen == wanted, f"{name}: the cgroup files {paths} hold {seen}, configured {wanted}"


# -- runc update -------------------------------------------------------

#: name -> (update arguments, v1 file, v2 file, value after the update)
UPDATES = {
    "memory": (["--memory", str(48 << 20)], "memory", "memory.limit_in_bytes",
               "memory.max", str(48 << 20)),
    "pids": (["--pids-limit", "23"], "pids", "pids.max", "pids.max", "23"),
    "cpu-quota": (["--cpu-quota", "30000"], "cpu", "cpu.cfs_quota_us", "cpu.max", "30000"),
    "resources-file": (["-r", "-"], "pids", "pids.max", "pids.max", "17"),
}  # fmt: skip


@pytest.mark.runc_cli("runc-cli.update.changes-limits")
@pytest.mark.parametrize("name", list(UPDATES))
def test_update_changes_the_cgroup_limit(bundle, container, runtime, cgroup_mode, name):
    """``runc update`` of a created container rewrites the limit in its cgroup
    (``--memory``, ``--pids-limit``, ``--cpu-quota``, and ``-r`` JSON on stdin)."""
    args, controller, v1, v2, value = UPDATES[name]
    made = container()
    path = f"/{made.id}-upd"
    bundle.linux["cgroupsPath"] = path
    bundle.resources(memory={"limit": 64 << 20}, pids={"limit": 64}, cpu={"period": 100000})
    bundle.command("sleep", "60")
    made.create()
    stdin = json.dumps({"pids": {"limit": 17}}) if "-r" in args else None
    runtime.invoke("update", *args, made.id, input=stdin)
    file = host_dir(cgroup_mode, controller, path) / (v2 if v2_only(cgroup_mode) else v1)
    seen = file.read_text().split()[0]
    assert seen == value, f"{file} holds {seen} after `runc update {' '.join(args)}`, not {value}"
