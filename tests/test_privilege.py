"""How runtime commands get root: directly, through sudo, or a clean skip."""

from __future__ import annotations

import importlib.metadata
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pytest_runc.oci import skips
from pytest_runc.sessions.session import RuncSession
from pytest_runc.sessions.workdir import base_dir
from pytest_runc.suite import SUITE_DIR
from tests.helpers import write_script
from tests.labelled_runs import PLAN_VARIABLE, read_junit
from tests.root_reference import RootRun, shared_root_run

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
    monkeypatch.setattr("pytest_runc.oci.environment.effective_uid", lambda: 1000)
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
    # pytest's tmp_path lies under a root-only directory: make one others can enter,
    # on the tmpfs the plugin would pick (a rootfs copy a check costs ms there,
    # up to a second on a busy ext4: this run copies one for each check).
    work = Path(tempfile.mkdtemp(prefix="pytest-runc-unpriv-", dir=base_dir().parent))
    # Sticky, as /tmp is: a base below a directory anyone may write is refused otherwise.
    work.chmod(0o1777)
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
    from pytest_runc.oci.environment import user_namespaces_available

    if not user_namespaces_available():
        pytest.skip("this host does not allow unprivileged user namespaces")
    done = run_as_nobody(
        "-q",
        "-rs",
        "--runc",
        "--runc-rootless",
        str(SUITE_DIR),
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    assert "needs real root (cgroups, other uids); this run is rootless" in done.stdout
    summary = done.stdout.strip().splitlines()[-1]
    # "N failed" alone: declared departures are "N xfailed", and failures of
    # rules newer than the runtime claims are "N beyond-level failed".
    assert " passed" in summary, summary
    assert not re.search(r"(^|[=,] )\d+ failed", summary), summary


# -- a real user with passwordless sudo ----------------------------------------

#: The user scripts/setup-sudo-user makes (CI makes it through scripts/install-deps).
SUDO_USER = os.environ.get("PYTEST_RUNC_SUDO_USER", "prt-sudo")
SETUP_SUDO_USER = REPO / "scripts" / "setup-sudo-user"
#: What the conformance suite imports; the sudo user gets the versions we run with.
SUITE_PACKAGES = ("pytest", "pexpect", "jsonschema")
#: What the suite needs from the repository (a copy the sudo user can read).
SUITE_FILES = ("pytest_runc", "conftest.py", "pyproject.toml")


def _sudo_user() -> pwd.struct_passwd:
    """The real sudo user, or an ``environment:`` skip naming what is missing."""
    if os.geteuid() != 0:
        skips.skip_environment("running the suite as a sudo user needs root (to switch users)")
    for tool in ("sudo", "runuser"):
        if not shutil.which(tool):
            skips.skip_environment(
                f"no `{tool}` on this host: `apt-get install sudo` and run {SETUP_SUDO_USER}"
            )
    if os.environ.get("CI") == "true":
        # CI is a throwaway machine: make the user rather than skip the check
        # (scripts/install-deps has normally made it already; this is idempotent).
        subprocess.run(["bash", str(SETUP_SUDO_USER), SUDO_USER], check=True, timeout=600)
    try:
        user = pwd.getpwnam(SUDO_USER)
    except KeyError:
        skips.skip_environment(
            f"no user {SUDO_USER!r} with passwordless sudo: run `{SETUP_SUDO_USER}` as root"
            " (it installs sudo, adds the user and a sudoers drop-in)"
        )
    probe = subprocess.run(
        ["runuser", "-u", SUDO_USER, "--", "sudo", "-n", "true"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    if probe.returncode != 0:
        skips.skip_environment(
            f"user {SUDO_USER!r} has no passwordless sudo ({probe.stderr.strip()}):"
            f" run `{SETUP_SUDO_USER}` as root"
        )
    return user


def _as_user(
    user: pwd.struct_passwd,
    *argv: str,
    env: dict[str, str],
    timeout: float,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as ``user`` with exactly ``env`` (runuser: no password, no PAM prompt)."""
    pairs = [f"{key}={value}" for key, value in env.items()]
    return subprocess.run(
        ["runuser", "-u", user.pw_name, "--", "env", "-i", *pairs, *argv],
        cwd=cwd or user.pw_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _user_python(user: pwd.struct_passwd) -> str:
    """A python the sudo user may run, with the same pytest, pexpect and jsonschema
    as this process: a venv in the user's home, made once per set of versions.

    Our own interpreter may live where the user cannot go (/root/.pyenv).
    """
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in SUITE_PACKAGES]
    key = "-".join(p.replace("==", "") for p in pins)
    venv = Path(user.pw_dir) / ".cache" / "pytest-runc" / f"venv-{key}"
    python = venv / "bin" / "python"
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": user.pw_dir}
    if not python.exists():
        if not os.path.exists(SYSTEM_PYTHON):
            skips.skip_environment(f"no {SYSTEM_PYTHON} to make a venv for {user.pw_name}")
        steps = [
            [SYSTEM_PYTHON, "-m", "venv", "--clear", str(venv)],
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins],
        ]
        for step in steps:
            done = _as_user(user, *step, env=env, timeout=600)
            if done.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                skips.skip_environment(
                    f"cannot make a python for {user.pw_name} (`{' '.join(step)}`:"
                    f" {done.stderr.strip()[-300:]}); apt-get install python3-venv"
                )
    return str(python)


def _counts(outcomes: dict[str, str]) -> str:
    kinds = ("passed", "failed", "error", "skipped", "beyond-level")
    return ", ".join(f"{sum(o == k for o in outcomes.values())} {k}" for k in kinds)


@pytest.fixture
def root_run(runc_session: RuncSession, tmp_path_factory: pytest.TempPathFactory) -> RootRun:
    """The whole suite as root, made once a test run (tests/root_reference.py)."""
    binary = runc_session.probe().binary
    assert binary is not None, runc_session.environment_problem
    return shared_root_run(binary, tmp_path_factory)


@pytest.mark.runc
def test_conformance_suite_through_real_sudo_matches_root(runtime, request):
    """The whole conformance suite as a real user with passwordless sudo
    (every runtime command through `sudo -n`) has exactly the outcomes it has
    as root (the run tests/test_tolerance.py shares), and leaves nothing behind."""
    user = _sudo_user()
    python = _user_python(user)
    # A copy the user can read, on the same tmpfs the runs would pick.
    work = Path(tempfile.mkdtemp(prefix="pytest-runc-sudo-", dir=base_dir().parent))
    try:
        for name in SUITE_FILES:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(
                    source, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                shutil.copy2(source, work / name)
        # The plugin that labels each check's JUnit entry with its node id.
        (work / "tests").mkdir()
        for name in ("__init__.py", "labelled_runs.py"):
            shutil.copy2(REPO / "tests" / name, work / "tests" / name)
        plan = work / "plan.json"
        plan.write_text(json.dumps({"sudo": None}))
        runs = work / "runs-sudo"
        runs.mkdir()
        subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(work)], check=True)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": str(work),
            "PYTHONDONTWRITEBYTECODE": "1",
            # Exactly our plugin (and the labels), from the copy.
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "LANG": "C.UTF-8",
            "HOME": user.pw_dir,
            "PYTEST_RUNC_TMPDIR": str(runs),
            PLAN_VARIABLE: str(plan),
        }
        junit = work / "sudo.xml"
        sudo = _as_user(
            user,
            python,
            "-m", "pytest", "-p", "pytest_runc.plugin", "-p", "tests.labelled_runs",
            "-p", "no:cacheprovider", "-rfEs", "--runc", f"--runc-binary=sudo={runtime.binary}",
            f"--junitxml={junit}", "pytest_runc/conformance",
            env=env,
            timeout=1800,
            cwd=work,
        )  # fmt: skip
        assert junit.exists(), sudo.stdout[-4000:] + sudo.stderr[-2000:]
        assert "through sudo -n" in sudo.stdout, sudo.stdout[:2000]
        as_sudo = {node: o.outcome for (_, node), o in read_junit(junit)[0].items()}
        # Asked for only now: another worker has made it meanwhile, or this one makes it.
        root: RootRun = request.getfixturevalue("root_run")
        assert root.gate is None, f"{runtime.binary} cannot run `true` as root: {root.gate}"
        as_root = {node: o.outcome for node, o in root.outcomes.items()}
        differ = {
            node: (as_root.get(node), as_sudo.get(node))
            for node in sorted(set(as_root) | set(as_sudo))
            if as_root.get(node) != as_sudo.get(node)
        }
        summary = f"as root: {_counts(as_root)}; through sudo: {_counts(as_sudo)}"
        assert not differ, (
            f"{summary}; (root, sudo) outcomes differ: {differ}\n" + sudo.stdout[-6000:]
        )
        assert sudo.returncode == root.returncode, summary
        assert sum(o == "passed" for o in as_sudo.values()) > 0, summary
        # Through sudo, runc's state and the containers' writes are root's:
        # the run must still remove all of it.
        left = [str(p) for p in runs.rglob("s-*")]
        assert left == [], f"the run left {left}"
        print(summary)
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(work)], check=False)


def test_explicit_rootless_is_rootless_even_with_passwordless_sudo(monkeypatch, tmp_path):
    """A CI runner's user has passwordless sudo: --runc-rootless must not run as root."""
    from pytest_runc.oci import environment

    write_script(
        tmp_path / "bin" / "sudo", '[ "$1" = -n ] && shift\n[ "$1" = -- ] && shift\nexec "$@"\n'
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setattr(environment, "effective_uid", lambda: 1000)
    monkeypatch.setattr(environment, "user_namespaces_available", lambda: True)
    asked = environment.probe_privilege(rootless=True)
    assert (asked.rootless, asked.sudo, asked.problem) == (True, False, None)
    assert environment.probe_privilege(rootless=False).sudo, "without the option, sudo is used"
    monkeypatch.setattr(environment, "user_namespaces_available", lambda: False)
    refused = environment.probe_privilege(rootless=True)
    assert not refused.sudo and refused.problem and "--runc-rootless needs" in refused.problem
