"""pytest-runc: OCI container runtimes as pytest fixtures, and a conformance suite.

The public names below are imported on first use (PEP 562): a faulty
runtime's wrapper and the command-line tools start a new Python for every
call, and should not pay for the container machinery they do not use.
"""

from __future__ import annotations

#: ``typing.TYPE_CHECKING`` without importing typing (a wrapper call would pay
#: for it); type checkers treat this name the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pytest_runc.oci.bundle import Bundle, default_config, load_bundle
    from pytest_runc.oci.container import Container, ContainerFactory
    from pytest_runc.oci.errors import RuncError, RuntimeCommandError, RuntimeTimeout
    from pytest_runc.oci.interactive import CommandResult, InteractiveSession
    from pytest_runc.oci.runtime import Runtime, State
    from pytest_runc.oci.schemas import schema_errors, validate_state

__version__ = "0.2.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "Bundle": "pytest_runc.oci.bundle",
    "default_config": "pytest_runc.oci.bundle",
    "load_bundle": "pytest_runc.oci.bundle",
    "Container": "pytest_runc.oci.container",
    "ContainerFactory": "pytest_runc.oci.container",
    "RuncError": "pytest_runc.oci.errors",
    "RuntimeCommandError": "pytest_runc.oci.errors",
    "RuntimeTimeout": "pytest_runc.oci.errors",
    "CommandResult": "pytest_runc.oci.interactive",
    "InteractiveSession": "pytest_runc.oci.interactive",
    "Runtime": "pytest_runc.oci.runtime",
    "State": "pytest_runc.oci.runtime",
    "schema_errors": "pytest_runc.oci.schemas",
    "validate_state": "pytest_runc.oci.schemas",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_runc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "Bundle",
    "CommandResult",
    "Container",
    "ContainerFactory",
    "InteractiveSession",
    "RuncError",
    "Runtime",
    "RuntimeCommandError",
    "RuntimeTimeout",
    "State",
    "__version__",
    "default_config",
    "load_bundle",
    "schema_errors",
    "validate_state",
]
