"""An interactive `runc run` session, driven on a terminal as a person would.

Rules: runtime spec config.md (process.terminal, hostname, user, mounts),
runtime.md (lifecycle: the exit status), and runc's documented `run`
behaviour (exit status of the container process; --keep).
"""

from __future__ import annotations

import os
import re
import socket

import pytest

from pytest_runc.oci.linux import cgroup_fstype, controller_cgroups

pytestmark = pytest.mark.runc


@pytest.mark.oci_rule("runtime.create.applies-config-except-process")
def test_hostname_is_the_configured_one(bundle, interactive):
    """config.md "Hostname": the container sees `hostname`, not the host's."""
    bundle.hostname("conformance-host")
    session = interactive()
    seen = session.run("hostname").output
    assert seen == "conformance-host", (
        f"hostname {seen!r} in the container, configured 'conformance-host'"
    )
    assert socket.gethostname() != "conformance-host"


@pytest.mark.oci_rule("config-linux.namespaces.new-when-no-path")
def test_shell_is_pid_1_and_sees_no_host_process(interactive):
    """config-linux.md "Namespaces" (pid): the process is PID 1 of a new pid namespace."""
    session = interactive()
    shell = session.run("echo $$").output
    assert shell == "1", f"the shell is pid {shell}, not 1 of a new pid namespace"
    listing = session.run("ps -o pid,comm").lines[1:]
    pids = sorted(int(line.split()[0]) for line in listing)
    assert pids[0] == 1
    assert len(pids) <= 3, f"ps shows processes beyond the shell and ps itself: {listing}"
    assert str(os.getpid()) not in {line.split()[0] for line in listing if line.split()[0] != "1"}


@pytest.mark.oci_rule("runtime.lifecycle.create-env-from-config")
def test_ls_root_shows_exactly_the_rootfs(bundle, interactive):
    """config.md "Root": / is the bundle's rootfs plus the configured mount points;
    no host directory shows through."""
    # Listed before the run: the runtime creates missing mount points in the
    # rootfs itself, so a listing taken afterwards would hide an extra mount.
    expected = set(os.listdir(bundle.rootfs))
    expected |= {m["destination"].strip("/").split("/")[0] for m in bundle.config["mounts"]}
    seen = set(interactive().run("ls -1 /").lines)
    assert seen == expected, (
        f"/ in the container differs from the rootfs: extra {sorted(seen - expected)},"
        f" missing {sorted(expected - seen)}"
    )


@pytest.mark.oci_rule("runtime.start.runs-process")
def test_id_is_root_by_default(interactive):
    """config.md "User": uid 0 and gid 0 as `runc spec` configures."""
    seen = interactive().run("id").output
    assert seen == "uid=0(root) gid=0(root)", f"id says {seen!r}, configured uid 0 gid 0"


@pytest.mark.oci_rule("runtime.start.runs-process")
@pytest.mark.runc_root  # rootless maps only one uid
def test_id_is_the_configured_user(bundle, interactive):
    """config.md "User" (POSIX): the process runs with the configured uid and gid."""
    bundle.user(1234, 5678)
    result = interactive().run("id")
    assert result.output.startswith("uid=1234 gid=5678"), (
        f"id says {result.output!r}, configured uid 1234 gid 5678"
    )


@pytest.mark.oci_rule("runtime.create.applies-config-except-process")
def test_mount_shows_the_configured_filesystems(bundle, interactive, cgroup_mode):
    """config.md "Mounts": each configured mount is there, with its type and ro option
    (a ``cgroup`` mount is the host's kind of cgroup filesystem: cgroup2 on v2)."""
    table = interactive().run("cat /proc/mounts").lines
    mounted = {}
    for line in table:
        fields = line.split()
        mounted[fields[1]] = (fields[2], fields[3].split(","))
    for mount in bundle.config["mounts"]:
        target = mount["destination"]
        assert target in mounted, f"{target} is not mounted; /proc/mounts: {table}"
        fstype, opts = mounted[target]
        if mount["type"] == "cgroup" and "user" in bundle.namespace_types():
            # Rootless runc cannot mount cgroupfs without a cgroup namespace
            # (cgroup v1): what shows is the host's, through the /sys bind.
            continue
        if mount["type"] == "cgroup" and fstype == "tmpfs":
            # cgroup v1: a tmpfs holds one cgroup mount per controller; those
            # carry the configured options.
            below = {t: o for t, (ft, o) in mounted.items() if t.startswith(target + "/")}
            assert below, f"no cgroup controller mounted under {target}"
            checked = [o for o in below.values()]
        elif mount["type"] in ("none", "bind") or "rbind" in mount.get("options", []):
            checked = [opts]  # a bind mount shows its source's type
        else:
            wanted = cgroup_fstype(cgroup_mode) if mount["type"] == "cgroup" else mount["type"]
            assert fstype == wanted, (
                f"{target} is {fstype}, configured {mount['type']} ({wanted} on this host)"
            )
            checked = [opts]
        if "ro" in mount.get("options", []):
            for opts_seen in checked:
                assert "ro" in opts_seen, f"{target} is configured ro but mounted {opts_seen}"


@pytest.mark.oci_rule("config-linux.namespaces.new-when-no-path")
def test_proc_lists_only_container_processes(interactive):
    """config-linux.md "Namespaces" (pid) with a new /proc: only the container's pids."""
    entries = interactive().run("ls /proc").output.split()
    pids = sorted(int(name) for name in entries if name.isdigit())
    assert pids and pids[0] == 1
    assert len(pids) <= 3, f"/proc shows foreign processes: {pids}"


@pytest.mark.oci_rule("config-linux.cgroups-path.absolute-under-mount")
@pytest.mark.runc_root  # rootless runc on cgroup v1 makes no cgroup
def test_proc_1_cgroup_is_the_configured_cgroups_path(
    bundle, interactive, runc_session, cgroup_mode
):
    """config-linux.md "cgroupsPath": init runs in the configured cgroup, in every
    hierarchy that holds controllers (no cgroup namespace: paths are the host's)."""
    # Named with the run's prefix (prt-<token>-<n>-...): `delete` removes the
    # cgroup, and if the run is killed first, the next run's sweeper (which
    # removes the empty cgroups named prt-<token>-*) does.
    path = f"/{runc_session.id_prefix()}-cgpath"
    bundle.config.setdefault("linux", {})["cgroupsPath"] = path
    inside = interactive().run("cat /proc/1/cgroup").lines
    # Which lines hold controllers depends on the cgroup mode (v2: the one
    # "0::" line; v1 and hybrid: the v1 hierarchies), declared in linux.py.
    held = controller_cgroups("\n".join(inside), cgroup_mode)
    wrong = {controllers or "v2": where for controllers, where in held.items() if where != path}
    assert held and not wrong, (
        f"init is not in the configured cgroup {path}: {wrong or inside} ({cgroup_mode} host)"
    )


@pytest.mark.oci_rule("runtime.start.runs-process")
def test_tty_is_a_pts_inside_the_container(interactive):
    """config.md "terminal": with terminal true the process gets a pseudo-terminal."""
    result = interactive().run("tty")
    assert result.status == 0, f"`tty` says stdin is no terminal: {result.output!r}"
    assert re.fullmatch(r"/dev/pts/\d+", result.output), result.output


@pytest.mark.runc_cli("runc-cli.run.exit-status")
@pytest.mark.parametrize("status", [0, 3, 255])
def test_exit_status_is_the_exit_status_of_runc_run(interactive, status):
    """runc run: its exit status is the container process's."""
    got = interactive().exit(status)
    assert got == status, f"runc run exited {got}, the container process {status}"


@pytest.mark.runc_cli("runc-cli.run.keep")
def test_keep_leaves_a_stopped_container_until_delete(interactive, runtime):
    """runc run --keep: the container stays, stopped, until `delete` removes it."""
    session = interactive(keep=True)
    assert session.exit(0) == 0
    listed = {state.id: state.status for state in runtime.list()}
    assert listed.get(session.id) == "stopped", (
        f"after run --keep, list shows {listed.get(session.id) or 'no container'} for {session.id}"
    )
    runtime.delete(session.id)
    assert session.id not in runtime.list_ids()
