"""The input inventory: its sources, its map to checks, and ``rules --inputs``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from pytest_runc.oci.schemas import spec_schema_files
from pytest_runc.rules import inputs
from pytest_runc.rules.coverage import collect_indexes
from pytest_runc.rules.inputsources import (
    SourceError,
    flags_of,
    parse_options,
    read_schemas,
    release_of,
    walk_schema,
)
from pytest_runc.suite import SUITE_DIR
from tests.fault_proofs import newer_runtime
from tests.test_faulty_runtimes import conformance_items

REPO = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def suite_indexes() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    return collect_indexes(SUITE_DIR)


def rules_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_runc", "rules", *args],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


class TestShippedInventory:
    def test_marker_index_is_what_the_suite_says(self):
        assert inputs.load_input_coverage() == suite_indexes()[1], (
            "pytest_runc/rules/input-coverage.json is stale: run"
            " `python -m pytest_runc rules --update-coverage`"
        )

    def test_map_names_only_inputs_and_collected_checks(self):
        inventory = inputs.load_inventory()
        found = inputs.problems(inventory, inputs.load_input_coverage(), conformance_items())
        assert not found, "pytest_runc/rules/inputs.json is stale:\n" + "\n".join(found)

    def test_every_runc_command_flag_and_document_field_is_there(self):
        ids = set(inputs.load_inventory().inputs)
        for expected in ("exec --cap", "--root", "run --keep", "update --memory",
                         "config:process.capabilities.bounding",
                         "config:linux.resources.memory.limit",
                         "config:linux.seccomp.syscalls[].args[].op", "state:pid"):  # fmt: skip
            assert expected in ids

    def test_state_fields_are_the_shipped_state_schema(self):
        files = spec_schema_files()
        walked = walk_schema(files["state-schema.json"], files, "state-schema.json")
        shipped = json.loads(inputs.FIELDS_FILE.read_text())["fields"]["state"]
        assert walked == shipped, "spec-fields.json is stale: run `rules --inputs --refresh-fields`"

    def test_config_fields_are_the_spec_schemas(self):
        source = os.environ.get("PYTEST_RUNC_SPEC_SOURCE")
        if not source:
            pytest.skip(
                "environment: set PYTEST_RUNC_SPEC_SOURCE to a runtime-spec git directory"
                " (tag v1.3.0) or a directory of its schema/*.json to check spec-fields.json"
            )
        files = read_schemas(Path(source))
        walked = walk_schema(files["config-schema.json"], files, "config-schema.json")
        shipped = json.loads(inputs.FIELDS_FILE.read_text())["fields"]["config"]
        assert walked == shipped, "spec-fields.json is stale: run `rules --inputs --refresh-fields`"


def runtimes_here() -> list[str]:
    found = [shutil.which("runc"), newer_runtime()]
    named = os.environ.get("PYTEST_RUNC_INPUT_RUNTIMES", "")
    return [b for b in [*found, *named.split(",")] if b and os.access(b, os.X_OK)]


@pytest.mark.parametrize("release", sorted(json.loads(inputs.FLAGS_FILE.read_text())["runtimes"]))
def test_shipped_flags_are_what_the_runtime_says(release):
    binaries = [b for b in runtimes_here() if release_of(b) == release]
    if not binaries:
        pytest.skip(
            f"environment: no {release} here; name its binary in PYTEST_RUNC_INPUT_RUNTIMES"
            " (comma-separated) to check runc-flags.json against it"
        )
    shipped = json.loads(inputs.FLAGS_FILE.read_text())["runtimes"][release]
    assert flags_of(binaries[0]) == shipped, (
        f"runc-flags.json is stale for {release}: run"
        " `python -m pytest_runc rules --inputs --refresh-flags RUNC...`"
    )


class TestSources:
    def test_options_with_aliases_values_and_prose_between(self):
        lines = [
            "   --env value, -e value  set environment variables",
            "   --tty, -t              allocate a pseudo-TTY",
            "   --resources value, -r value  path to the file",
            "",
            "The accepted format is as follow:",
            '  "memory": {',
            "   --memory value         Memory limit (in bytes)",
            "   --help, -h             show help",
        ]
        assert parse_options(lines) == [
            {"flag": "--env", "aliases": ["-e"], "value": True},
            {"flag": "--tty", "aliases": ["-t"], "value": False},
            {"flag": "--resources", "aliases": ["-r"], "value": True},
            {"flag": "--memory", "aliases": [], "value": True},
            {"flag": "--help", "aliases": ["-h"], "value": False},
        ]

    def test_fake_runtime_help_becomes_commands_and_flags(self, tmp_path):
        fake = tmp_path / "runc"
        fake.write_text(
            "#!/bin/sh\n"
            'if [ "$1" = --help ]; then printf "COMMANDS:\\n   go      do it\\n'
            "   help, h  help\\n\\nGLOBAL OPTIONS:\\n   --root value  state\\n"
            '   --help, -h  show help\\n"; exit 0; fi\n'
            'printf "OPTIONS:\\n   --fast, -f  quickly\\n"\n'
        )
        fake.chmod(0o755)
        assert flags_of(str(fake)) == {
            "global": [{"flag": "--root", "aliases": [], "value": True}],
            "go": [{"flag": "--fast", "aliases": ["-f"], "value": False}],
        }

    def test_a_binary_that_is_not_runc_is_a_clear_error(self, tmp_path):
        with pytest.raises(SourceError, match="lists no commands"):
            flags_of("/bin/true")

    def test_schema_walk_follows_refs_arrays_maps_and_stops_at_recursion(self):
        files = {
            "a.json": {"properties": {
                "one": {"type": "string"},
                "list": {"type": "array", "items": {"$ref": "b.json#/definitions/Item"}},
                "plain": {"type": "array", "items": {"type": "string"}},
                "map": {"patternProperties": {".": {"properties": {"x": {}}}}},
                "labels": {"patternProperties": {".": {"type": "string"}}},
                "self": {"$ref": "#/definitions/Node"},
            }, "definitions": {"Node": {"properties": {"next": {"$ref": "#/definitions/Node"}}}}},
            "b.json": {"definitions": {"Item": {"oneOf": [
                {"properties": {"k": {}}}, {"properties": {"v": {}}}]}}},
        }  # fmt: skip
        assert walk_schema(files["a.json"], files, "a.json") == [
            "labels", "list[].k", "list[].v", "map.*.x", "one", "plain", "self.next",
        ]  # fmt: skip


class TestBuild:
    def test_markers_then_declared_checks_then_reasons_and_gaps(self):
        items = [inputs.Input("exec --cap", "flag"), inputs.Input("--debug", "flag"),
                 inputs.Input("config:windows.a", "config"), inputs.Input("state:pid", "state")]  # fmt: skip
        declared = {"checks": {"state:pid": ["n2"]},
                    "reasons": {"--debug": "output only", "config:windows.*": "windows"}}  # fmt: skip
        built = inputs.build(items, declared, {"exec --cap": ["n1"]})
        states = {item.id: (item.state, item.checks, item.reason) for item in built}
        assert states == {
            "exec --cap": ("checked", ("n1",), ""),
            "--debug": ("reason", (), "output only"),
            "config:windows.a": ("reason", (), "windows"),
            "state:pid": ("checked", ("n2",), ""),
        }
        assert inputs.problems(built, {"exec --nothing": ["n3"]}, ["n1"]) == [
            "inputs.json checks: 'state:pid' names n2, not a check",
            "oci_inputs marker names 'exec --nothing', which is not an input",
        ]


class TestMarker:
    def test_unknown_input_is_a_collection_error(self, pytester):
        pytester.makepyfile(
            """
            import pytest
            @pytest.mark.oci_inputs("exec --nothing")
            def test_x(): pass
            """
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.INTERRUPTED
        result.stdout.fnmatch_lines(["*unknown input 'exec --nothing'*rules --inputs*"])

    def test_marked_inputs_are_indexed(self, pytester):
        pytester.makepyfile(
            test_m="""
            import pytest
            @pytest.mark.oci_inputs("exec --cap", "state:pid")
            def test_x(): pass
            """
        )
        _, index = collect_indexes(pytester.path)
        assert index == {"exec --cap": ["test_m.py::test_x"], "state:pid": ["test_m.py::test_x"]}


class TestInputsCommand:
    def test_text_lists_every_input_and_gaps_only_only_gaps(self):
        full = rules_command("--inputs")
        assert full.returncode == 0, full.stderr
        assert "exec --cap" in full.stdout and "--debug" in full.stdout
        assert "no check: only changes what runc prints" in full.stdout
        gaps = rules_command("--inputs", "--gaps-only")
        assert gaps.returncode == 0, gaps.stderr
        listed = [line for line in gaps.stdout.splitlines() if line.startswith("  ")]
        assert all("GAP" in line for line in listed)

    def test_json_counts_agree_with_the_inputs(self):
        done = rules_command("--inputs", "--json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        counted = sum(n for kind in data["totals"].values() for n in kind.values())
        assert counted == len(data["inputs"])
        assert data["gaps"] == [i["id"] for i in data["inputs"] if i["state"] == "gap"]

    @pytest.mark.parametrize(
        ("args", "words"),
        [
            (["--gaps-only"], "go with --inputs"),
            (["--inputs", "--refresh-fields", "/nonexistent"], "runtime-spec git directory"),
            (["--inputs", "--refresh-flags", "/nonexistent/runc"], "cannot run /nonexistent/runc"),
        ],
    )
    def test_bad_usage_is_a_clear_error_without_traceback(self, args, words):
        done = rules_command(*args)
        assert done.returncode == 2
        assert words in done.stderr and "Traceback" not in done.stderr
