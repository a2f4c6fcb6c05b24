"""The mount table, exactly: what config.json asks for, with every option, and nothing more.

Rules: runtime spec config.md "Mounts" (destination, type, source, options)
and config-linux.md "Masked Paths" / "Readonly Paths". Read from inside the
container (/proc/self/mountinfo); what a runtime documents adding is
declared in pytest_runc/testing/expectations.py.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.oci.linux import MountEntry, mount_of, parse_mountinfo
from pytest_runc.testing.expectations import DEFAULT_DEVICES, PTMX, RuntimeAdditions, additions_for

pytestmark = pytest.mark.runc

FLAGS = ("ro", "nosuid", "noexec", "nodev")
_MARK = "--- existing ---"


@pytest.fixture
def additions(runtime: Any) -> RuntimeAdditions:
    """What the runtime under test documents adding (pytest_runc/testing/expectations.py)."""
    return additions_for(runtime.version())


def with_test_mounts(bundle: Any, shared: Path) -> None:
    """The default config plus a ro bind mount of a host directory and a sized tmpfs."""
    shared.mkdir()
    (shared / "hello").write_text("from the host\n")
    bundle.mount("/prt-data", "bind", str(shared), ["rbind", "ro", "nosuid"])
    bundle.mount("/prt-tmp", "tmpfs", "tmpfs", ["nosuid", "nodev", "size=1m", "mode=700"])


def mounts_inside(container: Any, bundle: Any) -> tuple[list[MountEntry], set[str]]:
    """The container's mounts, and which masked/readonly paths exist inside."""
    paths = bundle.linux.get("maskedPaths", []) + bundle.linux.get("readonlyPaths", [])
    probe = "".join(f' [ -e "{p}" ] && echo "{p}";' for p in paths)
    bundle.shell(f"cat /proc/self/mountinfo; echo '{_MARK}';{probe} true")
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    table, _, existing = done.stdout.partition(_MARK)
    return parse_mountinfo(table), set(existing.split())


def configured(bundle: Any) -> list[dict[str, Any]]:
    return [
        dict(m, destination=posixpath.normpath(m["destination"])) for m in bundle.config["mounts"]
    ]


def cgroup_v1_expanded(entry: dict[str, Any], mounts: list[MountEntry], additions: Any) -> bool:
    """A ``cgroup`` mount the runtime turned into a tmpfs of per-hierarchy mounts."""
    return (
        entry["type"] == "cgroup"
        and additions.cgroup_v1_tmpfs
        and mount_of(entry["destination"], mounts).fstype == "tmpfs"
    )


@pytest.mark.oci_rule("runtime.lifecycle.create-env-from-config")
@pytest.mark.runc_root  # rootless: /sys and cgroups come from the host through binds
def test_mount_table_is_exactly_the_configured_mounts(bundle, container, additions, tmp_path):
    """config.md "Mounts": the container has the root, the configured mounts and
    the masked/readonly path mounts, and none the config did not ask for."""
    with_test_mounts(bundle, tmp_path / "shared")
    mounts, existing = mounts_inside(container, bundle)
    expected = Counter(["/"] + [m["destination"] for m in configured(bundle)] + sorted(existing))
    allowed_below = [
        m["destination"] for m in configured(bundle) if cgroup_v1_expanded(m, mounts, additions)
    ]
    # config-linux.md "Devices": the runtime "MAY supply them however it likes
    # (with mknod, by bind mounting from the runtime mount namespace, ...)": a
    # mount exactly at a default or configured device path is not an extra.
    devices = {f"/dev/{name}" for name in (*DEFAULT_DEVICES, PTMX)} | {
        d["path"] for d in bundle.linux.get("devices") or [] if "path" in d
    }
    seen = Counter(
        m.point
        for m in mounts
        if not (m.fstype == "cgroup" and posixpath.dirname(m.point) in allowed_below)
    )
    missing = sorted((expected - seen).elements())
    extra = sorted(p for p in (seen - expected).elements() if p not in devices)
    assert not missing, f"configured mounts missing inside the container: {missing}"
    assert not extra, f"mounts the config did not ask for ({additions.name}): " + "; ".join(
        f"{m.point} ({m.fstype} from {m.source})" for m in mounts if m.point in extra
    )


def flag_holders(
    entry: dict[str, Any], mounts: list[MountEntry], additions: Any
) -> list[MountEntry]:
    """The mounts that must carry ``entry``'s flags: its own, or on cgroup v1 the
    per-hierarchy mounts below its tmpfs."""
    if cgroup_v1_expanded(entry, mounts, additions):
        below = [
            m
            for m in mounts
            if m.fstype == "cgroup" and posixpath.dirname(m.point) == entry["destination"]
        ]
        assert below, f"no cgroup hierarchy mounted below {entry['destination']}"
        return below
    return [mount_of(entry["destination"], mounts)]


def host_mount_flags(source: str) -> frozenset[str]:
    """The flags of the host mount ``source`` is on: a bind mount starts with them."""
    with open("/proc/self/mountinfo") as f:
        return mount_of(str(Path(source).resolve()), parse_mountinfo(f.read())).flags


@pytest.mark.runc_root  # rootless: binds keep the host's locked flags
@pytest.mark.parametrize(
    "flag",
    [pytest.param(f, marks=pytest.mark.oci_rule(f"config.mount-options.{f}")) for f in FLAGS],
)
def test_mount_flag_is_exactly_as_configured(bundle, container, additions, tmp_path, flag):
    """config.md "Mounts" options: each mount has the flag exactly when its options
    ask for it (a bind mount may keep it from its source's mount)."""
    with_test_mounts(bundle, tmp_path / "shared")
    mounts, _ = mounts_inside(container, bundle)
    wrong = []
    for entry in configured(bundle):
        wanted = flag in entry.get("options", [])
        binds = {"bind", "rbind"} & set(entry.get("options", []))
        inherited = binds and flag in host_mount_flags(entry["source"])
        for held in flag_holders(entry, mounts, additions):
            has = flag in held.flags
            if entry["type"] == "cgroup" and held.fstype == "tmpfs" and flag == "ro":
                continue  # the v1 holder tmpfs stays writable (expectations.py)
            if has != wanted and not (has and inherited):
                wrong.append(
                    f"{held.point} {'has' if has else 'lacks'} {flag} ({sorted(held.flags)})"
                )
    assert not wrong, f"{flag} not as configured: " + "; ".join(wrong)


def _bytes(size: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    unit = size[-1:].lower()
    return int(size[:-1]) * units[unit] if unit in units else int(size)


def configured_values(bundle: Any, name: str) -> list[tuple[str, str]]:
    """(destination, value) of every ``name=value`` option in the config's mounts."""
    return [
        (entry["destination"], option.split("=", 1)[1])
        for entry in configured(bundle)
        for option in entry.get("options", [])
        if option.startswith(name + "=")
    ]


@pytest.mark.oci_rule("config.mount-options.unknown-as-fs-data")
@pytest.mark.parametrize("name", ["mode", "size"])
def test_mount_data_option_is_applied(bundle, container, tmp_path, name):
    """config.md "Mounts" options: filesystem options (tmpfs/devpts mode=, size=)
    reach the mount."""
    with_test_mounts(bundle, tmp_path / "shared")
    mounts, _ = mounts_inside(container, bundle)
    wanted = configured_values(bundle, name)
    assert wanted, f"the test config has no {name}= option"
    wrong = []
    for destination, value in wanted:
        mount = mount_of(destination, mounts)
        if name == "size":
            seen = mount.fs_options.get("size", "")
            ok = bool(seen) and _bytes(seen) == _bytes(value)
        else:
            # tmpfs omits its default mode (1777) from the list
            seen = mount.fs_options.get("mode", "1777" if mount.fstype == "tmpfs" else "")
            ok = bool(seen) and int(seen, 8) == int(value, 8)
        if not ok:
            wrong.append(f"{destination}: configured {name}={value}, mounted {name}={seen or '?'}")
    assert not wrong, f"{name}= not applied: " + "; ".join(wrong)


def host_dir_with_submount() -> str:
    """A host directory with another mount below it (to tell bind from rbind)."""
    with open("/proc/self/mountinfo") as f:
        points = [m.point for m in parse_mountinfo(f.read())]
    for candidate in ("/dev", "/sys/fs/cgroup", "/proc", "/run"):
        if any(p.startswith(candidate + "/") for p in points):
            return candidate
    pytest.skip("no host directory with a mount below it to bind")


def submounts_inside(container: Any, bundle: Any, option: str) -> tuple[str, list[str]]:
    source = host_dir_with_submount()
    bundle.mount("/prt-bound", "bind", source, [option, "ro", "nosuid", "noexec"])
    mounts, _ = mounts_inside(container, bundle)
    assert any(m.point == "/prt-bound" for m in mounts), "/prt-bound is not mounted"
    return source, [m.point for m in mounts if m.point.startswith("/prt-bound/")]


@pytest.mark.oci_rule("config.mount-options.bind")
@pytest.mark.runc_root  # rootless: a plain bind of a tree with locked submounts is refused
def test_bind_mount_is_not_recursive(bundle, container):
    """config.md "Mounts" (bind): a ``bind`` mount brings the source's mount only."""
    source, below = submounts_inside(container, bundle, "bind")
    assert below == [], f"bind of {source} brought its submounts (rbind?): {below}"


@pytest.mark.oci_rule("config.mount-options.rbind")
def test_rbind_mount_is_recursive(bundle, container):
    """config.md "Mounts" (rbind): an ``rbind`` mount brings the source's submounts too."""
    source, below = submounts_inside(container, bundle, "rbind")
    assert below, f"rbind of {source} did not bring its submounts (a plain bind?)"


@pytest.mark.oci_rule("config.mount-options.bind")
def test_bind_mount_shows_the_host_directory(bundle, container, tmp_path):
    """config.md "Mounts": a bind mount shows the source directory's files."""
    with_test_mounts(bundle, tmp_path / "shared")
    bundle.shell("cat /prt-data/hello 2>&1; true")
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    assert done.stdout == "from the host\n", f"/prt-data/hello reads {done.stdout!r}"


@pytest.mark.oci_rule("config.mount-options.ro")
def test_ro_bind_mount_refuses_writes(bundle, container, tmp_path):
    """config.md "Mounts" (ro): a write through a read-only bind mount fails."""
    with_test_mounts(bundle, tmp_path / "shared")
    bundle.shell("touch /prt-data/x 2>/dev/null; echo status=$?")
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    assert done.stdout.strip() != "status=0", "wrote through a read-only bind mount"
    assert not (tmp_path / "shared" / "x").exists(), "the write reached the host directory"
