"""Faulty runtimes: wrappers around a real runtime that each break one rule.

They prove that the conformance suite can fail: for every fault, the checks
named in ``catches`` must fail when the suite runs against the wrapper.
Their mirror, ``tolerance.TOLERANCES``, differ from the real runtime only
where the spec allows it: every spec check must pass against each of them.
``write_wrapper`` makes an executable usable as ``--runc-binary``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import shlex
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from pytest_runc.faulty import faults
from pytest_runc.faulty.model import Fault
from pytest_runc.faulty.tolerance import TOLERANCES, Tolerance

#: Set by a wrapper script: the module that defines its fault, so that the
#: wrapper (a new Python for every runtime call) imports that module alone.
MODULE_ENV = "FAULTY_MODULE"


def _discover() -> dict[str, tuple[str, Fault]]:
    """Every ``FAULTS`` list of the modules in ``pytest_runc.faulty.faults``: name ->
    (module, fault)."""
    found: dict[str, tuple[str, Fault]] = {}
    for info in sorted(pkgutil.iter_modules(faults.__path__), key=lambda m: m.name):
        module = f"{faults.__name__}.{info.name}"
        for fault in getattr(importlib.import_module(module), "FAULTS", []):
            if fault.name in found:
                raise ValueError(f"fault {fault.name!r} is defined twice ({info.name})")
            found[fault.name] = (module, fault)
    both = sorted(set(found) & set(TOLERANCES))
    if both:
        raise ValueError(f"names used by both a fault and a tolerance: {', '.join(both)}")
    return found


class _Faults(Mapping[str, Fault]):
    """Every fault by name, found on first use: a wrapper needs only its own."""

    def __init__(self) -> None:
        self._found: dict[str, tuple[str, Fault]] | None = None

    def _all(self) -> dict[str, tuple[str, Fault]]:
        if self._found is None:
            self._found = _discover()
        return self._found

    def __getitem__(self, name: str) -> Fault:
        return self._all()[name][1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def module_of(self, name: str) -> str:
        """The module that defines fault ``name``."""
        return self._all()[name][0]


FAULTS = _Faults()


def fault_named(name: str) -> Fault:
    """Fault ``name``, from the module ``FAULTY_MODULE`` names when set (one import)."""
    module = os.environ.get(MODULE_ENV, "")
    if module.startswith(f"{faults.__name__}."):
        for fault in getattr(importlib.import_module(module), "FAULTS", []):
            if fault.name == name:
                return fault  # type: ignore[no-any-return]
    return FAULTS[name]


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
    python = (
        f"FAULTY_STATE_DIR={shlex.quote(str(state_dir))} {module}exec {shlex.quote(sys.executable)}"
        f' -m pytest_runc.faulty {shlex.quote(fault)} {shlex.quote(real_binary)} "$@"'
    )
    changed = TOLERANCES[fault].commands if fault in TOLERANCES else FAULTS[fault].commands
    path.write_text(dispatch_script(changed, real_binary, python))
    path.chmod(0o755)
    return path


def dispatch_script(commands: frozenset[str] | None, real_binary: str, python_command: str) -> str:
    """A wrapper's shell script: ``python_command`` (ending in ``"$@"``) for ``commands``
    (every command when None), the real runtime straight away for the others.

    Python starts in about 0.1 s of CPU, the real runtime in a few ms: a proof
    or tolerance run makes thousands of calls that the variant leaves alone.
    """
    if commands is None:
        return f"#!/bin/sh\n{python_command}\n"
    real = shlex.quote(real_binary)
    # The first argument that is neither a global option nor its value is the command.
    return (
        "#!/bin/sh\n"
        "cmd=\nskip=\n"
        'for arg in "$@"; do\n'
        '  if [ -n "$skip" ]; then skip=; continue; fi\n'
        '  case "$arg" in\n'
        "    --root|--log|--log-format|--criu|--rootless) skip=1 ;;\n"
        "    -*) ;;\n"
        "    *) cmd=$arg; break ;;\n"
        "  esac\n"
        "done\n"
        f'case "$cmd" in\n  {"|".join(sorted(commands))}) ;;\n  *) exec {real} "$@" ;;\nesac\n'
        f"{python_command}\n"
    )


__all__ = ["FAULTS", "TOLERANCES", "Fault", "Tolerance", "fault_named", "write_wrapper"]
