"""pytest-runc: OCI container runtimes as pytest fixtures, and a conformance suite."""

from __future__ import annotations

from pytest_runc.bundle import Bundle, default_config, load_bundle
from pytest_runc.container import Container, ContainerFactory
from pytest_runc.errors import RuncError, RuntimeCommandError, RuntimeTimeout
from pytest_runc.interactive import CommandResult, InteractiveSession
from pytest_runc.runtime import Runtime, State
from pytest_runc.schemas import schema_errors, validate_state

__version__ = "0.2.0"

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
