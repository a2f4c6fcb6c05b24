"""Assertions that conformance tests (ours and users') share.

Each raises AssertionError with what was expected, what came, and the rule.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pytest_runc.errors import runtime_message
from pytest_runc.messages import Expected
from pytest_runc.schemas import validate_state
from pytest_runc.transcript import Completed

T = TypeVar("T")

#: Statuses in which the spec requires a live pid on Linux.
LIVE = ("created", "running", "paused")


def assert_state_schema(document: Any) -> dict[str, Any]:
    """The ``state`` JSON document matches the OCI state schema (and nothing else).

    Conformance checks of a lifecycle rule read the fields they need and
    leave the schema to checks of their own: a missing ``ociVersion`` fails
    the schema checks, not every lifecycle check.
    """
    validate_state(document)
    assert isinstance(document, dict)
    return document


def assert_state(document: Any, *, container_id: str, status: str, bundle: Path) -> dict[str, Any]:
    """Check a ``state`` JSON document against the schema and what we know.

    Runtime spec, "State" and "Query State": id, status, pid (while the
    container lives) and bundle (the absolute bundle path) are required.
    For users' own tests that want everything in one call.
    """
    assert_state_schema(document)
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


def assert_refused(done: Completed, expected: Expected) -> str:
    """The command failed (non-zero exit) with the runtime's documented message.

    ``expected`` comes from :func:`pytest_runc.messages.expected_message`,
    looked up by the runtime's ``--version``: a message that merely contains
    "id" or "json" is not enough.
    """
    message = runtime_message(done.stderr) or done.stdout.strip()
    assert done.returncode != 0, (
        f"`{done.command}` succeeded (exit 0) but must fail ({expected.error});"
        f" stderr: {done.stderr!r}"
    )
    assert expected.matches(message), (
        f"`{done.command}` failed (exit {done.returncode}) but not with the documented message"
        f" for {expected.error} ({expected.source}): expected /{expected.pattern}/,"
        f" it said {message!r}"
    )
    return message


def poll(read: Callable[[], T], until: Callable[[T], bool], *, timeout: float) -> T:
    """Call ``read`` every 10 ms until ``until(value)`` or ``timeout`` seconds; the last value.

    A bounded poll, for both kinds of wait: "it happens" (assert ``until``
    holds for the result) and "nothing happens" (assert it does not), which
    returns the moment the unwanted thing shows instead of sleeping blind.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if until(value) or time.monotonic() >= deadline:
            return value
        time.sleep(0.01)


def run_output(container: Any, bundle: Any, script: str) -> str:
    """Run ``sh -c script`` in a new container to completion; its stdout.

    Fails the check with the runtime's stderr when the container does not exit 0.
    """
    bundle.shell(script)
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    return str(done.stdout)
