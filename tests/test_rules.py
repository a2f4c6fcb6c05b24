"""The rule catalogue, the oci_rule/runc_cli markers and ``python -m pytest_runc rules``."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_runc.rules import (
    LEVELS,
    SPEC_DOCUMENTS,
    CatalogueError,
    catalogue,
    load_catalogue,
    load_coverage,
)
from pytest_runc.rules.cli import summarize
from pytest_runc.rules.coverage import collect_coverage

REPO = Path(__file__).resolve().parent.parent


def a_spec_rule(document: str = "config"):
    return next(r for r in catalogue() if r.document == document)


def a_cli_rule():
    return next(r for r in catalogue() if not r.is_spec)


class TestCatalogue:
    def test_loads_and_covers_every_spec_document(self):
        documents = {rule.document for rule in catalogue()}
        assert set(SPEC_DOCUMENTS) <= documents
        assert all(rule.level in LEVELS for rule in catalogue())

    def test_at_least_250_spec_statements(self):
        spec = [rule for rule in catalogue() if rule.is_spec]
        assert len(spec) >= 250, f"only {len(spec)} spec statements catalogued"

    def test_links_point_at_the_pinned_spec_section(self):
        for rule in catalogue():
            if rule.is_spec:
                assert rule.url.startswith(
                    "https://github.com/opencontainers/runtime-spec/blob/v1.3.0/"
                    f"{rule.document}.md#"
                ), rule.id

    @pytest.mark.parametrize(
        ("entry", "problem"),
        [
            ({"id": "config.x"}, "must be config.<section>"),
            ({"level": "MAY"}, "level 'MAY'"),
            ({"status": "todo"}, "status 'todo'"),
            ({"status": "not_testable"}, "needs a reason"),
            ({"colour": "red"}, "bad entry"),
        ],
    )
    def test_bad_entries_are_refused_naming_the_problem(self, tmp_path, entry, problem):
        good = {
            "id": "config.root.path-exists",
            "document": "config",
            "section": "Root",
            "level": "MUST",
            "summary": "s",
            "url": "u",
        }
        (tmp_path / "config.json").write_text(json.dumps([{**good, **entry}]))
        with pytest.raises(CatalogueError, match=problem):
            load_catalogue(tmp_path)

    def test_duplicate_ids_are_refused(self, tmp_path):
        rule = a_spec_rule().to_json()
        (tmp_path / "a.json").write_text(json.dumps([rule]))
        (tmp_path / "b.json").write_text(json.dumps([rule]))
        with pytest.raises(CatalogueError, match="duplicate"):
            load_catalogue(tmp_path)


class TestMarkers:
    def test_unknown_rule_id_is_a_collection_error(self, pytester):
        pytester.makepyfile(
            """
            import pytest
            @pytest.mark.oci_rule("config.nowhere.nothing")
            def test_x(): pass
            """
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.INTERRUPTED
        result.stdout.fnmatch_lines(
            ["*ERROR collecting*", "*unknown rule id 'config.nowhere.nothing'*"]
        )

    def test_cli_id_under_oci_rule_is_a_collection_error(self, pytester):
        pytester.makepyfile(
            f"""
            import pytest
            @pytest.mark.oci_rule({a_cli_rule().id!r})
            def test_x(): pass
            """
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.stdout.fnmatch_lines(["*belongs in @pytest.mark.runc_cli*"])

    def test_failure_report_junit_and_summary_name_the_rule(self, pytester):
        rule = a_spec_rule("config-linux")
        pytester.makepyfile(
            f"""
            import pytest
            @pytest.mark.oci_rule({rule.id!r})
            def test_fails(): assert 1 == 2, "intended"
            @pytest.mark.oci_rule({rule.id!r})
            def test_passes(): pass
            """
        )
        result = pytester.runpytest("-p", "no:cacheprovider", "-rA", "--junitxml=j.xml")
        out = result.stdout.str()
        assert "OCI rule" in out and f"{rule.id} ({rule.level})" in out and rule.section in out
        assert rule.url in out
        result.stdout.fnmatch_lines([f"PASSED [[]{rule.id}[]] *test_passes*"])
        result.stdout.fnmatch_lines([f"FAILED [[]{rule.id}[]] *test_fails*"])
        props = {
            (p.get("name"), p.get("value"))
            for p in ET.parse(pytester.path / "j.xml").getroot().iter("property")
        }
        assert ("oci_rule", rule.id) in props
        assert ("oci_rule_level", f"{rule.id} {rule.level}") in props

    def test_select_by_rule_prefix_document_marker_and_cli_marker(self, pytester):
        spec, other, cli = a_spec_rule("config-linux"), a_spec_rule("runtime"), a_cli_rule()
        pytester.makepyfile(
            f"""
            import pytest
            @pytest.mark.oci_rule({spec.id!r})
            def test_a(): pass
            @pytest.mark.oci_rule({other.id!r})
            def test_b(): pass
            @pytest.mark.runc_cli({cli.id!r})
            def test_c(): pass
            """
        )
        prefix = spec.id.rsplit(".", 1)[0]
        pytester.runpytest("-p", "no:cacheprovider", "-k", prefix).assert_outcomes(passed=1)
        pytester.runpytest("-p", "no:cacheprovider", "-m", "oci_config_linux").assert_outcomes(
            passed=1
        )
        pytester.runpytest("-p", "no:cacheprovider", "-m", "not runc_cli").assert_outcomes(passed=2)
        pytester.runpytest("-p", "no:cacheprovider", "-m", "runc_cli").assert_outcomes(passed=1)


class TestConformanceSuiteRules:
    def test_every_conformance_check_names_a_rule(self):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
             "-p", "no:hypothesispytest", "-m", "not oci_rule and not runc_cli", "conformance"],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip
        unmarked = [line for line in done.stdout.splitlines() if line.startswith("conformance/")]
        assert not unmarked, "conformance checks without a rule id:\n" + "\n".join(unmarked)

    def test_shipped_coverage_index_is_what_the_suite_says(self):
        assert load_coverage() == collect_coverage(REPO / "conformance"), (
            "pytest_runc/rules/coverage.json is stale: run"
            " `python -m pytest_runc rules --update-coverage`"
        )


class TestRulesCommand:
    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_runc", "rules", *args],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip

    def test_json_document(self):
        done = self.run("--json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["spec_version"] == "1.3.0"
        assert {"statements", "checked", "not_testable", "todo"} <= set(data["totals"])
        assert set(SPEC_DOCUMENTS) <= set(data["files"])
        todo = [r["id"] for r in data["rules"] if r["state"] == "todo"]
        assert sorted(todo) == sorted(i for f in data["files"].values() for i in f["todo_ids"])
        assert data["unknown_ids_in_coverage"] == []

    def test_text_and_markdown(self):
        text = self.run()
        assert text.returncode == 0 and "spec total" in text.stdout and "checked:" in text.stdout
        markdown = self.run("--markdown")
        assert markdown.stdout.startswith("# OCI runtime-spec v1.3.0")
        assert "| document | statements |" in markdown.stdout

    def test_bad_usage_exits_2_without_traceback(self):
        done = self.run("--suite", "/nonexistent")
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "not a directory" in done.stderr

    def test_summary_counts_checked_and_todo(self):
        rule = a_spec_rule()
        summary = summarize(catalogue(), {rule.id: ["conformance/test_x.py::test_y"]})
        record = next(r for r in summary["rules"] if r["id"] == rule.id)
        if rule.status == "testable":
            assert record["state"] == "checked"
            assert record["checks"] == ["conformance/test_x.py::test_y"]
