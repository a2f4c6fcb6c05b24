"""A failed container test's report shows config.json as a diff against the
default config: the lines the test changed, not ~180 lines per assert."""

from __future__ import annotations

import json

import pytest

from pytest_runc.oci.bundle import default_config
from pytest_runc.oci.environment import Privilege
from pytest_runc.oci.failure_report import config_diff
from tests.helpers import fake_runtime

FAILING = """
def test_fails(runc_bundle, runc_container):
    runc_bundle.command("sleep", "7").hostname("web-1")
    runc_container().run()
    assert False, "deliberate"
"""


@pytest.fixture(autouse=True)
def fake_root(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path))
    monkeypatch.setattr(
        "pytest_runc.sessions.session.probe_privilege",
        lambda rootless=False: Privilege(True, False, None),
    )


def _config_section(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "config.json (" in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("-" * 5))
    return lines[start + 1 : end]


def test_the_report_shows_the_changed_lines_only(pytester, tmp_path):
    pytester.makepyfile(FAILING)
    binary = fake_runtime(tmp_path / "bin")
    result = pytester.runpytest_inprocess("--runc", f"--runc-binary={binary}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*config.json (*), against the default (-vv: whole file)*"])
    section = _config_section(result.stdout.str())
    assert len(section) < 30, "\n".join(section)
    text = "\n".join(section)
    assert '+  "hostname": "web-1",' in text and '+      "7"' in text
    assert "CAP_AUDIT_WRITE" not in text, "unchanged lines of the default are shown"


def test_vv_shows_the_whole_file(pytester, tmp_path):
    pytester.makepyfile(FAILING)
    binary = fake_runtime(tmp_path / "bin")
    result = pytester.runpytest_inprocess("--runc", f"--runc-binary={binary}", "-vv")
    result.assert_outcomes(failed=1)
    section = "\n".join(_config_section(result.stdout.str()))
    written = json.loads(section)
    assert written["hostname"] == "web-1" and "CAP_AUDIT_WRITE" in section


def test_an_unchanged_config_says_so():
    assert config_diff(json.dumps(default_config(), indent=2) + "\n", default_config()) == (
        "(the default config, unchanged)"
    )
