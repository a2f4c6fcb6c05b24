"""``--pidfd-socket`` (runc 1.2 and later): a pidfd of the new process is sent
over a unix socket.

Rule: runc's ``create``, ``run`` and ``exec`` commands: with
``--pidfd-socket PATH`` the runtime connects to PATH and passes, with
SCM_RIGHTS, a pidfd that refers to the container's process (create, run) or
the exec'd one. The check receives the fd and reads its ``Pid:`` from
/proc/self/fdinfo: it must be the process's host pid.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.oci import skips
from pytest_runc.oci.console import ConsoleSocket
from pytest_runc.testing.kit import assert_runs

pytestmark = pytest.mark.runc


def require_pidfd_socket(runtime: Any, command: str) -> None:
    done = runtime.invoke(command, "--help", check=False, global_root=False)
    if "--pidfd-socket" not in done.stdout:
        skips.skip_runtime(f"`{command} --help` has no --pidfd-socket (runc 1.2 and later)")


def pid_of_pidfd(fd: int | None) -> str:
    """What the fd received is: ``pidfd of <pid>``, or why it is not one."""
    if fd is None:
        return "no fd"
    target = os.readlink(f"/proc/self/fd/{fd}")
    info = Path(f"/proc/self/fdinfo/{fd}").read_text()
    pid = next((line.split()[1] for line in info.splitlines() if line.startswith("Pid:")), "")
    return f"pidfd of {pid}" if target == "anon_inode:[pidfd]" else f"{target}, not a pidfd"


def prepared(bundle: Any, container: Any, *args: str) -> Any:
    bundle.command(*args)
    made = container()
    bundle.write()
    made.may_exist = True
    made.runtime.hand_over_rootfs(bundle.path)
    return made


@pytest.mark.runc_cli("runc-cli.create.pidfd-socket")
@pytest.mark.oci_inputs("create --pidfd-socket", "run --pidfd-socket")
@pytest.mark.parametrize("command", ["create", "run"])
def test_pidfd_socket_gets_the_containers_process(bundle, container, runtime, tmp_path, command):
    """create / run --detach --pidfd-socket: the fd sent is a pidfd of the
    container's process (the pid state reports)."""
    require_pidfd_socket(runtime, command)
    made = prepared(bundle, container, "sleep", "60")
    detach = ["--detach"] if command == "run" else []
    with ConsoleSocket(tmp_path / "pidfd.sock") as receiver:
        done = runtime.invoke(
            command, *detach, "--bundle", str(bundle.path), "--pidfd-socket",
            str(receiver.path), made.id, check=False,
        )  # fmt: skip
        assert_runs(done, f"{command} --pidfd-socket")
        seen = pid_of_pidfd(receiver.master())
    wanted = f"pidfd of {made.state().pid}"
    assert seen == wanted, f"{command} --pidfd-socket sent {seen}, not a {wanted} (init)"


@pytest.mark.runc_cli("runc-cli.exec.pidfd-socket")
@pytest.mark.oci_inputs("exec --pidfd-socket")
def test_exec_pidfd_socket_gets_the_execd_process(bundle, container, runtime, tmp_path):
    """exec --detach --pidfd-socket: the fd sent is a pidfd of the exec'd process."""
    require_pidfd_socket(runtime, "exec")
    made = prepared(bundle, container, "sleep", "60")
    made.runtime.invoke("run", "--detach", "--bundle", str(bundle.path), made.id)
    pid_file = tmp_path / "exec.pid"
    with ConsoleSocket(tmp_path / "pidfd.sock") as receiver:
        done = runtime.invoke(
            "exec", "--detach", "--pid-file", str(pid_file), "--pidfd-socket",
            str(receiver.path), made.id, "sleep", "61", check=False,
        )  # fmt: skip
        assert_runs(done, "exec --pidfd-socket")
        seen = pid_of_pidfd(receiver.master())
    wanted = f"pidfd of {pid_file.read_text().strip()}"
    assert seen == wanted, f"exec --pidfd-socket sent {seen}, not a {wanted} (the exec'd process)"
