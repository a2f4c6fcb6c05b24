"""Report files as root in shared directories, and bad input to ``report merge``.

``--runc-report`` and ``report merge -o`` run as root, often in a directory
that other users can write (``/tmp``, a CI workspace). The attacker tests let
a real unprivileged process (uid 65534, no groups) plant links in a sticky
world-writable directory under ``tmp_path`` and check that root writes only
its own fresh file, never through a link, and leaves the victim alone.

``report merge`` gets files from anywhere: whatever it is given (not JSON,
nested beyond reason, a directory, a FIFO, a device, no file at all) ends
in exit status 2 and one line naming the file and the problem; nothing hangs
and nothing prints a traceback.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_runc.reports.json_report import ReportWriteError, write_file_atomically
from pytest_runc.reports.matrix.model import MAX_DEPTH
from tests.helpers import as_attacker, needs_root_and_setpriv, sticky_dir
from tests.test_matrix import two_runtimes

REPO = Path(__file__).resolve().parent.parent
PRECIOUS = "root's own data\n"
ONE_TEST = "def test_one():\n    pass\n"


@pytest.fixture
def sticky(tmp_path: Path) -> Path:
    """A world-writable sticky directory (mode 1777) like /tmp, inside tmp_path."""
    needs_root_and_setpriv()
    return sticky_dir(tmp_path / "shared")


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file of root's that an attacker would like root to overwrite."""
    path = tmp_path / "victim"
    path.write_text(PRECIOUS)
    path.chmod(0o644)
    return path


def run_with_report(pytester: pytest.Pytester, path: Path) -> pytest.RunResult:
    """A one-test run (no containers, no --runc) writing its report to ``path``."""
    pytester.makepyfile(test_one=ONE_TEST)
    return pytester.runpytest_subprocess(
        "-p", "no:hypothesispytest", "-p", "no:cacheprovider", "--runc-report", str(path)
    )


# -- --runc-report -----------------------------------------------------------------


def test_report_does_not_write_through_a_planted_tmp_link(pytester, sticky, victim):
    """The old PATH.tmp was predictable: a link planted there made root overwrite its target."""
    as_attacker(sticky, "ln", "-s", str(victim), "report.json.tmp")
    report = sticky / "report.json"
    result = run_with_report(pytester, report)
    assert victim.read_text() == PRECIOUS, "root wrote the report through the planted link"
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    assert not report.is_symlink()
    assert json.loads(report.read_text())["version"] == 1
    found = report.stat()
    assert (found.st_uid, stat.S_IMODE(found.st_mode)) == (0, 0o644)
    assert sorted(p.name for p in sticky.iterdir()) == ["report.json", "report.json.tmp"], (
        "a temporary file was left behind"
    )


def test_a_planted_link_at_the_report_name_is_refused(pytester, sticky, victim):
    """Resolving PATH made root write wherever a link planted at PATH pointed."""
    as_attacker(sticky, "ln", "-s", str(victim), "report.json")
    result = run_with_report(pytester, sticky / "report.json")
    assert victim.read_text() == PRECIOUS, "root overwrote the file the planted link names"
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--runc-report*is a symbolic link*"])


def test_a_planted_report_file_loses_its_owner_and_mode(pytester, sticky):
    """An attacker's world-writable file at PATH is replaced by root's 0644 file,
    so nobody can rewrite the report after the run."""
    as_attacker(sticky, "sh", "-c", "echo fake > report.json && chmod 666 report.json")
    report = sticky / "report.json"
    result = run_with_report(pytester, report)
    assert result.ret == pytest.ExitCode.OK
    found = report.stat()
    assert (found.st_uid, stat.S_IMODE(found.st_mode)) == (0, 0o644)
    assert json.loads(report.read_text())["version"] == 1


def test_a_link_planted_during_the_run_fails_the_run_cleanly(pytester, tmp_path, victim):
    """A link that appears at PATH after the start (the check at configure saw
    nothing) is neither followed nor replaced: one clear line, a failed run,
    no INTERNALERROR traceback."""
    report = tmp_path / "report.json"
    pytester.makeconftest(
        f"""
        import os

        def pytest_collection_finish(session):
            os.symlink({str(victim)!r}, {str(report)!r})
        """
    )
    result = run_with_report(pytester, report)
    assert victim.read_text() == PRECIOUS
    assert report.is_symlink()
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(["*pytest-runc JSON report NOT written*symbolic link*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_our_own_report_keeps_its_mode(pytester, tmp_path):
    """Rewriting a report of ours keeps the permissions its owner gave it."""
    report = tmp_path / "report.json"
    report.write_text("{}")
    report.chmod(0o600)
    result = run_with_report(pytester, report)
    assert result.ret == pytest.ExitCode.OK
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert json.loads(report.read_text())["version"] == 1


def test_write_file_atomically_refuses_what_is_not_a_regular_file(tmp_path):
    target = tmp_path / "target"
    target.write_text(PRECIOUS)
    link = tmp_path / "link"
    link.symlink_to(target)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, problem in ((link, "symbolic link"), (fifo, "not a regular file")):
        with pytest.raises(ReportWriteError, match=problem):
            write_file_atomically(path, "new\n")
    with pytest.raises(ReportWriteError, match="not a regular file"):
        write_file_atomically(tmp_path, "new\n")
    assert target.read_text() == PRECIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "link", "target"]


def test_write_file_atomically_makes_a_new_file_0644(tmp_path):
    path = tmp_path / "new.json"
    write_file_atomically(path, "text\n")
    assert path.read_text() == "text\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["new.json"]


# -- report merge -o -----------------------------------------------------------------


def _reports(directory: Path) -> list[str]:
    paths = []
    for name, document in two_runtimes():
        path = directory / name
        path.write_text(json.dumps(document))
        paths.append(str(path))
    return paths


def merge(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest_runc report merge ARGS`` with a deadline: a hang is a failure."""
    return subprocess.run(
        [sys.executable, "-m", "pytest_runc", "report", "merge", *args],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip


def test_merge_output_does_not_follow_a_planted_link(sticky, victim, tmp_path):
    as_attacker(sticky, "ln", "-s", str(victim), "matrix.md")
    done = merge(*_reports(tmp_path), "-o", str(sticky / "matrix.md"))
    assert victim.read_text() == PRECIOUS, "root wrote the matrix through the planted link"
    assert done.returncode == 2
    assert "symbolic link" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr


def test_merge_output_is_a_fresh_file_of_ours(sticky, tmp_path):
    as_attacker(sticky, "sh", "-c", "echo fake > matrix.md && chmod 666 matrix.md")
    out = sticky / "matrix.md"
    done = merge(*_reports(tmp_path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("# OCI runtime conformance matrix")
    found = out.stat()
    assert (found.st_uid, stat.S_IMODE(found.st_mode)) == (0, 0o644)


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_merge_output_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    """Never replaced, even as root (think ``-o /dev/stdout``), and never opened."""
    out = tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(out)
    else:
        out.mkdir()
    inputs = tmp_path / "in"
    inputs.mkdir()
    done = merge(*_reports(inputs), "-o", str(out))
    assert done.returncode == 2
    assert "not a regular file" in done.stderr and len(done.stderr.splitlines()) == 1
    assert out.is_fifo() if kind == "fifo" else out.is_dir()


# -- report merge: bad input -----------------------------------------------------------


def _deep_report(depth: int) -> str:
    """A report that matches the schema, with ``depth`` nested arrays in a host field."""
    _, document = two_runtimes()[0]
    document["host"]["myorg_nested"] = json.loads("[" * depth + "]" * depth)
    return json.dumps(document)


BAD_INPUT = {
    "not JSON": ("{not json", "not JSON"),
    "not UTF-8": (b"\xff\xfe{", "not UTF-8"),
    "wrong schema": ('{"version": 1, "records": [{"nodeid": 1}]}', "does not match"),
    "bool version": ('{"version": true, "records": []}', "report version True"),
    "deep beyond json": ("[" * 100_000 + "]" * 100_000, "nested deeper"),
    "deep but parsable": (None, f"nested more than {MAX_DEPTH} deep"),
    "missing": (None, "no such file"),
    "directory": (None, "is a directory"),
    "fifo": (None, "is a FIFO"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_exit_2_and_one_line(tmp_path, case):
    content, problem = BAD_INPUT[case]
    path = tmp_path / "r.json"
    if case == "deep but parsable":
        path.write_text(_deep_report(MAX_DEPTH + 50))
    elif case == "directory":
        path.mkdir()
    elif case == "fifo":
        os.mkfifo(path)  # no writer ever comes: opening it blocking would hang
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    done = merge(str(path))
    assert done.returncode == 2, done.stdout[-500:] + done.stderr[-2000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith(f"python -m pytest_runc report merge: error: {path}: "), lines[0]
    assert problem in lines[0], lines[0]


def test_a_character_device_is_refused_without_reading_it():
    done = merge("/dev/null")
    assert done.returncode == 2
    assert "is a character device" in done.stderr and len(done.stderr.splitlines()) == 1


def test_a_report_of_ordinary_depth_still_merges(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(_deep_report(MAX_DEPTH - 10))
    done = merge(str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
