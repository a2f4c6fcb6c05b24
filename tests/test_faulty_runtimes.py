"""The proof rule: every conformance check is made to fail by a faulty runtime.

Without root: the map between faults and checks is complete both ways —
every ``catches`` entry names a collected conformance item and an assertion
message, and every collected item is caught by some fault.

As root (``--runc``): each fault runs the checks it names against a wrapper
of the real runtime with that one rule broken, and each of those checks must
FAIL with the intended message (read from the JUnit XML, not from "a line
that says FAILED"), in time, leaving nothing in the state root. Several
faults share one inner pytest run, each as a runtime of its own
(tests/fault_proofs.py); each fault keeps its own test here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from pytest_runc.faulty import FAULTS
from pytest_runc.oci.skips import HOST, classify
from pytest_runc.sessions.session import RuncSession
from pytest_runc.suite import SUITE_DIR, logical_nodeid
from tests.fault_proofs import FaultProof, ProofBoard, plan_batches, prove_batch
from tests.labelled_runs import Outcome

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


BATCHES = plan_batches(FAULTS)
#: The faults in batch order: an xdist worker's next items share its batch.
IN_BATCH_ORDER = [fault for batch in BATCHES for fault in batch]


@pytest.fixture(scope="session")
def fault_proofs(
    request: pytest.FixtureRequest,
    runc_session: RuncSession,
    tmp_path_factory: pytest.TempPathFactory,
) -> ProofBoard:
    """The proofs of this run, shared by its xdist workers (see tests/fault_proofs.py).

    Batches hold only the faults this run selected (``-k``, node ids): every
    worker sees the same selection, so they plan the same batches.
    """
    selected = {
        item.callspec.params["fault"]
        for item in request.session.items
        if getattr(item, "originalname", "") == PROOF_TEST
    }
    batches = plan_batches(selected)
    binary = runc_session.probe().binary
    assert binary is not None, runc_session.environment_problem
    basetemp = tmp_path_factory.getbasetemp()
    # Under xdist the parent is this run's own directory, shared by its workers.
    shared = (
        basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    ) / "fault-proofs"
    # Each batch's sessions live on our session's tmpfs directory (rootfs copies are cheap there).
    bases = runc_session.workdir().path / "proofs"

    def prove(index: int, batch: tuple[str, ...]) -> dict[str, FaultProof]:
        return prove_batch(batch, binary, shared / f"batch-{index:03d}", bases / str(index))

    return ProofBoard(shared, batches, prove)


PROOF_TEST = "test_fault_fails_its_checks_with_the_intended_message"


@pytest.mark.runc
@pytest.mark.parametrize("fault", IN_BATCH_ORDER)
def test_fault_fails_its_checks_with_the_intended_message(fault, runtime, fault_proofs):
    """Each check the fault names FAILS against its wrapper with the intended message,
    and its runtime leaves no container behind (proven in batches: tests/fault_proofs.py)."""
    spec = FAULTS[fault]
    proof = fault_proofs.proof_of(fault)
    runs = "\n".join(proof.runs)
    assert proof.left == [], f"containers left behind after {fault!r}: {proof.left}\n{runs}"
    if proof.skip:
        pytest.skip(proof.skip)
    host_only = [
        found.message
        for found in proof.outcomes.values()
        if found.outcome == "skipped" and classify(found.message) == HOST
    ]
    if host_only and len(host_only) == len(spec.catches):
        # e.g. v2-only checks on a v1 or hybrid host: proven in the v2 guest
        # (tests/test_v2_guest.py), not here.
        pytest.skip(f"host: no check of {fault!r} runs here: {host_only[0].removeprefix('host: ')}")
    for node, intended in spec.catches.items():
        found = proof.outcomes.get(node, Outcome("not run"))
        assert found.outcome == "failed", (
            f"{node} {found.outcome} against {fault!r}: {found.message}\n{found.detail}\n{runs}"
        )
        assert intended in found.message, (
            f"{node} failed against {fault!r} but not with the intended message"
            f" {intended!r}; it said: {found.message[:1500]!r}"
        )
