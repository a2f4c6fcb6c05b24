"""Reports in, matrix out: rules (rows) against runtime@host (columns).

A cell says how a rule stood in one run, from the checks carrying its id:

- ``failed``: a check of it failed (an xfail that is not a declared departure counts too);
- ``departure``: the runtime declares that it differs (strict xfail, or skipped as such);
- ``passed``: its checks that ran passed;
- ``unsupported``: skipped because the runtime does not claim the feature (``runtime:``);
- ``host-lacks``: skipped because the host lacks something (``host:``);
- ``not-run``: skipped for the environment or another reason, or not in that report.

When a rule's checks disagree, the first of that list wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_runc.rules import SPEC_DOCUMENTS, Rule, catalogue

STATES = ("failed", "departure", "passed", "unsupported", "host-lacks", "not-run")
#: Reports this reader understands (``version`` of report.schema.json).
READABLE_VERSIONS = (1,)
NO_RULE = "(no rule id)"


class ReportError(ValueError):
    """A file given to ``report merge`` is not a pytest-runc report; says which and why."""


@dataclass(frozen=True)
class Column:
    """One run: a runtime on a host, as the report describes them."""

    label: str
    source: str
    runtime: dict[str, Any]
    host: dict[str, Any]
    departures_file: str | None


@dataclass
class Row:
    """One rule (or, for a check without rule ids, one check) across the columns."""

    key: str
    rule: Rule | None
    cells: dict[str, str] = field(default_factory=dict)
    checks: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def document(self) -> str:
        return self.rule.document if self.rule else NO_RULE

    @property
    def section(self) -> str:
        return self.rule.section if self.rule else ""

    def differs(self) -> bool:
        return len(set(self.cells.values())) > 1


@dataclass
class Matrix:
    """Columns, rows in catalogue order, and per-column counts."""

    columns: list[Column]
    rows: list[Row]

    def differences(self) -> list[Row]:
        return [row for row in self.rows if row.differs()]

    def summary(self) -> dict[str, dict[str, int]]:
        """Per column: how many rules are in each state."""
        counts: dict[str, dict[str, int]] = {}
        for column in self.columns:
            per = {state: 0 for state in STATES}
            for row in self.rows:
                per[row.cells[column.label]] += 1
            counts[column.label] = per
        return counts

    def groups(self) -> list[tuple[str, str, list[Row]]]:
        """(document, section, rows) in reading order."""
        grouped: dict[tuple[str, str], list[Row]] = {}
        for row in self.rows:
            grouped.setdefault((row.document, row.section), []).append(row)
        return [(doc, section, rows) for (doc, section), rows in grouped.items()]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "states": list(STATES),
            "columns": [
                {
                    "label": c.label,
                    "source": c.source,
                    "runtime": {k: v for k, v in c.runtime.items() if k != "features"},
                    "host": c.host,
                    "departures_file": c.departures_file,
                }
                for c in self.columns
            ],
            "summary": self.summary(),
            "differences": [row.key for row in self.differences()],
            "rows": [
                {
                    "rule": row.key,
                    "document": row.document,
                    "section": row.section,
                    "level": row.rule.level if row.rule else None,
                    "summary": row.rule.summary if row.rule else None,
                    "url": row.rule.url if row.rule else None,
                    "cells": row.cells,
                    "checks": {
                        label: [{"nodeid": n, "outcome": o} for n, o in checks]
                        for label, checks in row.checks.items()
                    },
                }
                for row in self.rows
            ],
        }


def load_report(path: Path) -> dict[str, Any]:
    """A report file, checked enough to merge; ReportError naming the file otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file (write one with pytest --runc-report)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read it: {exc}") from None
    except ValueError as exc:
        raise ReportError(f"{path}: not JSON ({exc}); is it a --runc-report file?") from None
    if not isinstance(data, dict) or "records" not in data or "version" not in data:
        raise ReportError(f"{path}: not a pytest-runc report (no `version` and `records`)")
    if data["version"] not in READABLE_VERSIONS:
        raise ReportError(
            f"{path}: report version {data['version']!r}; this pytest-runc reads"
            f" {', '.join(map(str, READABLE_VERSIONS))} (upgrade pytest-runc to merge it)"
        )
    from pytest_runc.schemas import schema_errors

    errors = schema_errors("report", data)
    if errors:
        shown = "\n  ".join(errors[:5])
        raise ReportError(f"{path}: does not match report.schema.json:\n  {shown}")
    return data


def cell_of(record: dict[str, Any]) -> str:
    """The state one check gives its rules."""
    outcome = record["outcome"]
    kind = record.get("skip_class")
    if outcome == "failed":
        return "failed"
    if outcome == "xfailed":
        return "departure" if kind == "departure" else "failed"
    if outcome in ("passed", "xpassed"):
        return "passed"
    return {"runtime": "unsupported", "host": "host-lacks", "departure": "departure"}.get(
        str(kind), "not-run"
    )


def label_of(report: dict[str, Any]) -> str:
    """``runc-1.1.5@vm``, ``crun-1.8.1@ci-3 rootless``: runtime, release, host, privilege."""
    runtime = report.get("runtime") or {}
    host = report.get("host") or {}
    name = runtime.get("name") or Path(str(runtime.get("path") or "runtime")).name
    release = str(runtime.get("release") or "").split("+")[0]
    label = f"{name}-{release}" if release else str(name)
    label += f"@{host.get('name') or 'host'}"
    if host.get("privilege") == "rootless":
        label += " rootless"
    return label


def _worst(states: Iterable[str]) -> str:
    found = set(states)
    return next((state for state in STATES if state in found), "not-run")


def _order(rule: Rule | None, key: str, positions: dict[str, int]) -> tuple[int, int, str]:
    if rule is None:
        return (len(SPEC_DOCUMENTS) + 2, 0, key)
    document = (
        SPEC_DOCUMENTS.index(rule.document)
        if rule.document in SPEC_DOCUMENTS
        else len(SPEC_DOCUMENTS)
    )
    return (document, positions.get(key, 0), key)


def split_runtimes(report: dict[str, Any]) -> list[dict[str, Any]]:
    """A report of several runtimes in one run as one report per runtime (records by
    their ``runtime``); a one-runtime report as itself."""
    several = report.get("runtimes")
    if not several:
        return [report]
    parts = []
    for label, facts in several.items():
        part = {key: value for key, value in report.items() if key != "runtimes"}
        part["runtime"] = {key: value for key, value in facts.items() if key != "departures"}
        part["departures"] = facts.get("departures")
        # A check that no runtime parameter reached (a bundle-only test) counts for each.
        part["records"] = [r for r in report["records"] if r.get("runtime", label) == label]
        parts.append(part)
    return parts


def build(reports: Sequence[tuple[str, dict[str, Any]]]) -> Matrix:
    """The matrix of these (source name, report) pairs: one column per runtime of each."""
    reports = [(source, part) for source, report in reports for part in split_runtimes(report)]
    known = catalogue()
    positions = {rule.id: index for index, rule in enumerate(known)}
    columns: list[Column] = []
    found: dict[str, Row] = {}
    seen_labels: dict[str, int] = {}
    per_column: list[dict[str, list[tuple[str, str]]]] = []
    for source, report in reports:
        label = label_of(report)
        seen_labels[label] = seen_labels.get(label, 0) + 1
        if seen_labels[label] > 1:
            label = f"{label} #{seen_labels[label]}"
        departures = report.get("departures") or {}
        columns.append(
            Column(
                label,
                source,
                report.get("runtime") or {},
                report.get("host") or {},
                departures.get("file"),
            )
        )
        states: dict[str, list[tuple[str, str]]] = {}
        for record in report["records"]:
            for key in record.get("rules") or [NO_RULE + " " + record["nodeid"]]:
                states.setdefault(key, []).append((record["nodeid"], cell_of(record)))
                if key not in found:
                    found[key] = Row(key, known.rules.get(key))
        per_column.append(states)
    for column, states in zip(columns, per_column):
        for key, row in found.items():
            checks = states.get(key, [])
            row.cells[column.label] = _worst(state for _, state in checks)
            row.checks[column.label] = checks
    rows = sorted(found.values(), key=lambda row: _order(row.rule, row.key, positions))
    return Matrix(columns, rows)
