"""Mount options, one row of config.md's table at a time, and the order of mounts.

Rules: runtime spec config.md "Mounts" (Linux mount options: each option of
the table does what mount(8) does with it; the mounts are made in the order of
the array; a relative destination is taken from the container's "/"). Each
check mounts a fresh tmpfs (or binds one the config mounted before) and reads
the result from inside the container in /proc/self/mountinfo. The expected
flags are what util-linux mount(8) gives for the same options on this kind of
kernel (measured with ``mount -t tmpfs -o OPTIONS``).
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_runc.oci import skips
from pytest_runc.oci.kernel_features import idmapped_mount_missing
from pytest_runc.oci.linux import MountEntry, parse_mountinfo

pytestmark = pytest.mark.runc

#: The per-mount flags /proc/PID/mountinfo shows (strictatime shows as neither
#: noatime nor relatime) and the superblock flags the checks look at.
MOUNT_FLAGS = frozenset(
    {"ro", "nosuid", "nodev", "noexec", "noatime", "relatime", "nodiratime", "nosymfollow"}
)
SUPER_FLAGS = frozenset({"sync", "dirsync", "lazytime"})

#: option -> (the options of the tmpfs, its mount flags, its superblock flags).
#: An option that clears a flag comes after the one that sets it: alone it
#: would look like the default.
FLAG_CASES: dict[str, tuple[list[str], set[str], set[str]]] = {
    "ro": (["ro"], {"ro", "relatime"}, set()),
    "rw": (["ro", "rw"], {"relatime"}, set()),
    "nosuid": (["nosuid"], {"nosuid", "relatime"}, set()),
    "suid": (["nosuid", "suid"], {"relatime"}, set()),
    "nodev": (["nodev"], {"nodev", "relatime"}, set()),
    "dev": (["nodev", "dev"], {"relatime"}, set()),
    "noexec": (["noexec"], {"noexec", "relatime"}, set()),
    "exec": (["noexec", "exec"], {"relatime"}, set()),
    "sync": (["sync"], {"relatime"}, {"sync"}),
    "async": (["sync", "async"], {"relatime"}, set()),
    "dirsync": (["dirsync"], {"relatime"}, {"dirsync"}),
    "noatime": (["noatime"], {"noatime"}, set()),
    "atime": (["noatime", "atime"], {"relatime"}, set()),
    "strictatime": (["strictatime"], set(), set()),
    "nostrictatime": (["strictatime", "nostrictatime"], {"relatime"}, set()),
    "relatime": (["relatime"], {"relatime"}, set()),
    "norelatime": (["norelatime"], {"relatime"}, set()),  # mount(8): the kernel's default
    "nodiratime": (["nodiratime"], {"nodiratime", "relatime"}, set()),
    "diratime": (["nodiratime", "diratime"], {"relatime"}, set()),
    "lazytime": (["lazytime"], {"relatime"}, {"lazytime"}),
    "nolazytime": (["lazytime", "nolazytime"], {"relatime"}, set()),
    "nosymfollow": (["nosymfollow"], {"nosymfollow", "relatime"}, set()),
    "symfollow": (["nosymfollow", "symfollow"], {"relatime"}, set()),
    # Flags a tmpfs does not show: the option must be taken as a flag, never
    # handed to the filesystem as data (tmpfs refuses data it does not know).
    "iversion": (["iversion"], {"relatime"}, set()),
    "noiversion": (["iversion", "noiversion"], {"relatime"}, set()),
    "silent": (["silent"], {"relatime"}, set()),
    "loud": (["silent", "loud"], {"relatime"}, set()),
    "defaults": (["defaults"], {"relatime"}, set()),
}

#: Recursive options (mount_setattr, kernel 5.12+) on an rbind of a tree (a
#: tmpfs and a tmpfs inside it): option -> (the options of both tmpfs, the flags
#: both mounts of the bind must have). An option that clears a flag gets a tree
#: that has it.
RECURSIVE_CASES: dict[str, tuple[list[str], set[str]]] = {
    "rro": ([], {"ro", "relatime"}),
    "rrw": (["ro"], {"relatime"}),
    "rnosuid": ([], {"nosuid", "relatime"}),
    "rsuid": (["nosuid"], {"relatime"}),
    "rdev": (["nodev"], {"relatime"}),
    "rnoexec": ([], {"noexec", "relatime"}),
    "rexec": (["noexec"], {"relatime"}),
    "rnoatime": ([], {"noatime"}),
    "ratime": (["noatime"], {"relatime"}),
    "rstrictatime": ([], set()),
    "rnostrictatime": (["strictatime"], {"relatime"}),
    "rrelatime": (["noatime"], {"relatime"}),
    # mount(8) -o remount,bind,norelatime leaves a strictatime mount strict
    "rnorelatime": (["strictatime"], set()),
    "rnodiratime": ([], {"nodiratime", "relatime"}),
    "rdiratime": (["nodiratime"], {"relatime"}),
    "rnosymfollow": ([], {"nosymfollow", "relatime"}),
    "rsymfollow": (["nosymfollow"], {"relatime"}),
}


def mountinfo(container: Any, bundle: Any) -> list[MountEntry]:
    """The container's mount table (and fail naming the runtime's words if it did not start)."""
    bundle.shell("cat /proc/self/mountinfo")
    done = container().run()
    assert done.returncode == 0, (
        f"the container did not start with mounts {bundle.config['mounts'][7:]}: {done.stderr}"
    )
    return parse_mountinfo(done.stdout)


def at(point: str, mounts: list[MountEntry]) -> MountEntry:
    found = [m for m in mounts if m.point == point]
    assert found, f"nothing is mounted at {point}"
    return found[-1]


def propagation(text: str, point: str) -> set[str]:
    """The optional fields (shared:N, master:N, unbindable) of ``point`` in a mountinfo text."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[4] == point:
            return set(fields[6 : fields.index("-", 6)])
    raise AssertionError(f"nothing is mounted at {point}")


def peer_group(text: str, point: str) -> str:
    """The peer group N of ``point``, a mount configured ``shared`` (mountinfo ``shared:N``)."""
    fields = propagation(text, point)
    shared = [field for field in fields if field.startswith("shared:")]
    assert len(shared) == 1, (
        f"{point}, configured with the option shared, has propagation"
        f" {sorted(fields) or 'private'}, not one peer group"
    )
    return shared[0].split(":", 1)[1]


def require_option(runtime_features: Any, name: str) -> None:
    runtime_features.require("mount_options", name)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.oci_rule(f"config.mount-options.{name}"))
        for name in FLAG_CASES
    ],
)
def test_mount_option_sets_the_flags_mount8_sets(bundle, container, runtime_features, name):
    """config.md "Mounts" (Linux mount options): a tmpfs mounted with the option
    has exactly the flags mount(8) gives it."""
    require_option(runtime_features, name)
    options, flags, super_flags = FLAG_CASES[name]
    bundle.mount("/prt-opt", "tmpfs", "tmpfs", options)
    mount = at("/prt-opt", mountinfo(container, bundle))
    seen = (set(mount.flags & MOUNT_FLAGS), set(mount.fs_options) & SUPER_FLAGS)
    assert seen == (flags, super_flags), (
        f"mount option {name}: a tmpfs mounted with {options} has flags {sorted(seen[0])}"
        f" and superblock flags {sorted(seen[1])}; mount(8) gives {sorted(flags)}"
        f" and {sorted(super_flags)}"
    )


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.oci_rule(f"config.mount-options.{name}"))
        for name in RECURSIVE_CASES
    ],
)
def test_recursive_option_reaches_every_submount(
    bundle, container, runtime_features, tmp_path, name
):
    """config.md "Mounts" (recursive mount options): the rbind of a tree with the
    option has the change on the mount and on its submount alike."""
    require_option(runtime_features, name)
    tree, wanted = RECURSIVE_CASES[name]
    if "ro" in tree:
        # read-only binds of host directories are read-only at once (a ro tmpfs
        # may be made read-only only after every mount is made)
        (tmp_path / "tree" / "sub").mkdir(parents=True)  # the mount point, made in advance
        (tmp_path / "sub").mkdir()
        bundle.mount("/prt-tree", "bind", str(tmp_path / "tree"), ["bind", *tree])
        bundle.mount("/prt-tree/sub", "bind", str(tmp_path / "sub"), ["bind", *tree])
    else:
        bundle.mount("/prt-tree", "tmpfs", "tmpfs", tree)
        bundle.mount("/prt-tree/sub", "tmpfs", "tmpfs", tree)
    bundle.mount("/prt-bound", "bind", str(bundle.rootfs / "prt-tree"), ["rbind", name])
    mounts = mountinfo(container, bundle)
    wrong = {
        point: sorted(at(point, mounts).flags & MOUNT_FLAGS)
        for point in ("/prt-bound", "/prt-bound/sub")
        if at(point, mounts).flags & MOUNT_FLAGS != wanted
    }
    assert not wrong, (
        f"recursive option {name}: mounts with other flags than {sorted(wanted)}: {wrong}"
    )


def shared_source(bundle: Any) -> None:
    """A shared tmpfs at /prt-peer: binds of it can join, follow or leave its peer group.

    The bind source is the tmpfs itself, in the container's mount namespace
    before pivot_root (the runtime mounts it under the rootfs first).
    """
    bundle.mount("/prt-peer", "tmpfs", "tmpfs", ["shared"])
    bundle.mount("/prt-peer/sub", "tmpfs", "tmpfs", ["shared"])


#: Propagation option -> what /prt-bound shows, in terms of /prt-peer's peer group.
PROPAGATION = {
    "private": set(),
    "shared": {"shared:{group}"},
    "slave": {"master:{group}"},
    "unbindable": {"unbindable"},
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.oci_rule(f"config.mount-options.{name}"))
        for name in PROPAGATION
    ],
)
def test_propagation_option(bundle, container, runtime_features, name):
    """config.md "Mounts" (private, shared, slave, unbindable): a bind of a shared
    mount gets exactly the configured propagation (and its submount keeps its own)."""
    require_option(runtime_features, name)
    shared_source(bundle)
    bundle.mount("/prt-bound", "bind", str(bundle.rootfs / "prt-peer"), ["bind", name])
    bundle.shell("cat /proc/self/mountinfo")
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    group = peer_group(done.stdout, "/prt-peer")
    peer = f"shared:{group}"
    wanted = {field.format(group=group) for field in PROPAGATION[name]}
    seen = propagation(done.stdout, "/prt-bound")
    assert seen == wanted, (
        f"a bind of the shared /prt-peer ({peer}) with {name} has propagation"
        f" {sorted(seen) or 'private'}, expected {sorted(wanted) or 'private'}"
    )


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.oci_rule(f"config.mount-options.{name}"))
        for name in ("rprivate", "rshared", "rslave", "runbindable")
    ],
)
def test_recursive_propagation_option(bundle, container, runtime_features, name):
    """config.md "Mounts" (rprivate, rshared, rslave, runbindable): an rbind of a
    shared tree gets the propagation on the mount and on its submount."""
    require_option(runtime_features, name)
    shared_source(bundle)
    bundle.mount("/prt-bound", "bind", str(bundle.rootfs / "prt-peer"), ["rbind", name])
    bundle.shell("cat /proc/self/mountinfo")
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    wrong = []
    for source, bound in (("/prt-peer", "/prt-bound"), ("/prt-peer/sub", "/prt-bound/sub")):
        group = peer_group(done.stdout, source)
        wanted = {field.format(group=group) for field in PROPAGATION[name[1:]]}
        seen = propagation(done.stdout, bound)
        if seen != wanted:
            wrong.append(
                f"{bound} is {sorted(seen) or 'private'}, not {sorted(wanted) or 'private'}"
            )
    assert not wrong, f"rbind with {name}: " + "; ".join(wrong)


@pytest.mark.oci_rule("config.mount-options.remount")
def test_remount_changes_the_existing_mount(bundle, container, runtime_features):
    """config.md "Mounts" (remount): a later entry with ``remount`` changes the
    flags of the mount already there instead of stacking a new one."""
    require_option(runtime_features, "remount")
    bundle.mount("/prt-opt", "tmpfs", "tmpfs", ["nodev"])
    bundle.config["mounts"].append(
        {
            "destination": "/prt-opt",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["remount", "ro", "noexec"],
        }
    )
    mounts = [m for m in mountinfo(container, bundle) if m.point == "/prt-opt"]
    assert len(mounts) == 1, f"{len(mounts)} mounts at /prt-opt: remount stacked a new mount"
    flags = sorted(mounts[0].flags & {"ro", "noexec"})
    assert flags == ["noexec", "ro"], f"the remounted /prt-opt has {sorted(mounts[0].flags)}"


#: Two orders of a mount and a mount inside it.
ORDERS = {
    "outer-first": ["/prt-nest", "/prt-nest/inner"],
    "inner-first": ["/prt-nest/inner", "/prt-nest"],
}


@pytest.mark.oci_rule("config.mounts.listed-order")
@pytest.mark.parametrize("order", list(ORDERS))
def test_mounts_are_made_in_config_order(bundle, container, order):
    """config.md "Mounts": the mounts are made one after the other in the array's
    order, so each lands on the mount an earlier entry put at its parent path."""
    for destination in ORDERS[order]:
        bundle.mount(destination, "tmpfs", "tmpfs", [])
    bundle.shell("cat /proc/self/mountinfo")
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    ids = {}
    parents = {}
    for line in done.stdout.splitlines():
        fields = line.split()
        ids[fields[4]] = fields[0]
        parents[fields[4]] = fields[1]
    outer_first = order == "outer-first"
    inner_parent = parents.get("/prt-nest/inner")
    if outer_first:
        ok = inner_parent == ids.get("/prt-nest")
    else:
        ok = inner_parent is not None and inner_parent != ids.get("/prt-nest")
    assert ok, (
        f"mounts {ORDERS[order]} were not made in that order: /prt-nest/inner sits on"
        f" mount {inner_parent}, /prt-nest is mount {ids.get('/prt-nest')}"
    )


@pytest.mark.oci_rule("config.mounts.relative-destination-from-root")
def test_relative_destination_is_taken_from_the_root(bundle, container):
    """config.md "Mounts" (Linux): a relative destination is resolved against the
    container's "/", not against the process's cwd."""
    bundle.mount("prt-relative", "tmpfs", "tmpfs", ["nodev"])
    bundle.cwd("/tmp")
    points = [m.point for m in mountinfo(container, bundle) if "prt-relative" in m.point]
    assert points == ["/prt-relative"], (
        f"the relative destination prt-relative was mounted at {points}, not /prt-relative"
    )


#: The mapping of the id-mapped mounts: on-disk 0 shows as 100000.
ID_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def require_idmap(runtime_features: Any) -> None:
    """Skip unless the runtime claims id-mapped mounts (features: mountExtensions.idmap)."""
    if not runtime_features.available:
        return  # no `features`: nothing ruled out
    if runtime_features.idmap_mounts_enabled is not True:
        skips.skip_runtime("`features` does not claim linux.mountExtensions.idmap")


def require_idmappable_tmpfs() -> None:
    """Skip unless this kernel can id-map a tmpfs (what idmapped_tree binds)."""
    lacking = idmapped_mount_missing("tmpfs")
    if lacking:
        skips.skip_host(lacking)


def idmapped_tree(bundle: Any, options: list[str], mappings: bool = True) -> None:
    """A tmpfs with a tmpfs inside (both owned by 0:0), bound at /prt-bound with ``options``."""
    bundle.mount("/prt-tree", "tmpfs", "tmpfs", [])
    bundle.mount("/prt-tree/sub", "tmpfs", "tmpfs", [])
    entry: dict[str, Any] = {
        "destination": "/prt-bound",
        "type": "bind",
        "source": str(bundle.rootfs / "prt-tree"),
        "options": options,
    }
    if mappings:
        entry.update(uidMappings=ID_MAP, gidMappings=ID_MAP)
    bundle.config["mounts"].append(entry)


def owners(container: Any, bundle: Any, *paths: str) -> dict[str, str]:
    bundle.shell("stat -c '%n %u:%g' " + " ".join(paths))
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr.strip()}"
    return dict(line.split(" ", 1) for line in done.stdout.splitlines())


@pytest.mark.oci_rule(
    "config.mount-options.idmap",
    "config.mount-options.idmap-mapping-applied",
    "config.mount-options.idmap-uses-given-mappings",
)
def test_idmap_mount_maps_owners_with_its_mappings(bundle, container, runtime_features):
    """config.md "Mounts" (idmap): a bind mount with ``idmap`` and its own
    uidMappings/gidMappings shows on-disk 0:0 as the mapped 100000:100000."""
    require_idmap(runtime_features)
    require_idmappable_tmpfs()
    idmapped_tree(bundle, ["bind", "idmap"])
    seen = owners(container, bundle, "/prt-tree", "/prt-bound")
    wanted = {"/prt-tree": "0:0", "/prt-bound": "100000:100000"}
    assert seen == wanted, f"owners through the idmap mount {seen}, expected {wanted}"


@pytest.mark.oci_rule(
    "config.mount-options.ridmap",
    "config.mount-options.ridmap-mapping-applied",
    "config.mount-options.ridmap-uses-given-mappings",
)
def test_ridmap_mount_maps_every_submount(bundle, container, runtime_features):
    """config.md "Mounts" (ridmap): an rbind with ``ridmap`` maps the mount and
    its submount with the given mappings."""
    require_idmap(runtime_features)
    require_idmappable_tmpfs()
    idmapped_tree(bundle, ["rbind", "ridmap"])
    seen = owners(container, bundle, "/prt-bound", "/prt-bound/sub")
    wanted = {"/prt-bound": "100000:100000", "/prt-bound/sub": "100000:100000"}
    assert seen == wanted, f"owners through the ridmap mount {seen}, expected {wanted}"


@pytest.mark.parametrize(
    "option",
    [
        pytest.param(
            option,
            marks=pytest.mark.oci_rule(
                f"config.mount-options.{option}-no-userns-error",
                f"config.mount-options.{option}-missing-mapping-error",
            ),
        )
        for option in ("idmap", "ridmap")
    ],
)
def test_idmap_without_mappings_or_user_namespace_is_refused(
    bundle, container, runtime_features, option
):
    """config.md "Mounts" (idmap, ridmap): without mappings of its own and without
    a user namespace to borrow them from, the mount is an error."""
    require_idmap(runtime_features)
    idmapped_tree(bundle, ["rbind", option], mappings=False)
    bundle.shell("echo started")
    done = container().run()
    assert done.returncode != 0, (
        f"the runtime accepted an {option} mount without mappings or user namespace"
    )


@pytest.mark.runc_cli("runc-cli.mounts.tmpcopyup")
def test_tmpcopyup_copies_the_directory_into_the_tmpfs(bundle, container, runtime_features):
    """runc's ``tmpcopyup`` option: a tmpfs mounted over a rootfs directory starts
    with that directory's files."""
    require_option(runtime_features, "tmpcopyup")
    (bundle.rootfs / "prt-copy").mkdir()
    (bundle.rootfs / "prt-copy" / "kept").write_text("from the rootfs\n")
    bundle.mount("/prt-copy", "tmpfs", "tmpfs", ["tmpcopyup"])
    bundle.shell("cat /prt-copy/kept 2>&1; grep -c ' /prt-copy ' /proc/self/mountinfo")
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr.strip()}"
    assert done.stdout == "from the rootfs\n1\n", (
        f"the tmpcopyup tmpfs at /prt-copy shows {done.stdout!r}: the rootfs files were not"
        " copied into it (or it is not a mount)"
    )


@pytest.mark.oci_rule("config.mount-options.custom-follow-mount8")
def test_mount8_only_option_is_not_handed_to_the_kernel(bundle, container):
    """config.md "Mounts": an option mount(8) knows and keeps to itself (``nofail``)
    is treated as mount(8) treats it, not passed to the filesystem as data."""
    bundle.mount("/prt-opt", "tmpfs", "tmpfs", ["nofail"])
    mount = at("/prt-opt", mountinfo(container, bundle))
    assert "nofail" not in mount.fs_options, f"nofail reached the filesystem: {mount.options}"
