"""The plugin's fixtures are named ``runc_*``; the short names are aliases.

Another plugin may own a short name (pytest-container's ``container``): then
its fixture wins for that name, and the ``runc_`` names still reach ours.
"""

from __future__ import annotations

import pytest

from pytest_runc.oci.environment import Privilege
from tests.helpers import fake_runtime

#: Each runc_ fixture and the short name kept for it.
ALIASES = {
    "runc_runtime": "runtime",
    "runc_runtime_features": "runtime_features",
    "runc_cgroup_mode": "cgroup_mode",
    "runc_bundle_factory": "bundle_factory",
    "runc_bundle": "bundle",
    "runc_rootfs": "rootfs",
    "runc_container": "container",
    "runc_interactive": "interactive",
    "runc_bundle_check": "bundle_check",
}

#: A plugin of someone else's that defines ``container`` (as pytest-container does).
OTHER_PLUGIN = """
import pytest

@pytest.fixture
def container():
    return "the other plugin's container"
"""

BOTH = """
import pytest

def test_ours(runc_container, runc_bundle):
    runc_bundle.command("true")
    assert runc_container().run().returncode == 0

def test_theirs(container):
    assert container == "the other plugin's container"
"""


@pytest.fixture(autouse=True)
def private_tmpdir(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path))
    for name in ("PYTEST_RUNC", "PYTEST_RUNC_BINARY", "PYTEST_RUNC_ALLOW_UNUSABLE"):
        monkeypatch.delenv(name, raising=False)


def test_every_fixture_has_a_runc_name_and_a_documented_alias(pytester):
    result = pytester.runpytest("--fixtures")
    for name, alias in ALIASES.items():
        result.stdout.fnmatch_lines([f"{name}*-- *", "    *"])
        result.stdout.fnmatch_lines([f"{alias}*-- *", f"    Alias of ``{name}``*"])


def test_runc_names_work_beside_a_plugin_that_defines_container(pytester, tmp_path, monkeypatch):
    monkeypatch.setattr(
        "pytest_runc.sessions.session.probe_privilege",
        lambda rootless=False: Privilege(True, False, None),
    )
    pytester.makeconftest(OTHER_PLUGIN)
    pytester.makepyfile(BOTH)
    binary = fake_runtime(tmp_path / "bin")
    result = pytester.runpytest_inprocess("--runc", f"--runc-binary={binary}", "-rs")
    result.assert_outcomes(passed=2)


def test_without_runc_only_our_container_tests_skip(pytester):
    """The other plugin's ``container`` is not a container test of ours."""
    pytester.makeconftest(OTHER_PLUGIN)
    pytester.makepyfile(BOTH)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * environment: needs --runc*"])


def test_short_names_still_work(pytester, tmp_path, monkeypatch):
    monkeypatch.setattr(
        "pytest_runc.sessions.session.probe_privilege",
        lambda rootless=False: Privilege(True, False, None),
    )
    pytester.makepyfile("""
        def test_short(container, bundle, rootfs, runtime, cgroup_mode):
            bundle.command("true")
            assert rootfs == bundle.rootfs and runtime.binary.endswith("fake-runtime")
            assert cgroup_mode in ("v1", "hybrid", "v2", "none")
            assert container().run().returncode == 0
    """)
    binary = fake_runtime(tmp_path / "bin")
    result = pytester.runpytest_inprocess("--runc", f"--runc-binary={binary}")
    result.assert_outcomes(passed=1)
