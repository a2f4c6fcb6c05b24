"""``python -m pytest_runc report merge A.json B.json ... [--format F] [-o FILE]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_runc.matrix.model import ReportError, build, load_report
from pytest_runc.matrix.render import RENDERERS


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
        " differences first.",
    )
    merge.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json")
    merge.add_argument(
        "--format", choices=sorted(RENDERERS), default="markdown", help="default: markdown"
    )
    merge.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write here instead of stdout"
    )
    return parser


def _error(message: str) -> int:
    sys.stderr.write(f"python -m pytest_runc report merge: error: {message}\n")
    return 2


def main(argv: Sequence[str]) -> int:
    """Exit 0 with the matrix; 2 with one line naming the bad file and the fix."""
    args = _parser().parse_args(list(argv))
    try:
        reports = [(str(path), load_report(path)) for path in args.reports]
    except ReportError as exc:
        return _error(str(exc))
    text = RENDERERS[args.format](build(reports))
    if args.output is None:
        sys.stdout.write(text)
        return 0
    # Imported here: it pulls in pytest, which printing to stdout does not need.
    from pytest_runc.jsonreport import write_file_atomically

    try:
        # Often run as root in a shared directory: a fresh file renamed into
        # place, never a write through whatever link sits at the name.
        write_file_atomically(args.output, text)
    except OSError as exc:
        return _error(str(exc))
    return 0
