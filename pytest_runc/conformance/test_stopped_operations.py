"""Operations that must fail, and fail visibly: on a stopped container, or with
an argument the runtime cannot use.

Rules: runc's ``pause`` and ``resume`` (a container that is not running, or
not paused, is refused), ``exec`` (runs only in a created or running
container) and ``kill`` (a signal it does not know is refused, and nothing is
sent). Each check brings one container to the status it needs and asks for
the operation once; the runtime must exit non-zero and leave the container
as it was.
"""

from __future__ import annotations

import pytest

from pytest_runc.testing import kit

pytestmark = pytest.mark.runc


@pytest.mark.runc_cli("runc-cli.pause.not-running-fails")
@pytest.mark.runc_root  # the freezer
def test_pause_of_a_stopped_container_fails(container):
    """runc pause of a stopped container exits non-zero, and it stays stopped."""
    made = kit.stopped(container)
    done = made.pause(check=False)
    assert done.returncode != 0, "pause of a stopped container exited 0"
    assert made.status() == "stopped", f"after the refused pause the container is {made.status()!r}"


@pytest.mark.runc_cli("runc-cli.resume.not-paused-fails")
@pytest.mark.runc_root  # the freezer
def test_resume_of_a_stopped_container_fails(container):
    """runc resume of a stopped container exits non-zero, and it stays stopped."""
    made = kit.stopped(container)
    done = made.resume(check=False)
    assert done.returncode != 0, "resume of a stopped container exited 0"
    assert made.status() == "stopped", (
        f"after the refused resume the container is {made.status()!r}"
    )


@pytest.mark.runc_cli("runc-cli.exec.stopped-fails")
def test_exec_in_a_stopped_container_fails(container):
    """runc exec into a stopped container exits non-zero: there is nothing to run in."""
    made = kit.stopped(container)
    done = made.exec("echo", "ran", timeout=10)
    assert done.returncode != 0, (
        f"exec in a stopped container exited 0 (it printed {done.stdout.strip()!r})"
    )


@pytest.mark.runc_cli("runc-cli.kill.unknown-signal-fails")
@pytest.mark.parametrize("signal", ["PRTBOGUS", "SIGPRTBOGUS"])
def test_kill_with_an_unknown_signal_fails_and_sends_nothing(container, signal):
    """runc kill with a signal name it does not know exits non-zero and the
    container keeps running (nothing was sent in its place)."""
    made = kit.running(container)
    done = made.kill(signal, check=False)
    assert done.returncode != 0, f"kill with the unknown signal {signal!r} exited 0"
    assert made.status() == "running", (
        f"after the refused kill {signal!r} the container is {made.status()!r}, not running"
    )
