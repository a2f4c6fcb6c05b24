"""JSON Schemas: the runtime spec's own state schema (the oracle of the spec's
state checks), and the project's schemas for config.json, runc's state
document and reports.

``schemas/runtime-spec-v1.3.0.json`` holds the spec's ``state-schema.json``
and the ``defs.json`` it refers to, unchanged, with their licence notice.
``schemas/state.schema.json`` and ``runc-state.schema.json`` are pytest-runc's
own: what runc prints (``paused``, ``rootfs``, ``created``, ``owner``), for
runc CLI checks and users' tests, never for a check of the spec.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

#: The spec release whose schemas ship in ``schemas/runtime-spec-v<version>.json``.
SPEC_SCHEMA_VERSION = "1.3.0"

#: runtime.md "State": the status values the spec defines. "Additional values
#: MAY be defined by the runtime" (for states not defined there), so the
#: schema's enum of these four is not the whole rule; see spec_state_errors.
SPEC_STATUSES = ("creating", "created", "running", "stopped")


def _read(filename: str) -> Any:
    text = resources.files("pytest_runc.oci").joinpath("schemas").joinpath(filename).read_text()
    return json.loads(text)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema of pytest-runc's own in ``pytest_runc/oci/schemas`` (``config``,
    ``state``, ``runc-state``, ``report``)."""
    schema: dict[str, Any] = _read(f"{name}.schema.json")
    return schema


@cache
def spec_schema_files() -> dict[str, dict[str, Any]]:
    """The spec's schema files as published, by file name (``state-schema.json``)."""
    shipped = _read(f"runtime-spec-v{SPEC_SCHEMA_VERSION}.json")
    return {name: entry["schema"] for name, entry in shipped["files"].items()}


@cache
def spec_schema(filename: str) -> dict[str, Any]:
    """One of the spec's schemas with its ``$ref`` to the other shipped files
    resolved in place (``defs.json#/definitions/ociVersion``), so that any
    jsonschema release validates it without a reference registry."""
    files = spec_schema_files()
    resolved: dict[str, Any] = _inline(files[filename], files, filename)
    return resolved


def _inline(node: Any, files: dict[str, dict[str, Any]], here: str) -> Any:
    if isinstance(node, list):
        return [_inline(item, files, here) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return {key: _inline(value, files, here) for key, value in node.items()}
    # draft-04: a $ref replaces the object it is in (its siblings are ignored).
    target_file, _, pointer = ref.partition("#")
    target_file = target_file or here
    target: Any = files[target_file]
    for part in [p for p in pointer.split("/") if p]:
        target = target[part]
    return _inline(target, files, target_file)


def _errors(validator: Any, document: Any) -> list[Any]:
    return sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))


def _describe(error: Any) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    return f"{where}: {error.message}"


def schema_errors(name: str, document: Any) -> list[str]:
    """Every violation of pytest-runc's schema ``name`` in ``document``, as ``path: message``."""
    import jsonschema  # imported on first use: it is slow to import

    validator = jsonschema.Draft7Validator(
        load_schema(name), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    return [_describe(error) for error in _errors(validator, document)]


def spec_state_errors(document: Any) -> list[str]:
    """Every way ``document`` breaks the spec's state rule: the v1.3.0
    ``schema/state-schema.json`` as published, read with runtime.md "State".

    The schema's ``status`` enum lists the spec's four values; runtime.md lets
    a runtime define more ("Additional values MAY be defined by the runtime"),
    so a status outside the enum is no error here as long as it is a string
    (the schema's ``type``). Whether such a value names a new state is
    ``runtime.state.extra-status-new-states-only``, checked on its own.
    """
    import jsonschema  # imported on first use: it is slow to import

    validator = jsonschema.Draft4Validator(spec_schema("state-schema.json"))
    return [
        _describe(error)
        for error in _errors(validator, document)
        if not (list(error.absolute_path) == ["status"] and error.validator == "enum")
    ]


def validate_spec_state(document: Any) -> None:
    """Raise AssertionError listing every way ``document`` breaks the spec's state schema."""
    errors = spec_state_errors(document)
    if errors:
        raise AssertionError(
            f"state does not match the runtime spec's state schema (v{SPEC_SCHEMA_VERSION}"
            " schema/state-schema.json):\n  " + "\n  ".join(errors)
        )


def validate_state(document: Any) -> None:
    """Raise AssertionError listing every way ``document`` breaks pytest-runc's
    state schema (``state.schema.json``): the spec's fields in the shapes runc
    gives them (status one of runc's five, ``paused`` included; an absolute
    bundle; a pid while alive). Stricter than the spec: for runc's state, not
    as the spec's oracle (that is :func:`validate_spec_state`)."""
    errors = schema_errors("state", document)
    if errors:
        raise AssertionError(
            "state does not match pytest-runc's state schema (runc's shapes):\n  "
            + "\n  ".join(errors)
        )


def runc_state_errors(document: Any) -> list[str]:
    """Every way ``document`` differs from the state runc prints: pytest-runc's
    state schema plus runc's own fields (``runc-state.schema.json``)."""
    return schema_errors("state", document) + schema_errors("runc-state", document)
