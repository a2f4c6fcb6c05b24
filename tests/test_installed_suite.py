"""The conformance suite ships in the wheel and runs from it, with no checkout.

A wheel is built from this tree and installed into a new venv (once per test
run, shared with tests/test_packaging.py: tests/built_artifacts.py). The venv sees
the machine's packages (pytest, pexpect, jsonschema: the same versions the
rest of the tests use, and no index needed), but ``pytest_runc`` itself must
come from the wheel: every test checks where it was imported from. The runs
start in an empty directory and must leave it empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from pytest_runc.oci.runtime import Runtime
from tests.built_artifacts import clean_env, wheel_venv
from tests.built_artifacts import dist as built_dist

REPO = Path(__file__).resolve().parent.parent


def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH: it would put a checkout's pytest_runc before the wheel's.
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout, env=clean_env()
    )


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this tree: an isolated PEP 517 build of a copy of the checkout,
    what a user's `pip wheel .` gives (the same backend, setuptools)."""
    built = built_dist(tmp_path_factory)
    if built.returncode != 0 or built.wheel is None:
        pytest.skip(f"environment: building the wheel failed (no build backend?):\n{built.output}")
    return built.wheel


@pytest.fixture(scope="session")
def venv_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the wheel installed; its interpreter. The tests only run
    commands with it (from directories of their own)."""
    python = wheel_venv(tmp_path_factory, wheel)
    venv = python.parent.parent
    where = _run([str(python), "-c", "import pytest_runc; print(pytest_runc.__file__)"], cwd=venv)
    assert where.stdout.strip().startswith(str(venv)), (
        f"pytest_runc was imported from {where.stdout.strip()}, not from the venv's wheel"
    )
    return python


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    where = tmp_path / "empty"
    where.mkdir()
    return where


def test_the_wheel_carries_the_suite_and_what_proves_it(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    suite = sorted(REPO.joinpath("pytest_runc", "conformance").glob("*.py"))
    missing = [
        f"pytest_runc/conformance/{path.name}"
        for path in suite
        if f"pytest_runc/conformance/{path.name}" not in names
    ]
    assert not missing, f"conformance files missing from the wheel: {missing}"
    for shipped in (
        "pytest_runc/conformance/suite.ini",
        "pytest_runc/rules/coverage.json",
        "pytest_runc/faulty/faults/core.py",
        "pytest_runc/faulty/tolerance.py",
    ):
        assert shipped in names


def test_run_help_and_a_missing_runtime_from_the_wheel(venv_python: Path, empty_dir: Path) -> None:
    shown = _run([str(venv_python), "-m", "pytest_runc", "run", "--help"], cwd=empty_dir)
    assert shown.returncode == 0 and "--runtime BINARY" in shown.stdout, shown.stderr
    missing = _run(
        [str(venv_python), "-m", "pytest_runc", "run", "--runtime", "./target/myrt"], cwd=empty_dir
    )
    assert missing.returncode == 2
    assert "--runtime ./target/myrt: no such file" in missing.stderr
    assert str(empty_dir) in missing.stderr, "the message says where the path was resolved"
    assert "Traceback" not in missing.stderr
    assert list(empty_dir.iterdir()) == []


def _other_runtime() -> list[str]:
    """runc 1.5.1 beside the checkout on the test machines (absent elsewhere)."""
    newer = REPO.parent / "shared" / "runtimes" / "runc-1.5.1"
    return [str(newer)] if os.access(newer, os.X_OK) else []


@pytest.mark.runc
@pytest.mark.parametrize("which", ["runtime under test", "runc 1.5.1"])
def test_the_installed_suite_runs_from_an_empty_directory(
    venv_python: Path, empty_dir: Path, runtime: Runtime, tmp_path: Path, which: str
) -> None:
    binaries = [runtime.binary] if which == "runtime under test" else _other_runtime()
    if not binaries:
        pytest.skip("environment: no runc 1.5.1 beside the checkout (the test machines have one)")
    # A relative --runtime, resolved before pytest starts elsewhere.
    relative = os.path.relpath(binaries[0], empty_dir)
    report = tmp_path / "report.json"
    done = _run(
        [str(venv_python), "-m", "pytest_runc", "run", "--runtime", relative,
         "-k", "test_session", "-p", "no:xdist", "-p", "no:randomly", "-p", "no:benchmark",
         "-q", "-W", "error::pytest.PytestAssertRewriteWarning", f"--runc-report={report}"],
        cwd=empty_dir,
    )  # fmt: skip
    output = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, output
    assert " passed" in done.stdout.splitlines()[-1] and " failed" not in done.stdout, output
    assert list(empty_dir.iterdir()) == [], "the run wrote into the directory it started in"
    records = json.loads(report.read_text())["records"]
    assert records and all(r["nodeid"].startswith("conformance/test_") for r in records), (
        "report node ids are the suite's logical ids, whatever the installation: "
        + ", ".join(r["nodeid"] for r in records[:3])
    )
