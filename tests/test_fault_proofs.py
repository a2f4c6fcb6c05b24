"""The batching of the fault proofs (tests/fault_proofs.py), without root."""

from __future__ import annotations

import threading
from pathlib import Path

from pytest_runc.faulty import FAULTS
from tests.fault_proofs import BATCH_FAULTS, FaultProof, ProofBoard, plan_batches, unclaimed
from tests.labelled_runs import Outcome, read_junit


def test_batches_hold_every_fault_once_and_the_same_in_every_worker():
    batches = plan_batches(FAULTS)
    flat = [fault for batch in batches for fault in batch]
    assert sorted(flat) == sorted(FAULTS)
    assert all(0 < len(batch) <= BATCH_FAULTS for batch in batches)
    assert plan_batches(reversed(list(FAULTS))) == batches
    assert plan_batches(["exec-on-host"]) == [("exec-on-host",)]


def test_junit_outcomes_are_read_by_label_and_node(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(
        """<testsuites><testsuite>
<testcase classname="conformance.test_x" name="test_a[f1]"><properties>
 <property name="runtime_label" value="f1"/><property name="base_nodeid" value="conformance/test_x.py::test_a"/>
</properties><failure message="AssertionError: wrong">trace</failure></testcase>
<testcase classname="conformance.test_x" name="test_a[f2]"><properties>
 <property name="runtime_label" value="f2"/><property name="base_nodeid" value="conformance/test_x.py::test_a"/>
</properties></testcase>
<testcase classname="conformance.test_x" name="test_b[p-f2]"><properties>
 <property name="runtime_label" value="f2"/><property name="base_nodeid" value="conformance/test_x.py::test_b[p]"/>
 <property name="oci_failed_beyond_level" value="rule 1.3"/>
</properties></testcase>
<testcase classname="" name="runtime works: /b/runc-f3"><failure message="cannot run true"/></testcase>
</testsuite></testsuites>"""
    )
    found, gates = read_junit(junit)
    assert found == {
        ("f1", "conformance/test_x.py::test_a"): Outcome(
            "failed", "AssertionError: wrong", "trace"
        ),
        ("f2", "conformance/test_x.py::test_a"): Outcome("passed"),
        ("f2", "conformance/test_x.py::test_b[p]"): Outcome("beyond-level", "rule 1.3"),
    }
    assert gates == {"/b/runc-f3": "cannot run true"}
    assert unclaimed(found["f2", "conformance/test_x.py::test_b[p]"])
    assert not unclaimed(Outcome("skipped", "environment: no busybox"))
    assert unclaimed(Outcome("skipped", "runtime: the runtime does not claim x"))


def test_two_workers_prove_each_batch_once_and_both_get_every_result(tmp_path: Path):
    batches = [("a", "b"), ("c",), ("d", "e")]
    proven: list[tuple[str, ...]] = []

    def prove(index: int, batch: tuple[str, ...]) -> dict[str, FaultProof]:
        proven.append(batch)
        return {fault: FaultProof(runs=[f"batch {index}"]) for fault in batch}

    seen: dict[str, list[str]] = {"one": [], "two": []}

    def worker(name: str, order: list[str]) -> None:
        board = ProofBoard(tmp_path, batches, prove)
        for fault in order:
            seen[name] += board.proof_of(fault).runs

    threads = [
        threading.Thread(target=worker, args=("one", ["a", "b", "c", "d", "e"])),
        threading.Thread(target=worker, args=("two", ["e", "d", "c", "b", "a"])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(proven) == sorted(batches), "a batch was proven twice, or not at all"
    expected = ["batch 0", "batch 0", "batch 1", "batch 2", "batch 2"]
    assert seen["one"] == expected and seen["two"] == expected[::-1]
