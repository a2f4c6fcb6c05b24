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

pytestmark = pytest.mark.runc


def test_hostname_is_the_configured_one(bundle, interactive):
    """config.md "Hostname": the container sees `hostname`, not the host's."""
    bundle.hostname("conformance-host")
    session = interactive()
    assert session.run("hostname").output == "conformance-host"
    assert socket.gethostname() != "conformance-host"


def test_shell_is_pid_1_and_sees_no_host_process(interactive):
    """config-linux.md "Namespaces" (pid): the process is PID 1 of a new pid namespace."""
    session = interactive()
    assert session.run("echo $$").output == "1"
    listing = session.run("ps -o pid,comm").lines[1:]
    pids = sorted(int(line.split()[0]) for line in listing)
    assert pids[0] == 1
    assert len(pids) <= 3, f"ps shows processes beyond the shell and ps itself: {listing}"
    assert str(os.getpid()) not in {line.split()[0] for line in listing if line.split()[0] != "1"}


def test_ls_root_shows_exactly_the_rootfs(bundle, interactive):
    """config.md "Root": / is the bundle's rootfs; no host directory shows through."""
    session = interactive()
    seen = set(session.run("ls -1 /").lines)
    assert seen == set(os.listdir(bundle.rootfs))
    assert not seen & {"home", "usr", "var", "boot"}, "host directories visible in the container"


def test_id_is_root_by_default(interactive):
    """config.md "User": uid 0 and gid 0 as `runc spec` configures."""
    assert interactive().run("id").output == "uid=0(root) gid=0(root)"


@pytest.mark.runc_root  # rootless maps only one uid
def test_id_is_the_configured_user(bundle, interactive):
    """config.md "User" (POSIX): the process runs with the configured uid and gid."""
    bundle.user(1234, 5678)
    result = interactive().run("id")
    assert result.output.startswith("uid=1234 gid=5678"), result.output


def test_mount_shows_the_configured_filesystems(bundle, interactive):
    """config.md "Mounts": each configured mount is there, with its type and ro option."""
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
            assert fstype == mount["type"], f"{target} is {fstype}, configured {mount['type']}"
            checked = [opts]
        if "ro" in mount.get("options", []):
            for opts_seen in checked:
                assert "ro" in opts_seen, f"{target} is configured ro but mounted {opts_seen}"


def test_proc_lists_only_container_processes(interactive):
    """config-linux.md "Namespaces" (pid) with a new /proc: only the container's pids."""
    entries = interactive().run("ls /proc").output.split()
    pids = sorted(int(name) for name in entries if name.isdigit())
    assert pids and pids[0] == 1
    assert len(pids) <= 3, f"/proc shows foreign processes: {pids}"


@pytest.mark.runc_root  # rootless runc on cgroup v1 makes no cgroup
def test_proc_1_cgroup_is_the_containers(interactive, runtime):
    """config-linux.md "Control groups": init runs in the container's own cgroup,
    and it is the one the host sees for the state's pid."""
    session = interactive()
    inside = session.run("cat /proc/1/cgroup").lines
    state = runtime.state(session.id)
    with open(f"/proc/{state.pid}/cgroup") as f:
        on_host = [line.strip() for line in f if line.strip()]
    with open("/proc/self/cgroup") as f:
        ours = [line.strip() for line in f if line.strip()]
    assert inside == on_host
    assert inside != ours, "the container runs in the test runner's own cgroup"


def test_tty_is_a_pts_inside_the_container(interactive):
    """config.md "terminal": with terminal true the process gets a pseudo-terminal."""
    result = interactive().run("tty")
    assert result.status == 0
    assert re.fullmatch(r"/dev/pts/\d+", result.output), result.output


@pytest.mark.parametrize("status", [0, 3, 255])
def test_exit_status_is_the_exit_status_of_runc_run(interactive, status):
    """runc run: its exit status is the container process's."""
    assert interactive().exit(status) == status


def test_keep_leaves_a_stopped_container_until_delete(interactive, runtime):
    """runc run --keep: the container stays, stopped, until `delete` removes it."""
    session = interactive(keep=True)
    assert session.exit(0) == 0
    listed = {state.id: state.status for state in runtime.list()}
    assert listed.get(session.id) == "stopped"
    runtime.delete(session.id)
    assert session.id not in runtime.list_ids()
