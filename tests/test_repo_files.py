"""The files a newcomer and CI start from: README, .ci/run, workflows, tox."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_readme_first_lines_give_the_two_commands():
    head = (REPO / "README.md").read_text().splitlines()[:5]
    text = "\n".join(head)
    assert "scripts/conformance" in text and "scripts/test" in text
    assert (REPO / "scripts" / "conformance").exists() and (REPO / "scripts" / "test").exists()


def test_ci_runs_the_readme_test_command():
    assert "scripts/test" in (REPO / ".ci" / "run").read_text()


def test_workflows_parse_and_name_real_steps():
    yaml = pytest.importorskip("yaml")
    workflows = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert {w.name for w in workflows} >= {"tests.yml", "conformance.yml"}
    for workflow in workflows:
        data = yaml.safe_load(workflow.read_text())
        assert data["jobs"], workflow
        for job_name, job in data["jobs"].items():
            assert job["runs-on"] == "ubuntu-latest"
            for step in job["steps"]:
                assert "name" in step, f"{workflow.name}:{job_name}: unnamed step {step}"
                assert ("run" in step) != ("uses" in step), step
                if "uses" in step:
                    assert re.fullmatch(r"actions/[a-z-]+@v\d+", step["uses"]), step["uses"]
    conformance = (REPO / ".github" / "workflows" / "conformance.yml").read_text()
    for needle in (
        "apt-get install -y runc busybox-static",
        "--runc",
        "-n auto",
        "--junitxml",
        "upload-artifact",
        "--runc-keep-failed",
    ):
        assert needle in conformance


def test_tox_has_the_four_envs():
    tox = configparser.ConfigParser()
    tox.read(REPO / "tox.ini")
    for env in ("unit", "conformance", "lint", "type"):
        assert tox.has_section(f"testenv:{env}")


def test_package_ships_py_typed_and_schemas():
    assert (REPO / "pytest_runc" / "py.typed").exists()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert "Framework :: Pytest" in pyproject and 'runc = "pytest_runc.plugin"' in pyproject


@pytest.mark.runc
def test_readme_fixture_examples_run(pytester, runtime, monkeypatch, tmp_path):
    """The README's fixture examples are real tests that pass."""
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path))
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.S)
    assert block, "no python example in the README"
    pytester.makepyfile(block.group(1))
    result = pytester.runpytest_subprocess("--runc", "-p", "no:hypothesispytest", "-q")
    result.assert_outcomes(passed=4)
