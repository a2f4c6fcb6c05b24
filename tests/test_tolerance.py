"""Tolerance proofs, the mirror of the fault proofs.

A faulty runtime breaks one rule and must make its checks fail. A tolerant
runtime (``pytest_runc/faulty/tolerance.py``) is the real runtime changed
only where the OCI runtime spec leaves the choice to the runtime — other
error words, exit codes other than 1, no ``paused`` status, an extra
device, a sparse ``features`` document, ... — and every spec check
(``oci_rule``; ``-m "not runc_cli"``) must pass against it: a check that
fails there checks runc, not the spec.

Without root: every variant quotes the spec sentence that grants its
freedom and links its section, and its wrapper can be written.

As root (``--runc``): the spec part of the conformance suite runs against
every variant and the real runtime together, each a runtime of its own in
one run (``--runc-binary NAME=WRAPPER``, ``-n 2``, JUnit XML read back by
runtime label and node id: tests/labelled_runs.py), and each variant must
have no failure that the real runtime does not have too. One run instead of
fifteen saves fourteen starts, collections and xdist bring-ups; a variant's
wrapper starts Python only for the commands it changes. A check that does
not pass against the real runtime (a declared departure, a rule beyond its
spec level, a ``runtime:`` skip) proves nothing about tolerance and is left
out, listed. The whole suite runs for each variant (a reworded error or an
exit code can reach any check, so no selection by rule is sound), and a
variant that cannot run `true` fails. ``PYTEST_RUNC_TOLERANCE_K`` (a ``-k``
expression) narrows the suite by hand.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from pytest_runc.faulty import FAULTS, TOLERANCES, write_wrapper
from pytest_runc.faulty.tolerance import SPEC, state_format
from pytest_runc.sessions.session import RuncSession
from pytest_runc.suite import SUITE_DIR
from tests.labelled_runs import Outcome, read_junit

REPO = Path(__file__).resolve().parent.parent

#: The documents of the spec a freedom may come from.
DOCUMENTS = ("runtime.md", "runtime-linux.md", "config.md", "config-linux.md", "features.md",
             "features-linux.md", "bundle.md")  # fmt: skip
#: How the spec grants a choice: one of these must occur in the quoted sentence.
PERMISSIVE = re.compile(r"\bMAY\b|\bOPTIONAL\b|does not mandate|not specifying|out of scope")
#: Longest the run of every variant may take (the machine is shared: generous).
RUN_TIMEOUT = 3600


@pytest.mark.parametrize("name", sorted(TOLERANCES))
def test_each_variant_cites_the_freedom_it_takes(name):
    variant = TOLERANCES[name]
    assert name not in FAULTS, f"{name} is also a fault"
    assert variant.description.strip(), f"{name}: no description"
    assert PERMISSIVE.search(variant.freedom), (
        f"{name}: its freedom {variant.freedom!r} quotes no permission of the spec"
        " (MAY, OPTIONAL, 'does not mandate', ...)"
    )
    document, _, anchor = variant.source.removeprefix(SPEC).partition("#")
    assert variant.source.startswith(SPEC) and document in DOCUMENTS and anchor, (
        f"{name}: source {variant.source!r} is not a section of runtime-spec v1.3.0"
    )


@pytest.mark.parametrize("name", sorted(TOLERANCES))
def test_each_variant_has_a_runnable_wrapper(name, tmp_path):
    wrapper = write_wrapper(name, "/bin/true", tmp_path)
    assert os.access(wrapper, os.X_OK)
    text = wrapper.read_text()
    assert f"pytest_runc.faulty {name} " in text
    commands = TOLERANCES[name].commands
    if commands is not None:  # other commands go straight to the real runtime
        done = subprocess.run([str(wrapper), "--root", "/x", "no-such-command"], check=False)
        assert done.returncode == 0, "an untouched command did not reach the real runtime"


def test_state_format_changes_only_what_the_spec_leaves_open():
    item = {"ociVersion": "1.0.2-dev", "id": "c", "pid": 0, "status": "stopped",
            "bundle": "/b", "rootfs": "/b/rootfs", "created": "2024-05-01T12:00:00.123456789Z",
            "owner": ""}  # fmt: skip
    state_format(item)
    assert item["created"] == "2024-05-01T12:00:00+00:00"
    assert "owner" not in item and "pid" not in item and item["annotations"] == {}
    assert {k: item[k] for k in ("ociVersion", "id", "status", "bundle")} == {
        "ociVersion": "1.0.2-dev", "id": "c", "status": "stopped", "bundle": "/b",
    }  # fmt: skip


# -- as root: the suite against each variant -----------------------------------

#: The real runtime's label in the run with every variant.
REFERENCE = "reference"


@dataclass
class TolerantRun:
    """The spec checks against the real runtime and every variant, in one run."""

    outcomes: dict[str, dict[str, Outcome]]  # label -> node id -> outcome
    gates: dict[str, str]  # label -> why its runtime cannot run `true`
    output: str
    took: float


def run_every_variant(binary: str, directory: Path) -> TolerantRun:
    """The spec checks of the conformance suite against ``binary`` and each variant's
    wrapper of it, as the runtimes of one run (one collection, one ``-n 2``)."""
    directory.mkdir(parents=True, exist_ok=True)
    runtimes = {REFERENCE: Path(binary)} | {
        name: write_wrapper(name, binary, directory / "bin") for name in sorted(TOLERANCES)
    }
    junit = directory / "junit.xml"
    selection = os.environ.get("PYTEST_RUNC_TOLERANCE_K")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--runc",
         *(f"--runc-binary={label}={path}" for label, path in runtimes.items()),
         "-m", "not runc_cli", *(["-k", selection] if selection else []),
         "-p", "tests.labelled_runs", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
         "-p", "no:randomly", "-n", "2", "-q", "-rfE", f"--junitxml={junit}", str(SUITE_DIR)],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT,
    )  # fmt: skip
    took = time.monotonic() - started
    output = done.stdout[-3000:] + done.stderr[-2000:]
    assert junit.exists(), f"no JUnit XML from the run against every variant:\n{output}"
    found, gates = read_junit(junit)
    outcomes: dict[str, dict[str, Outcome]] = {label: {} for label in runtimes}
    for (label, node), outcome in found.items():
        outcomes.setdefault(label, {})[node] = outcome
    by_path = {str(path): label for label, path in runtimes.items()}
    failed_gates = {by_path.get(path, path): message for path, message in gates.items()}
    return TolerantRun(outcomes, failed_gates, output, took)


@pytest.fixture(scope="session")
def tolerant_run(
    runc_session: RuncSession, tmp_path_factory: pytest.TempPathFactory
) -> TolerantRun:
    """The one run of every variant, shared by this run's xdist workers (the first
    to need it runs it; the other waits for its result file)."""
    binary = runc_session.probe().binary
    assert binary is not None, runc_session.environment_problem
    basetemp = tmp_path_factory.getbasetemp()
    shared = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    directory = shared / "tolerance"
    directory.mkdir(exist_ok=True)
    result = directory / "result.json"
    with open(directory / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            try:
                run = run_every_variant(binary, directory)
            except Exception as exc:  # the other worker must not run it again
                result.write_text(json.dumps({"error": f"{exc}"}))
                raise
            result.write_text(json.dumps(asdict(run)))
    data = json.loads(result.read_text())
    assert "error" not in data, f"the run against every variant failed: {data['error']}"
    outcomes = {
        label: {node: Outcome(**value) for node, value in nodes.items()}
        for label, nodes in data["outcomes"].items()
    }
    return TolerantRun(outcomes, data["gates"], data["output"], data["took"])


@pytest.mark.runc
@pytest.mark.parametrize("name", sorted(TOLERANCES))
def test_spec_checks_pass_against_a_tolerant_runtime(name, runtime, tolerant_run):
    variant = TOLERANCES[name]
    run = tolerant_run
    assert REFERENCE not in run.gates, f"{runtime.binary} cannot run `true`: {run.gates[REFERENCE]}"
    assert name not in run.gates, (
        f"the tolerant runtime {name!r} ({variant.description}) cannot run `true`,"
        f" which the spec allows it to do: {run.gates[name]}"
    )
    base = run.outcomes[REFERENCE]
    found = run.outcomes.get(name, {})
    bad = {node: o for node, o in found.items() if o.outcome in {"failed", "error"}}
    over_strict = {
        node: o for node, o in bad.items() if base.get(node, Outcome("")).outcome == "passed"
    }
    also_real = sorted(set(bad) - set(over_strict))
    listing = "\n".join(
        f"  {node}: {o.outcome}: {o.message[:400]!r}" for node, o in sorted(over_strict.items())
    )
    assert not over_strict, (
        f"{len(over_strict)} spec checks fail against the tolerant runtime {name!r}"
        f" ({variant.description}), which the spec allows: {variant.freedom!r}"
        f" ({variant.source}); they pass against {runtime.binary}:\n{listing}\n"
        f"(also failing against {runtime.binary} itself, not counted: {also_real})\n"
        f"the run of every variant took {run.took:.0f} s; output:\n{run.output}"
    )
    assert found, f"nothing ran against {name!r}:\n{run.output}"
