"""``python -m pytest_runc report merge A.json B.json ... [--format F] [-o FILE]
[--label NAME=REPORT] [--fail-on STATE,...]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_runc.reports.matrix.model import STATES, Matrix, ReportError, build, load_report
from pytest_runc.reports.matrix.render import RENDERERS

#: Exit status when ``--fail-on`` finds a cell in one of its states.
EXIT_GATE = 1
#: Exit status of bad input: a bad option, or a file that is not a report.
EXIT_USAGE = 2
#: ``--fail-on`` values: the cell states a gate can mean (``passed`` is none of
#: them), ``beyond-level`` for short, and ``host-difference`` for any cell
#: whose runtime stands otherwise on another host.
HOST_DIFFERENCE = "host-difference"
FAIL_ON_ALIASES = {"beyond-level": "beyond-level-failed"}
FAIL_ON_CHOICES = (
    *(state for state in STATES if state != "passed"),
    *FAIL_ON_ALIASES,
    HOST_DIFFERENCE,
)
#: How many gating cells the error lists before "and N more".
SHOWN_CELLS = 20


def _fail_on(value: str) -> frozenset[str]:
    """``failed,departure`` -> the states to gate on; ArgumentTypeError naming a bad one."""
    wanted = [part.strip() for part in value.split(",") if part.strip()]
    if not wanted:
        raise argparse.ArgumentTypeError(f"empty; name one or more of {', '.join(FAIL_ON_CHOICES)}")
    unknown = [part for part in wanted if part not in FAIL_ON_CHOICES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {', '.join(map(repr, unknown))}; choose from {', '.join(FAIL_ON_CHOICES)}"
            " (comma-separated)"
        )
    return frozenset(FAIL_ON_ALIASES.get(part, part) for part in wanted)


def _label(value: str) -> tuple[str, Path]:
    """``NAME=REPORT`` -> (NAME, REPORT); ArgumentTypeError when either is missing."""
    name, sep, path = value.partition("=")
    name = " ".join(name.split())
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected NAME=REPORT, e.g. runc-main@ci=reports/runc.json"
        )
    return name, Path(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_runc report",
        description="Join --runc-report files into a matrix of rules against runtime@host.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="merge")
    merge = commands.add_parser(
        "merge",
        help="merge reports into a matrix",
        description="Rules as rows (by spec document and section), one column per report,"
        " host differences and differences first.",
        epilog=f"Exit status: 0 with the matrix; {EXIT_GATE} when --fail-on finds a cell in"
        f" one of its states (the matrix is written first); {EXIT_USAGE} for a bad option"
        " or a file that is not a report.",
    )
    merge.add_argument("reports", nargs="*", type=Path, metavar="REPORT.json")
    merge.add_argument(
        "--format", choices=sorted(RENDERERS), default="markdown", help="default: markdown"
    )
    merge.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write here instead of stdout"
    )
    merge.add_argument(
        "--label",
        type=_label,
        action="append",
        default=[],
        metavar="NAME=REPORT",
        help="name REPORT's column NAME (NAME/runtime for a report of several runtimes);"
        " REPORT is merged even when not listed; repeatable",
    )
    merge.add_argument(
        "--fail-on",
        type=_fail_on,
        default=frozenset(),
        metavar="STATE[,STATE...]",
        help=f"exit {EXIT_GATE} when any cell is in one of these states: "
        + ", ".join(FAIL_ON_CHOICES)
        + " (default: never; the matrix is written either way)",
    )
    return parser


def _error(message: str) -> int:
    sys.stderr.write(f"python -m pytest_runc report merge: error: {message}\n")
    return EXIT_USAGE


def _sources(args: argparse.Namespace) -> tuple[list[Path], dict[str, str]]:
    """The report files in order (listed, then --label ones not listed) and the
    explicit column names by source; ValueError for a name given twice."""
    paths = list(args.reports)
    labels: dict[str, str] = {}
    names: set[str] = set()
    for name, path in args.label:
        if name in names:
            raise ValueError(f"--label {name}=...: the name {name!r} is given twice")
        names.add(name)
        same = next((known for known in paths if _same_file(known, path)), None)
        if same is None:
            paths.append(path)
            same = path
        labels[str(same)] = name
    if not paths:
        raise ValueError("no report given: name REPORT.json files or --label NAME=REPORT")
    return paths, labels


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except OSError:
        return one == other


def gate(matrix: Matrix, states: frozenset[str]) -> list[tuple[str, str, str]]:
    """(column, rule, state) of each cell that ``--fail-on states`` fails on."""
    found = matrix.cells_in(states)
    if HOST_DIFFERENCE in states:
        host_cells = matrix.host_cells()
        found += [
            (label, row.key, HOST_DIFFERENCE)
            for row in matrix.rows
            for label in (column.label for column in matrix.columns)
            if (label, row.key) in host_cells
        ]
    return found


def _gate_message(found: list[tuple[str, str, str]], states: frozenset[str]) -> str:
    shown = "; ".join(f"{label}: {rule} {state}" for label, rule, state in found[:SHOWN_CELLS])
    more = f"; and {len(found) - SHOWN_CELLS} more" if len(found) > SHOWN_CELLS else ""
    return (
        f"python -m pytest_runc report merge: --fail-on {','.join(sorted(states))}:"
        f" {len(found)} cell(s): {shown}{more}\n"
    )


def main(argv: Sequence[str]) -> int:
    """Exit 0 with the matrix; 1 when --fail-on finds a cell; 2 for bad input."""
    args = _parser().parse_args(list(argv))
    try:
        paths, labels = _sources(args)
        reports = [(str(path), load_report(path)) for path in paths]
    except (ReportError, ValueError) as exc:
        return _error(str(exc))
    matrix = build(reports, labels)
    text = RENDERERS[args.format](matrix)
    if args.output is None:
        sys.stdout.write(text)
    else:
        # Imported here: it pulls in pytest, which printing to stdout does not need.
        from pytest_runc.reports.json_report import write_file_atomically

        try:
            # Often run as root in a shared directory: a fresh file renamed into
            # place, never a write through whatever link sits at the name.
            write_file_atomically(args.output, text)
        except OSError as exc:
            return _error(str(exc))
    found = gate(matrix, args.fail_on)
    if found:
        sys.stderr.write(_gate_message(found, args.fail_on))
        return EXIT_GATE
    return 0
