"""``python -m pytest_runc check BUNDLE...``: the bundle check on the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_runc.bundlecheck.check import check_bundle
from pytest_runc.bundlecheck.fix import FixError, fix_bundle
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
        description="Static checks (config.json read as runc reads it, then rootfs), then"
        " — as root — a trial run of a stand-in with runc, on an overlay of the rootfs; runc's"
        " result decides. The bundle is never modified; hooks never run unless --allow-hooks.",
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
        "--fix",
        metavar="OUT_DIR",
        type=Path,
        help="write a corrected copy of the (one) bundle to OUT_DIR, print what changed,"
        " then check the copy",
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
    """Run ``check``; the exit status is 0 (all runnable), 1 (one is not) or 2 (usage)."""
    args = build_parser().parse_args(argv)
    if args.timeout <= 0:
        sys.stderr.write("--timeout must be a positive number of seconds\n")
        return EXIT_USAGE
    if args.fix is not None:
        if len(args.bundles) != 1:
            sys.stderr.write("--fix takes exactly one BUNDLE\n")
            return EXIT_USAGE
        try:
            fixed = fix_bundle(args.bundles[0], args.fix)
        except FixError as exc:
            sys.stderr.write(f"cannot fix {args.bundles[0]}: {exc}\n")
            return EXIT_INCOMPATIBLE
        print(fixed.render(), file=sys.stderr if args.json else sys.stdout)
        args.bundles = [args.fix]
    binary: str | None = None
    sudo = False
    why_not: str | None = None
    if not args.static_only:
        privilege = probe_privilege()
        path, missing = resolve_binary(args.runc_binary)
        if privilege.problem or missing:
            why_not = privilege.problem or missing
        else:
            binary, sudo = path, privilege.sudo
    reports = [
        check_bundle(
            bundle,
            runtime_binary=binary,
            sudo=sudo,
            allow_hooks=args.allow_hooks,
            timeout=args.timeout,
            no_trial_reason=why_not,
        )
        for bundle in args.bundles
    ]
    if args.json:
        print(json.dumps([r.as_json() for r in reports], indent=2))
    else:
        print("\n\n".join(r.render() for r in reports))
    return EXIT_OK if all(r.compatible for r in reports) else EXIT_INCOMPATIBLE
