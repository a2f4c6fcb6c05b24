"""Which conformance checks carry which rule ids: the coverage index.

The index (``coverage.json``, shipped with the package) is derived from the
``oci_rule``/``runc_cli`` markers of a conformance suite by collecting it
with pytest; ``python -m pytest_runc rules --update-coverage`` rewrites it
and a test keeps it equal to what collection finds.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from pytest_runc.rules import COVERAGE_FILE
from pytest_runc.rules.inputs import INPUT_COVERAGE_FILE
from pytest_runc.rules.markers import input_ids_of, rule_ids
from pytest_runc.suite import logical_nodeid


class _Collector:
    """A pytest plugin that records every collected item's rule ids."""

    def __init__(self) -> None:
        self.index: dict[str, list[str]] = {}
        self.inputs: dict[str, list[str]] = {}  # the same for ``oci_inputs`` markers
        self.errors = 0

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors += 1

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            for rule_id in rule_ids(item):
                nodeid = logical_nodeid(item.nodeid, item.config.rootpath)
                self.index.setdefault(rule_id, []).append(nodeid)
            for input_id in input_ids_of(item):
                self.inputs.setdefault(input_id, []).append(
                    logical_nodeid(item.nodeid, item.config.rootpath)
                )


def collect_coverage(suite: Path) -> dict[str, list[str]]:
    """rule id -> node ids, sorted, by collecting ``suite`` (no test runs).

    Raises RuntimeError with pytest's output if collection fails.
    """
    return collect_indexes(suite)[0]


def collect_indexes(suite: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(rule id -> node ids, input id -> node ids), sorted, from one collection of ``suite``.

    Raises RuntimeError with pytest's output if collection fails.
    """
    collector = _Collector()
    output = io.StringIO()
    args = ["--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
    with contextlib.redirect_stdout(output):
        status = pytest.main([*args, str(suite)], plugins=[collector])
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) or collector.errors:
        raise RuntimeError(f"collecting {suite} failed (exit {int(status)}):\n{output.getvalue()}")
    return _sorted(collector.index), _sorted(collector.inputs)


def _sorted(index: dict[str, list[str]]) -> dict[str, list[str]]:
    return {key: sorted(nodes) for key, nodes in sorted(index.items())}


def write_coverage(index: dict[str, list[str]], path: Path = COVERAGE_FILE) -> None:
    path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def write_input_coverage(index: dict[str, list[str]], path: Path = INPUT_COVERAGE_FILE) -> None:
    """Rewrite the index of ``oci_inputs`` markers."""
    write_coverage(index, path)
