"""Namespaces beyond "a new one differs from the host's": errors in the list,
unlisted types, the user and time namespaces, and the rootfs under a mapping.

Rules: runtime spec config-linux.md "Namespaces" and "User namespace mappings".
(New pid/network/ipc/uts/cgroup namespaces and joining by path are checked in
test_isolation.py.)
"""

from __future__ import annotations

import os

import pytest

from pytest_runc.oci import skips
from pytest_runc.oci.linux import NS_FILES
from pytest_runc.testing.assertions import run_output

pytestmark = pytest.mark.runc

#: Container root is host uid 100000 (gid 200000): ids nothing on the host owns.
UID_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]
GID_MAP = [{"containerID": 0, "hostID": 200000, "size": 1000}]


def refused(container, bundle) -> str:
    """Run the bundle; the runtime's error text, failing the check if it ran."""
    bundle.command("true")
    done = container().run()
    assert done.returncode != 0, "the runtime accepted the config and ran the container"
    return str(done.stderr)


Mappings = list[dict[str, int]]


@pytest.fixture
def id_maps(runc_session) -> tuple[Mappings, Mappings]:
    """The (uid, gid) mappings the user namespace checks configure: UID_MAP and
    GID_MAP, or rootless the only ones an unprivileged user may write itself
    (container root is that user's own uid and gid)."""
    if runc_session.privilege.rootless:
        return (
            [{"containerID": 0, "hostID": os.getuid(), "size": 1}],
            [{"containerID": 0, "hostID": os.getgid(), "size": 1}],
        )
    return UID_MAP, GID_MAP


def map_user_namespace(bundle, id_maps: tuple[Mappings, Mappings]) -> None:
    bundle.add_namespace("user")
    bundle.linux["uidMappings"] = [dict(m) for m in id_maps[0]]
    bundle.linux["gidMappings"] = [dict(m) for m in id_maps[1]]


def map_text(mappings: list[dict[str, int]]) -> list[list[int]]:
    return [[m["containerID"], m["hostID"], m["size"]] for m in mappings]


@pytest.mark.oci_rule("config-linux.namespaces.duplicate-type-error")
def test_duplicate_namespace_type_is_refused(bundle, container):
    """config-linux.md "Namespaces": the same type listed twice is an error."""
    bundle.linux["namespaces"].append({"type": "ipc"})
    try:
        refused(container, bundle)
    except AssertionError:
        raise AssertionError(
            "the runtime accepted linux.namespaces listing the ipc namespace twice"
        ) from None


@pytest.mark.oci_rule("config-linux.namespaces.path-type-mismatch-error")
def test_namespace_path_of_another_type_is_refused(bundle, container):
    """config-linux.md "Namespaces": an ipc entry whose path is a network
    namespace is an error, not a silent new or wrong namespace."""
    bundle.add_namespace("ipc", f"/proc/{os.getpid()}/ns/net")
    try:
        refused(container, bundle)
    except AssertionError:
        raise AssertionError(
            "the runtime accepted an ipc namespace entry whose path is a network namespace"
        ) from None


@pytest.mark.oci_rule("config-linux.namespaces.inherit-unlisted")
@pytest.mark.parametrize("kind", ["ipc", "uts", "network"])
def test_unlisted_namespace_is_the_runtimes_own(bundle, container, runc_session, kind):
    """config-linux.md "Namespaces": a type left out of linux.namespaces is
    inherited from the runtime (here: the test process that runs it)."""
    bundle.remove_namespace(kind)
    if kind == "uts":
        bundle.hostname(None)  # a hostname needs a uts namespace of its own
    if kind == "ipc" and runc_session.privilege.rootless:
        # mqueue mounts only in an ipc namespace our user namespace owns.
        bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m.get("type") != "mqueue"]
    ns_file = NS_FILES[kind]
    inside = run_output(container, bundle, f"readlink /proc/self/ns/{ns_file}").strip()
    own = os.readlink(f"/proc/self/ns/{ns_file}")
    assert inside == own, f"the unlisted {kind} namespace is {inside}, not the runtime's own {own}"


@pytest.mark.oci_rule(
    "config-linux.namespaces.new-when-no-path", "config-linux.namespaces.types-supported"
)
@pytest.mark.parametrize("kind", ["user", "time"])
def test_new_namespace_of_the_newer_types(
    request, bundle, container, runtime_features, id_maps, kind
):
    """config-linux.md "Namespaces": user and time entries without a path get
    a new namespace of that type."""
    ns_file = NS_FILES.get(kind, kind)
    if not os.path.exists(f"/proc/self/ns/{ns_file}"):
        skips.skip_host(f"the kernel has no {kind} namespaces (/proc/self/ns/{ns_file})")
    runtime_features.require("namespaces", kind)
    if kind == "user":
        request.getfixturevalue("mapped_rootfs")
        map_user_namespace(bundle, id_maps)
    else:
        bundle.add_namespace(kind)
    inside = run_output(container, bundle, f"readlink /proc/self/ns/{ns_file}").strip()
    assert inside.startswith(f"{ns_file}:["), f"readlink of /proc/self/ns/{ns_file}: {inside!r}"
    assert inside != os.readlink(f"/proc/self/ns/{ns_file}"), f"host's {kind} namespace"


@pytest.mark.oci_rule("config-linux.namespaces.types-supported")
@pytest.mark.parametrize("which", ["uid", "gid"])
def test_user_namespace_has_the_configured_mappings(
    bundle, container, mapped_rootfs, id_maps, which
):
    """config-linux.md "User namespace mappings": /proc/self/{uid,gid}_map
    inside hold exactly the configured uidMappings/gidMappings."""
    map_user_namespace(bundle, id_maps)
    out = run_output(container, bundle, f"cat /proc/self/{which}_map")
    seen = [[int(n) for n in line.split()] for line in out.splitlines() if line.strip()]
    wanted = map_text(id_maps[0] if which == "uid" else id_maps[1])
    assert seen == wanted, f"{which}_map inside is {seen}, configured {wanted}"


@pytest.mark.oci_rule("config-linux.user-namespace-mappings.no-chown-rootfs")
# Rootless, container root is the rootfs's owner already: a chown would change nothing.
@pytest.mark.runc_root
def test_user_namespace_leaves_the_rootfs_owner_alone(bundle, container, mapped_rootfs, id_maps):
    """config-linux.md "User namespace mappings": the runtime does not chown
    the rootfs to the mapped ids to make the mapping work."""
    map_user_namespace(bundle, id_maps)
    paths = (".", "bin", "bin/busybox", "etc", "etc/passwd")
    before = {p: os.lstat(mapped_rootfs / p)[4:6] for p in paths}
    run_output(container, bundle, "true")
    after = {p: os.lstat(mapped_rootfs / p)[4:6] for p in paths}
    changed = {p: f"{before[p]} -> {after[p]}" for p in paths if before[p] != after[p]}
    assert not changed, f"the runtime chowned the rootfs (uid, gid): {changed}"


@pytest.mark.oci_rule("config-linux.namespaces.types-supported")
def test_time_namespace_offsets_are_applied(bundle, container, runtime_features):
    """config-linux.md "Namespaces" (time) and "Offset for Time Namespace": a
    new time namespace starts with the configured monotonic and boottime offsets."""
    if not os.path.exists("/proc/self/ns/time"):
        skips.skip_host("the kernel has no time namespaces (/proc/self/ns/time)")
    runtime_features.require("namespaces", "time")
    bundle.add_namespace("time")
    bundle.linux["timeOffsets"] = {
        "monotonic": {"secs": 86400, "nanosecs": 0},
        "boottime": {"secs": 172800, "nanosecs": 0},
    }
    out = run_output(container, bundle, "cat /proc/self/timens_offsets")
    offsets = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    wanted = {"monotonic": ["86400", "0"], "boottime": ["172800", "0"]}
    assert offsets == wanted, f"timens_offsets inside: {offsets}, configured {wanted}"
