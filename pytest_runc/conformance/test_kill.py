"""``runc kill``: which signal, named how, reaches which processes.

Rules: runc's documented ``kill`` command (man/runc-kill.8.md, kill.go): a
signal by name with or without ``SIG``, or by number; SIGTERM when none is
given; ``--all`` signals every process of the container, not only init.
Each check waits for the container's handshake ("ready") before signalling,
so a trap is in place and nothing races.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_runc.oci import skips
from pytest_runc.oci.polling import poll, settle_time
from pytest_runc.testing.kit import assert_runs

pytestmark = pytest.mark.runc

#: Init reports each USR1 and TERM it gets and keeps running; it never dies of them.
TRAPS = (
    "trap 'echo got-USR1' USR1; trap 'echo got-TERM' TERM; echo ready;"
    " while true; do sleep 0.05; done"
)


def trapping(bundle, container, script: str = TRAPS):
    bundle.shell(script)
    made = container()
    made.run(detach=True)
    made.wait_for_output("ready")
    return made


@pytest.mark.runc_cli("runc-cli.kill.signal-by-name")
@pytest.mark.parametrize("name", ["USR1", "SIGUSR1"])
def test_kill_takes_a_signal_by_name(bundle, container, name):
    """runc kill ID USR1 / SIGUSR1: init gets SIGUSR1."""
    made = trapping(bundle, container)
    assert_runs(made.kill(name, check=False), f"kill {name}")
    got = reports_after_ready(made)
    assert got == ["got-USR1"], f"kill {name} made init report {got}, expected ['got-USR1']"


@pytest.mark.runc_cli("runc-cli.kill.signal-by-number")
def test_kill_takes_a_signal_by_number(bundle, container):
    """runc kill ID 10: init gets signal 10, SIGUSR1 on Linux."""
    made = trapping(bundle, container)
    assert_runs(made.kill("10", check=False), "kill 10")
    got = reports_after_ready(made)
    assert got == ["got-USR1"], f"kill 10 made init report {got}, expected ['got-USR1']"


@pytest.mark.runc_cli("runc-cli.kill.default-term")
def test_kill_without_a_signal_sends_term(bundle, container, runtime):
    """runc kill ID: with no signal named, init gets SIGTERM."""
    made = trapping(bundle, container)
    assert_runs(runtime.invoke("kill", made.id, check=False), "kill without a signal")
    got = reports_after_ready(made)
    assert got == ["got-TERM"], f"kill without a signal made init report {got}, expected TERM"


def reports_after_ready(made) -> list[str]:
    """What init printed after its handshake, once it printed anything: the
    trap runs a moment after `kill` returns."""
    seen = poll(
        made.output,
        lambda out: "got-" in out.split("ready", 1)[1],
        timeout=settle_time(made.runtime),
    )
    return seen.split("ready", 1)[1].split()


def sleepers(made) -> list[str]:
    """The pids of the container's `sleep 60` processes: `runc ps --format json`
    names them, /proc says what they run (ps's table format is runc's own)."""
    found = []
    for pid in made.ps():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            continue  # gone since ps listed it
        if argv == [b"sleep", b"60"]:
            found.append(str(pid))
    return found


@pytest.mark.runc_root  # runc ps reads the container's cgroup
@pytest.mark.runc_cli("runc-cli.kill.all")
def test_kill_all_reaches_every_process(bundle, container, runc_session):
    """runc kill --all ID USR1: a child of init dies of it, and init (which traps it) runs on.

    A runc 1.1 convention: runc 1.2 deprecated --all (opencontainers/runc#3825);
    with a private pid namespace it signals init only, so runc 1.2+ skips.
    """
    found = re.match(r"runc version (\d+)\.(\d+)", runc_session.probe().version)
    if found and (int(found[1]), int(found[2])) >= (1, 2):
        skips.skip_runtime(
            f"{runc_session.probe().version}: runc 1.2 deprecated kill --all; it signals"
            " init only when the container has its own pid namespace (opencontainers/runc#3825)"
        )
    made = trapping(bundle, container, "sleep 60 & " + TRAPS)
    wait = settle_time(made.runtime)
    # "ready" comes after the fork of `sleep 60`, maybe before the child has
    # exec'd `sleep`: wait for it.
    before = poll(lambda: sleepers(made), lambda pids: len(pids) == 1, timeout=wait)
    assert len(before) == 1, f"no `sleep 60` child in `runc ps`: {before}"
    assert_runs(made.kill("USR1", all=True, check=False), "kill --all")
    left = poll(lambda: sleepers(made), lambda pids: pids == [], timeout=wait)
    assert left == [], f"kill --all USR1 did not reach init's child: `sleep 60` {left} still runs"
    assert made.status() == "running", "kill --all USR1 stopped init, which traps USR1"
