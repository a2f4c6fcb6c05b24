"""``python -m pytest_runc rules``: the catalogue, what is checked and what is left to do."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_runc.rules import SPEC_DOCUMENTS, SPEC_VERSION, Catalogue, Rule, catalogue
from pytest_runc.rules import load_coverage as load_shipped_coverage

EXIT_OK, EXIT_USAGE = 0, 2
STATES = ("checked", "todo", "not_testable", "not_applicable")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_USAGE)


def _needs(record: dict[str, Any]) -> str:
    requires = record.get("requires") or []
    return f" [host: needs {', '.join(requires)}]" if requires else ""


def state_of(rule: Rule, checks: list[str]) -> str:
    """checked / todo for testable rules; otherwise the catalogue's status.

    ``checks`` are the exact citations only (``oci_rule``/``runc_cli``);
    ``oci_rule_context`` never makes a statement checked.
    """
    if rule.status != "testable":
        return rule.status
    return "checked" if checks else "todo"


def summarize(rules: Catalogue, coverage: dict[str, list[str]]) -> dict[str, Any]:
    """The JSON document of ``rules --json``."""
    files: dict[str, dict[str, Any]] = {}
    records = []
    for rule in rules:
        checks = coverage.get(rule.id, [])
        state = state_of(rule, checks)
        records.append({**rule.to_json(), "state": state, "checks": checks})
        entry = files.setdefault(
            rule.document,
            {"statements": 0, **dict.fromkeys(STATES, 0), "levels": Counter(), "todo_ids": []},
        )
        entry["statements"] += 1
        entry[state] += 1
        entry["levels"][rule.level] += 1
        if state == "todo":
            entry["todo_ids"].append(rule.id)
    for entry in files.values():
        entry["levels"] = dict(entry["levels"])
    spec = [files[d] for d in SPEC_DOCUMENTS if d in files]
    totals = {key: sum(f[key] for f in spec) for key in ("statements", *STATES)}
    testable = totals["checked"] + totals["todo"]
    totals["testable"] = testable
    totals["checked_ratio"] = round(totals["checked"] / testable, 4) if testable else 0.0
    cli = [f for doc, f in files.items() if doc not in SPEC_DOCUMENTS]
    runc_cli = {key: sum(f[key] for f in cli) for key in ("statements", "checked", "todo")}
    unknown = sorted(set(coverage) - {rule.id for rule in rules})
    return {
        "spec_version": SPEC_VERSION,
        "totals": totals,
        "runc_cli": runc_cli,
        "files": files,
        "rules": records,
        "unknown_ids_in_coverage": unknown,
    }


def render_text(summary: dict[str, Any]) -> str:
    lines = [
        f"OCI runtime-spec v{summary['spec_version']}: normative statements and their checks",
        "",
    ]
    header = f"{'document':<16}{'statements':>11}{'checked':>9}{'to-do':>7}{'not testable':>14}{'n/a':>6}"
    lines += [header, "-" * len(header)]
    for doc, entry in summary["files"].items():
        lines.append(
            f"{doc:<16}{entry['statements']:>11}{entry['checked']:>9}{entry['todo']:>7}"
            f"{entry['not_testable']:>14}{entry['not_applicable']:>6}"
        )
    t = summary["totals"]
    lines += [
        "-" * len(header),
        f"{'spec total':<16}{t['statements']:>11}{t['checked']:>9}{t['todo']:>7}"
        f"{t['not_testable']:>14}{t['not_applicable']:>6}",
        "",
        f"checked: {t['checked']} of {t['testable']} testable on Linux ({t['checked_ratio']:.1%});"
        f" runc CLI conventions: {summary['runc_cli']['checked']} of"
        f" {summary['runc_cli']['statements']} checked",
    ]
    todo = [r for r in summary["rules"] if r["state"] == "todo"]
    if todo:
        lines += ["", f"To do ({len(todo)}):"]
        lines += [f"  {r['id']} ({r['level']}){_needs(r)}: {r['summary']}" for r in todo]
    reasons = Counter(
        (r["state"], r["reason"]) for r in summary["rules"] if r["state"] in STATES[2:]
    )
    if reasons:
        lines += ["", "Not testable / not applicable here, by reason:"]
        for (state, reason), count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {count:>4}  {state}: {reason}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(summary: dict[str, Any]) -> str:
    t = summary["totals"]
    lines = [
        f"# OCI runtime-spec v{summary['spec_version']}: rules and checks",
        "",
        f"{t['checked']} of {t['testable']} statements testable on Linux are checked"
        f" ({t['checked_ratio']:.1%}); {t['statements']} statements in all.",
        "",
        "| document | statements | checked | to-do | not testable | not applicable |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for doc, e in summary["files"].items():
        lines.append(
            f"| {doc} | {e['statements']} | {e['checked']} | {e['todo']} | {e['not_testable']}"
            f" | {e['not_applicable']} |"
        )
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for record in summary["rules"]:
        by_doc.setdefault(record["document"], []).append(record)
    for doc, records in by_doc.items():
        lines += ["", f"## {doc}", "", "| rule | level | state | summary | checks / reason |"]
        lines.append("|---|---|---|---|---|")
        for r in records:
            detail = "<br>".join(f"`{c}`" for c in r["checks"]) or _md(r["reason"])
            lines.append(
                f"| [`{r['id']}`]({r['url']}) | {r['level']} | {r['state']} | {_md(r['summary'])}"
                f" | {detail} |"
            )
    return "\n".join(lines) + "\n"


def _spec_diff(source: str | None, write: Path | None, as_json: bool) -> int:
    from pytest_runc.rules import specdiff

    try:
        if write is not None:
            specdiff.write_statements(specdiff.extract_all(specdiff.read_spec(write)))
        if source:
            statements = specdiff.extract_all(specdiff.read_spec(Path(source)))
        else:
            statements = specdiff.load_statements()
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"python -m pytest_runc rules: {exc}\n")
        return EXIT_USAGE
    result = specdiff.compare(statements, catalogue())
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        sys.stdout.write(specdiff.render(result))
    return 1 if result["differences"] else EXIT_OK


def _inputs(args: argparse.Namespace, markers: dict[str, list[str]] | None) -> int:
    """``--inputs``: refresh the sources if asked, then print the inventory and its gaps."""
    from pytest_runc.rules import inputs, inputsources

    try:
        if args.refresh_flags:
            inputsources.refresh_flags(args.refresh_flags)
        if args.refresh_fields:
            inputsources.refresh_fields(args.refresh_fields)
        inventory = inputs.load_inventory(markers)
    except (inputsources.SourceError, inputs.InventoryError, OSError, ValueError) as exc:
        sys.stderr.write(f"python -m pytest_runc rules --inputs: {exc}\n")
        return EXIT_USAGE
    summary = inputs.summarize(inventory)
    if args.json:
        if args.gaps_only:
            summary["inputs"] = [i for i in summary["inputs"] if i["state"] == "gap"]
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        sys.stdout.write(inputs.render_text(summary, gaps_only=args.gaps_only))
    for problem in inputs.problems(inventory, markers or inputs.load_input_coverage()):
        sys.stderr.write(f"warning: {problem}\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="python -m pytest_runc rules",
        description="The OCI runtime-spec's normative statements, which conformance checks"
        " cover each, and what is not testable here and why.",
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="one JSON document")
    form.add_argument("--markdown", action="store_true", help="Markdown tables, every rule")
    parser.add_argument(
        "--suite",
        type=Path,
        metavar="DIR",
        help="collect this conformance suite for the coverage (default: the shipped index)",
    )
    parser.add_argument(
        "--update-coverage",
        action="store_true",
        help="collect --suite (default: the suite shipped in the package) and rewrite the shipped"
        " coverage index",
    )
    parser.add_argument(
        "--spec-diff",
        nargs="?",
        const="",
        metavar="SOURCE",
        help="compare the catalogue with the spec text's normative keywords (per document,"
        " section and level); SOURCE: a directory of the tag's *.md or a runtime-spec git"
        " directory; default: the extraction shipped with the package. Exit 1 on a difference",
    )
    parser.add_argument(
        "--write-spec-statements",
        type=Path,
        metavar="SOURCE",
        help="extract the normative keywords of the pinned tag from SOURCE (as --spec-diff)"
        " and rewrite the shipped extraction",
    )
    parser.add_argument(
        "--inputs",
        action="store_true",
        help="the input inventory: every runc flag and config/state field, the checks that"
        " fail when it is ignored, or why none can; gaps are inputs with neither",
    )
    parser.add_argument("--gaps-only", action="store_true", help="with --inputs: only the gaps")
    parser.add_argument(
        "--refresh-flags",
        nargs="+",
        metavar="RUNC",
        help="with --inputs: rewrite the shipped flag list from these runtimes' --help",
    )
    parser.add_argument(
        "--refresh-fields",
        type=Path,
        metavar="SOURCE",
        help="with --inputs: rewrite the shipped field list from the spec's schemas (a"
        f" directory of schema/*.json, or a runtime-spec git directory with tag v{SPEC_VERSION})",
    )
    args = parser.parse_args(argv)
    if (args.gaps_only or args.refresh_flags or args.refresh_fields) and not args.inputs:
        parser.error("--gaps-only, --refresh-flags and --refresh-fields go with --inputs")
    if args.inputs and args.markdown:
        parser.error("--inputs prints text or --json, not --markdown")
    if args.spec_diff is not None or args.write_spec_statements:
        return _spec_diff(args.spec_diff, args.write_spec_statements, as_json=args.json)
    if args.update_coverage or args.suite:
        from pytest_runc.rules.coverage import (
            collect_indexes,
            write_coverage,
            write_input_coverage,
        )
        from pytest_runc.suite import SUITE_DIR

        suite = args.suite or SUITE_DIR
        if not suite.is_dir():
            parser.error(f"{suite} is not a directory: give --suite DIR (the conformance suite)")
        try:
            coverage, input_coverage = collect_indexes(suite)
        except RuntimeError as exc:
            sys.stderr.write(f"{exc}\n")
            return 1
        if args.update_coverage:
            write_coverage(coverage)
            write_input_coverage(input_coverage)
        if args.inputs:
            return _inputs(args, input_coverage)
    elif args.inputs:
        return _inputs(args, None)
    else:
        coverage = load_shipped_coverage()
    summary = summarize(catalogue(), coverage)
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    elif args.markdown:
        sys.stdout.write(render_markdown(summary))
    else:
        sys.stdout.write(render_text(summary))
    return EXIT_OK
