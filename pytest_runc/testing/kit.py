"""The helper kit of the conformance suite: containers in a given state, and the assertions.

One place for what every check of an operation needs: a container brought
to ``created``, ``running``, ``paused`` or ``stopped`` through the spec's
operations (create, start, kill) and runc's ``pause``; the three assertions
on a runtime command (it runs, it is refused, it is refused with runc's
words); and an operation that must fail at ``create`` or at ``start``.

    made = reach_state(container, "stopped")
    assert_refused(made.start(check=False), "start of a stopped container")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_runc.oci.container import Container
from pytest_runc.oci.transcript import Completed
from pytest_runc.testing.assertions import assert_refused, assert_refused_with_words, assert_runs

#: The statuses :func:`reach_state` brings a container to.
STATES = ("created", "running", "paused", "stopped")

#: A program that lives until it is killed, and one that ends at once.
LIVES = ("sleep", "60")
ENDS = ("true",)


def reach_state(
    container: Any,
    status: str,
    *,
    command: Sequence[str] | None = (),
    bundle: Any = None,
    container_id: str | None = None,
) -> Container:
    """A new container of the ``container`` factory, brought to ``status``.

    ``created``: create. ``running``: create, start. ``paused``: create,
    start, pause (runc's command: the check needs ``runc_root`` for the
    freezer). ``stopped``: create, start, then its program exits and the
    status is waited for. The program is ``command``; by default ``sleep
    60`` (``true`` for ``stopped``); ``None`` keeps the bundle's own
    (the check set it). Each step must succeed: a setup that fails is not
    the check's verdict, so it raises the runtime's error.
    """
    if status not in STATES:
        raise ValueError(f"unknown status {status!r}; known: {', '.join(STATES)}")
    made: Container = container(bundle, container_id)
    if command is not None:
        made.bundle.command(*(command or (ENDS if status == "stopped" else LIVES)))
    made.create()
    if status == "created":
        return made
    made.start()
    if status == "paused":
        made.pause()
    elif status == "stopped":
        made.wait_for_status("stopped")
    return made


def created(container: Any, **options: Any) -> Container:
    """:func:`reach_state` ``created``."""
    return reach_state(container, "created", **options)


def running(container: Any, **options: Any) -> Container:
    """:func:`reach_state` ``running``."""
    return reach_state(container, "running", **options)


def paused(container: Any, **options: Any) -> Container:
    """:func:`reach_state` ``paused`` (needs the freezer: mark the check ``runc_root``)."""
    return reach_state(container, "paused", **options)


def stopped(container: Any, **options: Any) -> Container:
    """:func:`reach_state` ``stopped``."""
    return reach_state(container, "stopped", **options)


def listed_ids(runtime: Any) -> list[str] | None:
    """The ids ``list --quiet`` shows, or None for a runtime without ``list``.

    ``list`` is runc's command, not a spec operation (runtime.md: whether
    other users of the runtime can see a container is out of scope): a
    spec check may use it as extra evidence where the runtime offers it,
    never require it.
    """
    done = runtime.invoke("list", "--quiet", check=False)
    return done.stdout.split() if done.returncode == 0 else None


def left_behind(runtime: Any, *ids: str) -> list[str]:
    """Containers a failed operation left: every id ``list`` shows (where the runtime
    has ``list``), and each of ``ids`` that ``state`` still answers for."""
    listed = listed_ids(runtime) or []
    answered = [i for i in ids if runtime.invoke("state", i, check=False).returncode == 0]
    return sorted({*listed, *answered})


def gone(made: Container) -> bool:
    """The runtime knows no container of this id: ``state`` fails (the spec's way
    to ask), and ``list`` omits it where the runtime has ``list``."""
    if made.status() is not None:
        return False
    listed = listed_ids(made.runtime)
    return listed is None or made.id not in listed


def create_or_start(made: Container) -> Completed:
    """``create``, then ``start`` if create succeeded; the first that failed, else start's.

    For a config the runtime cannot carry out, which the spec lets it
    refuse at either step (it MAY validate before create): assert that
    the result is refused.
    """
    done = made.create(check=False)
    return made.start(check=False) if done.returncode == 0 else done


__all__ = [
    "ENDS",
    "LIVES",
    "STATES",
    "assert_refused",
    "assert_refused_with_words",
    "assert_runs",
    "create_or_start",
    "created",
    "gone",
    "left_behind",
    "listed_ids",
    "paused",
    "reach_state",
    "running",
    "stopped",
]
