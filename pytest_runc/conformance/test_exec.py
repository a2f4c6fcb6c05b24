"""``runc exec`` options: each one changes the exec'd process as documented.

Rules: runc's documented ``exec`` command (man/runc-exec.8.md): --env,
--cwd, --user, --additional-gids, --tty with --console-socket,
--preserve-fds, --process, --detach and --pid-file. Each check runs one
container (``sleep 60``) and execs into it once.
"""

from __future__ import annotations

import ctypes
import json
import os
import time
from pathlib import Path

import pytest

from pytest_runc.oci import host
from pytest_runc.oci.console import ConsoleSocket, read_until
from pytest_runc.oci.polling import poll, settle_time
from pytest_runc.testing.kit import assert_runs

pytestmark = pytest.mark.runc


_PR_SET_CHILD_SUBREAPER = 36


def _subreaper(enabled: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, int(enabled), 0, 0, 0)


@pytest.fixture
def running(bundle, container):
    """A running container whose init sleeps; exec into it.

    A detached exec'd process outlives ``runc exec`` and is re-parented; the
    container is "stopped" only once every process of its pid namespace is
    reaped, which on hosts whose pid 1 reaps lazily takes seconds. This test
    process adopts those orphans (a child subreaper) and reaps them itself.
    """
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    _subreaper(True)
    try:
        yield made
        made.kill("KILL", all=True, check=False)
        # `kill --all` needs the container's cgroup, which rootless runc on
        # cgroup v1 has not got: KILL init too, which ends its pid namespace,
        # so the loop below reaps init (our child now) and the delete works.
        made.kill("KILL", check=False)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break  # no child left
            if pid == 0:
                time.sleep(0.005)
    finally:
        _subreaper(False)


def ran(done) -> str:
    """The exec'd process's stdout, once exec succeeded."""
    return assert_runs(done, "exec")


@pytest.mark.runc_cli("runc-cli.exec.env")
def test_exec_env_sets_the_variable(running):
    """runc exec --env: the variable is in the process's environment."""
    done = running.exec("sh", "-c", 'echo "[$GREETING]"', env=["GREETING=hello exec"])
    assert ran(done).strip() == "[hello exec]", (
        f"--env GREETING='hello exec' gave the process GREETING {ran(done).strip()!r}"
    )


@pytest.mark.runc_cli("runc-cli.exec.cwd")
def test_exec_cwd_is_the_working_directory(running):
    """runc exec --cwd: the process starts in that directory."""
    done = running.exec("pwd", cwd="/etc")
    assert ran(done).strip() == "/etc", f"--cwd /etc gave the working directory {ran(done)!r}"


@pytest.mark.runc_cli("runc-cli.exec.user")
@pytest.mark.runc_root  # rootless maps only one uid and gid
def test_exec_user_sets_uid_and_gid(running):
    """runc exec --user 1000:1001: the process runs as uid 1000, gid 1001."""
    done = running.exec("sh", "-c", "echo $(id -u) $(id -g)", user="1000:1001")
    assert ran(done).split() == ["1000", "1001"], (
        f"--user 1000:1001 ran the process as uid/gid {ran(done).split()}"
    )


@pytest.mark.runc_cli("runc-cli.exec.additional-gids")
@pytest.mark.runc_root  # rootless maps only one gid (and may not setgroups)
def test_exec_additional_gids_are_supplementary_groups(running):
    """runc exec --additional-gids: the groups are among the process's supplementary groups."""
    done = running.exec(
        "sh",
        "-c",
        "grep ^Groups: /proc/self/status",
        user="1000:1000",
        additional_gids=[2001, 2002],
    )
    groups = sorted(int(g) for g in ran(done).split()[1:])
    assert groups == [2001, 2002], (
        f"--additional-gids 2001 2002 gave the supplementary groups {groups}"
    )


@pytest.mark.runc_cli("runc-cli.exec.process-json")
def test_exec_process_json_runs_that_process(running, tmp_path):
    """runc exec --process FILE: the process of FILE runs (args, env, cwd), not the command line's."""
    process = {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh", "-c", 'echo "$FROM" $(pwd)'],
        "env": ["PATH=/bin:/usr/bin", "FROM=process-json"],
        "cwd": "/tmp",
    }
    path = tmp_path / "process.json"
    path.write_text(json.dumps(process))
    done = running.exec(process=path)
    assert ran(done).split() == ["process-json", "/tmp"], (
        f"--process ran something else: it printed {ran(done)!r}, expected 'process-json /tmp'"
    )


def running_argvs(made) -> list[str]:
    """The argv (space-joined) of every process in the container, asked through exec."""
    script = 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done'
    done = made.exec("sh", "-c", script)
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


@pytest.mark.runc_cli("runc-cli.exec.detach")
def test_exec_detach_returns_while_the_process_runs(running):
    """runc exec --detach: exec returns, and the process runs on in the container."""
    assert_runs(running.exec("sleep", "61", detach=True, timeout=10), "exec --detach")
    # exec returns before the process has exec'd `sleep` (it may still be the
    # runtime's init for a moment): wait for it to show.
    seen = poll(
        lambda: running_argvs(running),
        lambda argvs: "sleep 61" in argvs,
        timeout=settle_time(running.runtime),
    )
    assert "sleep 61" in seen, (
        f"after exec --detach returned, its process no longer runs; the container runs {seen}"
    )


def host_argv(pid: str) -> list[bytes]:
    """The argv of a host process, as /proc shows it; [] once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    except OSError:
        return []


@pytest.mark.runc_cli("runc-cli.exec.pid-file")
def test_exec_pid_file_holds_the_process_pid(running, tmp_path):
    """runc exec --pid-file: the file holds the exec'd process's host pid."""
    pid_file = tmp_path / "exec.pid"
    assert_runs(running.exec("sleep", "62", detach=True, pid_file=pid_file), "exec --pid-file")
    written = pid_file.read_text().strip() if pid_file.exists() else "(no file)"
    assert written.isdigit(), f"--pid-file holds {written!r}, not a pid"
    init = running.state().pid
    assert int(written) != init, "--pid-file holds init's pid, not the exec'd one"
    # Asked of /proc, not `runc ps`: ps needs the container's cgroup, which
    # rootless runc on cgroup v1 has not got. exec returns before the process
    # has replaced the runtime's init with `sleep 62`: wait for it (or for
    # the process to be gone, which no wait mends).
    expected = [b"sleep", b"62"]
    argv = poll(
        lambda: host_argv(written),
        lambda seen: seen in (expected, []),
        timeout=settle_time(running.runtime),
    )
    sudo = running.runtime.sudo
    try:
        pid_ns = host.readlink(f"/proc/{written}/ns/pid", sudo=sudo)
    except (OSError, host.HostAccessError):
        argv, pid_ns = [], "(no such process)"
    init_ns = host.readlink(f"/proc/{init}/ns/pid", sudo=sudo)
    assert (argv, pid_ns) == (expected, init_ns), (
        f"--pid-file holds {written}, which runs {argv} in pid namespace {pid_ns}, not the"
        f" exec'd `sleep 62` in the container's {init_ns}"
    )


@pytest.mark.runc_cli("runc-cli.exec.preserve-fds")
def test_exec_preserve_fds_passes_fd_3_on(running, tmp_path):
    """runc exec --preserve-fds 1: the process reads the caller's fd 3."""
    source = tmp_path / "passed"
    source.write_text("through-fd-3\n")
    fd = os.open(source, os.O_RDONLY)
    try:
        # The runtime's fd 3 is our file; our own fd 3 (xdist's channel) is untouched.
        done = running.exec("cat", "/proc/self/fd/3", preserve_fds=1, fds={3: fd})
    finally:
        os.close(fd)
    assert (done.returncode, done.stdout.strip()) == (0, "through-fd-3"), (
        f"--preserve-fds 1 did not pass fd 3 on: the process exited {done.returncode},"
        f" read {done.stdout!r}: {done.stderr.strip()}"
    )


@pytest.mark.runc_cli("runc-cli.exec.tty-console-socket")
def test_exec_tty_sends_a_terminal_to_the_console_socket(running, tmp_path):
    """runc exec -d --tty --console-socket: the process runs on the terminal sent over the socket."""
    with ConsoleSocket(tmp_path / "exec-console.sock") as console:
        done = running.exec(
            "sh", "-c", "[ -t 0 ] && echo exec-on-a-tty || echo exec-not-a-tty; sleep 60",
            detach=True, tty=True, console_socket=console.path,
        )  # fmt: skip
        # The exec'd process may still be starting: wait as long as for a command.
        wait = settle_time(running.runtime)
        master = console.master(timeout=wait)
        assert master is not None, (
            f"no terminal master came over the console socket ({console.error or 'no connection'});"
            f" exec exited {done.returncode}: {done.stderr.strip()}"
        )
        seen = read_until(master, "a-tty", timeout=wait)
        assert "exec-on-a-tty" in seen, f"the exec'd process is not on that terminal: {seen!r}"
