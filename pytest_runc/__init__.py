"""pytest-runc: OCI container runtimes as pytest fixtures, and a conformance suite."""

from __future__ import annotations

from pytest_runc.oci.bundle import Bundle, default_config, load_bundle
from pytest_runc.oci.container import Container, ContainerFactory
from pytest_runc.oci.errors import RuncError, RuntimeCommandError, RuntimeTimeout
from pytest_runc.oci.interactive import CommandResult, InteractiveSession
from pytest_runc.oci.runtime import Runtime, State
from pytest_runc.oci.schemas import schema_errors, validate_state

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
