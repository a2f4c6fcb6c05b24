"""Bounded waits for a state that may arrive after the command that causes it returns.

A runtime command can return before what it set going is visible: ``runc
start`` and ``runc exec --detach`` return while the new process may still be
``runc init``; a signal reaches a trap a moment after ``kill`` returns; a
shell's background child execs its program after the shell moves on. A check
that reads ``/proc``, a file or a cgroup once, right away, sees the earlier
state on a loaded machine. It waits instead, with :func:`poll`, for the state
it expects, up to :func:`settle_time`, and then asserts on the last value it
read, with its own message.

A wait for something that must *not* happen ("the program did not run before
start") uses :func:`poll` too, with a short fixed window of its own: it ends
early only when the unwanted thing shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Between two reads: a runtime call costs ~15 ms of CPU, a /proc read microseconds.
INTERVAL = 0.01


def settle_time(runtime: Any) -> float:
    """How long to wait for a state a runtime command set going: the run's
    deadline for one runtime command (``--runc-timeout``).

    A state the runtime owes once a command has returned is given as long as
    the command itself was: a loaded machine delays both alike, and a run
    with a short ``--runc-timeout`` (the fault proofs) fails fast.
    """
    return float(runtime.timeout)


def poll(
    read: Callable[[], T], until: Callable[[T], bool], *, timeout: float, interval: float = INTERVAL
) -> T:
    """Call ``read`` every ``interval`` s until ``until(value)`` or ``timeout`` s; the last value.

    The caller asserts on the value with its own message, which then names
    what was last seen: a state that never came fails the check as a single
    read of it would have, only later.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if until(value) or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_until(
    read: Callable[[], T],
    until: Callable[[T], bool],
    failure: Callable[[T], str],
    *,
    timeout: float,
    interval: float = INTERVAL,
) -> T:
    """:func:`poll`, then raise AssertionError ``failure(last value)`` if ``until`` never held."""
    value = poll(read, until, timeout=timeout, interval=interval)
    if not until(value):
        raise AssertionError(failure(value))
    return value


__all__ = ["INTERVAL", "poll", "settle_time", "wait_until"]
