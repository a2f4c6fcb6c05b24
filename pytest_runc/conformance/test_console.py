"""A terminal handed over on ``--console-socket``: create with ``terminal: true``.

Rules: runc's documented console handling (``runc create --console-socket``,
docs/terminals.md of runc): with ``process.terminal`` true and a console
socket, the runtime makes a pseudo-terminal, gives its slave to the process
as stdin/stdout/stderr and sends its master over the unix socket with
SCM_RIGHTS. We keep the master open until the container has started and
talk to the process through it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from pytest_runc.oci.console import ConsoleSocket, read_until
from pytest_runc.oci.polling import settle_time
from pytest_runc.testing.kit import assert_runs

pytestmark = pytest.mark.runc


def on_console(bundle, container, script, tmp_path):
    """A terminal container running ``script`` and a console socket for it (not yet listening)."""
    bundle.args("sh", "-c", script).terminal(True)
    console = ConsoleSocket(tmp_path / "console.sock")
    made = container()
    return made, console


@contextlib.contextmanager
def started_on_console(bundle, container, script, tmp_path) -> Iterator[int]:
    """Create on a console socket, take the pty master, start; the master while it lives."""
    made, console = on_console(bundle, container, script, tmp_path)
    with console:
        made.create(console_socket=console.path)
        master = console.master(settle_time(made.runtime))
        assert master is not None, (
            f"no terminal master came over the console socket: {console.error}"
        )
        made.start()
        yield master


@pytest.mark.runc_cli("runc-cli.create.console-socket-receives-master")
def test_create_sends_the_terminal_master_to_the_console_socket(bundle, container, tmp_path):
    """runc create --console-socket: the pty master arrives over the socket (SCM_RIGHTS)."""
    made, console = on_console(bundle, container, "sleep 60", tmp_path)
    with console:
        done = made.create(console_socket=console.path, check=False)
        master = console.master(settle_time(made.runtime))
        assert master is not None, (
            f"no terminal master fd came over the console socket ({console.error or 'no connection'});"
            f" create exited {done.returncode}: {done.stderr.strip()}"
        )
        assert os.isatty(master), "the fd sent over the console socket is not a terminal"
        assert_runs(done, "create with a console socket")


@pytest.mark.runc_cli("runc-cli.create.console-process-on-terminal")
def test_the_process_runs_on_the_console_terminal(bundle, container, tmp_path):
    """runc create --console-socket: the process's stdin and stdout are that terminal."""
    script = "[ -t 0 ] && [ -t 1 ] && echo on-a-tty || echo not-a-tty; sleep 60"
    with started_on_console(bundle, container, script, tmp_path) as master:
        seen = read_until(master, "a-tty")
        assert "on-a-tty" in seen, (
            f"the process does not see its stdin/stdout as a terminal; it wrote {seen!r}"
        )


@pytest.mark.runc_cli("runc-cli.create.console-talk-through-master")
def test_input_written_to_the_master_reaches_the_process(bundle, container, tmp_path):
    """runc create --console-socket: what we type on the master is the process's input."""
    script = "stty -echo; read line; echo got-$line; sleep 60"
    with started_on_console(bundle, container, script, tmp_path) as master:
        os.write(master, b"hello-console\n")
        seen = read_until(master, "got-hello-console")
        assert "got-hello-console" in seen, (
            f"the process did not answer what was typed on the master; the terminal shows {seen!r}"
        )
