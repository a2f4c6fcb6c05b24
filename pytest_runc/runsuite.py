"""``python -m pytest_runc run``: the shipped conformance suite against a runtime.

No checkout needed: the suite is part of the installed package. The command
is a thin front to ``python -m pytest SUITE --runc --runc-binary=...``: every
other argument goes to pytest unchanged, so ``-n 2``, ``-k``, ``--runc-report``
and the rest work as they do with pytest.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_runc.suite import SUITE_DIR

USAGE = """usage: python -m pytest_runc run [--runtime BINARY]... [PYTEST-ARGS...]

Run the conformance suite shipped with this pytest-runc against BINARY
(default: runc on PATH), as root, through passwordless sudo, or rootless
with --runc-rootless. Each --runtime adds one runtime to the run (a name on
PATH or a path, made absolute here). Everything else goes to pytest, e.g.
  python -m pytest_runc run --runtime ./target/myrt -n 2 --runc-report out.json
  python -m pytest_runc run --runtime crun -k lifecycle
Same as: pytest --pyargs pytest_runc.conformance --runc --runc-binary BINARY
"""


class UsageError(Exception):
    """A command line the run cannot start with; the message names the fix."""


def resolve_runtime(value: str) -> str:
    """An absolute path for ``value`` (a path, or a command name found on PATH).

    Resolved before anything changes directory, so a relative path means what
    the user meant.
    """
    import shutil

    if not value:
        raise UsageError("--runtime needs a value: a path to the runtime binary or a name on PATH")
    if "/" not in value:
        found = shutil.which(value)
        if found is None:
            raise UsageError(f"--runtime {value}: no such command on PATH; give its path")
        return os.path.abspath(found)
    path = Path(value).expanduser()
    if not path.is_file() or not os.access(path, os.X_OK):
        raise UsageError(
            f"--runtime {value}: {'not an executable file' if path.exists() else 'no such file'}"
            f" (resolved from {os.getcwd()}); give the path of the runtime binary"
        )
    return str(path.absolute())


def split_arguments(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(absolute runtime paths, pytest arguments) from the command line after ``run``."""
    runtimes: list[str] = []
    rest: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            rest.extend(args)
            break
        if arg == "--runtime":
            if not args:
                raise UsageError("--runtime needs a value: a path to the runtime binary")
            runtimes.append(resolve_runtime(args.pop(0)))
        elif arg.startswith("--runtime="):
            runtimes.append(resolve_runtime(arg.partition("=")[2]))
        else:
            rest.append(arg)
    return runtimes, rest


def pytest_argv(runtimes: Sequence[str], rest: Sequence[str]) -> list[str]:
    """The pytest command line for the shipped suite.

    ``-c`` with the suite's own settings and ``--rootdir`` at the suite keep a
    project's pytest configuration found above the installation out of the
    run; no cache is written into the installation.
    """
    return [
        sys.executable, "-m", "pytest", str(SUITE_DIR),
        "-c", str(SUITE_DIR / "suite.ini"), f"--rootdir={SUITE_DIR}",
        "-p", "no:cacheprovider", "--runc",
        *(f"--runc-binary={binary}" for binary in runtimes),
        *rest,
    ]  # fmt: skip


def main(argv: Sequence[str]) -> int:
    """Replace this process with pytest running the suite; 2 on bad usage."""
    if any(arg in ("-h", "--help") for arg in argv[: argv.index("--") if "--" in argv else None]):
        sys.stdout.write(USAGE)
        return 0
    try:
        runtimes, rest = split_arguments(argv)
    except UsageError as exc:
        sys.stderr.write(f"python -m pytest_runc run: error: {exc}\n")
        return 2
    command = pytest_argv(runtimes, rest)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
    return 0  # not reached: execv does not return
