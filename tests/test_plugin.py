"""The plugin's own behaviour, through pytester: skips, options, reports, header.

These run without root: where a real runtime is needed, the test is marked
``runc`` and uses the ``runtime`` fixture to skip cleanly.
"""

from __future__ import annotations

import pytest

from tests.helpers import fake_runtime, session_dirs, write_script

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
    for name in (
        "PYTEST_RUNC",
        "PYTEST_RUNC_BINARY",
        "PYTEST_RUNC_ROOT",
        "PYTEST_RUNC_ROOTFS",
        "PYTEST_RUNC_TIMEOUT",
        "PYTEST_RUNC_KEEP_FAILED",
    ):
        monkeypatch.delenv(name, raising=False)


def test_without_runc_container_tests_skip_with_the_reason(pytester):
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*needs --runc*"])


def test_runc_marker_is_registered_and_skips_without_runc(pytester):
    pytester.makepyfile("""
        import pytest
        @pytest.mark.runc
        def test_marked():
            pass
    """)
    result = pytester.runpytest("--strict-markers", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs --runc*"])


def test_options_are_in_a_runc_group_in_help(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "container runtime tests (pytest-runc):",
            "*--runc *",
            "*--runc-binary=PATH*",
            "*--runc-root=PATH*",
            "*--runc-rootfs=PATH*",
            "*--runc-timeout=SECONDS*",
            "*--runc-keep-failed*",
            "*--runc-bundle=BUNDLE*",
        ]
    )
    result.stdout.fnmatch_lines(["*runc_timeout (string)*"])


SHOW_TIMEOUT = """
def test_show(runc_session):
    print("TIMEOUT", runc_session.settings.timeout)
"""


@pytest.mark.parametrize(
    ("ini", "env", "cli", "expected"),
    [
        ("11", None, None, "11.0"),
        ("11", "22", None, "22.0"),
        ("11", "22", "33", "33.0"),
        (None, None, None, "30.0"),
    ],
)
def test_precedence_is_ini_then_env_then_cli(pytester, monkeypatch, ini, env, cli, expected):
    if ini:
        pytester.makeini(f"[pytest]\nrunc_timeout = {ini}\n")
    if env:
        monkeypatch.setenv("PYTEST_RUNC_TIMEOUT", env)
    pytester.makepyfile(SHOW_TIMEOUT)
    args = ["-s"] + ([f"--runc-timeout={cli}"] if cli else [])
    result = pytester.runpytest(*args)
    result.stdout.fnmatch_lines([f"*TIMEOUT {expected}*"])


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--runc-timeout=soon"], {}, "*--runc-timeout: 'soon' is not a positive number*"),
        (["--runc-timeout=-1"], {}, "*--runc-timeout*positive*"),
        ([], {"PYTEST_RUNC_TIMEOUT": "0"}, "*environment variable PYTEST_RUNC_TIMEOUT*"),
        ([], {"PYTEST_RUNC": "maybe"}, "*PYTEST_RUNC*not a yes/no value*"),
        (["--runc-rootfs=/no/such/rootfs"], {}, "*--runc-rootfs*does not exist*"),
    ],
)
def test_bad_values_are_usage_errors_that_name_the_option(
    pytester, monkeypatch, args, env, message
):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_bad_ini_value_names_the_ini_key(pytester):
    pytester.makeini("[pytest]\nrunc_keep_failed = sometimes\n")
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini key runc_keep_failed*"])


def test_missing_binary_skips_with_the_fix(pytester):
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest("--runc", "--runc-binary=no-such-runtime-xyz", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*'no-such-runtime-xyz' not found on PATH*--runc-binary*"])


def test_missing_runc_names_apt_get(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest("--runc", "-rs")
    result.stdout.fnmatch_lines(["*'runc' not found on PATH: `apt-get install runc`*"])


def test_broken_runtime_is_one_clear_error(pytester, tmp_path):
    broken = fake_runtime(tmp_path / "bin", version_ok=False)
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest("--runc", f"--runc-binary={broken}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*runtime*is broken*--version*failed*--runc-binary*"])
    assert result.stderr.str().count("is broken") == 1
    assert "Traceback" not in result.stderr.str()


def test_not_root_and_no_sudo_skips_naming_root(pytester, monkeypatch, tmp_path):
    monkeypatch.setattr("pytest_runc.environment.os.geteuid", lambda: 1000)
    write_script(tmp_path / "bin" / "sudo", "exit 1\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin")
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_inprocess("--runc", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*not root (uid 1000)*run pytest as root*sudo -n true*"])


def test_no_static_busybox_skips_naming_busybox_static(pytester, monkeypatch):
    monkeypatch.setattr("pytest_runc.rootfs.BUSYBOX_CANDIDATES", ("/no/such/busybox",))
    pytester.makepyfile(CONTAINER_TEST + "\ndef test_rootfs(rootfs):\n    pass\n")
    result = pytester.runpytest_inprocess("--runc", "-rs")
    result.stdout.fnmatch_lines(["*no static busybox*apt-get install busybox-static*"])
    assert result.parseoutcomes().get("error", 0) == 0


def test_runtime_that_cannot_run_here_skips_every_test_with_one_reason(pytester, tmp_path):
    fake = fake_runtime(tmp_path / "bin", run_error="cgroups in hybrid mode not supported")
    pytester.makepyfile(CONTAINER_TEST + "\ndef test_second(container):\n    pass\n")
    result = pytester.runpytest("--runc", f"--runc-binary={fake}", "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]2[]] *cannot run containers on this host*hybrid mode not supported*"]
    )


def test_report_header(pytester):
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest("--runc", "--co")
    result.stdout.fnmatch_lines(
        [
            "runc: *, cgroups *",
            "runc rootfs: *",
            "runc state root: private per session and xdist worker*",
        ]
    )
    off = pytester.runpytest("--co")
    off.stdout.fnmatch_lines(["runc: container tests disabled (pass --runc to run them)"])


def test_fixtures_are_documented(pytester):
    result = pytester.runpytest("--fixtures")
    for name in (
        "runtime",
        "rootfs",
        "bundle",
        "bundle_factory",
        "container",
        "interactive",
        "bundle_check",
        "cgroup_mode",
    ):
        result.stdout.fnmatch_lines([f"{name}*-- *", "    *"])


def test_a_skipped_run_leaves_no_directory(pytester, tmp_path):
    pytester.makepyfile(CONTAINER_TEST)
    pytester.runpytest("--runc", "--runc-binary=no-such-runtime-xyz")
    pytester.runpytest()
    assert session_dirs(tmp_path) == []


def test_rootless_without_user_namespaces_skips_saying_so(pytester, monkeypatch):
    monkeypatch.setattr("pytest_runc.environment.os.geteuid", lambda: 1000)
    monkeypatch.setattr("pytest_runc.environment.shutil.which", lambda name: None)
    monkeypatch.setattr("pytest_runc.environment.user_namespaces_available", lambda: False)
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_inprocess("--runc", "--runc-rootless", "-rs")
    result.stdout.fnmatch_lines(["*--runc-rootless needs unprivileged user namespaces*"])


def test_not_root_hint_names_rootless_when_user_namespaces_exist(pytester, monkeypatch):
    monkeypatch.setattr("pytest_runc.environment.os.geteuid", lambda: 1000)
    monkeypatch.setattr("pytest_runc.environment.shutil.which", lambda name: None)
    monkeypatch.setattr("pytest_runc.environment.user_namespaces_available", lambda: True)
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_inprocess("--runc", "-rs")
    result.stdout.fnmatch_lines(["*or pass --runc-rootless*"])


@pytest.mark.runc
def test_cgroup_marker_runs_only_on_its_modes(pytester, runtime, monkeypatch):
    monkeypatch.setattr("pytest_runc.session.cgroup_mode", lambda: "hybrid")
    pytester.makepyfile("""
        import pytest
        @pytest.mark.runc_cgroup("v2")
        def test_v2_only(runtime):
            pass
        @pytest.mark.runc_cgroup("v1", "hybrid")
        def test_v1_or_hybrid(runtime):
            pass
    """)
    result = pytester.runpytest_inprocess("--runc", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*needs cgroup v2; this host has hybrid*"])
