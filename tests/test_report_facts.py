"""What a --runc-report says about the runtime and the host: the whole
``--version`` (so its ``spec:`` line), and the host label a matrix column is named by."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_runc.oci.environment import Privilege, cgroup_mode
from pytest_runc.oci.schemas import schema_errors
from pytest_runc.reports.json_report import HOST_LABEL_ENV, MAX_HOST_LABEL
from pytest_runc.reports.matrix.model import label_of
from tests.helpers import write_script

#: What runc 1.1.5 (Debian) and crun 1.8.1 print for --version.
RUNC_VERSION = (
    "runc version 1.1.5\ncommit: v1.1.5-0-gf19387a\nspec: 1.0.2-dev\ngo: go1.19.8\n"
    "libseccomp: 2.5.4"
)
CRUN_VERSION = (
    "crun version 1.8.1\ncommit: f8a096be060b22ccd3d5f3ebe44108517fbf6c30\n"
    "rundir: /run/crun\nspec: 1.0.0\n+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +YAJL"
)

CHECK = """
def test_nothing():
    pass
"""


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner in-process runs believe they are root (a fake runtime needs no more)."""
    monkeypatch.setattr(
        "pytest_runc.sessions.session.probe_privilege",
        lambda rootless=False: Privilege(True, False, None),
    )


def _fake(directory: Path, version_text: str) -> Path:
    """A runtime that prints ``version_text`` for --version and has no ``features``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "version.txt").write_text(version_text + "\n")
    return write_script(
        directory / "fakert",
        f"""for a in "$@"; do
  case "$a" in
    --version) cat {directory / "version.txt"}; exit 0;;
    features) echo "unknown command" >&2; exit 1;;
  esac
done
exit 0
""",
    )


def _report(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    pytester.makepyfile(test_it=CHECK)
    path = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--runc-report", str(path), *args
    )
    document = json.loads(path.read_text())
    assert schema_errors("report", document) == []
    return result, document


@pytest.mark.parametrize(
    ("version_text", "name", "release", "spec"),
    [(RUNC_VERSION, "runc", "1.1.5", "1.0.2-dev"), (CRUN_VERSION, "crun", "1.8.1", "1.0.0")],
    ids=["runc", "crun"],
)
def test_the_report_carries_the_spec_line_of_version(
    pytester: pytest.Pytester,
    tmp_path: Path,
    as_root: None,
    version_text: str,
    name: str,
    release: str,
    spec: str,
) -> None:
    binary = _fake(tmp_path / "bin", version_text)
    result, document = _report(pytester, "--runc", f"--runc-binary={binary}", "--co")
    runtime = document["runtime"]
    assert (runtime["name"], runtime["release"], runtime["spec"]) == (name, release, spec)
    assert runtime["version"] == version_text
    # The header still shows one line per runtime.
    first = version_text.splitlines()[0]
    result.stdout.fnmatch_lines([f"runc: {binary} ({first}), *"])
    assert "commit:" not in result.stdout.str()


def test_the_host_label_is_the_cgroup_mode_by_default(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(HOST_LABEL_ENV, raising=False)
    _, document = _report(pytester)
    mode = cgroup_mode()
    assert document["host"]["label"] == mode == document["host"]["cgroup_mode"]
    if mode in ("v1", "hybrid", "v2"):
        assert label_of(document).endswith(f"@{mode}")


def test_the_host_label_comes_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOST_LABEL_ENV, "  gha-ubuntu-24.04 ")
    _, document = _report(pytester)
    assert document["host"]["label"] == "gha-ubuntu-24.04"
    assert label_of(document).endswith("@gha-ubuntu-24.04")
    monkeypatch.setenv(HOST_LABEL_ENV, "x" * 200)
    _, document = _report(pytester)
    assert document["host"]["label"] == "x" * MAX_HOST_LABEL
