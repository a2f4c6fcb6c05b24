"""/dev inside the container: the default devices, the configured ones, the
spec's links, and (runc) nothing else.

Rules: runtime spec config-linux.md "Devices" and "Default Devices", and
runtime-linux.md "Dev symbolic links". The spec requires what /dev holds, not
that it holds nothing more: a runtime may add entries (runc's /dev/core,
crun's). That /dev holds exactly what runc puts there is a runc CLI check;
what a runtime documents adding is declared in pytest_runc/testing/expectations.py.
"""

from __future__ import annotations

import pytest

from pytest_runc.testing.assertions import run_output
from pytest_runc.testing.expectations import DEFAULT_DEVICES, PTMX, RUNTIMES

pytestmark = pytest.mark.runc

#: A device the config asks for: /dev/prt-zero, the zero device, mode 0640.
CONFIGURED = {
    "path": "/dev/prt-zero",
    "type": "c",
    "major": 1,
    "minor": 5,
    "fileMode": 0o640,
    "uid": 0,
    "gid": 0,
}

#: runtime-linux.md "Dev symbolic links": /dev/fd, stdin, stdout and stderr
#: (their sources, /proc/self/fd[/N], exist once the default /proc is mounted;
#: where they point is test_runtime_linux.py's check).
SPEC_DEV_LINKS = ("fd", "stdin", "stdout", "stderr")


def device_rows(listing: str) -> dict[str, tuple[str, int, int, str]]:
    """``ls -ln`` rows of device files: name -> (type, major, minor, mode string)."""
    rows = {}
    for line in listing.splitlines():
        fields = line.replace(",", " ").split()
        if len(fields) >= 6 and line[:1] in ("c", "b"):
            rows[fields[-1]] = (line[0], int(fields[4]), int(fields[5]), line[:10])
    return rows


def dev_mount_points(bundle) -> set[str]:
    """The names under /dev that the config's mounts mount on (shm, mqueue, pts)."""
    return {
        m["destination"].split("/")[2]
        for m in bundle.config["mounts"]
        if m["destination"].startswith("/dev/")
    }


def dev_names_with_a_device(bundle, container) -> set[str]:
    """``ls -A /dev`` in a container whose config adds /dev/prt-zero."""
    bundle.linux["devices"] = [dict(CONFIGURED)]
    return set(run_output(container, bundle, "ls -A /dev").split())


@pytest.mark.oci_rule(
    "config-linux.default-devices.supplied",
    "config-linux.devices.create-node",
    "runtime-linux.dev-symbolic-links.fd-std-symlinks",
)
@pytest.mark.runc_root  # rootless: no mknod; the runtime binds the host's node instead
def test_dev_holds_the_default_and_configured_devices(bundle, container):
    """config-linux.md "Devices" / "Default Devices", runtime-linux.md "Dev
    symbolic links": /dev holds the default devices, ptmx, the configured
    device, the configured mounts' mount points and the fd, stdin, stdout and
    stderr links. Other entries are the runtime's to add."""
    names = dev_names_with_a_device(bundle, container)
    required = (
        {"prt-zero", PTMX} | set(DEFAULT_DEVICES) | set(SPEC_DEV_LINKS) | dev_mount_points(bundle)
    )
    missing = sorted(required - names)
    assert not missing, f"/dev lacks {missing}"


@pytest.mark.runc_cli("runc-cli.dev.exact-entries")
@pytest.mark.runc_root  # rootless: no mknod; the runtime binds the host's node instead
def test_dev_holds_exactly_runcs_entries(bundle, container):
    """runc: /dev holds the spec's devices and links, the configured device
    and mount points, runc's /dev/core where the host has /proc/kcore, and no
    other entry."""
    names = dev_names_with_a_device(bundle, container)
    runc = RUNTIMES["runc"]
    mount_points = dev_mount_points(bundle)
    expected = runc.dev_names({"prt-zero"}, bool(bundle.process.get("terminal"))) | mount_points
    extra = sorted(names - expected)
    missing = sorted(expected - names)
    assert not missing, f"/dev lacks {missing}"
    assert not extra, f"/dev holds entries runc does not put there: {extra}"


@pytest.mark.oci_rule("config-linux.default-devices.supplied")
def test_default_devices_are_the_right_nodes(bundle, container):
    """config-linux.md "Default Devices": null, zero, full, random, urandom and tty
    are character devices with their standard numbers."""
    rows = device_rows(run_output(container, bundle, "ls -ln /dev"))
    wrong = {
        name: rows.get(name, "missing")
        for name, (kind, major, minor) in DEFAULT_DEVICES.items()
        if rows.get(name, ("",))[:3] != (kind, major, minor)
    }
    assert not wrong, f"default devices not as the spec lists them: {wrong}"


@pytest.mark.oci_rule("config-linux.default-devices.supplied")
def test_ptmx_leads_to_the_containers_devpts(bundle, container):
    """config-linux.md "Default Devices": /dev/ptmx is a bind mount or symlink of
    the container's /dev/pts/ptmx (the same file, not another ptmx)."""
    out = run_output(container, bundle, "stat -L -c '%d:%i' /dev/ptmx /dev/pts/ptmx")
    ptmx, pts_ptmx = [*out.split(), "", ""][:2]
    assert ptmx and ptmx == pts_ptmx, (
        f"/dev/ptmx is not /dev/pts/ptmx (device:inode {ptmx} and {pts_ptmx})"
    )


@pytest.mark.oci_rule("config-linux.devices.create-node")
@pytest.mark.runc_root  # rootless: no mknod; the runtime binds the host's node instead
def test_configured_device_is_created(bundle, container):
    """config-linux.md "Devices": a configured device exists with its type,
    numbers and fileMode."""
    bundle.linux["devices"] = [dict(CONFIGURED)]
    rows = device_rows(run_output(container, bundle, "ls -ln /dev"))
    assert "prt-zero" in rows, "the configured /dev/prt-zero was not created"
    assert rows["prt-zero"] == ("c", 1, 5, "crw-r-----"), (
        f"/dev/prt-zero is {rows['prt-zero']}, configured c 1:5 mode 0640"
    )
