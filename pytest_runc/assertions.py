"""Assertions that conformance tests (ours and users') share.

Each raises AssertionError with what was expected, what came, and the rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_runc.errors import runtime_message
from pytest_runc.schemas import validate_state
from pytest_runc.transcript import Completed

#: Statuses in which the spec requires a live pid on Linux.
LIVE = ("created", "running", "paused")


def assert_state(document: Any, *, container_id: str, status: str, bundle: Path) -> dict[str, Any]:
    """Check a ``state`` JSON document against the schema and what we know.

    Runtime spec, "State" and "Query State": id, status, pid (while the
    container lives) and bundle (the absolute bundle path) are required.
    """
    validate_state(document)
    assert isinstance(document, dict)
    assert document["id"] == container_id, f"state id {document['id']!r}, expected {container_id!r}"
    assert document["status"] == status, f"state status {document['status']!r}, expected {status!r}"
    assert Path(document["bundle"]) == bundle.absolute(), (
        f"state bundle {document['bundle']!r}, expected {str(bundle)!r}"
    )
    if status in LIVE:
        pid = document.get("pid", 0)
        assert pid > 0, f"state pid {pid!r} while {status}: the spec requires the init's pid"
        assert Path(f"/proc/{pid}").exists(), f"state pid {pid} is not a live process on the host"
    return document


def assert_fails(done: Completed, *fragments: str) -> str:
    """The command failed (non-zero exit) and its message names the cause.

    Each fragment is a tuple of alternatives joined by ``|``; one of them
    must occur (case-insensitive) in the runtime's message.
    """
    message = runtime_message(done.stderr) or done.stdout
    assert done.returncode != 0, (
        f"`{done.command}` succeeded (exit 0) but must fail; stderr: {done.stderr!r}"
    )
    for fragment in fragments:
        choices = fragment.lower().split("|")
        assert any(choice in message.lower() for choice in choices), (
            f"`{done.command}` failed (exit {done.returncode}) but its message does not"
            f" say {fragment!r}: {message!r}"
        )
    return message
