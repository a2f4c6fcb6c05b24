"""Each faulty runtime breaks one rule; the conformance check for it must fail.

Runs the named conformance checks in a subprocess against the wrapper, as
root, and asserts that they fail within the time limit and that nothing is
left in the state root afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_runc.faulty import FAULTS, write_wrapper
from pytest_runc.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.runc


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_conformance_catches_the_fault(fault, runtime, pytester, tmp_path):
    spec = FAULTS[fault]
    wrapper = write_wrapper(fault, runtime.binary, tmp_path / "bin")
    state_root = tmp_path / "state"
    result = pytester.runpytest_subprocess(
        *[str(REPO / node) for node in spec.catches],
        "--runc",
        f"--runc-binary={wrapper}",
        f"--runc-root={state_root}",
        "--runc-timeout=5",
        f"--rootdir={REPO}",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        "-p",
        "no:randomly",
        "-rfE",
        timeout=120,
    )
    output = result.stdout.str()
    # Node ids print relative to the invocation directory: match their end.
    failed = [line for line in result.stdout.lines if line.startswith("FAILED ")]
    for node in spec.catches:
        assert any(f"{node} " in f"{line} " for line in failed), (
            f"{node} did not catch {fault!r}:\n{output[-3000:]}"
        )
    leftovers = Runtime(runtime.binary, state_root).list_ids() if state_root.exists() else []
    assert leftovers == [], f"containers left behind after {fault!r}: {leftovers}"
