"""Control groups: where the container's cgroup is, what the runtime writes
there, what it refuses, who owns it, and ``runc update``.

Rules: runtime spec config-linux.md "Control groups", "Cgroups path",
"Cgroup ownership", "PIDs", "Unified"; the resource values themselves
(cpu, cpuset, memory, blkio, hugetlb) and ``runc update`` as runc conventions.
The checks read the container's own cgroup on the host: the cgroup its init
process is in (/proc/PID/cgroup), found through the host's cgroup mounts,
or the configured absolute ``cgroupsPath``. What depends on the cgroup mode
(which file holds a value, and how) is declared once per mode below: ``v1``
(also hybrid hosts, whose controllers are all v1) and ``v2``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_runc.oci import skips
from pytest_runc.oci.linux import cgroup_dir, controller_cgroups

pytestmark = [pytest.mark.runc, pytest.mark.runc_root]

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_lines(text: str) -> dict[str, str]:
    """/proc/PID/cgroup text -> {controllers: path} (``""`` for the v2 line)."""
    lines = (line.split(":", 2) for line in text.splitlines() if line.count(":") >= 2)
    return {controllers: path for _, controllers, path in lines}


def v2_only(cgroup_mode: str) -> bool:
    return cgroup_mode == "v2"


def layout(cgroup_mode: str) -> str:
    """Which file layout holds the controllers: ``v2`` (unified) or ``v1`` (v1
    and hybrid hosts; hybrid's v2 hierarchy holds no controller runc uses)."""
    return "v2" if v2_only(cgroup_mode) else "v1"


def host_dir(cgroup_mode: str, controller: str, path: str) -> Path:
    """Where an absolute cgroupsPath lands on the host for ``controller``."""
    relative = path.lstrip("/")
    return CGROUP_ROOT / relative if v2_only(cgroup_mode) else CGROUP_ROOT / controller / relative


def created_cgroup_files(
    container, bundle, cgroup_mode: str, files: list[tuple[str, str]]
) -> list[str]:
    """Create the container (its process waits in its cgroup, nothing forks) and
    read ``(controller, file)`` from the container's own cgroup; a file that is
    not there reads ``<absent>``."""
    bundle.command("sleep", "60")
    made = container()
    made.create()
    pid = made.state().pid
    seen = []
    for controller, name in files:
        where = cgroup_dir(pid, controller, cgroup_mode) / name
        seen.append(where.read_text().strip() if where.exists() else "<absent>")
    return seen


# -- cgroupsPath -------------------------------------------------------


@pytest.mark.oci_rule("config-linux.cgroups-path.absolute-under-mount")
def test_absolute_cgroups_path_is_under_the_cgroup_mount(bundle, container, cgroup_mode):
    """config-linux.md "Cgroups path": an absolute cgroupsPath is taken from
    the root of the cgroup filesystem, for every hierarchy that holds the
    container's controllers (which ones depends on the cgroup mode: linux.py)."""
    made = container()
    path = f"/{made.id}-abs"
    bundle.linux["cgroupsPath"] = path
    bundle.shell("cat /proc/self/cgroup")
    done = made.run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    lines = controller_cgroups(done.stdout, cgroup_mode)
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
    seen = created_cgroup_files(container, bundle, cgroup_mode, [("pids", "pids.max")])
    assert seen == ["0"], f"pids.max of the container's cgroup is {seen}, configured limit 0"


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


def block_device() -> str | None:
    """``major:minor`` of a block device this host has (a throttle needs a real one)."""
    devices = sorted(os.listdir("/sys/dev/block")) if os.path.isdir("/sys/dev/block") else []
    return next((d for d in devices if d.startswith("7:")), devices[0] if devices else None)


#: name -> (resources, {layout: [(controller, file, value it holds)]}), the
#: files and values declared once per cgroup mode: v1 has one file per value;
#: on v2 cpu.max is "quota period", io.max one line per device with every
#: limit, memory.low the reservation and memory.swap.max swap alone (limit
#: and swap minus limit). ``{dev}`` is the throttled device's major:minor.
RESOURCES = {
    "cpu-quota-period": (
        {"cpu": {"quota": 50000, "period": 100000}},
        {"v1": [("cpu", "cpu.cfs_quota_us", "50000"), ("cpu", "cpu.cfs_period_us", "100000")],
         "v2": [("cpu", "cpu.max", "50000 100000")]},
    ),
    "cpuset": (
        {"cpu": {"cpus": "0", "mems": "0"}},
        {"v1": [("cpuset", "cpuset.cpus", "0"), ("cpuset", "cpuset.mems", "0")],
         "v2": [("cpuset", "cpuset.cpus", "0"), ("cpuset", "cpuset.mems", "0")]},
    ),
    "memory-reservation": (
        {"memory": {"limit": 64 << 20, "reservation": 32 << 20}},
        {"v1": [("memory", "memory.soft_limit_in_bytes", str(32 << 20))],
         "v2": [("memory", "memory.low", str(32 << 20))]},
    ),
    "memory-swap": (
        {"memory": {"limit": 64 << 20, "swap": 96 << 20}},
        {"v1": [("memory", "memory.memsw.limit_in_bytes", str(96 << 20))],
         "v2": [("memory", "memory.swap.max", str((96 - 64) << 20))]},
    ),
    "blkio-throttle": (
        {"blockIO": {"throttleReadBpsDevice": [{"major": 0, "minor": 0, "rate": 1 << 20}]}},
        {"v1": [("blkio", "blkio.throttle.read_bps_device", f"{{dev}} {1 << 20}")],
         "v2": [("io", "io.max", f"{{dev}} rbps={1 << 20} wbps=max riops=max wiops=max")]},
    ),
}  # fmt: skip


def host_lacks(cgroup_mode: str, files: list[tuple[str, str, str]]) -> list[str]:
    """The files of ``files`` this host's kernel does not offer: v1, a file absent
    from the controller's hierarchy root; v2, a controller absent from the
    root's cgroup.controllers (the root has no files of its own to look at)."""
    if layout(cgroup_mode) == "v1":
        return [name for controller, name, _ in files
                if not (CGROUP_ROOT / controller / name).exists()]  # fmt: skip
    controllers = (CGROUP_ROOT / "cgroup.controllers").read_text().split()
    return [name for controller, name, _ in files if controller not in controllers]


@pytest.mark.runc_cli("runc-cli.run.cgroup-resources")
@pytest.mark.parametrize("name", list(RESOURCES))
def test_resource_value_is_written_to_the_cgroup(bundle, container, cgroup_mode, name):
    """runc writes each configured resource value to the container's cgroup
    file of that controller (cpu quota/period, cpuset, memory reservation and
    swap, blkio read throttle)."""
    resources, by_layout = RESOURCES[name]
    files = by_layout[layout(cgroup_mode)]
    missing = host_lacks(cgroup_mode, files)
    if missing:
        skips.skip_host(f"no {', '.join(missing)} in this host's {cgroup_mode} cgroups")
    if name == "blkio-throttle":
        device = block_device()
        if device is None:
            skips.skip_host("no block device (/sys/dev/block is empty) to throttle")
        major, minor = (int(n) for n in device.split(":"))
        resources = {"blockIO": {"throttleReadBpsDevice": [
            {"major": major, "minor": minor, "rate": 1 << 20}]}}  # fmt: skip
        files = [(c, f, v.format(dev=device)) for c, f, v in files]
    for key, value in resources.items():
        bundle.resources(**{key: value})
    seen = created_cgroup_files(container, bundle, cgroup_mode, [(c, f) for c, f, _ in files])
    if name == "blkio-throttle":  # one line per throttled device
        prefix = files[0][2].split()[0] + " "
        seen = [next((line for line in seen[0].splitlines() if line.startswith(prefix)), seen[0])]
    wanted = [value for _, _, value in files]
    names = [f for _, f, _ in files]
    assert seen == wanted, (
        f"{name}: the container's cgroup files {names} hold {seen}, configured {wanted}"
    )


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
