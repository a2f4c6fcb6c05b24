"""The proof rule: every conformance check is made to fail by a faulty runtime.

Without root: the map between faults and checks is complete both ways —
every ``catches`` entry names a collected conformance item and an assertion
message, and every collected item is caught by some fault.

As root (``--runc``): each fault runs the checks it names against a wrapper
of the real runtime with that one rule broken, and each of those checks must
FAIL with the intended message (read from the JUnit XML, not from "a line
that says FAILED"), in time, leaving nothing in the state root.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

import pytest

from pytest_runc.faulty import FAULTS, write_wrapper
from pytest_runc.runtime import Runtime
from pytest_runc.skips import RUNTIME, classify
from pytest_runc.suite import SUITE_DIR, logical_nodeid, real_nodeids

REPO = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def conformance_items() -> tuple[str, ...]:
    """Node ids of the conformance suite, as pytest collects them (no root needed)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "no:hypothesispytest", str(SUITE_DIR)],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"collecting conformance/ failed:\n{done.stdout}\n{done.stderr}"
    return tuple(
        logical_nodeid(line, REPO)
        for line in done.stdout.splitlines()
        if line.startswith("pytest_runc/conformance/")
    )


def test_every_catches_entry_names_a_collected_item_and_a_message():
    items = set(conformance_items())
    problems = [
        f"{name}: {node}" + ("" if node in items else " is not a collected conformance item")
        for name, fault in FAULTS.items()
        for node, message in fault.catches.items()
        if node not in items or not message.strip()
    ]
    assert not problems, "catches entries without an item or an intended message:\n" + "\n".join(
        problems
    )


def test_every_conformance_item_is_caught_by_some_fault():
    caught = {node for fault in FAULTS.values() for node in fault.catches}
    uncaught = [node for node in conformance_items() if node not in caught]
    assert not uncaught, (
        f"{len(uncaught)} conformance items no faulty runtime proves able to fail"
        " (add a Fault in pytest_runc/faulty/faults/):\n" + "\n".join(uncaught)
    )


def junit_outcomes(path: Path) -> dict[str, tuple[str, str]]:
    """node id -> (outcome, failure or skip message) from a JUnit XML file."""
    outcomes: dict[str, tuple[str, str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        module, _, rest = case.get("classname", "").partition(".test_")
        parts = f"test_{rest}".split(".") if rest else []
        # classname "conformance.test_x[.Class]" + name "test_y[p]" -> node id
        if not parts:
            continue
        file = f"{module.replace('.', '/')}/{parts[0]}.py"
        node = logical_nodeid("::".join([file, *parts[1:], case.get("name", "")]), REPO)
        failure = case.find("failure")
        error = case.find("error")
        beyond = [
            p.get("value", "")
            for p in case.iter("property")
            if p.get("name") == "oci_failed_beyond_level"
        ]
        if beyond:
            # Failed, but the rule is newer than the runtime claims: proven
            # against a runtime that claims it (see ``unclaimed``).
            outcomes[node] = ("beyond-level", beyond[0])
        elif failure is not None:
            outcomes[node] = ("failed", failure.get("message", ""))
        elif error is not None:
            outcomes[node] = ("error", error.get("message", ""))
        elif case.find("skipped") is not None:
            outcomes[node] = ("skipped", case.find("skipped").get("message", ""))  # type: ignore[union-attr]
        else:
            outcomes[node] = ("passed", "")
    return outcomes


def newer_runtime() -> str | None:
    """A runtime of a newer spec level, for checks the runtime under test does not claim.

    ``PYTEST_RUNC_PROOF_RUNTIME`` names one; else the test machines' runc 1.5.1
    beside the checkout (absent on a user's machine: those proofs then skip).
    """
    named = os.environ.get("PYTEST_RUNC_PROOF_RUNTIME")
    if named:
        return named
    candidate = REPO.parent / "shared" / "runtimes" / "runc-1.5.1"
    return str(candidate) if os.access(candidate, os.X_OK) else None


def prove(fault: str, binary: str, nodes: list[str], directory: Path) -> dict[str, tuple[str, str]]:
    """Run ``nodes`` against ``binary`` with ``fault``; their outcomes. Nothing may be left."""
    wrapper = write_wrapper(fault, binary, directory / "bin")
    state_root = directory / "state"
    junit = directory / "junit.xml"
    # Declared departures would turn the very failures we want into xfails.
    env = {**os.environ, "PYTEST_RUNC_DEPARTURES": "none"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *real_nodeids(nodes), "--runc", f"--runc-binary={wrapper}",
         f"--runc-root={state_root}", "--runc-timeout=5", f"--junitxml={junit}",
         "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:randomly",
         "-p", "no:xdist", "-q", "-rfE"],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=180, env=env,
    )  # fmt: skip
    output = done.stdout[-4000:] + done.stderr[-2000:]
    assert junit.exists(), f"no JUnit XML from the run against {fault!r}:\n{output}"
    leftovers = Runtime(binary, state_root).list_ids() if state_root.exists() else []
    assert leftovers == [], f"containers left behind after {fault!r}: {leftovers}"
    outcomes = junit_outcomes(junit)
    return {node: (*outcomes.get(node, ("not run", "")), output) for node in nodes}  # type: ignore[misc]


def unclaimed(outcome: tuple[str, str, str]) -> bool:
    """Skipped because the runtime does not claim the feature (a ``runtime:`` skip), or
    failed on a rule newer than the spec level the runtime claims."""
    if outcome[0] == "beyond-level":
        return True
    return outcome[0] == "skipped" and classify(outcome[1]) == RUNTIME


@pytest.mark.runc
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_fails_its_checks_with_the_intended_message(fault, runtime, tmp_path):
    spec = FAULTS[fault]
    outcomes = prove(fault, runtime.binary, list(spec.catches), tmp_path / "first")
    later = [node for node, outcome in outcomes.items() if unclaimed(outcome)]
    if later:
        newer = newer_runtime()
        if newer is None:
            pytest.skip(
                f"runtime: {runtime.binary} does not claim what {', '.join(later)} check"
                " (set PYTEST_RUNC_PROOF_RUNTIME to a runtime that does)"
            )
        outcomes.update(prove(fault, newer, later, tmp_path / "newer"))
    for node, intended in spec.catches.items():
        outcome, message, output = outcomes[node]
        assert outcome == "failed", f"{node} {outcome} against {fault!r}: {message}\n{output}"
        assert intended in message, (
            f"{node} failed against {fault!r} but not with the intended message"
            f" {intended!r}; it said: {message[:1500]!r}"
        )
