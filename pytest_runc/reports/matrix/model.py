"""Reports in, matrix out: rules (rows) against runtime@host (columns).

A cell says how a rule stood in one run, from the checks carrying its id:

- ``failed``: a check of it failed (an xfail that is not a declared departure counts too);
- ``beyond-level-failed``: a check of it failed, and the rule is newer than the spec
  version the runtime claims (its ``ociVersionMax``): not a failure of that run,
  never "unsupported" either;
- ``departure``: the runtime declares that it differs (strict xfail, or skipped as such);
- ``passed``: its checks that ran passed;
- ``unsupported``: skipped because the runtime does not claim the feature (``runtime:``);
- ``host-lacks``: skipped because the host lacks something (``host:``);
- ``not-run``: skipped for the environment or another reason, or not in that report.

When a rule's checks disagree, the first of that list wins.

Rows come in two profiles, shown in this order: the OCI verdict (``oci_rule``
rows: the runtime spec, what ``pytest -m "not runc_cli"`` checks) and then
runc's CLI conventions (``runc_cli`` rows); checks without a rule id last.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_runc.rules import SPEC_DOCUMENTS, Rule, catalogue

STATES = (
    "failed",
    "beyond-level-failed",
    "departure",
    "passed",
    "unsupported",
    "host-lacks",
    "not-run",
)
#: Row profiles in the order ``report merge`` shows them: the spec first.
PROFILES = ("spec", "runc-cli", "no-rule")
PROFILE_TITLES = {
    "spec": 'OCI runtime spec: the OCI verdict (oci_rule checks, -m "not runc_cli")',
    "runc-cli": "runc CLI conventions (runc_cli checks)",
    "no-rule": "checks without a rule id",
}
#: Reports this reader understands (``version`` of report.schema.json).
READABLE_VERSIONS = (1,)
NO_RULE = "(no rule id)"
#: Deepest nesting of arrays and objects a report may have. A real one nests
#: about 8 deep (runtime, features, linux, seccomp, ...); far deeper input is
#: not a report, and would blow Python's recursion limit in json, jsonschema
#: or the renderers (a RecursionError traceback instead of an error line).
MAX_DEPTH = 100


class ReportError(ValueError):
    """A file given to ``report merge`` is not a pytest-runc report; says which and why."""


@dataclass(frozen=True)
class Column:
    """One run: a runtime on a host, as the report describes them.

    ``runtime_id`` (``runc-1.1.5``, ``runc-1.1.5 rootless``) and ``host_label``
    (``hybrid``, ``v2``, ``gha-ubuntu-24.04``) are what the label is made of:
    columns with the same runtime id on different hosts are compared for host
    differences.
    """

    label: str
    source: str
    runtime: dict[str, Any]
    host: dict[str, Any]
    departures_file: str | None
    runtime_id: str = ""
    host_label: str = ""


@dataclass(frozen=True)
class Check:
    """One check's part in a cell: its node id, the state it gives, and why
    (a failure's first line, a departure's or a skip's reason; "" for a pass)."""

    nodeid: str
    state: str
    note: str = ""


@dataclass(frozen=True)
class HostDifference:
    """One runtime, one rule, different outcomes on different hosts."""

    runtime_id: str
    row: Row
    columns: list[Column]

    def cells(self) -> dict[str, str]:
        return {column.label: self.row.cells[column.label] for column in self.columns}

    def differing_checks(self) -> list[str]:
        """The node ids whose state is not the same on every host that ran them."""
        states: dict[str, set[str]] = {}
        for column in self.columns:
            for check in self.row.checks.get(column.label, []):
                if check.state != "not-run":
                    states.setdefault(check.nodeid, set()).add(check.state)
        return [nodeid for nodeid, found in states.items() if len(found) > 1]


@dataclass
class Row:
    """One rule (or, for a check without rule ids, one check) across the columns."""

    key: str
    rule: Rule | None
    cells: dict[str, str] = field(default_factory=dict)
    checks: dict[str, list[Check]] = field(default_factory=dict)

    @property
    def document(self) -> str:
        return self.rule.document if self.rule else NO_RULE

    @property
    def section(self) -> str:
        return self.rule.section if self.rule else ""

    def differs(self, labels: Iterable[str] | None = None) -> bool:
        """Whether the columns (all, or these) that ran it disagree: a ``not-run``
        cell (a check not in that report, or skipped for the environment) says
        nothing about the runtime, so it differs from nothing."""
        chosen = self.cells if labels is None else {label: self.cells[label] for label in labels}
        return len({state for state in chosen.values() if state != "not-run"}) > 1

    @property
    def profile(self) -> str:
        """``spec`` (an oci_rule statement), ``runc-cli`` or ``no-rule``."""
        if self.rule is None:
            return "no-rule"
        return "spec" if self.rule.is_spec else "runc-cli"


@dataclass
class Matrix:
    """Columns, rows in catalogue order, and per-column counts."""

    columns: list[Column]
    rows: list[Row]

    def hosts(self) -> list[str]:
        """The host labels of the columns, in column order, once each."""
        return list(dict.fromkeys(column.host_label for column in self.columns))

    def _by_runtime(self) -> dict[str, list[Column]]:
        """Columns per runtime id, for runtimes seen on more than one host."""
        grouped: dict[str, list[Column]] = {}
        for column in self.columns:
            grouped.setdefault(column.runtime_id, []).append(column)
        return {
            runtime: columns
            for runtime, columns in grouped.items()
            if len({column.host_label for column in columns}) > 1
        }

    def host_differences(self) -> list[HostDifference]:
        """Per runtime seen on several hosts, the rules whose outcome the host changes."""
        found = []
        for runtime, columns in self._by_runtime().items():
            labels = [column.label for column in columns]
            found += [
                HostDifference(runtime, row, columns) for row in self.rows if row.differs(labels)
            ]
        return found

    def _differs_between_runtimes(self, row: Row) -> bool:
        """Runtimes disagree on one host, or two runtimes never share an outcome
        (as when each ran on a host of its own, where nothing tells runtime
        from host)."""
        for host in self.hosts():
            if row.differs([c.label for c in self.columns if c.host_label == host]):
                return True
        outcomes: dict[str, set[str]] = {}
        for column in self.columns:
            state = row.cells[column.label]
            if state != "not-run":
                outcomes.setdefault(column.runtime_id, set()).add(state)
        found = list(outcomes.values())
        return any(not (a & b) for i, a in enumerate(found) for b in found[i + 1 :])

    def differences(self) -> list[Row]:
        """Rules on which runtimes disagree on the same host (``not-run`` cells aside).

        A rule that differs only between hosts for the same runtime is a host
        difference (:meth:`host_differences`), not one of these.
        """
        return [row for row in self.rows if self._differs_between_runtimes(row)]

    def host_difference_counts(self, profile: str | None = None) -> dict[str, int]:
        """Per column: how many of its rules (of one profile, or all) stand
        otherwise for its runtime on another host."""
        counts = {column.label: 0 for column in self.columns}
        for difference in self.host_differences():
            if profile is not None and difference.row.profile != profile:
                continue
            for label, state in difference.cells().items():
                if state != "not-run":
                    counts[label] += 1
        return counts

    def host_cells(self) -> set[tuple[str, str]]:
        """(column, rule) of every cell that is part of a host difference."""
        return {
            (label, difference.row.key)
            for difference in self.host_differences()
            for label, state in difference.cells().items()
            if state != "not-run"
        }

    def cells_in(self, states: Iterable[str]) -> list[tuple[str, str, str]]:
        """(column, rule, state) of every cell in one of ``states``, in reading order."""
        wanted = set(states)
        return [
            (column.label, row.key, row.cells[column.label])
            for row in self.rows
            for column in self.columns
            if row.cells[column.label] in wanted
        ]

    def summary(self, profile: str | None = None) -> dict[str, dict[str, int]]:
        """Per column: how many rules (of one profile, or all) are in each state."""
        counts: dict[str, dict[str, int]] = {}
        for column in self.columns:
            per = {state: 0 for state in STATES}
            for row in self.rows:
                if profile is None or row.profile == profile:
                    per[row.cells[column.label]] += 1
            counts[column.label] = per
        return counts

    def profiles(self) -> list[str]:
        """The profiles that have rows, spec first."""
        present = {row.profile for row in self.rows}
        return [profile for profile in PROFILES if profile in present]

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
                    "runtime_id": c.runtime_id,
                    "host_label": c.host_label,
                    "source": c.source,
                    "runtime": {k: v for k, v in c.runtime.items() if k != "features"},
                    "host": c.host,
                    "departures_file": c.departures_file,
                }
                for c in self.columns
            ],
            "summary": self.summary(),
            "profiles": {profile: self.summary(profile) for profile in self.profiles()},
            "differences": [row.key for row in self.differences()],
            "host_difference_counts": self.host_difference_counts(),
            "host_differences": [
                {
                    "runtime": difference.runtime_id,
                    "rule": difference.row.key,
                    "cells": difference.cells(),
                    "checks": difference.differing_checks(),
                }
                for difference in self.host_differences()
            ],
            "rows": [
                {
                    "rule": row.key,
                    "profile": row.profile,
                    "document": row.document,
                    "section": row.section,
                    "level": row.rule.level if row.rule else None,
                    "summary": row.rule.summary if row.rule else None,
                    "url": row.rule.url if row.rule else None,
                    "cells": row.cells,
                    "checks": {
                        label: [
                            {"nodeid": c.nodeid, "outcome": c.state, "note": c.note} for c in checks
                        ]
                        for label, checks in row.checks.items()
                    },
                }
                for row in self.rows
            ],
        }


def _file_kind(mode: int) -> str:
    """What a non-regular file is, for an error message."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _read_text(path: Path) -> str:
    """The text of a regular file; ReportError for anything else.

    Opened with ``O_NONBLOCK`` and checked with ``fstat`` on the descriptor
    before any read: opening a FIFO for reading otherwise blocks until a
    writer comes (forever), and reading ``/dev/zero`` never ends. Checking the
    descriptor, not the name, leaves no window to swap the file in between.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file (write one with pytest --runc-report)") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)  # before fdopen, which refuses a directory
        raise ReportError(
            f"{path}: is {_file_kind(mode)}, not a report file (write one with"
            " pytest --runc-report)"
        )
    with os.fdopen(fd, "rb") as stream:
        try:
            data = stream.read()
        except OSError as exc:
            raise ReportError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects in ``value`` nest deeper than ``limit`` (without recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _one_line(text: str) -> str:
    """``text`` on one line: an error message names the file and the problem in one line."""
    return " ".join(text.split())


def load_report(path: Path) -> dict[str, Any]:
    """A report file, checked enough to merge; ReportError naming the file otherwise.

    Every problem is a one-line ReportError: no such file, not a regular file
    (a directory, a FIFO, a device), not UTF-8, not JSON, nested deeper than
    :data:`MAX_DEPTH`, not a report, a version this reader does not know, or
    a document that does not match ``report.schema.json``.
    """
    text = _read_text(path)
    try:
        data = json.loads(text)
    except RecursionError:
        raise ReportError(
            f"{path}: nested deeper than Python's JSON reader allows; not a --runc-report file"
        ) from None
    except ValueError as exc:
        raise ReportError(
            f"{path}: not JSON ({_one_line(str(exc))}); is it a --runc-report file?"
        ) from None
    if _too_deep(data):
        raise ReportError(
            f"{path}: arrays and objects nested more than {MAX_DEPTH} deep;"
            " not a --runc-report file"
        )
    if not isinstance(data, dict) or "records" not in data or "version" not in data:
        raise ReportError(f"{path}: not a pytest-runc report (no `version` and `records`)")
    version = data["version"]
    # `True == 1` in Python: only a real integer is a version this reader knows.
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise ReportError(
            f"{path}: report version {_one_line(repr(version))[:80]}; this pytest-runc reads"
            f" {', '.join(map(str, READABLE_VERSIONS))} (upgrade pytest-runc to merge it)"
        )
    from pytest_runc.oci.schemas import schema_errors

    errors = schema_errors("report", data)
    if errors:
        shown = "; ".join(_one_line(error)[:200] for error in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise ReportError(f"{path}: does not match report.schema.json: {shown}{more}")
    return data


def cell_of(record: dict[str, Any]) -> str:
    """The state one check gives its rules."""
    outcome = record["outcome"]
    kind = record.get("skip_class")
    if outcome in ("failed", "beyond-level-failed"):
        return str(outcome)
    if outcome == "xfailed":
        return "departure" if kind == "departure" else "failed"
    if outcome in ("passed", "xpassed"):
        return "passed"
    return {"runtime": "unsupported", "host": "host-lacks", "departure": "departure"}.get(
        str(kind), "not-run"
    )


#: Longest note kept in a cell: the first line of a failure, a reason.
MAX_NOTE = 500


def note_of(record: dict[str, Any]) -> str:
    """Why a check stands as it does: a failure's first line, else its reason."""
    text = str(record.get("message") or record.get("reason") or "")
    return text if len(text) <= MAX_NOTE else text[: MAX_NOTE - 1] + "…"


def runtime_id_of(report: dict[str, Any]) -> str:
    """``runc-1.1.5``, ``crun-1.8.1 rootless``: name, release without build metadata, privilege."""
    runtime = report.get("runtime") or {}
    host = report.get("host") or {}
    name = runtime.get("name") or Path(str(runtime.get("path") or "runtime")).name
    release = str(runtime.get("release") or "").split("+")[0]
    found = f"{name}-{release}" if release else str(name)
    return found + " rootless" if host.get("privilege") == "rootless" else found


def host_label_of(report: dict[str, Any]) -> str:
    """The report's host ``label``; for a report written before labels, its
    cgroup mode (the default label), else the host name."""
    host = report.get("host") or {}
    mode = host.get("cgroup_mode")
    known_mode = mode if mode in ("v1", "hybrid", "v2") else None
    return str(host.get("label") or known_mode or host.get("name") or "host")


def label_of(report: dict[str, Any]) -> str:
    """``runc-1.1.5@hybrid``, ``crun-1.8.1@gha-ubuntu-24.04 rootless``: runtime@host."""
    runtime_id = runtime_id_of(report)
    name, rootless, _ = runtime_id.partition(" rootless")
    return f"{name}@{host_label_of(report)}" + (" rootless" if rootless else "")


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


def _explicit_label(name: str, runtime_id: str, several: bool) -> str:
    """``--label NAME=REPORT``: NAME itself, or ``NAME/runtime`` per runtime of a
    report that holds several."""
    return f"{name}/{runtime_id}" if several else name


def build(
    reports: Sequence[tuple[str, dict[str, Any]]], labels: dict[str, str] | None = None
) -> Matrix:
    """The matrix of these (source name, report) pairs: one column per runtime of each.

    ``labels`` names the columns of some sources (``--label NAME=REPORT``);
    the others are ``runtime@host``.
    """
    labels = labels or {}
    parts = [
        (source, part, len(split) > 1)
        for source, report in reports
        for split in [split_runtimes(report)]
        for part in split
    ]
    known = catalogue()
    positions = {rule.id: index for index, rule in enumerate(known)}
    columns: list[Column] = []
    found: dict[str, Row] = {}
    seen_labels: dict[str, int] = {}
    per_column: list[dict[str, list[Check]]] = []
    for source, report, several in parts:
        runtime_id = runtime_id_of(report)
        if source in labels:
            label = _explicit_label(labels[source], runtime_id, several)
        else:
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
                runtime_id=runtime_id,
                host_label=host_label_of(report),
            )
        )
        states: dict[str, list[Check]] = {}
        for record in report["records"]:
            check = Check(record["nodeid"], cell_of(record), note_of(record))
            for key in record.get("rules") or [NO_RULE + " " + record["nodeid"]]:
                states.setdefault(key, []).append(check)
                if key not in found:
                    found[key] = Row(key, known.rules.get(key))
        per_column.append(states)
    for column, states in zip(columns, per_column):
        for key, row in found.items():
            checks = states.get(key, [])
            row.cells[column.label] = _worst(check.state for check in checks)
            row.checks[column.label] = checks
    rows = sorted(found.values(), key=lambda row: _order(row.rule, row.key, positions))
    return Matrix(columns, rows)
