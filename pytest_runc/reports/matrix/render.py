"""The matrix as Markdown (a CI job summary), one static HTML file, or JSON."""

from __future__ import annotations

import html
import json

from pytest_runc.reports.matrix.model import (
    PROFILE_TITLES,
    STATES,
    Check,
    Column,
    HostDifference,
    Matrix,
    Row,
)

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
#: Marks a cell whose runtime stands otherwise on another host.
HOST_MARK = "†"
LEGEND = (
    "passed: its checks passed · failed: a check failed · beyond-level-failed: a check"
    " failed, and the rule is newer than the spec version the runtime claims (not a"
    " failure of that run) · departure: the runtime declares"
    " it differs (strict xfail) · unsupported: the runtime does not claim it (`runtime:`"
    " skip) · host-lacks: the host lacks it (`host:` skip) · not-run: skipped for the"
    " environment, or not in that report"
)
HOST_LEGEND = f"{HOST_MARK}: this runtime stands otherwise on another host (see Host differences)"
HOST_INTRO = (
    "The same runtime, the same rule, another outcome on another host: an outcome"
    " the host decides (cgroup mode, kernel, setup), listed here and not as a"
    " difference between runtimes. A failure on one host only is still a failure"
    " of that run: the why column says what failed, or what the host lacks."
    " Cells that are not-run on a host are left out."
)
DIFFERENCES_INTRO = "Rules on which the runtimes disagree on the same host (not-run cells aside)."
#: Longest note shown in a Markdown table cell.
MAX_MD_NOTE = 160


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _first_line(text: object) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0] if lines else "?"


def _describe(column: Column) -> str:
    host = column.host
    runtime = column.runtime
    parts = [
        str(runtime.get("path") or "?"),
        _first_line(runtime.get("version")),
        f"{host.get('distribution') or '?'}, kernel {host.get('kernel') or '?'}",
        f"{host.get('architecture') or '?'}, cgroup {host.get('cgroup_mode') or '?'},"
        f" {host.get('privilege') or '?'}",
    ]
    if runtime.get("spec"):
        parts.insert(2, f"spec {runtime['spec']}")
    if column.departures_file:
        parts.append(f"departures: {column.departures_file}")
    return "; ".join(parts)


def _rule_cell(row: Row) -> str:
    if row.rule is None:
        return f"`{_md(row.key)}`"
    return f"[`{row.key}`]({row.rule.url}) {row.rule.level}"


def _md_cells(matrix: Matrix, row: Row, host_cells: set[tuple[str, str]]) -> str:
    marks = []
    for column in matrix.columns:
        mark = MARKS[row.cells[column.label]]
        if (column.label, row.key) in host_cells:
            mark += f" {HOST_MARK}"
        marks.append(mark)
    return " | ".join(marks)


def _short(text: str, limit: int = MAX_MD_NOTE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _why(difference: HostDifference) -> str:
    """The first note of a check that did not pass, with the host it came from."""
    for column in difference.columns:
        for check in difference.row.checks.get(column.label, []):
            if check.state not in ("passed", "not-run") and check.note:
                return f"{column.host_label}: {_short(check.note)}"
    return ""


def _outcome_per_host(difference: HostDifference) -> str:
    return ", ".join(
        f"{column.host_label}: {difference.row.cells[column.label]}"
        for column in difference.columns
        if difference.row.cells[column.label] != "not-run"
    )


def _summary_md(matrix: Matrix, several_hosts: bool) -> list[str]:
    out = []
    extra = ["host-differences"] if several_hosts else []
    for profile in matrix.profiles():
        out += [f"## Summary: {PROFILE_TITLES[profile]}, rules per state", ""]
        out.append("| runtime@host | " + " | ".join([*STATES, *extra]) + " |")
        out.append("|---|" + "---:|" * (len(STATES) + len(extra)))
        host_counts = matrix.host_difference_counts(profile)
        for label, counts in matrix.summary(profile).items():
            values = [str(counts[s]) for s in STATES]
            if several_hosts:
                values.append(str(host_counts[label]))
            out.append(f"| {_md(label)} | " + " | ".join(values) + " |")
        out.append("")
    return out


def _host_differences_md(matrix: Matrix) -> list[str]:
    found = matrix.host_differences()
    out = [f"## Host differences ({len(found)})", "", HOST_INTRO, ""]
    if not found:
        return [*out, "Every runtime stands the same on every host it ran on.", ""]
    out += ["| runtime | rule | checks | outcome per host | why |", "|---|---|---|---|---|"]
    for difference in found:
        checks = "<br>".join(f"`{_md(nodeid)}`" for nodeid in difference.differing_checks())
        out.append(
            f"| {_md(difference.runtime_id)} | {_rule_cell(difference.row)} | {checks}"
            f" | {_md(_outcome_per_host(difference))} | {_md(_why(difference))} |"
        )
    return [*out, ""]


def markdown(matrix: Matrix) -> str:
    """Summary per column, host differences (several hosts), the differences
    between runtimes, then every rule by document and section."""
    labels = [c.label for c in matrix.columns]
    several_hosts = len(matrix.hosts()) > 1
    host_cells = matrix.host_cells()
    out = ["# OCI runtime conformance matrix (pytest-runc)", ""]
    out += _summary_md(matrix, several_hosts)
    out += ["", *[f"- **{_md(c.label)}**: {_md(_describe(c))}" for c in matrix.columns], ""]
    if several_hosts:
        out += _host_differences_md(matrix)
    header = "| rule | " + " | ".join(_md(label) for label in labels) + " |"
    rule_line = "|---|" + "---|" * len(labels)
    differences = matrix.differences()
    out += [f"## Differences ({len(differences)} rules)", "", DIFFERENCES_INTRO, ""]
    if differences:
        out += [header, rule_line]
        for row in differences:
            out.append(f"| {_rule_cell(row)} | {_md_cells(matrix, row, host_cells)} |")
    else:
        out.append("Every rule stands the same in every column that ran it.")
    legend = f"{LEGEND} · {HOST_LEGEND}" if several_hosts else LEGEND
    out += ["", f"## All rules ({len(matrix.rows)})", "", legend, ""]
    for document, section, rows in matrix.groups():
        title = f"{document}.md § {section}" if section else document
        out += [f"### {_md(title)}", "", header, rule_line]
        for row in rows:
            out.append(f"| {_rule_cell(row)} | {_md_cells(matrix, row, host_cells)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# -- HTML ----------------------------------------------------------------------

#: Tables scroll in their own box, so that the header row and the rule column
#: stay in view (sticky) whichever way the reader scrolls, on a phone too.
#: Host-difference cells are framed with an inset box-shadow: an outline on
#: a cell in such a box made Chromium leave the rest of the row unpainted.
_CSS = """
body{font-family:system-ui,sans-serif;margin:1rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{font-size:1.2rem}
.scroll{overflow:auto;max-height:85vh;width:fit-content;max-width:100%;
margin:.5rem 0 1.5rem;border:1px solid #bbb}
table{border-collapse:separate;border-spacing:0}
th,td{border-right:1px solid #bbb;border-bottom:1px solid #bbb;padding:.25rem .5rem;
text-align:left;vertical-align:top;background:#fff}
thead th{position:sticky;top:0;z-index:2;background:#eee}
th.first,td.first{position:sticky;left:0;z-index:1;min-width:9rem;max-width:38vw;
overflow-wrap:anywhere;background:#f8f8f8}
thead th.first{z-index:3;background:#e4e4e4}
th.group{background:#f0f0f0;font-weight:600}
td.passed{background:#d9f2d9}td.failed{background:#f7c6c6;font-weight:bold}
td.beyond-level-failed{background:#fbd9a5;font-weight:bold}
td.departure{background:#fde9b8}td.unsupported{background:#e3e3f7}
td.host-lacks{background:#e8e8e8}td.not-run{color:#777}
td.zero{background:#fff;color:#999;font-weight:normal}
td.host-difference{box-shadow:inset 0 0 0 2px #7a4eb8}td.run{min-width:16rem}
tr.differs td.first{border-left:4px solid #c00}
details summary{cursor:pointer}details ul{margin:.25rem 0;padding-left:1rem;
font-weight:normal;font-size:.85em;max-width:28rem;overflow-wrap:anywhere}
code{font-size:.9em}.level{color:#555;font-size:.85em}
"""


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def _check_item(check: Check) -> str:
    note = f": {_h(check.note)}" if check.note else ""
    return f"<li><code>{_h(check.nodeid)}</code> {_h(check.state)}{note}</li>"


def _html_cell(state: str, checks: list[Check], host_difference: bool) -> str:
    """A state, and under it (expandable) each check with its message or reason."""
    css = state + (" host-difference" if host_difference else "")
    title = HOST_LEGEND if host_difference else ""
    title_attr = f' title="{_h(title)}"' if title else ""
    shown = [check for check in checks if check.state != "passed" or state == "passed"]
    if state == "passed" or not shown:
        reason = "" if checks else " (not in report)"
        return f'<td class="{css}"{title_attr}>{_h(state)}{_h(reason)}</td>'
    items = "".join(_check_item(check) for check in shown)
    return (
        f'<td class="{css}"{title_attr}><details><summary>{_h(state)}</summary>'
        f"<ul>{items}</ul></details></td>"
    )


def _rule_head(row: Row) -> str:
    """The rule's cell (sticky, first): its id (linked to the spec), level and summary."""
    opening = '<td class="first">'
    if row.rule is None:
        return f"{opening}<code>{_h(row.key)}</code></td>"
    return (
        f'{opening}<a href="{_h(row.rule.url)}"><code>{_h(row.key)}</code></a>'
        f' <span class="level">{_h(row.rule.level)}</span><br>{_h(row.rule.summary)}</td>'
    )


def _html_rows(matrix: Matrix, rows: list[Row], host_cells: set[tuple[str, str]]) -> list[str]:
    lines = []
    for row in rows:
        cells = "".join(
            _html_cell(
                row.cells[column.label],
                row.checks.get(column.label, []),
                (column.label, row.key) in host_cells,
            )
            for column in matrix.columns
        )
        css = ' class="differs"' if row.differs() else ""
        lines.append(f'<tr{css} data-rule="{_h(row.key)}">{_rule_head(row)}{cells}</tr>')
    return lines


def _table(table_id: str, head: list[str], body: list[str]) -> list[str]:
    """A table in its own scrolling box, the first head cell sticky both ways."""
    cells = "".join(
        f'<th class="first">{_h(text)}</th>' if index == 0 else f"<th>{_h(text)}</th>"
        for index, text in enumerate(head)
    )
    return [
        f'<div class="scroll"><table id="{table_id}"><thead><tr>{cells}</tr></thead><tbody>',
        *body,
        "</tbody></table></div>",
    ]


def _summary_html(matrix: Matrix, several_hosts: bool) -> list[str]:
    out = []
    extra = ["host-differences"] if several_hosts else []
    for profile in matrix.profiles():
        summary = matrix.summary(profile)
        host_counts = matrix.host_difference_counts(profile)
        body = []
        for column in matrix.columns:
            counts = dict(summary[column.label])
            if several_hosts:
                counts["host-differences"] = host_counts[column.label]
            cells = "".join(
                # A zero says nothing happened: neutral, whatever its state's colour.
                f'<td class="{state if counts[state] else "zero"}">{counts[state]}</td>'
                for state in [*STATES, *extra]
            )
            body.append(
                f'<tr data-column="{_h(column.label)}"><th class="first">{_h(column.label)}</th>'
                f'{cells}<td class="run">{_h(_describe(column))}</td></tr>'
            )
        out.append(f"<h2>Summary: {_h(PROFILE_TITLES[profile])}, rules per state</h2>")
        out += _table(f"summary-{profile}", ["runtime@host", *STATES, *extra, "run"], body)
    return out


def _host_differences_html(matrix: Matrix) -> list[str]:
    found = matrix.host_differences()
    out = [f"<h2>Host differences ({len(found)})</h2>", f"<p>{_h(HOST_INTRO)}</p>"]
    if not found:
        return [*out, "<p>Every runtime stands the same on every host it ran on.</p>"]
    hosts = matrix.hosts()
    body = []
    for difference in found:
        by_host = {column.host_label: column for column in difference.columns}
        cells = []
        for host in hosts:
            column = by_host.get(host)
            if column is None:
                cells.append('<td class="not-run">—</td>')
                continue
            checks = difference.row.checks.get(column.label, [])
            cells.append(_html_cell(difference.row.cells[column.label], checks, False))
        body.append(
            f'<tr data-rule="{_h(difference.row.key)}" data-runtime="{_h(difference.runtime_id)}">'
            f"{_rule_head(difference.row)}<td>{_h(difference.runtime_id)}</td>"
            f"{''.join(cells)}</tr>"
        )
    return [*out, *_table("host-differences", ["rule", "runtime", *hosts], body)]


def html_page(matrix: Matrix) -> str:
    """One static HTML file: no script, no external stylesheet, font or image."""
    several_hosts = len(matrix.hosts()) > 1
    host_cells = matrix.host_cells()
    head = ["rule", *(c.label for c in matrix.columns)]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>OCI runtime conformance matrix (pytest-runc)</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>OCI runtime conformance matrix (pytest-runc)</h1>",
    ]
    out += _summary_html(matrix, several_hosts)
    if several_hosts:
        out += _host_differences_html(matrix)
    differences = matrix.differences()
    out += [
        f"<h2>Differences ({len(differences)} rules)</h2>",
        f"<p>{_h(DIFFERENCES_INTRO)}</p>",
    ]
    if differences:
        out += _table("differences", head, _html_rows(matrix, differences, host_cells))
    else:
        out.append("<p>Every rule stands the same in every column that ran it.</p>")
    legend = f"{LEGEND} · {HOST_LEGEND}" if several_hosts else LEGEND
    out.append(f"<h2>All rules ({len(matrix.rows)})</h2><p>{_h(legend)}</p>")
    body = []
    for document, section, rows in matrix.groups():
        title = f"{document}.md § {section}" if section else document
        body.append(
            f'<tr><th class="first group">{_h(title)}</th>'
            f'<th class="group" colspan="{len(matrix.columns)}"></th></tr>'
        )
        body += _html_rows(matrix, rows, host_cells)
    out += _table("matrix", head, body)
    out += ["</body></html>"]
    return "\n".join(out) + "\n"


def json_text(matrix: Matrix) -> str:
    return json.dumps(matrix.to_json(), indent=1) + "\n"


RENDERERS = {"markdown": markdown, "html": html_page, "json": json_text}
