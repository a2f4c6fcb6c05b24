"""Mode-dependent checks proven in both cgroup modes.

A check whose expectation depends on the cgroup mode (it takes the
``cgroup_mode`` fixture or carries ``runc_cgroup``, itself or through its
module's ``pytestmark``) is proven able to fail on this host by
tests/test_faulty_runtimes.py; here the same faults run again, with the same
``prove``, in a pure cgroup v2 guest, so the v2 branch of each expectation
is proven too. A node that skips there with ``host:`` is one whose mode is
not v2 (the cgroup v1 case of a check): it is proven here, not there; every
fault must still make at least one of its checks fail in the guest.

The guest is a command named by ``PYTEST_RUNC_V2_GUEST`` (as for
scripts/conformance-v2-guest): it runs one shell command as root in a pure
cgroup v2 guest whose / is this machine's, and writes through to this machine
only under ``PYTEST_RUNC_V2_SHARE`` (default ``$V2_SHARE``). Without one, the
proofs skip (``environment:``); they are not part of every CI run (a guest
takes minutes), the maintainers run them with the guest set. One guest boot
runs every proof (``python -m tests.test_v2_guest``), bounded by
``PYTEST_RUNC_V2_TIMEOUT`` (default 1500 s).
"""

from __future__ import annotations

import ast
import json
import os
import shlex
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

from pytest_runc.faulty import FAULTS
from pytest_runc.oci import skips
from pytest_runc.suite import SUITE_DIR
from tests import fault_proofs
from tests.fault_proofs import plan_batches, prove_batch

REPO = Path(__file__).resolve().parent.parent


def _module_marks_mode(module: ast.Module) -> bool:
    """Whether the module's ``pytestmark`` carries ``runc_cgroup``."""
    return any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
        and "runc_cgroup" in ast.unparse(node.value)
        for node in module.body
    )


def _depends_on_mode(function: ast.FunctionDef, module_marked: bool) -> bool:
    params = {a.arg for a in function.args.args}
    marks = {ast.unparse(d) for d in function.decorator_list}
    return module_marked or "cgroup_mode" in params or any("runc_cgroup" in m for m in marks)


@lru_cache(maxsize=1)
def mode_dependent_checks() -> frozenset[str]:
    """``conformance/test_x.py::test_y`` of every check whose expectation depends
    on the cgroup mode."""
    found = set()
    for path in sorted(SUITE_DIR.glob("test_*.py")):
        module = ast.parse(path.read_text())
        marked = _module_marks_mode(module)
        for node in module.body:
            function = isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
            if function and _depends_on_mode(node, marked):  # type: ignore[arg-type]
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
        "conformance/test_cgroups_v2.py::test_unified_key_is_written_as_given",
    ):
        assert known in checks, f"{known} is not seen as mode-dependent"
    assert "conformance/test_lifecycle.py::test_create_does_not_run_the_program" not in checks
    assert {"cl-cgroup-values-dropped", "cg2-cgroup-kept-by-root"} <= set(mode_dependent_faults())


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


def prove_here(faults: list[str], binary: str, out: Path) -> dict[str, dict[str, list[str]]]:
    """Each fault's proof on this host, in batches as tests/test_faulty_runtimes.py
    proves them (a newer runtime for what ``binary`` does not claim):
    fault -> node -> [outcome, message]; a proof that could not run is
    recorded as the node ``<proof>``."""
    results: dict[str, dict[str, list[str]]] = {}
    for index, batch in enumerate(plan_batches(faults)):
        where = out / f"batch-{index:03d}"
        try:
            proofs = prove_batch(batch, binary, where, where / "base")
        except (AssertionError, OSError, subprocess.TimeoutExpired) as error:
            for name in batch:
                results[name] = {"<proof>": ["error", str(error)[-1500:]]}
            continue
        for name, proof in proofs.items():
            if proof.left:
                results[name] = {"<proof>": ["error", f"containers left behind: {proof.left}"]}
                continue
            results[name] = {node: [o.outcome, o.message] for node, o in proof.outcomes.items()}
    return results


def main(argv: list[str]) -> int:
    """In the guest: ``python -m tests.test_v2_guest RESULTS.json BINARY FAULT...``."""
    results_path, binary, *faults = argv
    # The emulated guest is 10-30x slower than a host: the proofs' deadlines follow.
    fault_proofs.COMMAND_TIMEOUT = 60
    fault_proofs.RUN_SECONDS = 900
    fault_proofs.RUN_SECONDS_PER_FAULT = 300
    out = Path(tempfile.mkdtemp(prefix="proofs."))
    Path(results_path).write_text(json.dumps(prove_here(faults, binary, out), indent=1))
    return 0


@pytest.fixture(scope="module")
def guest_proofs(runc_session) -> tuple[dict[str, dict[str, list[str]]], str]:
    """Every mode-dependent fault's proof, run once in the v2 guest: outcomes, log."""
    guest, share = _guest()
    out = Path(tempfile.mkdtemp(prefix="proofs.", dir=share))
    inner = [sys.executable, "-m", "tests.test_v2_guest", f"{out}/results.json",
             runc_session.binary[0], *mode_dependent_faults()]  # fmt: skip
    command = f"{shlex.join(inner)} > {out}/log 2>&1; echo $? > {out}/status"
    limit = int(os.environ.get("PYTEST_RUNC_V2_TIMEOUT", "1500"))
    try:
        for _ in range(2):  # a boot that gives no status (125: a panic under load) once more
            ran = subprocess.run(
                [guest, command], cwd=REPO, capture_output=True, timeout=limit, check=False
            )
            if ran.returncode != 125:
                break
    except subprocess.TimeoutExpired:
        pytest.fail(f"the v2 guest's proof run took more than {limit} s (log: {out}/log)")
    log = (out / "log").read_text(errors="replace") if (out / "log").exists() else ""
    if not (out / "results.json").exists():
        skips.skip_environment(f"the v2 guest ran no proof (guest {guest}): {log[-800:]}")
    return json.loads((out / "results.json").read_text()), log


@pytest.mark.runc
@pytest.mark.parametrize("fault", mode_dependent_faults())
def test_mode_dependent_fault_is_caught_on_cgroup_v2(fault, guest_proofs):
    """The fault's proof holds in the pure cgroup v2 guest: each of its checks
    fails there with the intended message, or skips as not for v2 (``host:``),
    and at least one fails."""
    results, log = guest_proofs
    outcomes = results.get(fault, {"<proof>": ["not run", ""]})
    assert "<proof>" not in outcomes, f"the proof of {fault!r} in the v2 guest: {outcomes}"
    wrong, caught = [], []
    for node, intended in FAULTS[fault].catches.items():
        outcome, message = outcomes.get(node, ["not run", ""])
        if outcome == "failed" and intended in message:
            caught.append(node)
        elif not (outcome == "skipped" and skips.classify(message) == skips.HOST):
            wrong.append(f"{node}: {outcome} {message[:600]!r} (intended: {intended!r})")
    assert not wrong and caught, (
        f"the proof of {fault!r} in the cgroup v2 guest: "
        + ("\n".join(wrong) or "no check of it ran there (all skipped with host:)")
        + f"\n{log[-2000:]}"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
