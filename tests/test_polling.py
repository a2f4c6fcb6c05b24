"""pytest_runc.oci.polling: bounded waits that end early, and fail naming what was last seen."""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace

import pytest

from pytest_runc.oci.polling import poll, settle_time, wait_until


def test_poll_returns_as_soon_as_the_state_holds():
    reads = itertools.count(1)
    started = time.monotonic()
    assert poll(lambda: next(reads), lambda n: n == 3, timeout=30, interval=0.001) == 3
    assert time.monotonic() - started < 5


class Counter:
    """A read that returns 1, 2, 3, ... and remembers how often it was called."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_poll_returns_the_last_value_at_the_deadline():
    read = Counter()
    started = time.monotonic()
    last = poll(read, lambda n: n < 0, timeout=0.05, interval=0.001)
    assert last == read.calls and time.monotonic() - started >= 0.05


def test_wait_until_fails_with_the_callers_message_and_the_last_value():
    read = Counter()
    with pytest.raises(AssertionError) as failed:
        wait_until(
            read,
            lambda n: n < 0,
            lambda n: f"read {n}, wanted a negative number",
            timeout=0.05,
            interval=0.001,
        )
    assert str(failed.value) == f"read {read.calls}, wanted a negative number"


def test_wait_until_returns_the_state_it_waited_for():
    states = iter(["runc init", "runc init", "sleep 60"])
    seen = wait_until(
        lambda: next(states), lambda a: a == "sleep 60", str, timeout=5, interval=0.001
    )
    assert seen == "sleep 60"


def test_settle_time_is_the_runs_deadline_for_a_runtime_command():
    assert settle_time(SimpleNamespace(timeout=5)) == 5.0
    assert settle_time(SimpleNamespace(timeout=30.0)) == 30.0
