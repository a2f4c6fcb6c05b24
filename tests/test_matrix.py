"""``python -m pytest_runc report merge``: the matrix, its renderings, bad input,
hosts, gates, and a faulty runtime in the matrix (the HTML in a browser:
test_matrix_browser.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_runc.oci.schemas import schema_errors
from pytest_runc.reports.matrix import build
from pytest_runc.reports.matrix.cli import main
from pytest_runc.reports.matrix.model import cell_of, label_of
from pytest_runc.reports.matrix.render import html_page, markdown
from pytest_runc.suite import real_nodeid
from tests.matrix_reports import FAILED, A, B, C, report, two_hosts

REPO = Path(__file__).resolve().parent.parent


def two_runtimes() -> list[tuple[str, dict]]:
    runc = report(
        "runc",
        "1.1.5+ds1",
        [
            ("c/t.py::a", [A], "passed", {}),
            ("c/t.py::b", [B], "xfailed", {"skip_class": "departure", "reason": "departure: x"}),
            ("c/t.py::c", [C], "skipped", {"skip_class": "host", "reason": "host: no"}),
        ],
    )
    crun = report(
        "crun",
        "1.8.1",
        [
            ("c/t.py::a", [A], "passed", {}),
            ("c/t.py::b", [B], "failed", FAILED),
            ("c/t.py::c", [C], "skipped", {"skip_class": "runtime", "reason": "runtime: no"}),
            ("c/t.py::d", [], "passed", {}),
        ],
    )
    return [("runc.json", runc), ("crun.json", crun)]


def test_cells_labels_summary_and_differences():
    matrix = build(two_runtimes())
    assert [c.label for c in matrix.columns] == ["runc-1.1.5@box", "crun-1.8.1@box"]
    cells = {row.key: row.cells for row in matrix.rows}
    assert cells[A] == {"runc-1.1.5@box": "passed", "crun-1.8.1@box": "passed"}
    assert cells[B] == {"runc-1.1.5@box": "departure", "crun-1.8.1@box": "failed"}
    assert cells[C] == {"runc-1.1.5@box": "host-lacks", "crun-1.8.1@box": "unsupported"}
    assert cells["(no rule id) c/t.py::d"] == {
        "runc-1.1.5@box": "not-run",
        "crun-1.8.1@box": "passed",
    }
    # d ran in one column only: a not-run cell differs from nothing.
    assert [row.key for row in matrix.differences()] == [B, C]
    summary = matrix.summary()
    assert summary["crun-1.8.1@box"]["failed"] == 1 and summary["runc-1.1.5@box"]["departure"] == 1
    # Rows come in catalogue order (create before start), runtime.md before config-linux.md.
    assert [row.key for row in matrix.rows][:3] == [B, A, C]


def test_a_failing_check_wins_over_a_passing_one_of_the_same_rule():
    document = report("x", "1", [("t::a", [A], "passed", {}), ("t::b", [A], "failed", FAILED)])
    assert build([("x", document)]).rows[0].cells == {"x-1@box": "failed"}


@pytest.mark.parametrize(
    ("record", "state"),
    [
        ({"outcome": "xfailed", "skip_class": "other"}, "failed"),
        ({"outcome": "xpassed"}, "passed"),
        ({"outcome": "skipped", "skip_class": "environment"}, "not-run"),
        ({"outcome": "skipped", "skip_class": "departure"}, "departure"),
    ],
)
def test_cell_of_outcomes(record, state):
    assert cell_of(record) == state


def test_labels_name_rootless_runs_and_duplicates_get_numbers():
    document = report("runc", "1.5.1", [("t::a", [A], "passed", {})])
    rootless = json.loads(json.dumps(document))
    rootless["host"]["privilege"] = "rootless"
    assert label_of(rootless) == "runc-1.5.1@box rootless"
    matrix = build([("a", document), ("b", document)])
    assert [c.label for c in matrix.columns] == ["runc-1.5.1@box", "runc-1.5.1@box #2"]


def test_markdown_puts_summary_then_differences_then_groups():
    text = markdown(build(two_runtimes()))
    assert (
        text.index("## Summary")
        < text.index("## Differences (2 rules)")
        < text.index("## All rules")
    )
    # the spec profile: failed, beyond-level-failed, departure, passed, unsupported, ...
    assert "| runc-1.1.5@box | 0 | 0 | 1 | 1 | 0 | 1 | 0 |" in text
    assert "### runtime.md § " in text and "### config-linux.md § " in text
    assert re.search(
        rf"\[`{re.escape(B)}`\]\(https://\S+\) \S+ \| ⚠️ departure \| ❌ failed \|", text
    )


def test_html_is_one_file_without_external_assets():
    page = html_page(build(two_runtimes()))
    assert page.startswith("<!DOCTYPE html>")
    for needle in ("<script", "<link", "<img", "src=", "@import", "url("):
        assert needle not in page, needle


def test_cli_writes_each_format(tmp_path, capsys):
    paths = []
    for name, document in two_runtimes():
        path = tmp_path / name
        path.write_text(json.dumps(document))
        paths.append(str(path))
    assert main(["merge", *paths, "--format", "json", "-o", str(tmp_path / "m.json")]) == 0
    merged = json.loads((tmp_path / "m.json").read_text())
    assert merged["differences"] == [B, C]
    assert main(["merge", *paths]) == 0
    assert capsys.readouterr().out.startswith("# OCI runtime conformance matrix")
    assert main(["merge", *paths, "--format", "html", "-o", str(tmp_path / "m.html")]) == 0
    assert '<table id="matrix">' in (tmp_path / "m.html").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file (write one with pytest --runc-report)"),
        ("{not json", "not JSON"),
        ('{"a": 1}', "not a pytest-runc report"),
        ('{"version": 99, "records": []}', "report version 99; this pytest-runc reads 1"),
        ('{"version": 1, "records": []}', "does not match report.schema.json"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, capsys, content, message):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    assert main(["merge", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"python -m pytest_runc report merge: error: {path}: ")
    assert message in err and "Traceback" not in err


def test_the_module_entry_point_dispatches_report(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pytest_runc", "report", "merge", str(tmp_path / "none.json")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 2 and "no such file" in done.stderr


# -- a faulty runtime in the matrix ----------------------------------------------


def _start_suite(
    binary: str, files: list[str], report_path: Path, base: Path
) -> subprocess.Popen[str]:
    """One conformance run writing a --runc-report (started, not waited for)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:hypothesispytest",
            "-p",
            "no:cacheprovider",
            "--runc",
            "--runc-binary",
            binary,
            "--runc-report",
            str(report_path),
            "-q",
            *files,
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTEST_RUNC_TMPDIR": str(base)},
    )


@pytest.mark.runc
def test_a_faulty_runtime_fails_exactly_the_rules_it_breaks(runtime, tmp_path):
    """Real runc and one of our faulty runtimes side by side: the faulty column
    is red on the rules of the checks the fault catches, and nowhere else."""
    from pytest_runc.faulty import FAULTS, write_wrapper

    fault = FAULTS["wrong-hostname"]
    caught = set(fault.catches)
    files = sorted({real_nodeid(nodeid.split("::")[0]) for nodeid in caught})
    wrapper = write_wrapper(fault.name, runtime.binary, tmp_path / "faulty")
    # Side by side, as two CI jobs would: the faulty wrapper is the slow one.
    runs = [
        _start_suite(runtime.binary, files, tmp_path / "real.json", tmp_path / "base1"),
        _start_suite(str(wrapper), files, tmp_path / "faulty.json", tmp_path / "base2"),
    ]
    for run in runs:
        run.wait(timeout=600)
    real = json.loads((tmp_path / "real.json").read_text())
    faulty = json.loads((tmp_path / "faulty.json").read_text())
    matrix = build([("real", real), ("faulty", faulty)])
    real_label, faulty_label = (c.label for c in matrix.columns)
    expected = {rule for r in faulty["records"] if r["nodeid"] in caught for rule in r["rules"]}
    assert expected, f"the fault's checks carry no rule ids: {caught}"
    failed = {row.key for row in matrix.rows if row.cells[faulty_label] == "failed"}
    assert failed == expected
    assert all(row.cells[real_label] == "passed" for row in matrix.rows if row.key in expected)
    assert {row.key for row in matrix.differences()} == expected


@pytest.mark.runc
def test_compare_runtimes_script_writes_reports_and_the_matrix(runtime, tmp_path):
    """scripts/compare-runtimes: one report per runtime, then Markdown, HTML and JSON."""
    out = tmp_path / "out"
    done = subprocess.run(
        [
            "bash",
            str(REPO / "scripts" / "compare-runtimes"),
            "-o",
            str(out),
            runtime.binary,
            "--",
            "pytest_runc/conformance/test_state.py",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHON": sys.executable, "PYTEST_RUNC_TMPDIR": str(tmp_path / "base")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    name = Path(runtime.binary).name
    assert sorted(p.name for p in out.iterdir()) == [
        f"1-{name}.json",
        "matrix.html",
        "matrix.json",
        "matrix.md",
    ]
    assert done.stdout == (out / "matrix.md").read_text()
    report = json.loads((out / f"1-{name}.json").read_text())
    assert schema_errors("report", report) == []
    assert report["runtime"]["path"] == runtime.binary
    assert report["runtime"]["version"] and report["runtime"]["name"]
    features = report["runtime"]["features"]
    assert features is None or "ociVersionMax" in features
    assert report["host"]["privilege"] in ("root", "sudo", "rootless")
    assert report["host"]["cgroup_mode"] in ("v1", "hybrid", "v2")
    merged = json.loads((out / "matrix.json").read_text())
    (column,) = merged["summary"].values()
    assert column["passed"] > 0 and column["failed"] == 0


def test_compare_runtimes_needs_a_runtime():
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "compare-runtimes")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "name at least one runtime" in done.stderr


def _a_cli_rule() -> str:
    from pytest_runc.rules import catalogue

    return next(rule.id for rule in catalogue() if not rule.is_spec)


def test_beyond_level_failed_is_a_state_of_its_own_never_unsupported():
    beyond = {
        "message": "AssertionError: newer",
        "details": "E AssertionError: newer",
        "beyond_level": "the runtime claims runtime-spec up to 1.0.2-dev; x (spec 1.3.0) came later",
    }
    document = report(
        "runc",
        "1.1.5",
        [
            ("t::a", [A], "beyond-level-failed", beyond),
            ("t::b", [B], "skipped", {"skip_class": "runtime", "reason": "runtime: no"}),
            ("t::c", [C], "beyond-level-failed", beyond),
            ("t::d", [C], "failed", FAILED),
        ],
    )
    matrix = build([("r.json", document)])
    cells = {row.key: row.cells["runc-1.1.5@box"] for row in matrix.rows}
    assert cells == {A: "beyond-level-failed", B: "unsupported", C: "failed"}
    assert cell_of({"outcome": "beyond-level-failed"}) == "beyond-level-failed"
    summary = matrix.summary("spec")["runc-1.1.5@box"]
    assert summary["beyond-level-failed"] == 1 and summary["unsupported"] == 1
    text = markdown(matrix)
    assert "🔶 beyond-level-failed" in text and "beyond-level-failed: a check" in text
    page = html_page(matrix)
    assert '<td class="beyond-level-failed"' in page and "td.beyond-level-failed{" in page
    assert matrix.to_json()["states"][1] == "beyond-level-failed"


def test_merge_shows_the_spec_profile_first_then_runc_cli():
    cli_rule = _a_cli_rule()
    document = report(
        "runc",
        "1.1.5",
        [
            ("t::cli", [cli_rule], "failed", FAILED),
            ("t::spec", [A], "passed", {}),
            ("t::none", [], "passed", {}),
        ],
    )
    matrix = build([("r.json", document)])
    assert matrix.profiles() == ["spec", "runc-cli", "no-rule"]
    assert [row.profile for row in matrix.rows] == ["spec", "runc-cli", "no-rule"]
    text = markdown(matrix)
    spec = text.index("## Summary: OCI runtime spec: the OCI verdict")
    cli = text.index("## Summary: runc CLI conventions")
    assert spec < cli < text.index("## Differences")
    # each profile counts its own rows: the CLI failure is not in the OCI verdict
    assert "| runc-1.1.5@box | 0 | 0 | 0 | 1 | 0 | 0 | 0 |" in text[spec:cli]
    assert "| runc-1.1.5@box | 1 | 0 | 0 | 0 | 0 | 0 | 0 |" in text[cli:]
    page = html_page(matrix)
    assert page.index('id="summary-spec"') < page.index('id="summary-runc-cli"')
    data = matrix.to_json()
    assert list(data["profiles"]) == ["spec", "runc-cli", "no-rule"]
    assert data["profiles"]["spec"]["runc-1.1.5@box"]["passed"] == 1


# -- hosts ---------------------------------------------------------------------


def test_columns_are_runtime_at_host_label():
    matrix = build(two_hosts())
    assert [c.label for c in matrix.columns] == [
        "runc-1.1.5@hybrid",
        "crun-1.8.1@hybrid",
        "runc-1.1.5@v2",
        "crun-1.8.1@v2",
    ]
    assert matrix.hosts() == ["hybrid", "v2"]


def test_a_report_without_a_host_label_is_named_by_its_cgroup_mode():
    """Reports written before host labels: the cgroup mode is the default label."""
    old = report("runc", "1.1.5", [("t::a", [A], "passed", {})], None, cgroup_mode="hybrid")
    assert label_of(old) == "runc-1.1.5@hybrid"
    old["host"]["cgroup_mode"] = "unknown"
    assert label_of(old) == "runc-1.1.5@machine-1"


def test_a_rule_that_differs_between_hosts_for_one_runtime_is_a_host_difference():
    matrix = build(two_hosts())
    found = {(d.runtime_id, d.row.key): d.cells() for d in matrix.host_differences()}
    assert found == {
        ("runc-1.1.5", B): {"runc-1.1.5@hybrid": "passed", "runc-1.1.5@v2": "failed"},
        ("runc-1.1.5", C): {"runc-1.1.5@hybrid": "passed", "runc-1.1.5@v2": "host-lacks"},
    }
    # B also differs between runtimes on one host (passed vs departure): a difference.
    # C differs only between runc's hosts (crun did not run it on v2): not one.
    assert [row.key for row in matrix.differences()] == [B]
    assert matrix.host_difference_counts()["runc-1.1.5@v2"] == 2
    assert matrix.host_difference_counts()["crun-1.8.1@v2"] == 0


def test_runtimes_each_alone_on_a_host_still_differ():
    """Nothing tells runtime from host when no two runtimes shared one: listed."""
    runc = report("runc", "1.1.5", [("t::a", [A], "passed", {})], "hybrid")
    crun = report("crun", "1.8.1", [("t::a", [A], "failed", FAILED)], "v2")
    matrix = build([("r", runc), ("c", crun)])
    assert [row.key for row in matrix.differences()] == [A]
    assert matrix.host_differences() == []


def test_host_differences_in_markdown_html_and_json():
    matrix = build(two_hosts())
    text = markdown(matrix)
    hosts = text.index("## Host differences (2)")
    assert text.index("## Summary") < hosts < text.index("## Differences (1 rules)")
    section = text[hosts : text.index("## Differences")]
    assert "| runc-1.1.5 | [`" + B in section
    assert "| `t::b` | hybrid: passed, v2: failed | v2: AssertionError: no |" in section
    assert "hybrid: passed, v2: host-lacks | v2: host: no hugetlb controller |" in section
    # The summary counts them per column; the cells carry the mark.
    assert "| host-differences |" in text
    assert "| runc-1.1.5@v2 | 1 | 0 | 0 | 1 | 0 | 1 | 0 | 2 |" in text
    assert "❌ failed †" in text and "⚠️ departure †" not in text
    page = html_page(matrix)
    assert '<table id="host-differences">' in page
    assert page.index('id="host-differences"') < page.index('id="differences"')
    assert 'class="failed host-difference"' in page
    data = matrix.to_json()
    assert data["differences"] == [B]
    assert data["host_differences"][0] == {
        "runtime": "runc-1.1.5",
        "rule": B,
        "cells": {"runc-1.1.5@hybrid": "passed", "runc-1.1.5@v2": "failed"},
        "checks": ["t::b"],
    }
    assert data["columns"][2]["host_label"] == "v2"
    assert data["host_difference_counts"]["runc-1.1.5@v2"] == 2


def test_one_host_has_no_host_sections():
    text = markdown(build(two_runtimes()))
    assert "Host differences" not in text and "host-differences" not in text
    assert "Host differences" not in html_page(build(two_runtimes()))


# -- what a person reads in the HTML -----------------------------------------------


def test_html_cells_carry_the_failure_message_and_the_departure_reason():
    page = html_page(build(two_hosts()))
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    failed = re.search(r'<td class="failed host-difference"[^>]*>(.*?)</td>', page)
    assert failed and "<details><summary>failed</summary>" in failed.group(1)
    assert "<code>t::b</code> failed: AssertionError: no" in failed.group(1)
    departure = re.search(r'<td class="departure"><details>(.*?)</td>', page)
    assert departure and "departure: runc keeps the old way" in departure.group(1)
    assert "host: no hugetlb controller" in page
    # A passed cell stays short.
    assert '<td class="passed">passed</td>' in page


def test_html_zero_counts_are_neutral():
    page = html_page(build(two_hosts()))
    summary = page[page.index('id="summary-spec"') : page.index("</table>")]
    # runc@v2 failed once: coloured; crun@v2 failed never: neutral, not red.
    assert '<td class="failed">1</td>' in summary
    assert '<td class="zero">0</td>' in summary
    assert '<td class="failed">0</td>' not in summary
    assert "td.zero{" in page


def test_differences_leave_out_rows_that_differ_only_by_not_run():
    partial = report("crun", "1.8.1", [("t::a", [A], "passed", {})])
    full = report("runc", "1.1.5", [("t::a", [A], "passed", {}), ("t::b", [B], "failed", FAILED)])
    matrix = build([("full", full), ("partial", partial)])
    assert {row.key: row.cells["crun-1.8.1@box"] for row in matrix.rows}[B] == "not-run"
    assert matrix.differences() == []
    assert "Every rule stands the same in every column that ran it." in markdown(matrix)


# -- --label and --fail-on -----------------------------------------------------


def _write(tmp_path: Path, reports: list[tuple[str, dict]]) -> list[str]:
    paths = []
    for name, document in reports:
        path = tmp_path / name
        path.write_text(json.dumps(document))
        paths.append(str(path))
    return paths


def test_label_names_a_column_and_adds_its_report(tmp_path, capsys):
    runc, crun = _write(tmp_path, two_runtimes())
    code = main(
        [
            "merge",
            runc,
            "--label",
            f"runc main={runc}",
            "--label",
            f"crun ci={crun}",
            "--format",
            "json",
        ]
    )
    assert code == 0
    merged = json.loads(capsys.readouterr().out)
    assert [c["label"] for c in merged["columns"]] == ["runc main", "crun ci"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label", "nameonly"], "expected NAME=REPORT"),
        (["--label", "=r.json"], "expected NAME=REPORT"),
        (["--fail-on", "passed"], "unknown 'passed'; choose from failed,"),
        (["--fail-on", "failed,oops"], "unknown 'oops'"),
        (["--fail-on", ","], "empty; name one or more of failed"),
    ],
)
def test_bad_label_and_fail_on_are_usage_errors(tmp_path, capsys, args, message):
    (path,) = _write(tmp_path, two_runtimes()[:1])
    with pytest.raises(SystemExit) as exited:
        main(["merge", path, *args])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_label_given_twice_is_an_error(tmp_path, capsys):
    runc, crun = _write(tmp_path, two_runtimes())
    assert main(["merge", "--label", f"x={runc}", "--label", f"x={crun}"]) == 2
    assert "the name 'x' is given twice" in capsys.readouterr().err


def test_fail_on_gates_on_the_merged_matrix(tmp_path, capsys):
    paths = _write(tmp_path, two_hosts())
    # Default: the matrix, exit 0, whatever is in it.
    assert main(["merge", *paths, "-o", str(tmp_path / "m.md")]) == 0
    assert main(["merge", *paths, "--fail-on", "beyond-level,unsupported"]) == 0
    capsys.readouterr()
    assert main(["merge", *paths, "--fail-on", "failed", "-o", str(tmp_path / "g.md")]) == 1
    err = capsys.readouterr().err
    assert f"--fail-on failed: 1 cell(s): runc-1.1.5@v2: {B} failed" in err
    assert (tmp_path / "g.md").read_text().startswith("# OCI runtime conformance matrix")
    assert main(["merge", *paths, "--fail-on", "departure"]) == 1
    assert "2 cell(s)" in capsys.readouterr().err
    assert main(["merge", *paths, "--fail-on", "host-difference"]) == 1
    assert "runc-1.1.5@hybrid: " + B + " host-difference" in capsys.readouterr().err


def test_fail_on_exit_status_through_the_module_entry_point(tmp_path):
    paths = _write(tmp_path, two_hosts())
    done = subprocess.run(
        [sys.executable, "-m", "pytest_runc", "report", "merge", *paths, "--fail-on", "failed"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("# OCI runtime conformance matrix")
