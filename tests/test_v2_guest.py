"""Mode-dependent checks proven in both cgroup modes.

A check whose expectation depends on the cgroup mode (it takes the
``cgroup_mode`` fixture or carries ``runc_cgroup``) is proven able to fail on
this host by tests/test_faulty_runtimes.py; here the same faults run again in
a pure cgroup v2 guest, so the v2 branch of each expectation is proven too.

The guest is a command named by ``PYTEST_RUNC_V2_GUEST`` (as for
scripts/conformance-v2-guest): it runs one shell command as root in a pure
cgroup v2 guest whose / is this machine's, and writes through to this machine
only under ``PYTEST_RUNC_V2_SHARE`` (default ``$V2_SHARE``). Without one, the
proofs skip (``environment:``); they are not part of every CI run (a guest
takes minutes), the maintainers run them with the guest set. One guest boot
runs every proof, bounded by ``PYTEST_RUNC_V2_TIMEOUT`` (default 1500 s).
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

import pytest

from pytest_runc import skips
from pytest_runc.faulty import FAULTS
from pytest_runc.suite import SUITE_DIR

REPO = Path(__file__).resolve().parent.parent
PROOF = "tests/test_faulty_runtimes.py::test_fault_fails_its_checks_with_the_intended_message"


def _depends_on_mode(function: ast.FunctionDef) -> bool:
    params = {a.arg for a in function.args.args}
    marks = {ast.unparse(d) for d in function.decorator_list}
    return "cgroup_mode" in params or any("runc_cgroup" in m for m in marks)


@lru_cache(maxsize=1)
def mode_dependent_checks() -> frozenset[str]:
    """``conformance/test_x.py::test_y`` of every check whose expectation depends
    on the cgroup mode."""
    found = set()
    for path in sorted(SUITE_DIR.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            function = isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
            if function and _depends_on_mode(node):  # type: ignore[arg-type]
                found.add(f"conformance/{path.name}::{node.name}")
    return frozenset(found)


def mode_dependent_faults() -> list[str]:
    """The faults that catch at least one mode-dependent check."""
    checks = mode_dependent_checks()
    return sorted(
        name
        for name, fault in FAULTS.items()
        if any(node.split("[")[0] in checks for node in fault.catches)
    )


def test_mode_dependent_checks_are_found():
    """The scan finds the checks it is meant to (a scan that found none would
    make the guest proofs below prove nothing)."""
    checks = mode_dependent_checks()
    for known in (
        "conformance/test_cgroups.py::test_resource_value_is_written_to_the_cgroup",
        "conformance/test_session.py::test_proc_1_cgroup_is_the_configured_cgroups_path",
        "conformance/test_resources.py::test_cpu_shares",
    ):
        assert known in checks, f"{known} is not seen as mode-dependent"
    assert "cl-cgroup-values-dropped" in mode_dependent_faults()


def _guest() -> tuple[str, Path]:
    guest = os.environ.get("PYTEST_RUNC_V2_GUEST", "")
    if not guest:
        skips.skip_environment(
            "no cgroup v2 guest: set PYTEST_RUNC_V2_GUEST to a command that runs a shell"
            " command as root in a pure cgroup v2 guest (see scripts/conformance-v2-guest)"
        )
    share = os.environ.get("PYTEST_RUNC_V2_SHARE") or os.environ.get("V2_SHARE", "")
    if not share:
        skips.skip_environment(
            "PYTEST_RUNC_V2_SHARE (or V2_SHARE) names no directory the v2 guest writes to"
        )
    try:
        Path(share).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        skips.skip_environment(f"cannot use the v2 guest's share {share}: {error}")
    return guest, Path(share)


def junit_cases(path: Path) -> dict[str, tuple[str, str]]:
    """fault name -> (outcome, message) of the proof run's JUnit XML."""
    found = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        fault = name[name.find("[") + 1 : -1] if name.endswith("]") else name
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                outcome, message = tag, element.get("message", "")
                break
        found[fault] = (outcome, message)
    return found


@pytest.fixture(scope="module")
def guest_proofs(runc_session) -> tuple[dict[str, tuple[str, str]], str]:
    """Every mode-dependent fault's proof, run once in the v2 guest: outcomes, log."""
    guest, share = _guest()
    out = Path(tempfile.mkdtemp(prefix="proofs.", dir=share))
    nodes = [f"{PROOF}[{name}]" for name in mode_dependent_faults()]
    inner = [
        sys.executable, "-m", "pytest", *nodes, "--runc", "--runc-binary",
        runc_session.binary[0], "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
        "-p", "no:xdist", "-q", "-rfEs", f"--junitxml={out}/junit.xml",
    ]  # fmt: skip
    command = f"{shlex.join(inner)} > {out}/log 2>&1; echo $? > {out}/status"
    limit = int(os.environ.get("PYTEST_RUNC_V2_TIMEOUT", "1500"))
    try:
        subprocess.run([guest, command], cwd=REPO, capture_output=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the v2 guest's proof run took more than {limit} s (log: {out}/log)")
    log = (out / "log").read_text(errors="replace") if (out / "log").exists() else ""
    if not (out / "junit.xml").exists():
        skips.skip_environment(f"the v2 guest ran no proof (guest {guest}): {log[-800:]}")
    return junit_cases(out / "junit.xml"), log


@pytest.mark.runc
@pytest.mark.parametrize("fault", mode_dependent_faults())
def test_mode_dependent_fault_is_caught_on_cgroup_v2(fault, guest_proofs):
    """The fault's proof (its checks fail with the intended message) holds in the
    pure cgroup v2 guest too."""
    outcomes, log = guest_proofs
    outcome, message = outcomes.get(fault, ("not run", ""))
    assert outcome == "passed", (
        f"the proof of {fault!r} in the cgroup v2 guest: {outcome} {message[:1500]}\n{log[-3000:]}"
    )
