"""Faulty runtimes: wrappers around a real runtime that each break one rule.

They prove that the conformance suite can fail: for every fault, the checks
named in ``catches`` must fail when the suite runs against the wrapper.
Their mirror, ``tolerance.TOLERANCES``, differ from the real runtime only
where the spec allows it: every spec check must pass against each of them.
``write_wrapper`` makes an executable usable as ``--runc-binary``.
"""

from __future__ import annotations

#: Set by a wrapper script: the module that defines its fault, so that the
#: wrapper (a new Python for every runtime call) imports that module alone.
MODULE_ENV = "FAULTY_MODULE"

# The names below are imported on first use (PEP 562): every import of a
# submodule runs this file first, and a wrapper call (a new Python each time)
# should import only its own fault's module, not every fault, the tolerant
# variants and the script writers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pytest_runc.faulty.model import Fault
    from pytest_runc.faulty.registry import FAULTS, fault_named
    from pytest_runc.faulty.tolerance import TOLERANCES, Tolerance
    from pytest_runc.faulty.wrapper import (  # noqa: F401
        PACKAGE_ROOT,
        dispatch_script,
        write_recorder,
        write_wrapper,
    )

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "FAULTS": "registry",
    "fault_named": "registry",
    "Fault": "model",
    "TOLERANCES": "tolerance",
    "Tolerance": "tolerance",
    "PACKAGE_ROOT": "wrapper",
    "dispatch_script": "wrapper",
    "write_recorder": "wrapper",
    "write_wrapper": "wrapper",
}
#: Submodules an eager ``__init__`` used to import (``pytest_runc.faulty.faults``
#: after ``import pytest_runc.faulty``): still there on first use.
_SUBMODULES = frozenset({"behaviours", "faults", "model", "registry", "tolerance", "wrapper"})


def __getattr__(name: str) -> Any:
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})


__all__ = [
    "FAULTS",
    "TOLERANCES",
    "Fault",
    "Tolerance",
    "fault_named",
    "write_recorder",
    "write_wrapper",
]
