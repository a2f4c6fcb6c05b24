"""``python -m pytest_runc`` (or the ``pytest-runc`` command): the command-line tools.

- ``check BUNDLE...``: will runc run these bundles, and if not, why.
- ``rules``: the rule catalogue and what the conformance suite checks of it.
- ``report merge A.json B.json ...``: a matrix of rules against runtimes.
- ``run [--runtime BINARY] [PYTEST-ARGS]``: the shipped conformance suite.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

USAGE = """usage: python -m pytest_runc {run,check,rules,report} ...  (or: pytest-runc ...)
       python -m pytest_runc --version

  run [--runtime BIN]... the conformance suite shipped with the package (run --help)
  check BUNDLE...        will runc run these bundles, and if not, why (check --help)
  rules                  the OCI runtime-spec rules and which checks cover them (rules --help)
  report merge FILE...   a matrix of rules against runtimes from --runc-report files (report --help)
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a subcommand; each parses its own options (exit 2 on bad usage).

    Ctrl-C ends any subcommand with one line and status 130, not a traceback
    (``check`` handles it itself, and SIGTERM/SIGHUP too, to clean up its trial).
    """
    try:
        return _dispatch(argv)
    except KeyboardInterrupt:
        sys.stderr.write("python -m pytest_runc: interrupted\n")
        return 128 + signal.SIGINT


def _dispatch(argv: Sequence[str] | None) -> int:
    """Run the subcommand ``argv`` names."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else ""
    if command == "rules":
        from pytest_runc.rules.cli import main as rules_main

        return rules_main(args[1:])
    if command == "report":
        from pytest_runc.reports.matrix.cli import main as report_main

        return report_main(args[1:])
    if command == "run":
        from pytest_runc.runsuite import main as run_main

        return run_main(args[1:])
    if command == "check":
        from pytest_runc.bundlecheck.cli import main as check_main

        return check_main(args)
    if command in ("-V", "--version"):
        from pytest_runc import __version__

        sys.stdout.write(f"pytest-runc {__version__}\n")
        return 0
    if command in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    sys.stderr.write(USAGE)
    sys.stderr.write(
        f"python -m pytest_runc: error: {'unknown command ' + repr(command) if command else 'no command given'}\n"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
