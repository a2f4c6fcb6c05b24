"""Several runtimes in one run (``--runc-binary A --runc-binary B`` or ``A,B``).

Fake runtimes (shell scripts that answer ``--version`` and succeed or fail at
``run``) show the wiring without root; one real run compares runc 1.1.5 with
runc 1.5.1 when both are here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_runc.oci.environment import Privilege
from pytest_runc.oci.identity import label_of
from pytest_runc.reports.matrix.model import build, load_report
from pytest_runc.sessions.runtimes import base_nodeid
from tests.helpers import session_dirs, write_script

REPO = Path(__file__).resolve().parent.parent
NEWER_RUNC = Path("/work/shared/runtimes/runc-1.5.1")

#: Each container test writes which runtime and state root it got.
WHO = """
import json, os

def test_container(runtime, runc_session):
    out = os.environ["WHO_OUT"]
    with open(out, "a") as f:
        f.write(json.dumps({
            "binary": runtime.binary,
            "root": str(runc_session.state_root),
            "token": runc_session.token,
        }) + "\\n")

def test_plain():
    pass

def test_bundle_only(bundle):
    pass
"""


def fake(directory: Path, name: str, version: str, *, run_error: str | None = None) -> Path:
    """A runtime that prints ``<name> version <version>``; ``run`` fails with
    ``run_error`` when given; everything else succeeds."""
    run = f'echo "{run_error}" >&2; exit 1' if run_error else "exit 0"
    return write_script(
        directory / name,
        f"""for a in "$@"; do
  case "$a" in
    --version) echo "{name.split("_")[0]} version {version}"; echo "spec: 1.0.2"; exit 0;;
    run) {run};;
  esac
done
exit 0
""",
    )


@pytest.fixture(autouse=True)
def private_tmpdir(monkeypatch, tmp_path):
    """Inner runs keep their session directories under this test's tmp_path."""
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path))
    monkeypatch.setenv("WHO_OUT", str(tmp_path / "who.jsonl"))
    for name in ("PYTEST_RUNC", "PYTEST_RUNC_BINARY", "PYTEST_RUNC_ROOT", "PYTEST_RUNC_REPORT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def as_root(monkeypatch):
    """Inner in-process runs believe they are root (fake runtimes need no more)."""
    monkeypatch.setattr(
        "pytest_runc.sessions.session.probe_privilege",
        lambda rootless=False: Privilege(True, False, None),
    )


def who(tmp_path: Path) -> list[dict[str, str]]:
    path = tmp_path / "who.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_labels_are_name_and_release_without_build_metadata():
    assert label_of("runc version 1.1.5+ds1\ncommit: v1.1.5\nspec: 1.0.2-dev", "/x/runc") == (
        "runc-1.1.5"
    )
    assert label_of("crun version 1.8.1\ncommit: abc", "crun") == "crun-1.8.1"
    assert label_of("", "/opt/bin/youki") == "youki"


def test_one_runtime_keeps_node_ids_and_header(pytester, tmp_path, as_root):
    one = fake(tmp_path / "bin", "alpha", "1.0")
    pytester.makepyfile(WHO)
    result = pytester.runpytest_inprocess("--runc", f"--runc-binary={one}", "--co", "-q")
    result.stdout.fnmatch_lines(
        [
            "test_one_runtime_keeps_node_ids_and_header.py::test_container",
            "test_one_runtime_keeps_node_ids_and_header.py::test_plain",
        ]
    )
    assert "[" not in result.stdout.str().split("tests collected")[0]
    header = pytester.runpytest_inprocess("--runc", f"--runc-binary={one}", "--co")
    header.stdout.fnmatch_lines([f"runc: {one} (alpha version 1.0*), *", "runc state root: *"])


@pytest.mark.parametrize("form", ["repeated", "comma", "env", "ini"])
def test_each_runtime_runs_each_container_test_on_its_own_state_root(
    pytester, tmp_path, as_root, monkeypatch, form
):
    a = fake(tmp_path / "bin", "alpha", "1.0+build7")
    b = fake(tmp_path / "bin", "beta", "2.3")
    pytester.makepyfile(WHO)
    args = ["--runc", "-v"]
    if form == "repeated":
        args += [f"--runc-binary={a}", "--runc-binary", str(b)]
    elif form == "comma":
        args += [f"--runc-binary={a},{b}"]
    elif form == "env":
        monkeypatch.setenv("PYTEST_RUNC_BINARY", f"{a}, {b}")
    else:
        pytester.makeini(f"[pytest]\nrunc_binary = {a},{b}\n")
    result = pytester.runpytest_inprocess(*args)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines_random(
        [
            "*::test_container[[]alpha-1.0[]] PASSED*",
            "*::test_container[[]beta-2.3[]] PASSED*",
            "*::test_plain PASSED*",
            "*::test_bundle_only PASSED*",
        ]
    )
    seen = who(tmp_path)
    assert sorted(s["binary"] for s in seen) == [str(a), str(b)]
    assert len({s["root"] for s in seen}) == 2, f"the runtimes shared a state root: {seen}"
    assert len({s["token"] for s in seen}) == 2
    assert session_dirs(tmp_path) == [], "a runtime's directory was left behind"


def test_the_header_lists_every_runtime_and_its_state_root(pytester, tmp_path, as_root):
    a = fake(tmp_path / "bin", "alpha", "1.0")
    b = fake(tmp_path / "bin", "beta", "2.3")
    pytester.makepyfile(WHO)
    result = pytester.runpytest_inprocess("--runc", f"--runc-binary={a},{b}", "--co")
    result.stdout.fnmatch_lines(
        [
            "runc: 2 runtimes, *, cgroups *",
            f"runc [[]alpha-1.0[]]: {a} (alpha version 1.0*)",
            "runc [[]alpha-1.0[]] state root: private per session*; container ids prt-*-[*]",
            f"runc [[]beta-2.3[]]: {b} (beta version 2.3*)",
            "runc [[]beta-2.3[]] state root: private per session*; container ids prt-*-[*]",
            "runc rootfs: *",
        ]
    )


def test_the_same_runtime_twice_gets_numbered_ids(pytester, tmp_path, as_root):
    a = fake(tmp_path / "bin", "alpha", "1.0")
    copy = fake(tmp_path / "other", "alpha", "1.0")
    pytester.makepyfile(WHO)
    result = pytester.runpytest_inprocess("--runc", f"--runc-binary={a},{copy}", "--co", "-q")
    result.stdout.fnmatch_lines_random(
        ["*::test_container[[]alpha-1.0[]]", "*::test_container[[]alpha-1.0-2[]]"]
    )


def test_a_broken_runtime_fails_its_own_gate_and_skips_only_its_tests(pytester, tmp_path, as_root):
    good = fake(tmp_path / "bin", "alpha", "1.0")
    broken = fake(tmp_path / "bin", "beta", "2.3", run_error="cgroups in hybrid mode not supported")
    pytester.makepyfile(WHO)
    report = tmp_path / "report.json"
    result = pytester.runpytest_inprocess(
        "--runc", f"--runc-binary={good},{broken}", "-rfs", f"--runc-report={report}"
    )
    result.assert_outcomes(passed=3, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            f"FAILED runtime works: {broken}*",  # CI=true appends " - message"
            f"SKIPPED [[]1[]] *runtime: {broken} cannot run a trivial container;"
            f" see the failed item `runtime works: {broken}`",
        ]
    )
    assert [s["binary"] for s in who(tmp_path)] == [str(good)]
    # The gate's record belongs to its runtime: the good one's column stays clean.
    matrix = build([("report.json", load_report(report))])
    cells = {
        label: {row.key: row.cells[label] for row in matrix.rows}
        for label in (c.label for c in matrix.columns)
    }
    alpha, beta = sorted(cells)
    assert alpha.startswith("alpha-1.0@") and beta.startswith("beta-2.3@")
    assert "failed" not in cells[alpha].values()
    assert "failed" in cells[beta].values()


def test_the_report_records_each_checks_runtime_and_merges_one_column_each(
    pytester, tmp_path, as_root
):
    a = fake(tmp_path / "bin", "alpha", "1.0")
    b = fake(tmp_path / "bin", "beta", "2.3")
    pytester.makepyfile(WHO)
    report = tmp_path / "report.json"
    result = pytester.runpytest_inprocess(
        "--runc", f"--runc-binary={a},{b}", f"--runc-report={report}"
    )
    result.assert_outcomes(passed=4)
    data = load_report(report)  # also checks it against report.schema.json
    assert set(data["runtimes"]) == {"alpha-1.0", "beta-2.3"}
    assert data["runtimes"]["beta-2.3"]["path"] == str(b)
    by_runtime = {r["nodeid"].rsplit("::", 1)[1]: r.get("runtime") for r in data["records"]}
    assert by_runtime == {
        "test_container[alpha-1.0]": "alpha-1.0",
        "test_container[beta-2.3]": "beta-2.3",
        "test_plain": None,
        "test_bundle_only": None,
    }
    matrix = build([("report.json", data)])
    assert [c.label.split("@")[0] for c in matrix.columns] == ["alpha-1.0", "beta-2.3"]
    assert [c.runtime["path"] for c in matrix.columns] == [str(a), str(b)]
    # A check without a runtime parameter counts once in each column.
    for row in matrix.rows:
        if row.key.endswith("test_plain"):
            assert set(row.cells.values()) == {"passed"}


def test_one_runtime_report_has_no_runtimes_section(pytester, tmp_path, as_root):
    a = fake(tmp_path / "bin", "alpha", "1.0")
    pytester.makepyfile(WHO)
    report = tmp_path / "report.json"
    pytester.runpytest_inprocess("--runc", f"--runc-binary={a}", f"--runc-report={report}")
    data = load_report(report)
    assert "runtimes" not in data
    assert all("runtime" not in r for r in data["records"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runc-binary=a,,b"], "--runc-binary: * has an empty runtime name*comma*"),
        (
            ["--runc-binary=a,b", "--runc-root=/tmp/x"],
            "*--runc-root: one state root cannot serve 2 runtimes (a, b); leave it unset*",
        ),
    ],
)
def test_bad_runtime_lists_are_usage_errors(pytester, args, message):
    result = pytester.runpytest_inprocess("--runc", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize(
    ("nodeid", "label", "expected"),
    [
        ("t.py::test_a[runc-1.1.5]", "runc-1.1.5", "t.py::test_a"),
        ("t.py::test_a[runc-1.1.5-bind]", "runc-1.1.5", "t.py::test_a[bind]"),
        ("t.py::test_a[x-y-runc-1.5.1]", "runc-1.5.1", "t.py::test_a[x-y]"),
        ("t.py::test_a[bind]", None, "t.py::test_a[bind]"),
    ],
)
def test_departure_evidence_is_matched_without_the_runtime_id(nodeid, label, expected):
    params = {"runc_session": label} if label else {}
    item = SimpleNamespace(nodeid=nodeid, callspec=SimpleNamespace(params=params))
    assert base_nodeid(item) == expected  # type: ignore[arg-type]


@pytest.mark.runc
def test_runc_1_1_and_1_5_side_by_side(runtime, tmp_path):
    """A real run of two runc releases: per-runtime features, spec level and departures."""
    if not NEWER_RUNC.exists():
        pytest.skip(f"environment: {NEWER_RUNC} is absent (a second runtime to compare)")
    if not Path("/usr/sbin/runc").exists():
        pytest.skip("environment: /usr/sbin/runc is absent (apt-get install runc)")
    report = tmp_path / "report.json"
    env = {**os.environ, "PYTEST_RUNC_TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:hypothesispytest",
            "-p",
            "no:cacheprovider",
            "--runc",
            f"--runc-binary=/usr/sbin/runc,{NEWER_RUNC}",
            f"--runc-report={report}",
            "pytest_runc/conformance/test_state.py",
            "pytest_runc/conformance/test_features.py",
            "-q",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    data = load_report(report)
    assert set(data["runtimes"]) == {"runc-1.1.5", "runc-1.5.1"}
    records = {r["nodeid"]: r for r in data["records"]}
    states = "conformance/test_state.py::test_state_id_is_the_container_id"
    assert records[f"{states}[runc-1.1.5]"]["outcome"] == "passed"
    assert records[f"{states}[runc-1.5.1]"]["outcome"] == "passed"
    matrix = build([("report.json", data)])
    assert [c.label.split("@")[0] for c in matrix.columns] == ["runc-1.1.5", "runc-1.5.1"]
    cells = {row.key: row.cells for row in matrix.rows}
    old, new = (c.label for c in matrix.columns)
    # runc 1.1 claims spec 1.0.2-dev: a rule of spec 1.1 is unsupported there, checked on 1.5.
    rule = cells["features.specification-version.oci-version-max-required"]
    assert (rule[old], rule[new]) == ("unsupported", "passed")
    # Each runtime's departures file applies to its own checks only.
    assert data["runtimes"]["runc-1.1.5"]["departures"]["file"] == "runc-1.1.json"
    assert data["runtimes"]["runc-1.5.1"]["departures"]["file"] == "runc-1.5.json"
    print(done.stdout.strip().splitlines()[-1])
