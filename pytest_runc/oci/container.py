"""One container's life, from create or run to a guaranteed delete."""

from __future__ import annotations

import itertools
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

from pytest_runc.oci.bundle import Bundle
from pytest_runc.oci.errors import RuntimeCommandError
from pytest_runc.oci.polling import settle_time, wait_until
from pytest_runc.oci.runtime import Runtime, State
from pytest_runc.oci.transcript import Completed

_POLL_FILE = 0.002  # between reads of a file we own


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
        # Set by a successful pause(), cleared by resume(): teardown thaws first.
        self._paused = False
        # When the last create/run began (CLOCK_BOOTTIME, as /proc start times).
        self._launched = 0.0

    def __repr__(self) -> str:
        return f"Container({self.id!r}, bundle={str(self.bundle.path)!r})"

    # -- lifecycle -----------------------------------------------------
    def create(self, *, console_socket: Path | None = None, check: bool = True) -> Completed:
        """Write config.json and ``create`` the container (status: created)."""
        self.bundle.write()
        self.may_exist = True
        # The pid file must be this attempt's: teardown reads the init pid there.
        self.pid_file.unlink(missing_ok=True)
        self._paused = False
        self._launched = time.clock_gettime(time.CLOCK_BOOTTIME)
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
        self.pid_file.unlink(missing_ok=True)
        self._paused = False
        self._launched = time.clock_gettime(time.CLOCK_BOOTTIME)
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
        done = self.runtime.pause(self.id, check=check)
        self._paused = self._paused or done.returncode == 0
        return done

    def resume(self, *, check: bool = True) -> Completed:
        done = self.runtime.resume(self.id, check=check)
        self._paused = self._paused and done.returncode != 0
        return done

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

    def wait_for_status(self, status: str, timeout: float | None = None) -> State:
        """Poll ``state`` until ``status``; AssertionError naming the last one if not.

        ``timeout`` defaults to the run's deadline for a runtime command.
        """
        within = settle_time(self.runtime) if timeout is None else timeout
        return wait_until(
            self.state,
            lambda state: state.status == status,
            lambda state: (
                f"container {self.id} did not reach {status!r} within {within:g}s;"
                f" it is {state.status!r}"
            ),
            timeout=within,
        )

    def wait_for_output(self, text: str, timeout: float | None = None) -> str:
        """Wait until the container's stdout contains ``text`` (a readiness handshake).

        ``timeout`` defaults to the run's deadline for a runtime command.
        """
        within = settle_time(self.runtime) if timeout is None else timeout
        return wait_until(
            self.output,
            lambda out: text in out,
            lambda out: (
                f"container {self.id} did not print {text!r} within {within:g}s;"
                f" its stdout so far: {out[-500:]!r}"
            ),
            timeout=within,
            # Reading a file costs microseconds, not a runtime call: poll often.
            interval=_POLL_FILE,
        )

    def remove(self) -> None:
        """Teardown: stop and delete the container whatever its state; silent if gone.

        ``delete --force`` of a live container costs runc 1.1 a 100 ms sleep,
        and every runtime call costs ~15 ms of CPU, so teardown asks the
        runtime as little as it can. The init pid (our ``--pid-file``) tells
        from /proc whether the process is still alive: a dead one needs only
        ``delete --force``; a live one gets KILL (from us when /proc shows it
        is the runtime's recorded init and we may signal it, else through
        ``kill``), a wait for it to die, then ``delete --force``. Only a process that outlives the KILL
        (a paused container, a runtime that ignores the signal) costs a
        ``state``: a paused one is thawed. The forced delete runs in every
        case, so a runtime that ignores the KILL is still cleaned up.
        """
        if self.keep or not self.may_exist:
            return
        pid = _read_pid(self.pid_file)
        if pid is not None and _alive(pid):
            if self._paused:
                # A frozen process cannot die of KILL until thawed.
                self.runtime.resume(self.id, check=False)
            if not _kill_init(pid, self.pid_file, self._launched):
                self.runtime.kill(self.id, "KILL", check=False)
            if not _wait_dead(pid, 0.2):
                status = self.status()
                if status == "paused":
                    self.runtime.resume(self.id, check=False)
                if status in ("created", "running", "paused"):
                    _wait_dead(pid, 2.0)
        self.runtime.delete(self.id, force=True, check=False)


def _read_pid(path: Path) -> int | None:
    """The pid the runtime wrote into ``path``, or None (no file, not a number)."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie counts as dead, as it does for runc's ``state``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the command name, which may hold spaces and ")".
    return stat[stat.rindex(")") + 2 :][:1] not in ("Z", "X", "x", "")


def _kill_init(pid: int, pid_file: Path, launched: float) -> bool:
    """KILL the container's init ourselves, saving a runtime call; False when we may not.

    Only when ``pid`` is certainly a process of this container: it started
    after our create/run began (``launched``, CLOCK_BOOTTIME) and before the
    runtime wrote ``pid_file``. A wrong pid in the file (pid 1, pytest, a pid
    reused later) fails that test. Not allowed (a root container through
    sudo) or not certain: False, and the caller asks the runtime to ``kill``.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # s after boot
        written = pid_file.stat().st_mtime
    except (OSError, ValueError, IndexError):
        return False
    now = time.clock_gettime(time.CLOCK_BOOTTIME)
    written_at = now - (time.time() - written)
    # Start times count in clock ticks (10 ms): allow a few of them.
    if not launched - 0.05 <= started <= written_at + 0.05:
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        return False
    return True


def _wait_dead(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``pid`` to die; True if it did."""
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_FILE)
    return True


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
