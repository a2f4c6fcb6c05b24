"""Never green by mistake: a runtime that was named but is not there stops the
run (exit 4), --collect-only runs no container, and scripts/compare-runtimes
finds what it was given from wherever it is called."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_runc.oci.environment import Privilege
from pytest_runc.suite import SUITE_DIR
from tests.helpers import write_script

REPO = Path(__file__).resolve().parent.parent

CONTAINER_TEST = """
def test_container(container, bundle):
    bundle.command("true")
    assert container().run().returncode == 0

def test_plain():
    assert True
"""


@pytest.fixture(autouse=True)
def private_tmpdir(monkeypatch, tmp_path):
    """Inner runs keep their session directories under this test's tmp_path."""
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path))
    for name in ("PYTEST_RUNC", "PYTEST_RUNC_BINARY", "PYTEST_RUNC_ALLOW_UNUSABLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def as_root(monkeypatch):
    """Inner in-process runs believe they are root (fake runtimes, no root needed)."""
    monkeypatch.setattr(
        "pytest_runc.sessions.session.probe_privilege",
        lambda rootless=False: Privilege(True, False, None),
    )


def recording_runtime(directory: Path) -> tuple[Path, Path]:
    """A runtime that succeeds at everything and appends each command line to a log."""
    log = directory / "calls.log"
    binary = write_script(
        directory / "recording-runtime",
        f"""echo "$*" >> {log}
case " $* " in *" --version "*) echo "recording-runtime version 0.1";; esac
exit 0
""",
    )
    return binary, log


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda d: str(d / "no-such-runtime"),
            "*--runc-binary: runtime binary */no-such-runtime"
            " does not exist*--runc-allow-unusable*",
        ),
        (
            lambda d: str(write_script(d / "not-exec", "exit 0").chmod(0o644) or d / "not-exec"),
            "*--runc-binary: runtime binary */not-exec is not executable*",
        ),
        (
            lambda d: "no-such-runtime-xyz",
            "*--runc-binary: runtime binary 'no-such-runtime-xyz' not found on PATH*",
        ),
    ],
    ids=["missing-path", "not-executable", "not-on-path"],
)
def test_a_named_runtime_that_is_not_there_is_a_usage_error(pytester, tmp_path, make, expected):
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_subprocess("--runc", f"--runc-binary={make(tmp_path)}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([expected])
    assert "Traceback" not in result.stderr.str()


def test_one_missing_runtime_of_several_is_a_usage_error(pytester, tmp_path):
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_subprocess("--runc", f"--runc-binary=runc,{tmp_path}/gone")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{tmp_path}/gone does not exist*"])


def test_the_environment_variable_is_named_too(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTEST_RUNC_BINARY", str(tmp_path / "gone"))
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_subprocess("--runc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*environment variable PYTEST_RUNC_BINARY: *gone does not exist*"])


def test_an_optional_runtime_that_is_not_there_skips(pytester, tmp_path):
    """--runc-allow-unusable says the runtime is optional: its tests skip, with the fix."""
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_subprocess(
        "--runc", f"--runc-binary={tmp_path}/gone", "--runc-allow-unusable", "-rs"
    )
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*environment: runtime binary */gone does not exist*"])


def test_the_default_runc_missing_still_skips(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_subprocess("--runc", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*'runc' not found on PATH: `apt-get install runc`*"])


def test_without_runc_a_missing_runtime_changes_nothing(pytester, tmp_path):
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_subprocess(f"--runc-binary={tmp_path}/gone")
    result.assert_outcomes(passed=1, skipped=1)


def test_collect_only_runs_no_container(pytester, tmp_path, as_root):
    binary, log = recording_runtime(tmp_path / "bin")
    pytester.makepyfile(CONTAINER_TEST)
    listed = pytester.runpytest_inprocess("--runc", f"--runc-binary={binary}", "--co", "-q")
    assert listed.ret == pytest.ExitCode.OK
    listed.stdout.fnmatch_lines(["*::test_container", "*::test_plain"])
    calls = log.read_text().splitlines()
    assert calls and all(call.endswith("--version") for call in calls), calls
    # The same runtime in a real run does run containers: the log would show them.
    log.unlink()
    pytester.runpytest_inprocess("--runc", f"--runc-binary={binary}").assert_outcomes(passed=2)
    runs = [call for call in log.read_text().splitlines() if " run " in f" {call} "]
    assert runs, log.read_text()


@pytest.mark.skipif(
    os.geteuid() != 0, reason="environment: needs root (the script runs pytest --runc)"
)
def test_compare_runtimes_resolves_relative_paths_before_changing_directory(tmp_path):
    here = tmp_path / "caller"
    binary, _ = recording_runtime(here / "bin")
    checks = tmp_path / "checks" / "test_one.py"
    checks.parent.mkdir()
    checks.write_text(
        "def test_runs(runtime):\n    assert runtime.binary.endswith('recording-runtime')\n"
    )
    env = {**os.environ, "PYTHON": sys.executable, "PYTEST_RUNC_TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [
            "bash",
            str(REPO / "scripts" / "compare-runtimes"),
            "-o",
            "reports",
            "./bin/recording-runtime",
            "--",
            str(checks),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
        ],
        cwd=here,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((here / "reports" / "1-recording-runtime.json").read_text())
    assert report["runtime"]["path"] == str(binary)
    assert [r["outcome"] for r in report["records"]] == ["passed"], report["records"]
    assert (here / "reports" / "matrix.md").is_file()
    assert not (REPO / "reports" / "1-recording-runtime.json").exists()


@pytest.mark.skipif(
    os.geteuid() != 0, reason="environment: needs root (the script runs pytest --runc)"
)
def test_compare_runtimes_stops_on_a_runtime_that_is_not_there(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "PYTEST_RUNC_TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [
            "bash",
            str(REPO / "scripts" / "compare-runtimes"),
            "-o",
            str(tmp_path / "r"),
            "./no-such-runtime",
            "--",
            str(SUITE_DIR / "test_session.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    assert f"{tmp_path}/no-such-runtime does not exist" in done.stderr
    assert not (tmp_path / "r" / "matrix.md").exists()
