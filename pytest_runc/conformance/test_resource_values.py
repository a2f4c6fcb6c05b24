"""Resource values test_cgroups.py does not try: each configured value lands in
the container's cgroup file that the kernel reads it from.

Rule: runc writes each ``linux.resources`` value to its controller's file
(``runc-cli.run.cgroup-resources``; the spec names the fields, not the
files). Here: cpu burst and idle (spec 1.1), the realtime period and
runtime, memory swappiness and the OOM killer switch, and the write and
IOPS throttles of blockIO. Each check creates one container (its process
waits in its cgroup) and reads the file from the host.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from pytest_runc.oci import skips
from pytest_runc.oci.constants import CGROUP_ROOT
from pytest_runc.oci.linux import cgroup_dir

# cgroup files of other controllers: rootless runc cannot make the cgroup.
pytestmark = [pytest.mark.runc, pytest.mark.runc_root]

#: name -> (spec release of the fields, resources, {layout: [(controller, file,
#: line it holds)]}). A file of several lines is matched on the line that
#: starts as the expected one does; ``{dev}`` is a block device's major:minor.
#: An empty list: that cgroup layout has no file for the value.
VALUES: dict[str, tuple[tuple[int, int, int], dict[str, Any], dict[str, list[tuple[str, str, str]]]]] = {
    "cpu-burst": (
        (1, 1, 0),
        {"cpu": {"quota": 50000, "period": 100000, "burst": 20000}},
        {"v1": [("cpu", "cpu.cfs_burst_us", "20000")], "v2": [("cpu", "cpu.max.burst", "20000")]},
    ),
    "cpu-idle": (
        (1, 1, 0),
        {"cpu": {"idle": 1}},
        {"v1": [("cpu", "cpu.idle", "1")], "v2": [("cpu", "cpu.idle", "1")]},
    ),
    "cpu-realtime": (
        (1, 0, 0),
        {"cpu": {"realtimePeriod": 500000, "realtimeRuntime": 10000}},
        {"v1": [("cpu", "cpu.rt_period_us", "500000"), ("cpu", "cpu.rt_runtime_us", "10000")],
         "v2": []},
    ),
    "memory-swappiness": (
        (1, 0, 0),
        {"memory": {"swappiness": 37}},
        {"v1": [("memory", "memory.swappiness", "37")], "v2": []},
    ),
    "memory-oom-killer-off": (
        (1, 0, 0),
        {"memory": {"disableOOMKiller": True}},
        {"v1": [("memory", "memory.oom_control", "oom_kill_disable 1")], "v2": []},
    ),
    "blkio-write-bps": (
        (1, 0, 0),
        {"blockIO": {"throttleWriteBpsDevice": [{"rate": 2 << 20}]}},
        {"v1": [("blkio", "blkio.throttle.write_bps_device", f"{{dev}} {2 << 20}")],
         "v2": [("io", "io.max", f"{{dev}} rbps=max wbps={2 << 20} riops=max wiops=max")]},
    ),
    "blkio-read-iops": (
        (1, 0, 0),
        {"blockIO": {"throttleReadIOPSDevice": [{"rate": 300}]}},
        {"v1": [("blkio", "blkio.throttle.read_iops_device", "{dev} 300")],
         "v2": [("io", "io.max", "{dev} rbps=max wbps=max riops=300 wiops=max")]},
    ),
    "blkio-write-iops": (
        (1, 0, 0),
        {"blockIO": {"throttleWriteIOPSDevice": [{"rate": 400}]}},
        {"v1": [("blkio", "blkio.throttle.write_iops_device", "{dev} 400")],
         "v2": [("io", "io.max", "{dev} rbps=max wbps=max riops=max wiops=400")]},
    ),
}  # fmt: skip


def layout(cgroup_mode: str) -> str:
    """``v2`` on a unified host; v1 and hybrid hosts keep the controllers in v1."""
    return "v2" if cgroup_mode == "v2" else "v1"


def host_lacks(cgroup_mode: str, files: list[tuple[str, str, str]]) -> list[str]:
    """The files this host's kernel does not offer (v1: absent from the
    hierarchy's root; v2: the controller is not in cgroup.controllers)."""
    if layout(cgroup_mode) == "v1":
        return [name for controller, name, _ in files
                if not (CGROUP_ROOT / controller / name).exists()]  # fmt: skip
    controllers = (CGROUP_ROOT / "cgroup.controllers").read_text().split()
    return [name for controller, name, _ in files if controller not in controllers]


def block_device() -> str | None:
    """``major:minor`` of a block device of this host (a throttle needs a real one)."""
    devices = sorted(os.listdir("/sys/dev/block")) if os.path.isdir("/sys/dev/block") else []
    return next((d for d in devices if d.startswith("7:")), devices[0] if devices else None)


def with_device(resources: dict[str, Any], device: str) -> dict[str, Any]:
    major, minor = (int(n) for n in device.split(":"))
    return {
        key: {
            field: [{**entry, "major": major, "minor": minor} for entry in value]
            if isinstance(value, list)
            else value
            for field, value in section.items()
        }
        for key, section in resources.items()
    }


def spec_at_least(runtime_features: Any, version: tuple[int, int, int], name: str) -> None:
    claimed = runtime_features.oci_version_max
    if not claimed:
        return  # no `features`: nothing ruled out
    numbers = tuple(int(part) for part in claimed.split("-")[0].split(".")[:3])
    if numbers < version:
        skips.skip_runtime(
            f"ociVersionMax {claimed} predates {name} (spec {'.'.join(map(str, version))})"
        )


def matching_line(text: str, wanted: str) -> str:
    """The line of ``text`` that starts with ``wanted``'s first word (or all of it)."""
    first = wanted.split()[0]
    lines = text.splitlines()
    if len(lines) < 2:
        return text.strip()
    return next((line.strip() for line in lines if line.split()[:1] == [first]), "<no such line>")


@pytest.mark.runc_cli("runc-cli.run.cgroup-resources")
@pytest.mark.oci_inputs(
    "config:linux.resources.cpu.burst",
    "config:linux.resources.cpu.idle",
    "config:linux.resources.cpu.realtimePeriod",
    "config:linux.resources.cpu.realtimeRuntime",
    "config:linux.resources.memory.swappiness",
    "config:linux.resources.memory.disableOOMKiller",
    "config:linux.resources.blockIO.throttleWriteBpsDevice[].rate",
    "config:linux.resources.blockIO.throttleReadIOPSDevice[].rate",
    "config:linux.resources.blockIO.throttleWriteIOPSDevice[].rate",
)
@pytest.mark.parametrize("name", list(VALUES))
def test_resource_value_reaches_its_cgroup_file(
    bundle, container, cgroup_mode, runtime_features, name
):
    """runc writes the configured value to the container's cgroup file for it."""
    since, resources, by_layout = VALUES[name]
    spec_at_least(runtime_features, since, name)
    files = by_layout[layout(cgroup_mode)]
    if not files:
        skips.skip_host(f"{name}: a {cgroup_mode} host has no cgroup file for it")
    missing = host_lacks(cgroup_mode, files)
    if missing:
        skips.skip_host(f"no {', '.join(missing)} in this host's {cgroup_mode} cgroups")
    if "blockIO" in resources:
        device = block_device()
        if device is None:
            skips.skip_host("no block device (/sys/dev/block is empty) to throttle")
        resources = with_device(resources, device)
        files = [(c, f, v.format(dev=device)) for c, f, v in files]
    bundle.resources(**resources)
    bundle.command("sleep", "60")
    made = container()
    made.create()
    pid = made.state().pid
    seen = []
    for controller, file, wanted in files:
        where = cgroup_dir(pid, controller, cgroup_mode) / file
        seen.append(matching_line(where.read_text(), wanted) if where.exists() else "<absent>")
    wanted = [value for _, _, value in files]
    assert seen == wanted, (
        f"{name}: the container's cgroup files {[f for _, f, _ in files]} hold {seen},"
        f" configured {wanted}"
    )
