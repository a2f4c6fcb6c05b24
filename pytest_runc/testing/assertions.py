"""Assertions that conformance tests (ours and users') share.

Each raises AssertionError with what was expected, what came, and the rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_runc.oci.errors import runtime_message
from pytest_runc.oci.polling import poll as poll  # re-exported: checks imported it from here
from pytest_runc.oci.schemas import validate_state
from pytest_runc.oci.transcript import Completed
from pytest_runc.testing.messages import Expected

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


def assert_runs(done: Completed, what: str = "container") -> str:
    """The command succeeded (exit 0); its stdout.

    ``what`` names the command in the failure ("container", "exec",
    "kill 10"): ``"<what> exited N: <stderr>"``.
    """
    assert done.returncode == 0, f"{what} exited {done.returncode}: {done.stderr.strip()}"
    return str(done.stdout)


def assert_refused(done: Completed, why: str) -> None:
    """The operation generated an error: a non-zero exit, whatever the status and words.

    The one meaning of "refused" in this suite. runtime.md "Errors": the spec
    "does not mandate how, or even if," an error is returned or exposed, so
    neither exit status 1 nor any message is required, only a failure; the
    words are a runc CLI convention (:func:`assert_refused_with_words`).
    ``why`` says what must fail ("start of a running container") and opens
    the failure message. What a failed operation must leave unchanged is the
    caller's to assert, where the spec says so.
    """
    assert done.returncode != 0, (
        f"{why}: `{done.command}` succeeded (exit 0) but must fail; stderr: {done.stderr!r}"
    )


def assert_refused_with_words(done: Completed, expected: Expected) -> str:
    """The command failed (non-zero exit) with the runtime's documented words.

    For ``runc_cli`` checks only: the words are runc's (or crun's) convention,
    not the spec's. ``expected`` comes from
    :func:`pytest_runc.testing.messages.expected_message`, looked up by the runtime's
    ``--version``: a message that merely contains "id" or "json" is not enough.
    """
    assert_refused(done, expected.error)
    message = runtime_message(done.stderr) or done.stdout.strip()
    assert expected.matches(message), (
        f"`{done.command}` failed (exit {done.returncode}) but not with the documented message"
        f" for {expected.error} ({expected.source}): expected /{expected.pattern}/,"
        f" it said {message!r}"
    )
    return message


def run_output(container: Any, bundle: Any, script: str) -> str:
    """Run ``sh -c script`` in a new container to completion; its stdout.

    Fails the check with the runtime's stderr when the container does not exit 0.
    """
    bundle.shell(script)
    return assert_runs(container().run())
