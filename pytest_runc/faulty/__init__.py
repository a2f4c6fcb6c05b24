"""Faulty runtimes: wrappers around a real runtime that each break one rule.

They prove that the conformance suite can fail: for every fault, the checks
named in ``catches`` must fail when the suite runs against the wrapper.
Their mirror, ``tolerance.TOLERANCES``, differ from the real runtime only
where the spec allows it: every spec check must pass against each of them.
``write_wrapper`` makes an executable usable as ``--runc-binary``.
"""

from __future__ import annotations

import importlib
import pkgutil
import shlex
import shutil
import sys
from pathlib import Path

from pytest_runc.faulty import faults
from pytest_runc.faulty.model import Fault
from pytest_runc.faulty.tolerance import TOLERANCES, Tolerance, wrapper_script


def _discover() -> dict[str, Fault]:
    """Every ``FAULTS`` list of the modules in ``pytest_runc.faulty.faults``, by name."""
    found: dict[str, Fault] = {}
    for info in sorted(pkgutil.iter_modules(faults.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{faults.__name__}.{info.name}")
        for fault in getattr(module, "FAULTS", []):
            if fault.name in found:
                raise ValueError(f"fault {fault.name!r} is defined twice ({info.name})")
            found[fault.name] = fault
    return found


FAULTS: dict[str, Fault] = _discover()
_BOTH = sorted(set(FAULTS) & set(TOLERANCES))
if _BOTH:
    raise ValueError(f"names used by both a fault and a tolerance: {', '.join(_BOTH)}")


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
    python = (
        f"FAULTY_STATE_DIR={shlex.quote(str(state_dir))} exec {shlex.quote(sys.executable)}"
        f' -m pytest_runc.faulty {shlex.quote(fault)} {shlex.quote(real_binary)} "$@"'
    )
    if fault in TOLERANCES:
        path.write_text(wrapper_script(fault, real_binary, python))
    else:
        path.write_text(f"#!/bin/sh\n{python}\n")
    path.chmod(0o755)
    return path


__all__ = ["FAULTS", "TOLERANCES", "Fault", "Tolerance", "write_wrapper"]
