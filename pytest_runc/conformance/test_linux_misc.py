"""config-linux odds and ends: sysctl refusals, personality, Intel RDT without
resctrl, and network devices moved into the container.

Rules: runtime spec config-linux.md "Sysctl", "Personality", "IntelRdt",
"Network Devices"; runc's sysctl validation as a runc convention.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from pytest_runc.oci import skips
from pytest_runc.testing.assertions import run_output

pytestmark = pytest.mark.runc


def runs(container, bundle) -> bool:
    bundle.command("true")
    return container().run().returncode == 0


# -- sysctl --------------------------------------------------------------


@pytest.mark.runc_cli("runc-cli.run.sysctl-outside-namespace-refused")
@pytest.mark.parametrize("case", ["not-namespaced", "net-without-netns"])
def test_sysctl_outside_the_containers_namespaces_is_refused(bundle, container, case):
    """A sysctl the container's namespaces do not isolate (kernel.panic; a net.*
    key without a network namespace) would change the host: runc refuses it."""
    if case == "not-namespaced":
        bundle.linux["sysctl"] = {"kernel.panic": "0"}
    else:
        bundle.remove_namespace("network")
        bundle.linux["sysctl"] = {"net.ipv4.ip_forward": "0"}
    assert not runs(container, bundle), (
        f"the runtime accepted the sysctl {bundle.linux['sysctl']}, which would change the host"
    )


@pytest.mark.runc_cli("runc-cli.run.sysctl-unknown-refused")
def test_unknown_sysctl_is_refused(bundle, container):
    """A namespaced-looking sysctl that does not exist (net.prt.none) is an error."""
    bundle.linux["sysctl"] = {"net.prt.none": "1"}
    assert not runs(container, bundle), "the runtime accepted the sysctl net.prt.none"


# -- personality -----------------------------------------------------------


@pytest.mark.runc_cli("runc-cli.run.personality")
def test_personality_linux32(bundle, container):
    """linux.personality LINUX32 makes ``uname -m`` report a 32-bit machine."""
    if os.uname().machine != "x86_64":
        skips.skip_host(f"the LINUX32 check expects an x86_64 host, this is {os.uname().machine}")
    bundle.linux["personality"] = {"domain": "LINUX32"}
    machine = run_output(container, bundle, "uname -m").strip()
    assert machine == "i686", f"uname -m says {machine!r} under personality LINUX32, not i686"


# -- Intel RDT -------------------------------------------------------------


def resctrl_mounted() -> bool:
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[2] == "resctrl" for line in mounts if len(line.split()) > 2)


@pytest.mark.oci_rule("config-linux.intelrdt.no-resctrl-error")
@pytest.mark.parametrize(
    "intel_rdt",
    [{"closID": "prt-clos"}, {"l3CacheSchema": "L3:0=f"}],
    ids=["clos-id", "l3-cache-schema"],
)
def test_intel_rdt_without_resctrl_is_an_error(bundle, container, intel_rdt):
    """config-linux.md "IntelRdt": with intelRdt set and no resctrl filesystem
    mounted, the runtime fails."""
    if resctrl_mounted():
        skips.skip_host("resctrl is mounted here; the check needs a host without it")
    bundle.linux["intelRdt"] = dict(intel_rdt)
    assert not runs(container, bundle), (
        f"the runtime ran the container with intelRdt {intel_rdt} and no resctrl filesystem"
    )


# -- network devices ---------------------------------------------------------


def claims_net_devices(runtime_features) -> None:
    if runtime_features.net_devices_enabled is not True:
        skips.skip_runtime("`features` does not claim linux.netDevices")


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def dummy(runtime_features, container) -> Iterator[str]:
    """One end of a host veth pair (``prtv<N>a``) holding 192.0.2.77/32; the pair
    is removed afterwards (the kernel removes it already if the moved end died
    with the container's network namespace)."""
    claims_net_devices(runtime_features)
    if shutil.which("ip") is None:
        skips.skip_host("no `ip` command (iproute2) to make a veth pair")
    name = f"prtv{os.getpid() % 100000}{container.new_id().rsplit('-', 1)[-1]}"[:14]
    made = ip("link", "add", f"{name}a", "type", "veth", "peer", "name", f"{name}b")
    if made.returncode != 0:
        skips.skip_host(f"cannot make a veth pair: {made.stderr.strip()}")
    ip("addr", "add", "192.0.2.77/32", "dev", f"{name}a")
    try:
        yield f"{name}a"
    finally:
        ip("link", "del", f"{name}b")


@pytest.mark.oci_rule(
    "config-linux.network-devices.made-available", "config-linux.network-devices.set-up"
)
def test_net_device_is_moved_in_and_up(bundle, container, dummy):
    """config-linux.md "Network Devices": the host interface appears in the
    container's network namespace under its new name, and is up."""
    bundle.linux["netDevices"] = {dummy: {"name": "prt0"}}
    out = run_output(container, bundle, "ip -o link show prt0 2>&1; true")
    assert re.search(r": prt0[:@]", out), f"no prt0 inside: {out.strip()!r}"
    flags = out.split("<", 1)[-1].split(">", 1)[0].split(",")
    assert "UP" in flags, f"prt0 is not up inside: {out.strip()!r}"


@pytest.mark.oci_rule("config-linux.network-devices.preserve-addresses")
def test_net_device_keeps_its_address(bundle, container, dummy):
    """config-linux.md "Network Devices": the moved interface keeps its
    global-scope address."""
    bundle.linux["netDevices"] = {dummy: {"name": "prt0"}}
    out = run_output(container, bundle, "ip -o -4 addr show dev prt0")
    assert "192.0.2.77/32" in out, f"prt0 inside lost 192.0.2.77/32: {out.strip()!r}"


@pytest.mark.oci_rule("config-linux.network-devices.name-conflict-error")
def test_net_device_name_taken_is_an_error(bundle, container, dummy):
    """config-linux.md "Network Devices": a new name that already exists in the
    container's namespace (lo) is an error."""
    bundle.linux["netDevices"] = {dummy: {"name": "lo"}}
    assert not runs(container, bundle), "the runtime moved an interface in under the taken name lo"


@pytest.mark.oci_rule("config-linux.network-devices.template-name-allowed")
def test_net_device_template_name_gets_a_kernel_number(bundle, container, dummy):
    """config-linux.md "Network Devices": a new name ending in %d is moved in,
    and the kernel picks the number (the first free one, 0)."""
    bundle.linux["netDevices"] = {dummy: {"name": "prtt%d"}}
    out = run_output(container, bundle, "ip -o link show 2>&1; true")
    names = re.findall(r"^\d+: ([^:@]+)", out, flags=re.MULTILINE)
    assert "prtt0" in names, f"no prtt0 inside for the name template prtt%d; interfaces: {names}"


@pytest.mark.oci_rule("config-linux.network-devices.check-move-possible")
def test_missing_net_device_is_an_error(bundle, container, runtime_features):
    """config-linux.md "Network Devices": a host interface that does not exist
    cannot be moved, and the runtime fails instead of going on without it."""
    claims_net_devices(runtime_features)
    bundle.linux["netDevices"] = {"prtnone0": {"name": "prt0"}}
    assert not runs(container, bundle), "the runtime ran the container without the missing prtnone0"


@pytest.mark.oci_rule("config-linux.network-devices-lifecycle.no-move-back")
def test_moved_net_device_stays_in_the_container(bundle, container, dummy):
    """config-linux.md "Network Devices": while the container lives, the
    moved interface is in its namespace, not back on the host."""
    bundle.linux["netDevices"] = {dummy: {"name": "prt0"}}
    bundle.command("sleep", "60")
    container().run(detach=True)
    on_host = ip("link", "show", dummy)
    assert on_host.returncode != 0, (
        f"{dummy} is on the host while the container that got it runs: {on_host.stdout.strip()!r}"
    )


# -- default filesystems -------------------------------------------------------

STANDARD = {"/proc": "proc", "/sys": "sysfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs"}


@pytest.mark.oci_rule("config-linux.default-filesystems.standard-mounts")
def test_standard_filesystems_are_mounted(bundle, container):
    """config-linux.md "Default Filesystems": with the usual config, /proc,
    /sys, /dev/pts and /dev/shm are proc, sysfs, devpts and tmpfs."""
    out = run_output(container, bundle, "cat /proc/self/mounts")
    types = {fields[1]: fields[2] for fields in (line.split() for line in out.splitlines())}
    wrong = {path: types.get(path, "missing") for path, kind in STANDARD.items()
             if types.get(path) != kind}  # fmt: skip
    assert not wrong, f"the container lacks standard filesystems (path: type found): {wrong}"
