"""The executables a test run uses as --runc-binary: a wrapper that runs a fault
or a tolerant variant (``write_wrapper``), and a recorder of the commands called
(``write_recorder``)."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from pytest_runc.faulty import MODULE_ENV
from pytest_runc.faulty.registry import FAULTS
from pytest_runc.faulty.tolerance import TOLERANCES

#: The directory that holds this package (a checkout or site-packages).
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent


def write_wrapper(fault: str, real_binary: str, directory: Path) -> Path:
    """An executable running ``real_binary`` with ``fault``; use it as --runc-binary.

    ``fault`` names a fault (``FAULTS``) or a tolerant variant (``TOLERANCES``).
    """
    if fault not in FAULTS and fault not in TOLERANCES:
        raise KeyError(
            f"unknown fault or tolerance {fault!r};"
            f" known: {', '.join(sorted([*FAULTS, *TOLERANCES]))}"
        )
    real_binary = shutil.which(real_binary) or real_binary  # execv needs a path
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"runc-{fault}"
    state_dir = directory / f"{fault}.state"
    module = f"{MODULE_ENV}={FAULTS.module_of(fault)} " if fault in FAULTS else ""
    # -S: no site module. Its .pth files (an editable install's finder, certifi,
    # ...) cost most of a start-up that every intercepted call pays; the wrapper
    # needs only the standard library and this package, found by its own path.
    entry = (
        f"import sys; sys.path.insert(0, {str(PACKAGE_ROOT)!r});"
        " from pytest_runc.faulty.__main__ import main; sys.exit(main(sys.argv[1:]))"
    )
    python = (
        f"FAULTY_STATE_DIR={shlex.quote(str(state_dir))} {module}exec {shlex.quote(sys.executable)}"
        f' -S -c {shlex.quote(entry)} {shlex.quote(fault)} {shlex.quote(real_binary)} "$@"'
    )
    changed = TOLERANCES[fault].commands if fault in TOLERANCES else FAULTS[fault].commands
    warning = TOLERANCES[fault].warning if fault in TOLERANCES else None
    if warning is not None:  # all the variant does: no Python for it
        python = (
            f"printf '%s\\n' {shlex.quote(warning)} >&2\nexec {shlex.quote(real_binary)} \"$@\""
        )
    path.write_text(dispatch_script(changed, real_binary, python))
    path.chmod(0o755)
    return path


#: Shell: sets ``cmd`` to the runtime command in "$@" (the first argument that
#: is neither a global option nor its value), or to nothing.
_FIND_COMMAND = (
    "cmd=\nskip=\n"
    'for arg in "$@"; do\n'
    '  if [ -n "$skip" ]; then skip=; continue; fi\n'
    '  case "$arg" in\n'
    "    --root|--log|--log-format|--criu|--rootless) skip=1 ;;\n"
    "    -*) ;;\n"
    "    *) cmd=$arg; break ;;\n"
    "  esac\n"
    "done\n"
)


def dispatch_script(commands: frozenset[str] | None, real_binary: str, python_command: str) -> str:
    """A wrapper's shell script: ``python_command`` (ending in ``"$@"``) for ``commands``
    (every command when None), the real runtime straight away for the others.

    Python starts in about 0.1 s of CPU, the real runtime in a few ms: a proof
    or tolerance run makes thousands of calls that the variant leaves alone.
    """
    if commands is None:
        return f"#!/bin/sh\n{python_command}\n"
    real = shlex.quote(real_binary)
    return (
        f"#!/bin/sh\n{_FIND_COMMAND}"
        f'case "$cmd" in\n  {"|".join(sorted(commands))}) ;;\n  *) exec {real} "$@" ;;\nesac\n'
        f"{python_command}\n"
    )


def write_recorder(real_binary: str, log: Path, path: Path) -> Path:
    """An executable at ``path`` that runs ``real_binary`` unchanged (``exec``: same
    process, same signals) after appending ``<test>\\t<command>`` to ``log``.

    ``<test>`` is pytest's ``PYTEST_CURRENT_TEST`` of the calling check (empty
    outside a test): the tolerance proofs learn which commands each check calls.
    One ``printf`` to a file opened for appending is one small write, so lines
    of concurrent calls do not mix.
    """
    real = shlex.quote(shutil.which(real_binary) or real_binary)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"#!/bin/sh\n{_FIND_COMMAND}"
        f'printf \'%s\\t%s\\n\' "$PYTEST_CURRENT_TEST" "$cmd" >> {shlex.quote(str(log))}\n'
        f'exec {real} "$@"\n'
    )
    path.chmod(0o755)
    return path


__all__ = ["PACKAGE_ROOT", "dispatch_script", "write_recorder", "write_wrapper"]
