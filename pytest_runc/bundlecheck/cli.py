"""``python -m pytest_runc check BUNDLE...``: the bundle check on the command line.

SIGINT, SIGTERM and SIGHUP end a check the way Ctrl-C ends pytest: as
KeyboardInterrupt in the main thread, so the trial's ``finally`` blocks kill
runc, delete the container, remove its cgroups and mounts and the work
directory. Then one line on stderr, no traceback, and the exit status
128 + the signal's number. A second signal during that cleanup is ignored:
cleanup is bounded by deadlines, and SIGKILL remains for the impatient (the
next check sweeps what a killed one left).
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from pytest_runc.bundlecheck.check import check_bundle
from pytest_runc.bundlecheck.fix import FixError, fix_bundle
from pytest_runc.oci.environment import probe_privilege, resolve_binary
from pytest_runc.sessions.workdir import sweep

EXIT_OK, EXIT_INCOMPATIBLE, EXIT_USAGE = 0, 1, 2
PROG = "python -m pytest_runc check"
#: The longest --timeout taken: a deadline beyond a day is a typo, not a wish,
#: and would let a hung runtime keep a check (and a CI job) "running" for ever.
MAX_TIMEOUT = 86400.0
#: The signals that end a check with cleanup.
INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
        "--allow-host-mounts",
        action="store_true",
        help="give the trial the bundle's bind mounts of host paths and a rootfs outside the"
        " bundle, as runc would (the bundle then reaches the host as root)",
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


class _Interrupted:
    """Which signal interrupted the check, if one did."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.closing = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The first signal becomes KeyboardInterrupt; later ones are ignored."""
        if self.signum is not None or self.closing:
            return  # cleaning up already, or returning: nothing to interrupt
        self.signum = signum
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    def exit_status(self) -> int:
        """128 + the signal's number, as a shell reports a death by that signal."""
        return 128 + (self.signum or signal.SIGINT)


@contextmanager
def _interrupts_with_cleanup() -> Iterator[_Interrupted]:
    """While the check runs, SIGINT/SIGTERM/SIGHUP raise KeyboardInterrupt.

    Python only lets the main thread set handlers: called from another thread,
    nothing is installed (and such a caller's signals are its own business).
    The previous handlers come back afterwards.
    """
    interrupted = _Interrupted()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return
    previous: dict[int, Any] = {}
    try:
        for signum in INTERRUPTS:
            previous[signum] = signal.signal(signum, interrupted.handle)
        yield interrupted
    finally:
        # First stop raising: a signal between two restores must not escape.
        interrupted.closing = True
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``check``; the exit status is 0 (all runnable), 1 (one is not), 2 (usage),
    or 128 + N when signal N (INT, TERM, HUP) interrupted it."""
    with _interrupts_with_cleanup() as interrupted:
        try:
            return _check(argv)
        except KeyboardInterrupt:
            # The finally blocks below _check have run: say so, without a traceback.
            name = signal.Signals(interrupted.signum or signal.SIGINT).name
            sys.stderr.write(f"{PROG}: interrupted by {name}; the trial was cleaned up\n")
            return interrupted.exit_status()


def _timeout_problem(seconds: float) -> str | None:
    """Why ``--timeout seconds`` is refused, or None. NaN compares false with
    everything, so it is named first: ``nan <= 0`` would have let it through."""
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_TIMEOUT:
        return (
            f"--timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}"
            f" (one day), not {seconds:g}"
        )
    return None


def _sweep_leftovers(binary: str, sudo: bool) -> None:
    """Remove what killed checks (and pytest runs) left in our base, first.

    Only directories whose owner is dead are touched (their lock is free). What
    could not be removed is printed with the command that removes it.
    """
    swept = sweep(binary, sudo=sudo)
    for line in swept.removed:
        sys.stderr.write(f"{PROG}: removed leftover of an earlier run: {line}\n")
    for line in swept.left:
        sys.stderr.write(f"{PROG}: left: {line}\n")


def _check(argv: Sequence[str] | None) -> int:
    """``main`` without the signal handling."""
    args = build_parser().parse_args(argv)
    problem = _timeout_problem(args.timeout)
    if problem is not None:
        sys.stderr.write(f"{PROG}: error: {problem}\n")
        return EXIT_USAGE
    if args.fix is not None:
        if len(args.bundles) != 1:
            sys.stderr.write("--fix takes exactly one BUNDLE\n")
            return EXIT_USAGE
        try:
            fixed = fix_bundle(args.bundles[0], args.fix, allow_host_mounts=args.allow_host_mounts)
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
    if binary is not None:
        _sweep_leftovers(binary, sudo)
    reports = [
        check_bundle(
            bundle,
            runtime_binary=binary,
            sudo=sudo,
            allow_hooks=args.allow_hooks,
            allow_host_mounts=args.allow_host_mounts,
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
