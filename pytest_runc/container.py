"""One container's life, from create or run to a guaranteed delete."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from pytest_runc.bundle import Bundle
from pytest_runc.errors import RuntimeCommandError
from pytest_runc.runtime import Runtime, State
from pytest_runc.transcript import Completed

_POLL = 0.01
T = TypeVar("T")


class Container:
    """A container made from one bundle, driven through one runtime.

    Every method maps to one runtime command. The container's own stdout
    and stderr go to files next to the bundle (``<id>.stdout``/``.stderr``):
    a created container keeps its stdio open long after ``create`` returns.
    """

    def __init__(self, runtime: Runtime, bundle: Bundle, container_id: str) -> None:
        self.runtime = runtime
        self.bundle = bundle
        self.id = container_id
        # Ids under test may be invalid ("foo/bar", ".."): name files safely.
        stem = re.sub(r"[^A-Za-z0-9_.+-]", "_", container_id).strip(".") or "container"
        self.stdout_path = bundle.path / f"{stem}.stdout"
        self.stderr_path = bundle.path / f"{stem}.stderr"
        self.pid_file = bundle.path / f"{stem}.pid"
        self.keep = False  # set by --runc-keep-failed on a failed test
        # False only after a foreground `run` (no --keep) has returned: the
        # runtime deleted the container itself (conformance checks that), so
        # teardown skips a `delete` that would cost a runtime call for nothing.
        self.may_exist = True

    def __repr__(self) -> str:
        return f"Container({self.id!r}, bundle={str(self.bundle.path)!r})"

    # -- lifecycle -----------------------------------------------------
    def create(self, *, console_socket: Path | None = None, check: bool = True) -> Completed:
        """Write config.json and ``create`` the container (status: created)."""
        self.bundle.write()
        self.may_exist = True
        return self.runtime.create(
            self.id,
            self.bundle.path,
            pid_file=self.pid_file,
            console_socket=console_socket,
            stdout=self.stdout_path,
            stderr=self.stderr_path,
            check=check,
        )

    def start(self, *, check: bool = True) -> Completed:
        return self.runtime.start(self.id, check=check)

    def run(
        self, *, detach: bool = False, keep: bool = False, timeout: float | None = None
    ) -> Completed:
        """Write config.json and ``run`` it; the result's status is the process's."""
        self.bundle.write()
        self.may_exist = True
        done = self.runtime.run(
            self.id,
            self.bundle.path,
            detach=detach,
            keep=keep,
            pid_file=self.pid_file,
            stdout=self.stdout_path,
            stderr=self.stderr_path,
            timeout=timeout,
        )
        self.may_exist = detach or keep
        return done

    def exec(self, *command: str, **options: Any) -> Completed:
        """``exec`` a process in the container; see :meth:`Runtime.exec`."""
        return self.runtime.exec(self.id, *command, **options)

    def state(self) -> State:
        return self.runtime.state(self.id)

    def state_json(self) -> Any:
        return self.runtime.state_json(self.id)

    def status(self) -> str | None:
        """The current status, or None when the runtime no longer knows the id."""
        try:
            return self.state().status
        except RuntimeCommandError:
            return None

    def pause(self, *, check: bool = True) -> Completed:
        return self.runtime.pause(self.id, check=check)

    def resume(self, *, check: bool = True) -> Completed:
        return self.runtime.resume(self.id, check=check)

    def kill(
        self, signal_name: str = "TERM", *, all: bool = False, check: bool = True
    ) -> Completed:
        return self.runtime.kill(self.id, signal_name, all=all, check=check)

    def delete(self, *, force: bool = False, check: bool = True) -> Completed:
        return self.runtime.delete(self.id, force=force, check=check)

    def ps(self) -> list[int]:
        return self.runtime.ps(self.id)

    # -- observing -----------------------------------------------------
    def output(self) -> str:
        """What the container's process wrote to stdout so far."""
        try:
            return self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_status(self, status: str, timeout: float = 10.0) -> State:
        """Poll ``state`` until ``status``; AssertionError naming the last one if not."""
        return _poll(
            self.state,
            lambda state: state.status == status,
            lambda state: f"did not reach {status!r} within {timeout:g}s; it is {state.status!r}",
            self.id,
            timeout,
        )

    def wait_for_output(self, text: str, timeout: float = 10.0) -> str:
        """Wait until the container's stdout contains ``text`` (a readiness handshake)."""
        return _poll(
            self.output,
            lambda out: text in out,
            lambda out: (
                f"did not print {text!r} within {timeout:g}s; its stdout so far: {out[-500:]!r}"
            ),
            self.id,
            timeout,
        )

    def remove(self) -> None:
        """Teardown: stop and delete the container whatever its state; silent if gone.

        ``delete --force`` of a live container costs runc 1.1 a 100 ms poll;
        KILL, a short wait for "stopped", then ``delete --force`` of the
        stopped container takes ~30 ms. The final forced delete runs in
        every case, so a runtime that ignores the KILL is still cleaned up.
        """
        if self.keep or not self.may_exist:
            return
        try:
            status = self.state().status
        except RuntimeCommandError:
            status = None
        if status == "paused":
            # A frozen process cannot die of KILL until thawed.
            self.runtime.resume(self.id, check=False)
            status = "running"
        if status in ("created", "running"):
            self.runtime.kill(self.id, "KILL", check=False)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and self.status() not in ("stopped", None):
                time.sleep(_POLL)
        self.runtime.delete(self.id, force=True, check=False)


def _poll(
    read: Callable[[], T],
    done: Callable[[T], bool],
    failure: Callable[[T], str],
    container_id: str,
    timeout: float,
) -> T:
    """Call ``read`` every 10 ms until ``done``; AssertionError with ``failure`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"container {container_id} {failure(value)}")
        time.sleep(_POLL)


class ContainerFactory:
    """Makes containers for one test and deletes every one of them at the end."""

    def __init__(self, runtime: Runtime, default_bundle: Bundle | None, id_prefix: str) -> None:
        self.runtime = runtime
        self.default_bundle = default_bundle
        self.id_prefix = id_prefix
        self.containers: list[Container] = []
        self._counter = itertools.count(1)

    def new_id(self) -> str:
        return f"{self.id_prefix}-{next(self._counter)}"

    def __call__(self, bundle: Bundle | None = None, container_id: str | None = None) -> Container:
        """A new (not yet created) container of ``bundle`` (default: the test's bundle)."""
        chosen = bundle or self.default_bundle
        if chosen is None:
            raise ValueError("no bundle given and no default bundle")
        made = Container(
            self.runtime, chosen, self.new_id() if container_id is None else container_id
        )
        self.containers.append(made)
        return made

    def cleanup(self) -> list[str]:
        """Delete every container made here; returns the errors, if any."""
        errors = []
        for made in reversed(self.containers):
            try:
                made.remove()
            except Exception as exc:  # keep deleting the others
                errors.append(f"{made.id}: {exc}")
        return errors
