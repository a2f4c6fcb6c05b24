"""What each runtime says when it refuses something: one table per runtime.

For the ``runc_cli`` wording checks only (``test_*_words`` and runc's own
refusals in conformance/test_errors.py). The spec's checks ask for the
error alone: runtime.md "Errors" does not mandate "how, or even if," an
error is returned, so its checks use :func:`pytest_runc.testing.assertions.assert_refused`
(any non-zero exit) and never these words.

A wording check passes only when the runtime refuses *and* names the cause
in its own documented words, not when any message contains "id" or "json".
Runtimes word the same refusal differently, so the expected wording is
looked up by the runtime's ``--version`` line (``runc version 1.1.5``,
``crun version 1.8.1``). Each entry is a regular expression searched for in
the runtime's message (runc's logrus decoration removed); ``{id}`` in it
stands for the container id, escaped.

Measured on runc 1.1.5 and 1.5.1 (the same words for every error here) and
crun 1.8.1. runc before 1.1 had its own error codes ("Id already in use")
and is not tabled: a runtime without a table is held to runc 1.1's words
(these are runc's conventions), and the failure says so, so a new table is
one entry away.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

#: Errors the conformance suite provokes, and what each means.
ERRORS: Mapping[str, str] = {
    "id-in-use": "create with an id that another container has",
    "id-invalid": "an id with characters outside [A-Za-z0-9_+.-], or . / ..",
    "id-empty": "an empty container id",
    "id-unknown": "an operation on an id the runtime does not know",
    "rootfs-missing": "root.path does not exist",
    "config-missing": "the bundle has no config.json",
    "config-truncated": "config.json ends in the middle of a JSON value",
    "executable-not-found": "process.args[0] is not found in the container",
    "cwd-relative": "process.cwd is a relative path",
    "hostname-without-uts": "hostname set without a private UTS namespace",
    "terminal-detached-without-socket": "terminal true with --detach and no --console-socket",
    "start-running": "start of a running container",
    "start-stopped": "start of a stopped container",
    "delete-not-stopped": "delete (without --force) of a container that is not stopped",
    "kill-stopped": "kill of a stopped container",
    "pause-not-running": "pause of a container that is not running",
    "resume-not-paused": "resume of a container that is not paused",
    "exec-paused": "exec in a paused container (without --ignore-paused)",
}

_RUNC_1_1: Mapping[str, str] = {
    "id-in-use": r"container with given ID already exists",
    "id-invalid": r"invalid container ID format",
    "id-empty": r"container id cannot be empty",
    "id-unknown": r"container does not exist",
    "rootfs-missing": r"invalid rootfs: stat \S*rootfs: no such file or directory",
    "config-missing": r"JSON specification file config\.json not found",
    "config-truncated": r"(create|run) failed: unexpected EOF",
    "executable-not-found": r'exec: "{exe}": executable file not found in \$PATH',
    "cwd-relative": r"Cwd must be an absolute path",
    "hostname-without-uts": r"unable to set hostname without a private UTS namespace",
    "terminal-detached-without-socket": (
        r"cannot allocate tty if runc will detach without setting console socket"
    ),
    "start-running": r"cannot start an already running container",
    "start-stopped": r"cannot start a container that has stopped",
    "delete-not-stopped": r"cannot delete container {id} that is not stopped: (running|paused)",
    "kill-stopped": r"container not running",
    "pause-not-running": r"container not running",
    "resume-not-paused": r"container not paused",
    "exec-paused": r"cannot exec in a paused container",
}

# crun 1.8.1 accepts a relative cwd and pause/resume in the wrong state, and
# validates no id: those errors have no entry (crun fails those checks on the
# exit status). Its unknown-id message is the state file it could not open.
_CRUN_1_8: Mapping[str, str] = {
    "id-in-use": r"container `{id}` already exists",
    "id-unknown": (
        r"(error opening file `[^`]*/{id}/status`|cannot open directory '[^']*/{id}')"
        r": No such file or directory"
    ),
    "rootfs-missing": r"make `rootfs` private: No such file or directory",
    "config-missing": r"error loading config\.json",
    "config-truncated": r"error loading config\.json",
    "executable-not-found": r"executable file `{exe}` not found in \$PATH",
    "hostname-without-uts": r"hostname requires the UTS namespace",
    "terminal-detached-without-socket": (
        r"use --console-socket with --detach when a terminal is used"
    ),
    "start-running": r"cannot open `[^`]*/{id}/exec\.fifo`: No such file or directory",
    "start-stopped": r"container `{id}` is not running",
    "delete-not-stopped": r"the container `{id}` is not in `created` or `stopped` state",
    "kill-stopped": r"kill container: No such process",
    "exec-paused": r"the container `{id}` is paused",
}


@dataclass(frozen=True)
class MessageTable:
    """The documented wording of one runtime (a name and the versions it covers)."""

    runtime: str  # the first word of ``--version``: runc, crun
    since: tuple[int, int]  # first version (major, minor) with this wording
    messages: Mapping[str, str]

    @property
    def label(self) -> str:
        return f"{self.runtime} {self.since[0]}.{self.since[1]}+"


#: Newest first within a runtime: the first table whose ``since`` is reached wins.
TABLES: tuple[MessageTable, ...] = (
    MessageTable("runc", (1, 1), _RUNC_1_1),
    MessageTable("crun", (1, 8), _CRUN_1_8),
)
REFERENCE = TABLES[0]

_VERSION_LINE = re.compile(r"^(?P<name>[\w.-]+)\s+version\s+(?P<major>\d+)\.(?P<minor>\d+)")


@dataclass(frozen=True)
class Expected:
    """The message expected for one error from one runtime, and where that came from."""

    error: str
    pattern: str
    source: str  # "runc 1.1+", or "runc 1.1+ (no table for <version line>)"

    def matches(self, message: str) -> bool:
        return re.search(self.pattern, message) is not None


def table_for(version_line: str) -> tuple[MessageTable, str]:
    """The table for a ``--version`` line, and a note when it is the reference by default."""
    found = _VERSION_LINE.match(version_line.strip())
    if found:
        version = (int(found["major"]), int(found["minor"]))
        for table in TABLES:
            if table.runtime == found["name"] and version >= table.since:
                return table, ""
    return REFERENCE, f" (no message table for {version_line.strip()!r}; held to runc's words)"


def expected_message(
    version_line: str, error: str, *, container_id: str = "", executable: str = ""
) -> Expected:
    """What ``version_line``'s runtime says for ``error`` (a key of :data:`ERRORS`).

    An error the runtime's table lacks (crun accepts a relative cwd) falls
    back to the reference wording, and ``source`` says so.
    """
    if error not in ERRORS:
        raise KeyError(f"unknown error {error!r}; known: {', '.join(sorted(ERRORS))}")
    table, note = table_for(version_line)
    pattern = table.messages.get(error)
    if pattern is None:
        pattern = REFERENCE.messages[error]
        note = note or f" ({table.label} has no wording for this error; held to runc's)"
        table = REFERENCE
    pattern = pattern.replace("{id}", re.escape(container_id)).replace(
        "{exe}", re.escape(executable)
    )
    return Expected(error, pattern, table.label + note)


__all__ = ["ERRORS", "REFERENCE", "TABLES", "Expected", "MessageTable", "expected_message"]
