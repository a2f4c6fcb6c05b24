"""``runc update`` flags test_cgroups.py does not try: each rewrites its value in
the container's cgroup.

Rule: ``runc-cli.update.changes-limits`` (man/runc-update.8.md): ``runc
update`` of a container rewrites the limit each flag names. Each check
creates a container with limits to change, runs one ``update`` and reads the
file from the host.
"""

from __future__ import annotations

import pytest

from pytest_runc.oci import skips
from pytest_runc.oci.linux import cgroup_dir

# cgroup files of other controllers: rootless runc cannot make the cgroup.
pytestmark = [pytest.mark.runc, pytest.mark.runc_root]

MIB = 1 << 20

#: name -> (update arguments, controller, v1 file, v2 file, v1 value, v2 value,
#: the first runc release that has the flag). None: that layout has no file.
UPDATES = {
    "cpu-period": (["--cpu-period", "200000"], "cpu", "cpu.cfs_period_us", "cpu.max",
                   "200000", "max 200000", (1, 0)),
    "cpu-share": (["--cpu-share", "300"], "cpu", "cpu.shares", None, "300", None, (1, 0)),
    "cpuset-cpus": (["--cpuset-cpus", "0"], "cpuset", "cpuset.cpus", "cpuset.cpus",
                    "0", "0", (1, 0)),
    "memory-reservation": (["--memory-reservation", str(16 * MIB)], "memory",
                           "memory.soft_limit_in_bytes", "memory.low",
                           str(16 * MIB), str(16 * MIB), (1, 0)),
    "memory-swap": (["--memory", str(64 * MIB), "--memory-swap", str(96 * MIB)], "memory",
                    "memory.memsw.limit_in_bytes", "memory.swap.max",
                    str(96 * MIB), str(32 * MIB), (1, 0)),
    "cpu-rt-period": (["--cpu-rt-period", "500000", "--cpu-rt-runtime", "10000"], "cpu",
                      "cpu.rt_period_us", None, "500000", None, (1, 0)),
    "cpu-rt-runtime": (["--cpu-rt-period", "500000", "--cpu-rt-runtime", "10000"], "cpu",
                       "cpu.rt_runtime_us", None, "10000", None, (1, 0)),
    "cpu-burst": (["--cpu-quota", "50000", "--cpu-period", "100000", "--cpu-burst", "20000"],
                  "cpu", "cpu.cfs_burst_us", "cpu.max.burst", "20000", "20000", (1, 2)),
    "cpu-idle": (["--cpu-idle", "1"], "cpu", "cpu.idle", "cpu.idle", "1", "1", (1, 2)),
}  # fmt: skip


def runc_release(runtime) -> tuple[int, int]:
    """(major, minor) of a runc-like runtime's --version; (99, 0) when it names none."""
    for word in runtime.version().split():
        parts = word.split("+")[0].split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            return int(parts[0]), int(parts[1])
    return 99, 0


@pytest.mark.runc_cli("runc-cli.update.changes-limits")
@pytest.mark.oci_inputs(*(f"update --{name}" for name in UPDATES))
@pytest.mark.parametrize("name", list(UPDATES))
def test_update_flag_rewrites_its_cgroup_file(bundle, container, runtime, cgroup_mode, name):
    """``runc update --FLAG VALUE`` of a created container rewrites FLAG's cgroup file."""
    args, controller, v1, v2, v1_value, v2_value, since = UPDATES[name]
    if runc_release(runtime) < since:
        skips.skip_runtime(f"update --{name} came with runc {since[0]}.{since[1]}")
    unified = cgroup_mode == "v2"
    file, value = (v2, v2_value) if unified else (v1, v1_value)
    if file is None:
        skips.skip_host(f"a {cgroup_mode} host has no cgroup file for update --{name}")
    bundle.resources(memory={"limit": 64 * MIB, "swap": 64 * MIB}, cpu={"period": 100000})
    bundle.command("sleep", "60")
    made = container()
    made.create()
    where = cgroup_dir(made.state().pid, controller, cgroup_mode) / file
    if not where.exists():
        skips.skip_host(f"this host's {controller} cgroup has no {file}")
    done = runtime.invoke("update", *args, made.id, check=False)
    assert done.returncode == 0, f"`runc update {' '.join(args)}` failed: {done.stderr.strip()}"
    seen = where.read_text().strip()
    assert seen == value, (
        f"{where.name} holds {seen!r} after `runc update {' '.join(args)}`, not {value!r}"
    )
