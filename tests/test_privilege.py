"""How runtime commands get root: directly, through sudo, or a clean skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.helpers import write_script

REPO = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.runc
def test_non_root_with_passwordless_sudo_runs_containers_through_sudo(
    pytester, monkeypatch, tmp_path, runtime
):
    """As a developer on a laptop: not root, `sudo -n` works, containers run through it."""
    log = tmp_path / "sudo.log"
    write_script(
        tmp_path / "bin" / "sudo",
        f'echo "$@" >> {log}\n[ "$1" = -n ] && shift\n[ "$1" = -- ] && shift\nexec "$@"\n',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr("pytest_runc.environment.os.geteuid", lambda: 1000)
    pytester.makepyfile("""
        def test_through_sudo(container, bundle):
            bundle.command("true")
            assert container().run().returncode == 0
    """)
    result = pytester.runpytest_inprocess("--runc", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["runc: *, through sudo -n, *"])
    calls = log.read_text().splitlines()
    assert any(" run --bundle " in line for line in calls), calls


def _system_python_has_deps() -> str | None:
    if not os.path.exists(SYSTEM_PYTHON) or not shutil.which("setpriv"):
        return "needs /usr/bin/python3 and setpriv"
    check = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import pytest, pexpect, jsonschema"], capture_output=True
    )
    if check.returncode != 0:
        return (
            "the system python lacks pytest/pexpect/jsonschema"
            " (apt-get install python3-pytest python3-pexpect python3-jsonschema)"
        )
    return None


def run_as_nobody(
    *pytest_args: str, test_source: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run pytest with the system python as uid 65534, no sudo, in a world-writable dir."""
    if os.geteuid() != 0:
        pytest.skip("dropping privileges needs root")
    missing = _system_python_has_deps()
    if missing:
        pytest.skip(missing)
    for parent in [REPO, *REPO.parents]:
        if not parent.stat().st_mode & 0o001:
            pytest.skip(f"{parent} is not searchable by other users")
    # pytest's tmp_path lies under a root-only directory: make one others can enter.
    work = Path(tempfile.mkdtemp(prefix="pytest-runc-unpriv-"))
    work.chmod(0o777)
    if test_source is not None:
        (work / "test_c.py").write_text(test_source)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONPATH": str(REPO),
        "HOME": str(work),
        "PYTEST_RUNC_TMPDIR": str(work),
        # Load exactly our plugin, whether or not its entry point is visible.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    try:
        return subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                SYSTEM_PYTHON,
                "-m",
                "pytest",
                "-p",
                "pytest_runc.plugin",
                "-p",
                "no:cacheprovider",
                f"--rootdir={work if test_source else REPO}",
                *pytest_args,
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        leftover = list(work.glob("pytest-runc-*"))
        shutil.rmtree(work, ignore_errors=True)
        assert leftover == [], f"the unprivileged run left {leftover}"


def test_unprivileged_user_without_sudo_gets_skips_with_reasons():
    """`pytest -rs --runc` as uid 65534 (setpriv), no sudo: skips that name root."""
    done = run_as_nobody(
        "-rs",
        "--runc",
        "test_c.py",
        test_source="def test_container(container):\n    pass\n\ndef test_plain():\n    pass\n",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout, done.stdout
    assert "not root (uid 65534)" in done.stdout and "sudo -n true" in done.stdout, done.stdout


@pytest.mark.runc
def test_rootless_runs_the_suite_as_an_unprivileged_user(runtime):
    """--runc-rootless as uid 65534: containers in user namespaces; the checks
    that need real root skip, none fails."""
    from pytest_runc.environment import user_namespaces_available

    if not user_namespaces_available():
        pytest.skip("this host does not allow unprivileged user namespaces")
    done = run_as_nobody(
        "-q",
        "-rs",
        "--runc",
        "--runc-rootless",
        str(REPO / "conformance"),
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    assert "needs real root (cgroups, other uids); this run is rootless" in done.stdout
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary, summary
