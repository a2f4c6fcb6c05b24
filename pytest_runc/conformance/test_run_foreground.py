"""``runc run`` in the foreground passes the signals it receives on to the container.

Rule: runc's ``run`` command (man/runc-run.8.md, and signals.go): a runc
run that is not detached stays the container's parent on the host and
forwards every signal it gets (but SIGCHLD, and SIGWINCH with a terminal) to
the container's process, so that a supervisor signalling ``runc run``
signals the container. The container's shell traps the signal and says so;
PID 1 of a pid namespace ignores what it does not trap, so the trap is how
the signal is seen.
"""

from __future__ import annotations

import os
import signal

import pexpect
import pytest

pytestmark = pytest.mark.runc

TRAPS = (
    "trap 'echo got-USR1' USR1; trap 'echo got-TERM; exit 7' TERM; echo ready;"
    " while :; do sleep 1 & wait $!; done"
)


@pytest.fixture
def foreground(bundle, container):
    """``runc run`` (not detached) of a shell that traps USR1 and TERM, on a pty."""
    bundle.shell(TRAPS)
    made = container()
    bundle.write()
    made.may_exist = True
    child = made.runtime.spawn("run", "--bundle", str(bundle.path), made.id, timeout=10)
    try:
        child.expect("ready")
        yield made, child
    finally:
        made.kill("KILL", check=False)
        child.close(force=True)


@pytest.mark.runc_cli("runc-cli.run.forwards-signals")
@pytest.mark.parametrize("name", ["USR1", "TERM"])
def test_signal_to_runc_run_reaches_the_container(foreground, name):
    """A SIGUSR1 or SIGTERM sent to a foreground ``runc run`` reaches the container's process."""
    _, child = foreground
    os.kill(child.pid, getattr(signal, f"SIG{name}"))
    try:
        child.expect(f"got-{name}", timeout=5)
    except (pexpect.TIMEOUT, pexpect.EOF):
        pytest.fail(
            f"SIG{name} sent to the foreground `runc run` (pid {child.pid}) never reached the"
            f" container's process, which traps it; runc run printed {child.before!r}"
        )
