"""--runc-binary with another OCI runtime: it runs the suite, or skips it cleanly.

These runtimes are optional here, so the inner runs opt in with
--runc-allow-unusable: a runtime that cannot run a trivial container on this
host (crun 1.8 on hybrid cgroups) skips with its own words instead of failing.
Without that opt-in the same runtime fails the run (tests/test_plugin.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_runc.suite import SUITE_DIR

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.runc


@pytest.mark.parametrize("name", ["crun", "youki", "runsc"])
def test_another_runtime_runs_or_skips_with_its_reason(
    pytester, runtime, name, monkeypatch, tmp_path
):
    binary = shutil.which(name)
    if binary is None:
        how = (
            "apt-get install crun" if name == "crun" else "not in Debian 12: use its release build"
        )
        pytest.skip(f"environment: {name} is not installed ({how})")
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path))
    result = pytester.runpytest_subprocess(
        str(SUITE_DIR / "test_session.py"),
        "--runc",
        f"--runc-binary={binary}",
        "--runc-allow-unusable",
        f"--rootdir={REPO}",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        "-rs",
        timeout=300,
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("error", 0) == 0, result.stdout.str()
    if outcomes.get("skipped"):
        # A runtime that cannot run here (crun 1.8 on hybrid cgroups) skips
        # every test with its own words, and fails none.
        result.stdout.fnmatch_lines(
            [
                f"*runtime: {binary} cannot run a trivial container: *"
                "(allowed here by --runc-allow-unusable)*"
            ]
        )
        assert not outcomes.get("passed") and not outcomes.get("failed")
