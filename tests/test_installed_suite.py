"""The conformance suite ships in the wheel and runs from it, with no checkout.

A wheel is built from this tree and installed into a new venv. The venv sees
the machine's packages (pytest, pexpect, jsonschema: the same versions the
rest of the tests use, and no index needed), but ``pytest_runc`` itself must
come from the wheel: every test checks where it was imported from. The runs
start in an empty directory and must leave it empty.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH: it would put a checkout's pytest_runc before the wheel's.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this tree (pip's isolated build: what a user's `pip wheel .` gives)."""
    out = tmp_path_factory.mktemp("wheel")
    # A copy: setuptools writes build/ and *.egg-info into the tree it builds,
    # and two xdist workers may build at once.
    tree = out / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, tree / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "pytest_runc", tree / "pytest_runc", ignore=ignore)
    done = _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(tree)],
        cwd=out,
    )
    if done.returncode != 0:
        pytest.skip(
            f"environment: `pip wheel .` failed (no build backend?):\n{done.stderr[-2000:]}"
        )
    (built,) = out.glob("pytest_runc-*.whl")
    return built


@pytest.fixture(scope="module")
def venv_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the wheel installed; its interpreter."""
    venv = tmp_path_factory.mktemp("venv")
    created = _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=venv)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    installed = _run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        cwd=venv,
    )
    assert installed.returncode == 0, installed.stderr
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
    venv_python: Path, empty_dir: Path, runtime, tmp_path: Path, which: str
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
