"""Signals: `kill` delivers them, and `runc run` reports death by signal.

Rules: runtime spec runtime.md "kill" (send the signal to the container
process); runc's documented `run` exit status, 128+N after signal N.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.runc

TRAP_TERM = "trap 'echo got-TERM; exit 0' TERM; echo ready; while true; do sleep 0.05; done"


@pytest.mark.oci_rule("runtime.kill.sends-signal")
def test_term_reaches_a_process_that_traps_it(bundle, container):
    """runtime.md "kill": TERM is delivered to the container's process."""
    bundle.shell(TRAP_TERM)
    made = container()
    made.run(detach=True)
    made.wait_for_output("ready")  # the trap is installed: no race with kill
    made.kill("TERM")
    made.wait_for_output("got-TERM")
    made.wait_for_status("stopped")


@pytest.mark.oci_rule("runtime.kill.sends-signal")
def test_kill_signal_stops_the_process(bundle, container):
    """runtime.md "kill": KILL ends the process, even PID 1 of its namespace."""
    bundle.shell("echo ready; sleep 60")
    made = container()
    made.run(detach=True)
    made.wait_for_output("ready")
    made.kill("KILL")
    made.wait_for_status("stopped")


@pytest.mark.runc_cli("runc-cli.run.exit-status-signal")
def test_runc_run_exits_128_plus_the_signal(interactive, runtime):
    """runc run: when the container process dies of signal N, run exits with 128+N.

    KILL is the signal used: PID 1 of a pid namespace ignores every other
    signal it has no handler for, so no other signal can kill it by default.
    """
    session = interactive()
    session.run("echo ready")
    runtime.kill(session.id, "KILL")
    status = session.wait()
    assert status == 128 + 9, f"runc run exited {status} after its process died of KILL (9)"
