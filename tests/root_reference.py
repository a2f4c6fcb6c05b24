"""The whole conformance suite as root against the real runtime, once a test run.

Two tests compare other runs with it: the tolerance proofs
(tests/test_tolerance.py: which spec checks pass, and which runtime commands
each of them calls) and the sudo run (tests/test_privilege.py: every check
must have the outcome it has here). One run serves both: ``-n 2``, through a
recorder (``faulty.write_recorder``: it notes the command of every call and
the check that made it, then ``exec``s the runtime unchanged), read back
from its JUnit XML by node id (tests/labelled_runs.py). The first xdist
worker to need it makes it; the others wait for its result file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from pytest_runc.faulty import write_recorder
from pytest_runc.suite import SUITE_DIR, logical_nodeid
from tests.built_artifacts import once
from tests.labelled_runs import PLAN_VARIABLE, Outcome, read_junit

REPO = Path(__file__).resolve().parent.parent
#: The real runtime's label in these runs.
REFERENCE = "reference"
#: Longest a run of the suite may take (the machine is shared: generous).
RUN_TIMEOUT = 3600


def inner_run(
    runtimes: dict[str, Path],
    plan: dict[str, list[str] | None],
    directory: Path,
    markers: str | None = None,
    keyword: str | None = None,
) -> tuple[dict[str, dict[str, Outcome]], dict[str, str], str, int]:
    """The conformance suite against ``runtimes`` (label -> executable) in one run
    (one collection, ``-n 2``), each label limited to its ``plan``, the checks to
    ``markers`` and ``keyword`` (``-m``, ``-k``). Outcomes by label and node id, the labels
    whose runtime cannot run `true` (and why), the output's tail, the exit status.
    """
    junit = directory / "junit.xml"
    planned = directory / "plan.json"
    planned.write_text(json.dumps(plan))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--runc",
         *(f"--runc-binary={label}={path}" for label, path in runtimes.items()),
         *(["-m", markers] if markers else []), *(["-k", keyword] if keyword else []),
         "-p", "tests.labelled_runs", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
         "-p", "no:randomly", "-n", "2", "-q", "-rfE", f"--junitxml={junit}", str(SUITE_DIR)],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT,
        env={**os.environ, PLAN_VARIABLE: str(planned)},
    )  # fmt: skip
    output = done.stdout[-3000:] + done.stderr[-2000:]
    assert junit.exists(), f"no JUnit XML from the run in {directory}:\n{output}"
    found, gates = read_junit(junit)
    outcomes: dict[str, dict[str, Outcome]] = {label: {} for label in runtimes}
    for (label, node), outcome in found.items():
        outcomes.setdefault(label, {})[node] = outcome
    by_path = {str(path): label for label, path in runtimes.items()}
    gates = {by_path.get(path, path): message for path, message in gates.items()}
    return outcomes, gates, output, done.returncode


def commands_by_check(log: Path) -> dict[str, set[str]]:
    """Node id -> the runtime commands the check called (setup, call and teardown),
    from a recorder's log (tests that call nothing are absent)."""
    calls: dict[str, set[str]] = {}
    for line in log.read_text(encoding="utf-8").splitlines() if log.exists() else ():
        current, _, command = line.partition("\t")
        if current:  # PYTEST_CURRENT_TEST: "<node id> (call)"
            node = logical_nodeid(current.rsplit(" (", 1)[0], REPO)
            calls.setdefault(node, set()).add(command)
    return calls


@dataclass
class RootRun:
    """Every check of the suite against the real runtime, as root."""

    outcomes: dict[str, Outcome]  # node id -> outcome
    #: Why the runtime cannot run `true`, or None.
    gate: str | None
    #: Node id -> the commands the check called; None when the recorder saw no
    #: check (nothing can then be left out on its account).
    calls: dict[str, list[str]] | None
    returncode: int
    output: str
    took: float

    def commands(self) -> dict[str, set[str]] | None:
        return None if self.calls is None else {n: set(c) for n, c in self.calls.items()}


def run_as_root(binary: str, directory: Path) -> RootRun:
    """The whole suite against ``binary`` through a recorder, in ``directory``."""
    started = time.monotonic()
    log = directory / "calls.log"
    recorder = write_recorder(binary, log, directory / "bin" / "runc")
    outcomes, gates, output, status = inner_run({REFERENCE: recorder}, {REFERENCE: None}, directory)
    calls = commands_by_check(log)
    return RootRun(
        outcomes[REFERENCE],
        gates.get(REFERENCE),
        {node: sorted(commands) for node, commands in calls.items()} if calls else None,
        status,
        output,
        time.monotonic() - started,
    )


def shared_root_run(binary: str, tmp_path_factory: pytest.TempPathFactory) -> RootRun:
    """:func:`run_as_root` once for every xdist worker of this test run: the first
    to ask makes it, the others wait for it (tests/built_artifacts.py)."""
    data = once(tmp_path_factory, "root-run", lambda home: asdict(run_as_root(binary, home)))
    data["outcomes"] = {node: Outcome(**value) for node, value in data["outcomes"].items()}
    return RootRun(**data)
