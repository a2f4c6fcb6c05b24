"""Options of ``runc create`` and ``runc run`` that test_lifecycle.py and
test_console.py do not try: ``--preserve-fds`` on both, and ``run --detach
--console-socket``.

Rules: runc's ``create`` and ``run`` commands (man/runc-create.8.md,
man/runc-run.8.md): ``--preserve-fds N`` passes the caller's fds 3 to 3+N-1
on to the container's process; ``--console-socket`` receives the master of
the process's terminal. Each check runs one container once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.oci.console import ConsoleSocket, read_until
from pytest_runc.testing.kit import assert_runs

pytestmark = pytest.mark.runc

READ_FD_3 = "cat /proc/self/fd/3"


def fd_of(tmp_path: Path, text: str) -> int:
    source = tmp_path / "passed"
    source.write_text(text)
    return os.open(source, os.O_RDONLY)


def prepared(bundle: Any, container: Any, script: str, *, terminal: bool = False) -> Any:
    """A container for ``script`` whose config is written and that the factory will delete."""
    bundle.shell(script).terminal(terminal)
    made = container()
    bundle.write()
    made.may_exist = True
    made.runtime.hand_over_rootfs(bundle.path)
    return made


@pytest.mark.runc_cli("runc-cli.run.preserve-fds")
@pytest.mark.oci_inputs("run --preserve-fds")
def test_run_preserve_fds_passes_fd_3_on(bundle, container, tmp_path):
    """runc run --preserve-fds 1: the container's process reads the caller's fd 3."""
    made = prepared(bundle, container, READ_FD_3)
    fd = fd_of(tmp_path, "run-through-fd-3\n")
    try:
        done = made.runtime.invoke(
            "run", "--bundle", str(bundle.path), "--preserve-fds", "1", made.id,
            fds={3: fd}, check=False,
        )  # fmt: skip
    finally:
        os.close(fd)
    assert (done.returncode, done.stdout.strip()) == (0, "run-through-fd-3"), (
        f"run --preserve-fds 1 did not pass fd 3 on: the process exited {done.returncode},"
        f" read {done.stdout!r}: {done.stderr.strip()}"
    )


@pytest.mark.runc_cli("runc-cli.create.preserve-fds")
@pytest.mark.oci_inputs("create --preserve-fds")
def test_create_preserve_fds_passes_fd_3_on(bundle, container, tmp_path):
    """runc create --preserve-fds 1: once started, the process reads the caller's fd 3."""
    made = prepared(bundle, container, READ_FD_3)
    fd = fd_of(tmp_path, "create-through-fd-3\n")
    try:
        done = made.runtime.invoke(
            "create", "--bundle", str(bundle.path), "--preserve-fds", "1", made.id,
            fds={3: fd}, stdout=made.stdout_path, check=False,
        )  # fmt: skip
    finally:
        os.close(fd)
    assert_runs(done, "create --preserve-fds 1")
    made.start()
    made.wait_for_status("stopped")
    assert made.output().strip() == "create-through-fd-3", (
        f"create --preserve-fds 1 did not pass fd 3 on: the started process read {made.output()!r}"
    )


@pytest.mark.runc_cli("runc-cli.run.console-socket")
@pytest.mark.oci_inputs("run --console-socket")
def test_run_detach_sends_the_terminal_to_the_console_socket(bundle, container, tmp_path):
    """runc run -d --console-socket with a terminal: the master comes over the
    socket and the process runs on that terminal."""
    script = "[ -t 0 ] && [ -t 1 ] && echo run-on-a-tty || echo run-not-a-tty; sleep 60"
    made = prepared(bundle, container, script, terminal=True)
    with ConsoleSocket(tmp_path / "run-console.sock") as console:
        done = made.runtime.invoke(
            "run", "--detach", "--bundle", str(bundle.path), "--console-socket",
            str(console.path), made.id, check=False,
        )  # fmt: skip
        master = console.master()
        assert master is not None, (
            f"no terminal master came over the console socket ({console.error or 'no connection'});"
            f" run exited {done.returncode}: {done.stderr.strip()}"
        )
        seen = read_until(master, "a-tty")
        assert "run-on-a-tty" in seen, f"the process is not on that terminal: {seen!r}"


@pytest.mark.oci_rule("runtime.start.runs-process")
@pytest.mark.oci_inputs("config:process.consoleSize.height", "config:process.consoleSize.width")
def test_console_size_is_the_terminals_size(bundle, container, tmp_path):
    """config.md "Process" consoleSize: with a terminal, the process's terminal
    is that many rows and columns (``stty size``)."""
    made = prepared(bundle, container, "stty size; sleep 60", terminal=True)
    bundle.process["consoleSize"] = {"height": 17, "width": 53}
    bundle.write()
    with ConsoleSocket(tmp_path / "size-console.sock") as console:
        made.create(console_socket=console.path)
        master = console.master()
        assert master is not None, (
            f"no terminal master came over the console socket: {console.error}"
        )
        made.start()
        seen = read_until(master, "\n").strip()
    assert seen == "17 53", f"with consoleSize 17x53 the process's terminal is {seen!r} (rows cols)"
