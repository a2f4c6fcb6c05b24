"""The plugin's own behaviour, through pytester: skips, options, reports, header.

These run without root: where a real runtime is needed, the test is marked
``runc`` and uses the ``runtime`` fixture to skip cleanly.
"""

from __future__ import annotations

import pytest

from pytest_runc.oci.environment import Privilege
from pytest_runc.oci.features import NO_FEATURES, Features, FeaturesError
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
        "PYTEST_RUNC_ALLOW_UNUSABLE",
    ):
        monkeypatch.delenv(name, raising=False)


def test_without_runc_container_tests_skip_with_the_reason(pytester):
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*environment: needs --runc*"])


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
    for key in ("runc", "runc_rootless", "runc_keep_failed", "runc_allow_unusable"):
        result.stdout.fnmatch_lines([f"  {key} (bool)*"])


@pytest.mark.parametrize(("value", "expected"), [("true", "True"), ("no", "False")])
def test_bool_ini_keys_take_pytest_booleans(pytester, value, expected):
    pytester.makeini(f"[pytest]\nrunc_keep_failed = {value}\n")
    pytester.makepyfile(
        "def test_show(runc_session):\n    print('KEEP', runc_session.settings.keep_failed)\n"
    )
    pytester.runpytest("-s").stdout.fnmatch_lines([f"*KEEP {expected}*"])


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


def test_missing_optional_binary_skips_with_the_fix(pytester):
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest(
        "--runc", "--runc-binary=no-such-runtime-xyz", "--runc-allow-unusable", "-rs"
    )
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*'no-such-runtime-xyz' not found on PATH*--runc-binary*"])


def test_missing_runc_names_apt_get(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest("--runc", "-rs")
    result.stdout.fnmatch_lines(["*'runc' not found on PATH: `apt-get install runc`*"])


@pytest.fixture
def as_root(monkeypatch):
    """Inner in-process runs believe they are root: the runtime gate is tested
    with fake runtimes, without root."""
    monkeypatch.setattr(
        "pytest_runc.sessions.session.probe_privilege",
        lambda rootless=False: Privilege(True, False, None),
    )


def test_broken_runtime_is_one_failure_named_for_it(pytester, tmp_path, as_root):
    broken = fake_runtime(tmp_path / "bin", version_ok=False)
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_inprocess("--runc", f"--runc-binary={broken}", "-rfs")
    result.assert_outcomes(failed=1, passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"{broken} cannot run a trivial container: `--version` exited with status 1:"
            " cannot load libseccomp",
            f"FAILED runtime works: {broken}*",  # CI=true appends " - message"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_not_root_and_no_sudo_skips_naming_root(pytester, monkeypatch, tmp_path):
    monkeypatch.setattr("pytest_runc.oci.environment.os.geteuid", lambda: 1000)
    write_script(tmp_path / "bin" / "sudo", "exit 1\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin")
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_inprocess("--runc", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*not root (uid 1000)*run pytest as root*sudo -n true*"])


def test_no_static_busybox_skips_naming_busybox_static(pytester, monkeypatch):
    monkeypatch.setattr("pytest_runc.oci.rootfs.BUSYBOX_CANDIDATES", ("/no/such/busybox",))
    pytester.makepyfile(CONTAINER_TEST + "\ndef test_rootfs(rootfs):\n    pass\n")
    result = pytester.runpytest_inprocess("--runc", "-rs")
    result.stdout.fnmatch_lines(["*no static busybox*apt-get install busybox-static*"])
    assert result.parseoutcomes().get("error", 0) == 0


GATE_TESTS = CONTAINER_TEST + "\ndef test_second(container):\n    pass\n"


@pytest.mark.parametrize(
    ("broken", "step", "outcome", "words"),
    [
        ({"run_error": "cgroups in hybrid mode not supported"}, "run", "exited with status 1",
         "cgroups in hybrid mode not supported"),
        ({"create_error": "no space left on device"}, "create", "exited with status 1",
         "no space left on device"),
        ({"hang": ("run",)}, "run", "did not finish within 2s and was killed",
         "(it printed no error message)"),
        ({"hang": ("create",)}, "create", "did not finish within 2s and was killed",
         "(it printed no error message)"),
    ],
    ids=["run-errors", "create-errors", "run-hangs", "create-hangs"],
)  # fmt: skip
def test_a_runtime_that_cannot_run_a_container_fails_once_and_the_rest_skip(
    pytester, tmp_path, as_root, broken, step, outcome, words
):
    fake = fake_runtime(tmp_path / "bin", **broken)
    pytester.makepyfile(GATE_TESTS)
    xml = tmp_path / "junit.xml"
    result = pytester.runpytest_inprocess(
        "--runc", f"--runc-binary={fake}", "--runc-timeout=2", "-rfs", f"--junitxml={xml}"
    )
    result.assert_outcomes(failed=1, passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"*runtime works: {fake} *",  # a long title loses its ___ padding
            f"{fake} cannot run a trivial container: `{step}` {outcome}: {words}",
            f"command: *{fake} --root * {step} --bundle *prt-*-smoke-{step}",
            f"FAILED runtime works: {fake}*",
            f"SKIPPED [[]2[]] *runtime: {fake} cannot run a trivial container;"
            f" see the failed item `runtime works: {fake}`",
        ]
    )
    report = xml.read_text()
    assert 'name="runtime works: ' in report and "<failure" in report
    assert f'<property name="runtime" value="{fake}" />' in report
    assert session_dirs(tmp_path) == [], "the failed check left its directory"


@pytest.mark.parametrize("how", ["option", "env"])
def test_without_the_runtime_check_each_test_meets_the_broken_runtime(
    pytester, tmp_path, monkeypatch, as_root, how
):
    """--runc-skip-runtime-check: no trial container, so no gate item; a runtime
    that cannot run a container fails the tests that use it, none is skipped."""
    log = tmp_path / "calls.log"
    fake = fake_runtime(tmp_path / "bin", run_error="broken here")
    logged = write_script(tmp_path / "bin" / "logged", f'echo "$@" >> {log}\nexec {fake} "$@"\n')
    pytester.makepyfile(
        """
        def test_runs(container, bundle):
            bundle.command("true")
            assert container().run().returncode == 0
        def test_no_container(container):
            pass
        """
    )
    args = ["--runc", f"--runc-binary={logged}", "-rfs"]
    if how == "option":
        args.append("--runc-skip-runtime-check")
    else:
        monkeypatch.setenv("PYTEST_RUNC_SKIP_RUNTIME_CHECK", "1")
    result = pytester.runpytest_inprocess(*args)
    result.assert_outcomes(failed=1, passed=1)
    assert "runtime works" not in result.stdout.str()
    calls = log.read_text().splitlines()
    assert not any("smoke" in line for line in calls), calls
    assert sum(" run " in f" {line} " for line in calls) == 1, calls


def test_the_gate_is_kept_when_tests_are_selected(pytester, tmp_path, as_root):
    fake = fake_runtime(tmp_path / "bin", run_error="broken")
    pytester.makepyfile(GATE_TESTS)
    result = pytester.runpytest_inprocess("--runc", f"--runc-binary={fake}", "-k", "second")
    result.assert_outcomes(failed=1, skipped=1)


def test_a_runtime_asked_for_late_fails_that_test(pytester, tmp_path, as_root):
    fake = fake_runtime(tmp_path / "bin", run_error="broken here")
    pytester.makepyfile("""
        def test_late(request):
            request.getfixturevalue("runtime")
    """)
    result = pytester.runpytest_inprocess("--runc", f"--runc-binary={fake}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cannot run a trivial container: `run` exited*broken here*"])


def test_an_optional_runtime_may_skip_by_explicit_opt_in(pytester, tmp_path, as_root):
    fake = fake_runtime(tmp_path / "bin", run_error="cgroups in hybrid mode not supported")
    pytester.makepyfile(GATE_TESTS)
    result = pytester.runpytest_inprocess(
        "--runc", f"--runc-binary={fake}", "--runc-allow-unusable", "-rs"
    )
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]2[]] *runtime: *cannot run a trivial container: `run` exited with"
            " status 1: cgroups in hybrid mode not supported (allowed here by"
            " --runc-allow-unusable)"
        ]
    )


def test_environment_skips_say_environment(pytester):
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest(
        "--runc", "--runc-binary=no-such-runtime-xyz", "--runc-allow-unusable", "-rs"
    )
    result.stdout.fnmatch_lines(["SKIPPED * environment: runtime binary 'no-such-runtime-xyz'*"])


def test_report_header(pytester):
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest("--runc", "--co")
    result.stdout.fnmatch_lines(
        [
            "runc: *, cgroups *",
            "runc rootfs: *",
            "runc state root: private per session and xdist worker*; container ids prt-*-[*]",
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
        "runtime_features",
    ):
        result.stdout.fnmatch_lines([f"{name}*-- *", "    *"])
        result.stdout.fnmatch_lines([f"runc_{name}*-- *", "    *"])


def test_a_skipped_run_leaves_no_directory(pytester, tmp_path):
    pytester.makepyfile(CONTAINER_TEST)
    pytester.runpytest("--runc", "--runc-binary=no-such-runtime-xyz", "--runc-allow-unusable")
    pytester.runpytest()
    assert session_dirs(tmp_path) == []


def test_rootless_without_user_namespaces_skips_saying_so(pytester, monkeypatch):
    monkeypatch.setattr("pytest_runc.oci.environment.os.geteuid", lambda: 1000)
    monkeypatch.setattr("pytest_runc.oci.environment.shutil.which", lambda name: None)
    monkeypatch.setattr("pytest_runc.oci.environment.user_namespaces_available", lambda: False)
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_inprocess("--runc", "--runc-rootless", "-rs")
    result.stdout.fnmatch_lines(["*--runc-rootless needs unprivileged user namespaces*"])


def test_not_root_hint_names_rootless_when_user_namespaces_exist(pytester, monkeypatch):
    monkeypatch.setattr("pytest_runc.oci.environment.os.geteuid", lambda: 1000)
    monkeypatch.setattr("pytest_runc.oci.environment.shutil.which", lambda name: None)
    monkeypatch.setattr("pytest_runc.oci.environment.user_namespaces_available", lambda: True)
    pytester.makepyfile(CONTAINER_TEST)
    result = pytester.runpytest_inprocess("--runc", "-rs")
    result.stdout.fnmatch_lines(["*or pass --runc-rootless*"])


@pytest.mark.runc
def test_cgroup_marker_runs_only_on_its_modes(pytester, runtime, monkeypatch):
    monkeypatch.setattr("pytest_runc.sessions.session.cgroup_mode", lambda: "hybrid")
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


FEATURES = """{"ociVersionMin": "1.0.0", "ociVersionMax": "1.1.0",
 "hooks": ["prestart"], "mountOptions": ["ro", "bind"],
 "linux": {"namespaces": ["pid", "mount"], "cgroup": {"v1": true, "v2": false},
           "seccomp": {"enabled": true}},
 "annotations": {"org.example.version": "1"}}"""


class TestFeatures:
    def test_parse_keeps_what_the_runtime_claims(self):
        parsed = Features.parse(FEATURES)
        assert parsed.available and parsed.oci_version_max == "1.1.0"
        assert parsed.namespaces == frozenset({"pid", "mount"})
        assert parsed.cgroup == {"v1": True, "v2": False} and parsed.seccomp_enabled is True
        assert parsed.capabilities is None, "an unlisted section is unknown, not empty"
        assert parsed.disclaims("namespaces", "time")
        assert not parsed.disclaims("namespaces", "pid")
        assert not parsed.disclaims("capabilities", "CAP_BPF"), "silence rules nothing out"
        assert not NO_FEATURES.disclaims("namespaces", "time")

    @pytest.mark.parametrize("text", ["not json", "[]", '{"hooks": "prestart"}'])
    def test_parse_refuses_what_is_not_a_features_document(self, text):
        with pytest.raises(FeaturesError):
            Features.parse(text)

    def test_fixture_parses_the_runtimes_features_once(self, pytester, tmp_path, as_root):
        log = tmp_path / "features.log"
        (tmp_path / "features.json").write_text(FEATURES)
        fake = write_script(
            tmp_path / "bin" / "runtime",
            f'case " $* " in\n'
            f'  *" --version "*) echo "fake 1";;\n'
            f'  *" features "*) echo features >> {log}; cat {tmp_path / "features.json"};;\n'
            "esac\nexit 0\n",
        )
        pytester.makepyfile("""
            def test_one(runtime_features):
                assert runtime_features.namespaces == {"pid", "mount"}
            def test_two(runtime_features):
                runtime_features.require("namespaces", "time")
        """)
        result = pytester.runpytest_inprocess("--runc", f"--runc-binary={fake}", "-rs")
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines(
            ["*runtime: the runtime does not claim it: namespaces in `features` do not include*"]
        )
        assert log.read_text().split() == ["features"]

    def test_a_runtime_without_features_claims_nothing(self, pytester, tmp_path, as_root):
        fake = write_script(
            tmp_path / "bin" / "runtime",
            'case " $* " in *" features "*) echo "unknown command" >&2; exit 1;; esac\n'
            'echo "old 0.9"\n',
        )
        pytester.makepyfile("""
            from pytest_runc.oci.features import NO_FEATURES
            def test_none(runtime_features):
                assert runtime_features is NO_FEATURES
        """)
        pytester.runpytest_inprocess("--runc", f"--runc-binary={fake}").assert_outcomes(passed=1)

    @pytest.mark.runc
    def test_real_runtime_claims_pid_namespaces(self, runtime, runc_session):
        features = runc_session.probe_features()
        if features.available:
            assert features.namespaces is not None and "pid" in features.namespaces
