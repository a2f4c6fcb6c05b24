"""The rule catalogue, the oci_rule/runc_cli markers and ``python -m pytest_runc rules``."""

from __future__ import annotations

import json
import os
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
from pytest_runc.suite import SUITE_DIR

REPO = Path(__file__).resolve().parent.parent


def a_spec_rule(document: str = "config"):
    return next(r for r in catalogue() if r.document == document and r.citable)


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
             "-p", "no:hypothesispytest", "-m", "not oci_rule and not runc_cli", str(SUITE_DIR)],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip
        unmarked = [line for line in done.stdout.splitlines() if "conformance/" in line]
        assert not unmarked, "conformance checks without a rule id:\n" + "\n".join(unmarked)

    def test_shipped_coverage_index_is_what_the_suite_says(self):
        assert load_coverage() == collect_coverage(SUITE_DIR), (
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


class TestExactCitations:
    def test_citing_a_not_testable_statement_is_a_collection_error(self, pytester):
        untestable = catalogue()["config.process.cwd-absolute"]
        assert untestable.status == "not_testable"
        pytester.makepyfile(
            f"""
            import pytest
            @pytest.mark.oci_rule({untestable.id!r})
            def test_relative_cwd(): pass
            """
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.INTERRUPTED
        result.stdout.fnmatch_lines(
            [
                "*ERROR collecting*",
                f"*test_relative_cwd: @pytest.mark.oci_rule cites {untestable.id!r}, which the"
                " catalogue marks not testable (constrains the config author*",
            ]
        )

    def test_the_switch_tolerates_only_the_listed_pairs(self, pytester, monkeypatch):
        from pytest_runc.rules import markers

        monkeypatch.setattr(
            markers,
            "PENDING_UNTESTABLE_CITATIONS",
            frozenset({("test_switch.py::test_a", "config.process.cwd-absolute")}),
        )
        pytester.makepyfile(
            test_switch="""
            import pytest
            @pytest.mark.oci_rule("config.process.cwd-absolute")
            def test_a(): pass
            @pytest.mark.oci_rule("config.process.cwd-absolute")
            def test_b(): pass
            """
        )
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
        result.stdout.fnmatch_lines(["*test_b: @pytest.mark.oci_rule cites*"])
        result.stdout.no_fnmatch_line("*test_a: @pytest.mark.oci_rule cites*")

    def test_context_marker_is_not_counted_and_may_name_any_catalogued_statement(self, pytester):
        decided = a_spec_rule("runtime")
        pytester.makepyfile(
            test_context=f"""
            import pytest
            @pytest.mark.oci_rule({decided.id!r})
            @pytest.mark.oci_rule_context("config.process.cwd-absolute")
            def test_x(): assert False, "intended"
            """
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            ["*touched, not decided, by this check:*", "*config.process.cwd-absolute (MUST)*"]
        )
        coverage = collect_coverage(pytester.path)
        assert coverage == {decided.id: ["test_context.py::test_x"]}
        summary = summarize(catalogue(), coverage)
        states = {r["id"]: r["state"] for r in summary["rules"]}
        assert states[decided.id] == "checked"
        assert states["config.process.cwd-absolute"] == "not_testable"

    def test_unknown_id_in_the_context_marker_is_a_collection_error(self, pytester):
        pytester.makepyfile(
            """
            import pytest
            @pytest.mark.oci_rule_context("config.nowhere.nothing")
            def test_x(): pass
            """
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.stdout.fnmatch_lines(["*unknown rule id 'config.nowhere.nothing'*oci_rule_context*"])

    def test_no_shipped_check_cites_a_statement_that_is_not_testable(self):
        cited = load_coverage()
        known = catalogue()
        bad = sorted(i for i in cited if i in known and not known[i].citable)
        assert not bad, f"checks cite statements that are not testable: {bad}"


class TestCatalogueFixes:
    def test_not_recommended_memory_fields_are_catalogued(self):
        for field in ("kernel", "kernel-tcp"):
            rule = catalogue()[f"config-linux.memory.{field}-not-recommended"]
            assert rule.level == "NOT RECOMMENDED" and rule.since == "1.1.0"
            assert rule.status == "not_testable"

    def test_schemata_ordering_is_catalogued(self):
        rule = catalogue()["config-linux.intelrdt.schemata-written-last"]
        assert rule.level == "MUST" and rule.since == "1.3.0" and rule.requires == ("resctrl",)

    def test_intel_rdt_runtime_statements_are_testable_on_a_resctrl_host(self):
        rdt = [r for r in catalogue() if r.id.startswith("config-linux.intelrdt.")]
        needs_host = [r for r in rdt if r.requires]
        assert len(needs_host) == 22, [r.id for r in needs_host]
        assert all(r.status == "testable" and r.requires == ("resctrl",) for r in needs_host)
        # the statements about the config's values still constrain its author
        assert catalogue()["config-linux.intelrdt.l3-schema-prefix"].status == "not_testable"

    @pytest.mark.parametrize(
        ("rule_id", "since"),
        [
            ("config.mount-options.noexec", "1.0.0"),
            ("config.mount-options.nodev", "1.0.0"),
            ("config.mount-options.rprivate", "1.0.0"),
            ("config.mount-options.unknown-as-fs-data", "1.0.0"),
            ("config.mount-options.rnoexec", "1.1.0"),
            ("config.hooks.poststop-runs-in-runtime-ns", "1.0.2"),
            ("config.hooks-prestart.path-resolves-in-runtime-ns", "1.0.2"),
            ("config-linux.intelrdt.l3-schema-prefix", "1.0.2"),
            ("config-linux.intelrdt.l3-schema-single-line", "1.0.2"),
            ("config-linux.intelrdt.default-closid-container-id", "1.0.0"),
        ],
    )
    def test_since_is_when_the_behaviour_became_required(self, rule_id, since):
        rule = catalogue()[rule_id]
        assert rule.since == since
        if since != "1.1.0":
            assert rule.since_note, f"{rule_id}: re-dated without a note of the tag diff"

    @pytest.mark.parametrize(
        ("entry", "problem"),
        [
            ({"requires": ["gpu"]}, "requires"),
            ({"requires": ["resctrl"], "status": "not_testable", "reason": "r"}, "is not_testable"),
        ],
    )
    def test_bad_host_requirements_are_refused(self, tmp_path, entry, problem):
        good = {**a_spec_rule().to_json(), **entry}
        (tmp_path / "config.json").write_text(json.dumps([good]))
        with pytest.raises(CatalogueError, match=problem):
            load_catalogue(tmp_path)

    def test_rules_text_names_the_host_requirement(self):
        done = subprocess.run(
            [sys.executable, "-m", "pytest_runc", "rules"],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert "config-linux.intelrdt.tasks-file (MUST) [host: needs resctrl]" in done.stdout


class TestSpecDiff:
    def test_extraction_counts_keywords_not_words_about_them(self):
        from pytest_runc.rules.specdiff import extract

        text = "\n".join(
            [
                "## <a name='x' />Mounts",
                "The runtime MUST mount them in order and SHOULD NOT skip one.",
                'Runtimes MUST/SHOULD/MAY implement these; the "MUST" ones are mount(8)\'s.',
                "* **`kernel`** *(int64, OPTIONAL, NOT RECOMMENDED)* - a limit",
                "### Example",
                "If that fails the runtime MUST generate an error.",
                "```json",
                '"MUST": "not in code"',
                "```",
                "The value must be written last.",
            ]
        )
        found = [(s.section, s.level) for s in extract(text, "config")]
        assert found == [
            ("Mounts", "MUST"),
            ("Mounts", "SHOULD NOT"),
            ("Mounts", "NOT RECOMMENDED"),
            ("Mounts", "MUST"),
        ]

    def test_catalogue_matches_the_pinned_spec_text(self):
        from pytest_runc.rules.specdiff import compare, load_statements

        result = compare(load_statements(), catalogue())
        assert result["differences"] == [], result["differences"]
        assert result["in_spec_not_in_catalogue"] == 0 == result["in_catalogue_not_in_spec"]

    def test_spec_diff_command(self):
        done = subprocess.run(
            [sys.executable, "-m", "pytest_runc", "rules", "--spec-diff"],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "in the spec, not in the catalogue: 0" in done.stdout

    @pytest.mark.skipif(
        not os.environ.get("PYTEST_RUNC_SPEC_SOURCE"),
        reason="environment: set PYTEST_RUNC_SPEC_SOURCE to a runtime-spec checkout or git dir",
    )
    def test_shipped_extraction_is_the_tags_text(self):
        from pytest_runc.rules.specdiff import extract_all, load_statements, read_spec

        source = Path(os.environ["PYTEST_RUNC_SPEC_SOURCE"])
        assert extract_all(read_spec(source)) == load_statements()
