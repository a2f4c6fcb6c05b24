"""The project's JSON Schemas for config.json and the runtime state."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped in ``pytest_runc/schemas`` (``config`` or ``state``)."""
    text = (
        resources.files("pytest_runc")
        .joinpath("schemas")
        .joinpath(f"{name}.schema.json")
        .read_text()
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_errors(name: str, document: Any) -> list[str]:
    """Every violation of schema ``name`` in ``document``, as ``path: message``."""
    import jsonschema  # imported on first use: it is slow to import

    validator = jsonschema.Draft7Validator(
        load_schema(name), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    found = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        found.append(f"{where}: {error.message}")
    return found


def validate_state(document: Any) -> None:
    """Raise AssertionError listing every way ``document`` breaks the state schema."""
    errors = schema_errors("state", document)
    if errors:
        raise AssertionError("state does not match the OCI state schema:\n  " + "\n  ".join(errors))
