"""Packaging hygiene: licence, one version, the command, what the sdist and wheel hold."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import pytest_runc
from tests.built_artifacts import clean_env, has_build, wheel_venv
from tests.built_artifacts import dist as built_dist

REPO = Path(__file__).resolve().parent.parent


def test_license_is_the_apache_2_text_the_metadata_names() -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'license = "Apache-2.0"' in pyproject and 'license-files = ["LICENSE"]' in pyproject


def test_the_version_has_one_source() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert not re.search(r"^version\s*=\s*\"", pyproject, re.M), (
        "a second version in pyproject.toml"
    )
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "pytest_runc.__version__" }' in pyproject
    released = re.findall(r"^## (\d+\.\d+\.\d+)", (REPO / "CHANGELOG.md").read_text(), re.M)
    assert released and released[0] == pytest_runc.__version__, "CHANGELOG's newest release"


def test_python_m_pytest_runc_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_runc", "--version"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert (done.returncode, done.stdout) == (0, f"pytest-runc {pytest_runc.__version__}\n")


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and wheel built from this checkout (``python -m build``), once per
    test run (tests/built_artifacts.py): only read here."""
    if not has_build():
        pytest.skip("environment: needs the `build` package (`pip install build`)")
    built = built_dist(tmp_path_factory)
    if built.returncode and "Could not find a version" in built.output:
        pytest.skip("environment: no package index for the build backend (setuptools)")
    assert built.returncode == 0, built.output
    return built.directory


def test_the_wheel_has_the_licence_the_version_and_the_command(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n.rsplit("/", 1)[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert f"{info}/licenses/LICENSE" in names
    assert f"\nVersion: {pytest_runc.__version__}\n" in metadata
    assert "License-Expression: Apache-2.0" in metadata
    assert "pytest-runc = pytest_runc.__main__:main" in entry_points
    assert "runc = pytest_runc.plugin" in entry_points


def test_the_sdist_ships_no_tests_it_cannot_run(dist: Path, tmp_path: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        archive.extractall(tmp_path, filter="data")
    top = names[0].split("/")[0]
    assert f"{top}/LICENSE" in names
    assert not [n for n in names if n.startswith(f"{top}/tests")], names
    # The only test files are the conformance suite's: the product, not our tests.
    suite = f"{top}/pytest_runc/conformance/"
    assert not [n for n in names if re.search(r"/test_[^/]*\.py$", n) and not n.startswith(suite)]
    assert f"{suite}test_session.py" in names
    # Running pytest in the unpacked sdist fails nothing: the suite's checks
    # skip without --runc (container tests are opt-in).
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs"],
        cwd=tmp_path / top,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=clean_env(),
    )
    assert done.returncode == pytest.ExitCode.OK, done.stdout[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert " skipped" in summary and "passed" not in summary and "failed" not in summary, summary
    assert "environment: needs --runc" in done.stdout


def test_the_console_script_runs_from_an_installed_wheel(
    dist: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A venv with the wheel (its dependencies from this interpreter): ``pytest-runc``
    is the same CLI as ``python -m pytest_runc``, from an empty directory. The venv
    is the run's one (tests/built_artifacts.py), shared with tests/test_installed_suite.py."""
    (wheel,) = dist.glob("*.whl")
    venv = wheel_venv(tmp_path_factory, wheel).parent.parent
    empty = tmp_path / "empty"
    empty.mkdir()
    for argv in ([venv / "bin" / "pytest-runc"], [venv / "bin" / "python", "-m", "pytest_runc"]):
        version = subprocess.run(
            [*argv, "--version"],
            cwd=empty,
            capture_output=True,
            text=True,
            check=False,
            env=clean_env(),
        )
        assert version.stdout == f"pytest-runc {pytest_runc.__version__}\n", version.stderr
        usage = subprocess.run(
            [*argv, "nonsense"],
            cwd=empty,
            capture_output=True,
            text=True,
            check=False,
            env=clean_env(),
        )
        assert usage.returncode == 2 and "unknown command 'nonsense'" in usage.stderr
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import pytest_runc; print(pytest_runc.__file__)"],
        cwd=empty,
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
    )
    assert where.stdout.startswith(str(venv)), where.stdout
