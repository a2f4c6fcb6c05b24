"""``python -m pytest_runc check BUNDLE...``: the bundle check on the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_runc.compat import check_bundle
from pytest_runc.compat.findings import WARNING, Finding
from pytest_runc.environment import probe_privilege, resolve_binary

EXIT_OK, EXIT_INCOMPATIBLE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m pytest_runc",
        description="Tell whether runc will run OCI bundles, and if not, why.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = commands.add_parser(
        "check",
        help="check bundles (exit 0: all runc-compatible, 1: one is not, 2: usage error)",
        description="Static checks (config.json, schema, rootfs), then — as root — a trial run"
        " of a private copy with runc. The bundle is never modified; hooks never run unless"
        " --allow-hooks.",
    )
    check.add_argument("bundles", nargs="+", metavar="BUNDLE", type=Path)
    check.add_argument("--json", action="store_true", help="print a JSON array of verdicts")
    check.add_argument(
        "--runc-binary",
        default="runc",
        metavar="PATH",
        help="runtime for the dynamic check (default: runc on PATH)",
    )
    check.add_argument(
        "--static-only", action="store_true", help="do not run the bundle; static checks only"
    )
    check.add_argument(
        "--allow-hooks",
        action="store_true",
        help="run the bundle's hooks during the dynamic check (they run on the host as root)",
    )
    check.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="deadline for each runtime command (default: 30)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.timeout <= 0:
        sys.stderr.write("--timeout must be a positive number of seconds\n")
        return EXIT_USAGE
    binary: str | None = None
    note: Finding | None = None
    if not args.static_only:
        privilege = probe_privilege()
        path, missing = resolve_binary(args.runc_binary)
        if privilege.problem or missing:
            why = privilege.problem or missing
            note = Finding(
                WARNING,
                "dynamic-check-skipped",
                f"no trial run with runc: {why}",
                "run as root with runc installed, or pass --static-only",
                "runc",
            )
        else:
            binary = path
            sudo = privilege.sudo
    reports = []
    for bundle in args.bundles:
        report = check_bundle(
            bundle,
            runtime_binary=binary,
            sudo=binary is not None and sudo,
            allow_hooks=args.allow_hooks,
            timeout=args.timeout,
        )
        if note is not None:
            report.findings.append(note)
        reports.append(report)
    if args.json:
        print(json.dumps([r.as_json() for r in reports], indent=2))
    else:
        print("\n\n".join(r.render() for r in reports))
    return EXIT_OK if all(r.compatible for r in reports) else EXIT_INCOMPATIBLE
