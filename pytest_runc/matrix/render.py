"""The matrix as Markdown (a CI job summary), one static HTML file, or JSON."""

from __future__ import annotations

import html
import json

from pytest_runc.matrix.model import PROFILE_TITLES, STATES, Column, Matrix, Row

#: What a reader sees in a Markdown cell; the words stay, the marks help scanning.
MARKS = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "beyond-level-failed": "🔶 beyond-level-failed",
    "departure": "⚠️ departure",
    "unsupported": "🚫 unsupported",
    "host-lacks": "🖥️ host-lacks",
    "not-run": "· not-run",
}
LEGEND = (
    "passed: its checks passed · failed: a check failed · beyond-level-failed: a check"
    " failed, and the rule is newer than the spec version the runtime claims (not a"
    " failure of that run) · departure: the runtime declares"
    " it differs (strict xfail) · unsupported: the runtime does not claim it (`runtime:`"
    " skip) · host-lacks: the host lacks it (`host:` skip) · not-run: skipped for the"
    " environment, or not in that report"
)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _describe(column: Column) -> str:
    host = column.host
    runtime = column.runtime
    parts = [
        str(runtime.get("path") or "?"),
        str(runtime.get("version") or "?"),
        f"{host.get('distribution') or '?'}, kernel {host.get('kernel') or '?'}",
        f"{host.get('architecture') or '?'}, cgroup {host.get('cgroup_mode') or '?'},"
        f" {host.get('privilege') or '?'}",
    ]
    if column.departures_file:
        parts.append(f"departures: {column.departures_file}")
    return "; ".join(parts)


def _rule_cell(row: Row) -> str:
    if row.rule is None:
        return f"`{_md(row.key)}`"
    return f"[`{row.key}`]({row.rule.url}) {row.rule.level}"


def markdown(matrix: Matrix) -> str:
    """Summary per column, then the differences, then every rule by document and section."""
    labels = [c.label for c in matrix.columns]
    out = ["# OCI runtime conformance matrix (pytest-runc)", ""]
    for profile in matrix.profiles():
        out += [f"## Summary: {PROFILE_TITLES[profile]}, rules per state", ""]
        out.append("| runtime@host | " + " | ".join(STATES) + " |")
        out.append("|---|" + "---:|" * len(STATES))
        for label, counts in matrix.summary(profile).items():
            out.append(f"| {_md(label)} | " + " | ".join(str(counts[s]) for s in STATES) + " |")
        out.append("")
    out += ["", *[f"- **{_md(c.label)}**: {_md(_describe(c))}" for c in matrix.columns], ""]
    header = "| rule | " + " | ".join(_md(label) for label in labels) + " |"
    rule_line = "|---|" + "---|" * len(labels)
    differences = matrix.differences()
    out += [f"## Differences ({len(differences)} rules)", ""]
    if differences:
        out += [header, rule_line]
        for row in differences:
            cells = " | ".join(MARKS[row.cells[label]] for label in labels)
            out.append(f"| {_rule_cell(row)} | {cells} |")
    else:
        out.append("Every rule stands the same in every column.")
    out += ["", f"## All rules ({len(matrix.rows)})", "", LEGEND, ""]
    for document, section, rows in matrix.groups():
        title = f"{document}.md § {section}" if section else document
        out += [f"### {_md(title)}", "", header, rule_line]
        for row in rows:
            cells = " | ".join(MARKS[row.cells[label]] for label in labels)
            out.append(f"| {_rule_cell(row)} | {cells} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eee}
td.passed{background:#d9f2d9}td.failed{background:#f7c6c6;font-weight:bold}
td.beyond-level-failed{background:#fbd9a5;font-weight:bold}
td.departure{background:#fde9b8}td.unsupported{background:#e3e3f7}
td.host-lacks{background:#e8e8e8}td.not-run{color:#777}
tr.differs td:first-child{border-left:4px solid #c00}
code{font-size:.9em}.level{color:#555;font-size:.85em}
"""


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_rows(matrix: Matrix, rows: list[Row]) -> list[str]:
    lines = []
    for row in rows:
        if row.rule is not None:
            head = (
                f'<td><a href="{_h(row.rule.url)}"><code>{_h(row.key)}</code></a>'
                f' <span class="level">{_h(row.rule.level)}</span><br>{_h(row.rule.summary)}</td>'
            )
        else:
            head = f"<td><code>{_h(row.key)}</code></td>"
        cells = []
        for column in matrix.columns:
            state = row.cells[column.label]
            checks = row.checks.get(column.label, [])
            title = "\n".join(f"{nodeid}: {state}" for nodeid, state in checks) or "not in report"
            cells.append(f'<td class="{state}" title="{_h(title)}">{_h(state)}</td>')
        css = ' class="differs"' if row.differs() else ""
        lines.append(f'<tr{css} data-rule="{_h(row.key)}">{head}{"".join(cells)}</tr>')
    return lines


def html_page(matrix: Matrix) -> str:
    """One static HTML file: no script, no external stylesheet, font or image."""
    head_cells = "".join(f"<th>{_h(c.label)}</th>" for c in matrix.columns)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>OCI runtime conformance matrix (pytest-runc)</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>OCI runtime conformance matrix (pytest-runc)</h1>",
    ]
    for profile in matrix.profiles():
        summary = matrix.summary(profile)
        out += [
            f"<h2>Summary: {_h(PROFILE_TITLES[profile])}, rules per state</h2>",
            f'<table id="summary-{profile}"><tr><th>runtime@host</th>'
            + "".join(f"<th>{_h(s)}</th>" for s in STATES)
            + "<th>run</th></tr>",
        ]
        for column in matrix.columns:
            counts = summary[column.label]
            out.append(
                f'<tr data-column="{_h(column.label)}"><th>{_h(column.label)}</th>'
                + "".join(f'<td class="{s}">{counts[s]}</td>' for s in STATES)
                + f"<td>{_h(_describe(column))}</td></tr>"
            )
        out.append("</table>")
    differences = matrix.differences()
    out.append(f"<h2>Differences ({len(differences)} rules)</h2>")
    if differences:
        out.append(f'<table id="differences"><tr><th>rule</th>{head_cells}</tr>')
        out += _html_rows(matrix, differences)
        out.append("</table>")
    else:
        out.append("<p>Every rule stands the same in every column.</p>")
    out.append(f"<h2>All rules ({len(matrix.rows)})</h2><p>{_h(LEGEND)}</p>")
    out.append(f'<table id="matrix"><tr><th>rule</th>{head_cells}</tr>')
    for document, section, rows in matrix.groups():
        title = f"{document}.md § {section}" if section else document
        out.append(f'<tr><th colspan="{len(matrix.columns) + 1}">{_h(title)}</th></tr>')
        out += _html_rows(matrix, rows)
    out += ["</table>", "</body></html>"]
    return "\n".join(out) + "\n"


def json_text(matrix: Matrix) -> str:
    return json.dumps(matrix.to_json(), indent=1) + "\n"


RENDERERS = {"markdown": markdown, "html": html_page, "json": json_text}
