"""--runc-report: the JSON document, its schema, skip classes, xdist, the record hook,
and declared departures (strict xfail)."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.oci.features import Features, spec_release
from pytest_runc.oci.identity import identify
from pytest_runc.oci.schemas import schema_errors
from pytest_runc.plugin import departures
from pytest_runc.plugin.departures import Departure, DepartureFile, departures_for
from pytest_runc.reports.json_report import skip_class
from pytest_runc.rules import catalogue
from pytest_runc.rules.claims import require_rules, unclaimed_rules
from pytest_runc.suite import SUITE_DIR

CHECKS = """
import pytest
from pytest_runc.oci import skips

@pytest.mark.oci_rule("runtime.start.runs-process")
def test_passes():
    pass

@pytest.mark.oci_rule("runtime.start.runs-process")
def test_fails():
    assert 1 == 2, "hostname is wrong\\nsecond line"

def test_host_skip():
    skips.skip_host("no hugetlb controller")

def test_runtime_skip():
    skips.skip_runtime("the runtime does not claim it: namespaces do not include 'time'")

def test_environment_skip():
    skips.skip_environment("needs root")

def test_foreign_skip():
    pytest.skip("somebody else's reason")

@pytest.mark.xfail(reason="known", strict=False)
def test_xfails():
    assert False

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

def test_setup_error(broken):
    pass
"""


def _rule_id() -> str:
    """A spec rule the inner test files carry (any catalogued id would do)."""
    assert "runtime.start.runs-process" in catalogue()
    return "runtime.start.runs-process"


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    pytester.makepyfile(test_checks=CHECKS)
    path = pytester.path / "out" / "report.json"
    result = pytester.runpytest_subprocess(
        "-p",
        "no:hypothesispytest",
        "-p",
        "no:cacheprovider",
        "-rs",
        "--runc-report",
        str(path),
        *args,
    )
    return result, json.loads(path.read_text())


def _by_name(document: dict) -> dict[str, dict]:
    return {r["nodeid"].split("::")[-1]: r for r in document["records"]}


def test_report_records_every_check_and_matches_the_schema(pytester):
    assert _rule_id()
    result, document = _run(pytester)
    assert schema_errors("report", document) == []
    assert document["version"] == 1
    records = _by_name(document)
    assert set(records) == {
        "test_passes",
        "test_fails",
        "test_host_skip",
        "test_runtime_skip",
        "test_environment_skip",
        "test_foreign_skip",
        "test_xfails",
        "test_setup_error",
    }
    assert records["test_passes"]["outcome"] == "passed"
    assert records["test_passes"]["rules"] == ["runtime.start.runs-process"]
    failed = records["test_fails"]
    assert failed["outcome"] == "failed" and failed["phase"] == "call"
    assert failed["message"] == "AssertionError: hostname is wrong"
    assert "second line" in failed["details"] and "assert 1 == 2" in failed["details"]
    classes = {name: r.get("skip_class") for name, r in records.items()}
    assert classes["test_host_skip"] == "host"
    assert classes["test_runtime_skip"] == "runtime"
    assert classes["test_environment_skip"] == "environment"
    assert classes["test_foreign_skip"] == "other"
    assert records["test_host_skip"]["reason"] == "host: no hugetlb controller"
    assert records["test_xfails"]["outcome"] == "xfailed"
    assert records["test_setup_error"]["outcome"] == "failed"
    assert records["test_setup_error"]["phase"] == "setup"
    assert "setup broke" in records["test_setup_error"]["message"]
    assert all(r["duration"] >= 0 for r in records.values())
    assert document["summary"]["skipped:host"] == 1
    assert document["summary"]["failed"] == 2
    assert document["exitstatus"] == 1
    # Without --runc the runtime is not probed; the host still is.
    assert document["runtime"]["path"] is None
    assert document["host"]["kernel"] and document["host"]["architecture"]
    result.stdout.fnmatch_lines(
        [
            "*pytest-runc skips by class: 1 environment, 1 host, 1 runtime, 1 other*",
            "*SKIPPED*host: no hugetlb controller*",
        ]
    )


def test_under_xdist_the_controller_writes_one_complete_file(pytester):
    pytest.importorskip("xdist")
    _, document = _run(pytester, "-n", "2")
    records = _by_name(document)
    assert len(records) == 8
    assert {r["worker"] for r in records.values()} <= {"gw0", "gw1"}
    assert records["test_passes"]["rules"] == ["runtime.start.runs-process"]
    assert records["test_runtime_skip"]["skip_class"] == "runtime"
    assert schema_errors("report", document) == []
    leftovers = list((pytester.path / "out").iterdir())
    assert [p.name for p in leftovers] == ["report.json"]


def test_the_record_hook_adds_fields(pytester):
    pytester.makeconftest(
        """
        def pytest_runc_report_record(record, report, config):
            record["team_when"] = report.when
        """
    )
    _, document = _run(pytester)
    assert {r["team_when"] for r in document["records"]} == {"setup", "call"}
    assert schema_errors("report", document) == []


def test_a_directory_as_report_path_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--runc-report", str(pytester.path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--runc-report*is a directory; give a file name*"])


def test_skip_class_of_reasons():
    assert skip_class("runtime: not claimed") == "runtime"
    assert skip_class("departure: config.x.y: reason") == "departure"
    assert skip_class("could not import 'yaml'") == "other"


# -- declared departures -----------------------------------------------------


def test_identify_reads_name_release_and_spec():
    text = "runc version 1.1.5+ds1\ncommit: x\nspec: 1.0.2-dev\ngo: go1.19.8\n"
    assert identify(text) == {"name": "runc", "release": "1.1.5+ds1", "spec": "1.0.2-dev"}
    assert identify("crun version 1.8.1\nspec: 1.0.0\n")["name"] == "crun"
    assert identify("weird output", "/opt/x/myrt")["name"] == "myrt"


def test_version_prefixes_match_whole_components():
    declared = DepartureFile(Path("x.json"), "runc", ("1.1",), ())
    assert declared.matches("runc", "1.1.5+ds1") and declared.matches("runc", "1.1")
    assert not declared.matches("runc", "1.10.0") and not declared.matches("crun", "1.1.5")


def test_shipped_departures_name_spec_rules_with_reason_link_and_evidence():
    known = catalogue()
    for declared in departures.shipped():
        assert declared.versions, declared.path
        for entry in declared.departures:
            assert entry.rule in known, f"{declared.path.name}: unknown rule {entry.rule}"
            if not known[entry.rule].is_spec:  # a convention an older runc predates
                assert declared.runtime == "runc", (
                    f"{entry.rule}: runc's convention, not {declared.runtime}'s"
                )
            assert entry.reason and entry.link.startswith("https://")
            assert entry.evidence, f"{entry.rule}: no evidence"


def test_a_departure_from_a_statement_that_is_not_testable_is_refused(tmp_path):
    """A runtime departs only from what a check may cite (crun 1.8 once declared
    config.process.cwd-absolute, which binds the config's author)."""
    from pytest_runc.plugin.departures import DeparturesError, _load

    path = tmp_path / "crun-1.8.json"
    entry = {"rule": "config.process.cwd-absolute", "reason": "r", "link": "https://x",
             "evidence": ["conformance/test_errors.py::test_relative_cwd"]}  # fmt: skip
    path.write_text(
        json.dumps({"version": 1, "runtime": "crun", "versions": ["1.8"], "departures": [entry]})
    )
    with pytest.raises(DeparturesError, match=r"cwd-absolute.*not testable"):
        _load(path)
    shipped = {d.rule for f in departures.shipped() for d in f.departures}
    assert "config.process.cwd-absolute" not in shipped


def test_shipped_departure_evidence_is_a_check_carrying_the_rule():
    """Each departure names the checks that show it; they exist and carry its id."""
    from pytest_runc.rules.coverage import collect_coverage

    shipped = [d for f in departures.shipped() for d in f.departures]
    if not shipped:
        pytest.skip("environment: no departures file is shipped")
    coverage = collect_coverage(SUITE_DIR)
    for entry in shipped:
        checks = coverage.get(entry.rule, [])
        for nodeid in entry.evidence:
            assert nodeid in checks, f"{entry.rule}: {nodeid} is gone or no longer carries it"


def test_runc_1_1_matches_its_departures_file():
    declared = departures_for("runc version 1.1.5+ds1\nspec: 1.0.2-dev\n")
    names = [f.path.name for f in departures.shipped()]
    if "runc-1.1.json" not in names:
        pytest.skip("environment: runc-1.1.json is not shipped")
    assert declared is not None and declared.path.name == "runc-1.1.json"
    assert departures_for("runc version 1.5.1\n") is None or (
        departures_for("runc version 1.5.1\n").path.name != "runc-1.1.json"  # type: ignore[union-attr]
    )


FAKE_RUNTIME = """#!/bin/sh
if [ "$1" = --version ]; then echo "fakert version 9.9.1"; echo "spec: 1.0.2"; exit 0; fi
exit 1
"""

DEPARTING = """
import pytest

@pytest.mark.oci_rule("{rule}")
def test_still_departs():
    assert False, "differs as declared"

@pytest.mark.oci_rule("{rule}")
def test_fixed_now():
    pass

def test_unrelated():
    pass
"""


def test_declared_departures_run_as_strict_xfail(pytester, monkeypatch):
    """A departing check is xfailed with a departure: reason; one that passes turns red."""
    rule = _rule_id()
    fake = pytester.path / "fakert"
    fake.write_text(FAKE_RUNTIME)
    fake.chmod(0o755)
    module = pytester.makepyfile(DEPARTING.format(rule=rule))
    declared = DepartureFile(
        pytester.path / "fakert-9.9.json",
        "fakert",
        ("9.9",),
        (
            Departure(
                rule,
                "it knowingly differs",
                "https://example.org/d",
                tuple(
                    f"{module.name}::{name}" for name in ("test_still_departs", "test_fixed_now")
                ),
            ),
        ),
    )
    monkeypatch.setattr(departures, "shipped", lambda: (declared,))
    path = pytester.path / "report.json"
    result = pytester.runpytest(
        "--runc", f"--runc-binary={fake}", "--runc-report", str(path), "-rxX"
    )
    result.assert_outcomes(passed=1, failed=1, xfailed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*departure: " + rule + ": it knowingly differs*"])
    records = _by_name(json.loads(path.read_text()))
    assert records["test_still_departs"]["outcome"] == "xfailed"
    assert records["test_still_departs"]["skip_class"] == "departure"
    assert records["test_fixed_now"]["outcome"] == "failed"
    document = json.loads(path.read_text())
    assert document["departures"]["file"] == "fakert-9.9.json"
    assert document["runtime"]["name"] == "fakert" and document["runtime"]["release"] == "9.9.1"


# -- runtime: skips for rules newer than the runtime claims --------------------


def test_spec_release_drops_the_dev_suffix():
    assert spec_release("1.0.2-dev") == (1, 0, 2)
    assert spec_release("v1.3.0") == (1, 3, 0)
    assert spec_release("weird") is None


def test_rules_newer_than_oci_version_max_skip_as_runtime():
    newer = next(r for r in catalogue() if spec_release(r.since) == (1, 3, 0) and r.citable)
    older = next(r for r in catalogue() if spec_release(r.since) == (1, 0, 0))
    old_runtime = Features(available=True, oci_version_max="1.0.2-dev")
    assert unclaimed_rules(old_runtime, [newer.id, older.id]) == [newer.id]
    assert unclaimed_rules(Features(available=False), [newer.id]) == []
    with pytest.raises(pytest.skip.Exception, match=r"^runtime: .*ociVersionMax is 1\.0\.2-dev"):
        require_rules(old_runtime, newer.id)
    require_rules(old_runtime, older.id)  # no skip
    require_rules(Features(available=True, oci_version_max="1.3.0"), newer.id)


SPEC_LEVEL_RUNTIME = """#!/bin/sh
for a in "$@"; do
  case "$a" in
    --version) echo "fakert version 9.9.1"; echo "spec: 1.0.2-dev"; exit 0;;
    features) echo '{"ociVersionMin": "1.0.0", "ociVersionMax": "1.0.2-dev"}'; exit 0;;
  esac
done
exit 1
"""

SPEC_LEVEL_CHECKS = """
import pytest

@pytest.mark.oci_rule("{newer}")
def test_newer_rule_fails():
    assert False, "the newer behaviour is missing"

@pytest.mark.oci_rule("{newer}")
def test_newer_rule_passes():
    pass

@pytest.mark.oci_rule("{older}")
def test_older_rule_fails():
    assert False, "the old behaviour is missing"
"""


NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0, reason="environment: the plugin probes a runtime as root"
)


def _spec_level_run(pytester: pytest.Pytester, *args: str, only_newer: bool = False) -> Any:
    newer = next(r for r in catalogue() if spec_release(r.since) == (1, 3, 0) and r.citable)
    older = next(
        r for r in catalogue() if spec_release(r.since) == (1, 0, 0) and r.is_spec and r.citable
    )
    fake = pytester.path / "fakert"
    fake.write_text(SPEC_LEVEL_RUNTIME)
    fake.chmod(0o755)
    checks = SPEC_LEVEL_CHECKS.format(newer=newer.id, older=older.id)
    if only_newer:
        checks = checks[: checks.index(f'@pytest.mark.oci_rule("{older.id}")')]
    pytester.makepyfile(checks)
    return pytester.runpytest(
        "--runc", f"--runc-binary={fake}", "-rs", "-p", "no:cacheprovider", *args
    )


@NEEDS_ROOT
def test_failure_of_a_rule_newer_than_the_runtime_claims_is_beyond_level_failed(pytester):
    """A failed check of a rule after ociVersionMax is "beyond-level failed": not a skip,
    not a failure of the run, counted and listed; a pass stays a pass and an older
    rule's failure stays a failure."""
    newer = next(r for r in catalogue() if spec_release(r.since) == (1, 3, 0) and r.citable)
    result = _spec_level_run(pytester, "--junitxml=j.xml")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and outcomes.get("failed") == 1, outcomes
    assert "skipped" not in outcomes, outcomes
    # (pytest may put "N warnings" between the counts: not ours to pin)
    result.stdout.fnmatch_lines(["*1 failed, 1 passed,*1 beyond-level failed*"])
    result.stdout.no_fnmatch_line("*SKIPPED*runtime:*")
    result.stdout.fnmatch_lines(
        [
            "*failed beyond the runtime's claimed spec level (1)*",
            "*test_newer_rule_fails: AssertionError: the newer behaviour is missing",
            f"*claims runtime-spec up to 1.0.2-dev*{newer.id} (spec 1.3.0) came later*",
        ]
    )
    props = [
        p.get("value", "")
        for p in ET.parse(pytester.path / "j.xml").getroot().iter("property")
        if p.get("name") == "oci_failed_beyond_level"
    ]
    assert len(props) == 1 and "the newer behaviour is missing" in props[0]


@NEEDS_ROOT
def test_beyond_level_failures_alone_leave_the_exit_status_0_and_are_in_the_report(pytester):
    result = _spec_level_run(pytester, "-v", "--runc-report=r.json", only_newer=True)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*test_newer_rule_fails BEYOND-LEVEL FAILED*"])
    document = json.loads((pytester.path / "r.json").read_text())
    assert schema_errors("report", document) == []
    (record,) = [r for r in document["records"] if r["nodeid"].endswith("test_newer_rule_fails")]
    assert record["outcome"] == "beyond-level-failed"
    assert record["message"] == "AssertionError: the newer behaviour is missing"
    assert "1.0.2-dev" in record["beyond_level"] and "skip_class" not in record
    assert document["summary"]["beyond-level-failed"] == 1
    assert document["summary"]["skipped"] == 0


@NEEDS_ROOT
@pytest.mark.parametrize("how", ["option", "env", "ini"])
def test_fail_beyond_level_makes_them_plain_failures(pytester, monkeypatch, how):
    args: list[str] = ["--runc-report=r.json"]
    if how == "option":
        args.append("--runc-fail-beyond-level")
    elif how == "env":
        monkeypatch.setenv("PYTEST_RUNC_FAIL_BEYOND_LEVEL", "1")
    else:
        pytester.makeini("[pytest]\nrunc_fail_beyond_level = yes\n")
    result = _spec_level_run(pytester, *args, only_newer=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 failed, 1 passed*"])
    result.stdout.fnmatch_lines(["*beyond the claimed spec level*"])
    document = json.loads((pytester.path / "r.json").read_text())
    (record,) = [r for r in document["records"] if r["nodeid"].endswith("test_newer_rule_fails")]
    assert record["outcome"] == "failed" and "1.0.2-dev" in record["beyond_level"]
