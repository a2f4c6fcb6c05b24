"""Configured device nodes in detail, and the devices cgroup allow/deny list.

Rules: runtime spec config-linux.md "Devices" and "Allowed Device List".
(/dev as a whole, the default devices and /dev/ptmx are checked in
test_devices.py.)
"""

from __future__ import annotations

import os

import pytest

from pytest_runc.oci import skips
from pytest_runc.testing.assertions import run_output

pytestmark = pytest.mark.runc

#: The host's first loop device: a block device that opens without a backing file.
LOOP = (7, 0)

NODES = {
    "char": {"path": "/dev/prt-char", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640,
             "uid": 1000, "gid": 1001},
    "block": {"path": "/dev/prt-block", "type": "b", "major": LOOP[0], "minor": LOOP[1],
              "fileMode": 0o600, "uid": 0, "gid": 6},
    "fifo": {"path": "/dev/prt-fifo", "type": "p", "fileMode": 0o620, "uid": 1002, "gid": 0},
}  # fmt: skip

#: ``ls -ln`` type letter and mode string of each configured node.
EXPECTED_ROWS = {
    "char": ("c", 1, 5, "crw-r-----", 1000, 1001),
    "block": ("b", LOOP[0], LOOP[1], "brw-------", 0, 6),
    "fifo": ("p", 0, 0, "prw--w----", 1002, 0),
}


def node_row(line: str) -> tuple[str, int, int, str, int, int]:
    """One ``ls -ln`` line -> (type, major, minor, mode, uid, gid); FIFOs have 0:0."""
    fields = line.replace(",", " ").split()
    if line[:1] in ("c", "b"):
        return (line[0], int(fields[4]), int(fields[5]), line[:10], int(fields[2]), int(fields[3]))
    return (line[0], 0, 0, line[:10], int(fields[2]), int(fields[3]))


def needs_loop_device() -> None:
    if not os.path.exists("/dev/loop0"):
        skips.skip_host("no /dev/loop0 (block device 7:0) on this host")


@pytest.mark.oci_rule("config-linux.devices.create-node")
@pytest.mark.parametrize("kind", sorted(NODES))
@pytest.mark.runc_root  # rootless: no mknod; the runtime binds the host's node instead
def test_configured_device_node_is_exactly_as_configured(bundle, container, kind):
    """config-linux.md "Devices": a configured char, block or FIFO node exists
    with its type, major:minor, fileMode, uid and gid."""
    if kind == "block":
        needs_loop_device()
    node = NODES[kind]
    bundle.linux["devices"] = [dict(node)]
    line = run_output(container, bundle, f"ls -ln {node['path']}").strip()
    assert line, f"the configured {node['path']} was not created"
    row = node_row(line)
    assert row == EXPECTED_ROWS[kind], (
        f"{node['path']} is (type, major, minor, mode, uid, gid) {row},"
        f" configured {EXPECTED_ROWS[kind]}"
    )


@pytest.mark.oci_rule("config-linux.devices.existing-file-mismatch-error")
# rootless: the runtime binds the host's node, and there is none at that path
@pytest.mark.runc_root
def test_regular_file_at_a_device_path_is_refused(bundle, container):
    """config-linux.md "Devices": a regular file already at a device's path is
    not that device, so the runtime fails instead of keeping or replacing it."""
    (bundle.rootfs / "prt-existing").write_text("not a device\n")
    bundle.linux["devices"] = [{"path": "/prt-existing", "type": "c", "major": 1, "minor": 5}]
    bundle.command("true")
    done = container().run()
    assert done.returncode != 0, (
        "the runtime ran the container although /prt-existing is a regular file,"
        " not the requested char device 1:5"
    )


#: (rules of linux.resources.devices, whether reading the loop device opens)
ORDERS = {
    "deny-all-then-allow-loop": (
        [{"allow": False, "access": "rwm"},
         {"allow": True, "type": "b", "major": LOOP[0], "minor": LOOP[1], "access": "r"}],
        True,
    ),
    "allow-loop-then-deny-all": (
        [{"allow": True, "type": "b", "major": LOOP[0], "minor": LOOP[1], "access": "r"},
         {"allow": False, "access": "rwm"}],
        False,
    ),
}  # fmt: skip

PROBE = "/dev/prt-block"
#: Open for reading, then for writing, in subshells (a failed redirect ends ``sh``).
OPEN_SCRIPT = (
    f"(: < {PROBE}) 2>/dev/null && echo read=ok || echo read=denied;"
    f" (: >> {PROBE}) 2>/dev/null && echo write=ok || echo write=denied"
)


def open_results(container, bundle, rules: list[dict[str, object]]) -> dict[str, str]:
    needs_loop_device()
    bundle.linux["devices"] = [dict(NODES["block"])]
    bundle.linux.setdefault("resources", {})["devices"] = rules
    out = run_output(container, bundle, OPEN_SCRIPT)
    return dict(line.split("=", 1) for line in out.split() if "=" in line)


@pytest.mark.oci_rule("config-linux.allowed-device-list.in-order")
@pytest.mark.parametrize("order", sorted(ORDERS))
@pytest.mark.runc_root  # rootless: no device node, no devices cgroup
def test_device_rules_apply_in_the_listed_order(bundle, container, order):
    """config-linux.md "Allowed Device List": later entries override earlier
    ones, so the last rule matching the loop device decides whether it opens."""
    rules, opens = ORDERS[order]
    seen = open_results(container, bundle, rules).get("read")
    wanted = "ok" if opens else "denied"
    assert seen == wanted, (
        f"reading {PROBE} was {seen} with the rules {rules}; the last matching rule says {wanted}"
    )


@pytest.mark.oci_rule("config-linux.allowed-device-list.in-order")
@pytest.mark.runc_root  # rootless: no device node, no devices cgroup
def test_device_rule_grants_only_its_access(bundle, container):
    """config-linux.md "Allowed Device List": an entry allowing "r" lets the
    device open for reading and not for writing (the deny-all before it stands)."""
    rules, _ = ORDERS["deny-all-then-allow-loop"]
    seen = open_results(container, bundle, rules)
    assert seen == {"read": "ok", "write": "denied"}, (
        f"opening {PROBE} with only read access allowed: {seen}"
    )
