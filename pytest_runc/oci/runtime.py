"""The runtime's command line as typed Python.

Every runtime process pytest-runc starts is started here, with the private
state root (``--root``) and a deadline. Output goes to temporary files, never
to pipes: a container inherits the stdio of ``runc create``/``run -d`` and
would hold a pipe open forever (see docs/architecture.md).

A runtime started as root gets ``PR_SET_PDEATHSIG(SIGKILL)``: if pytest or the
bundle check dies, even by SIGKILL, the kernel kills the runtime too instead
of leaving a hung ``runc run`` behind. util-linux's ``setpriv --pdeathsig``
sets it and execs the runtime; only without setpriv (or to renumber fds) does
a preexec function call ``prctl`` in the child, because a preexec function
makes Python fork the whole process instead of vfork: measured here, +1.8 ms
per call in a small process and +6.2 ms with 300 MB resident, against +1.0 ms
for setpriv. Its only runtime-visible trace: ``runc`` runs with that flag.
Two limits, both by the kernel's design:

- the signal follows the *thread* that started the runtime, not the process:
  a runtime started from a thread that exits first is killed with it. Every
  call here waits for its runtime in the calling thread, so only a
  :meth:`Runtime.spawn` handed to another thread would notice.
- it is cleared when a setuid program is executed: through ``sudo -n`` it
  never reaches the runtime, so it is not set there at all. A runtime left
  by a killed run is then the sweeper's (it kills the dead run's cgroups).

Every wait has a deadline; a process that outlives SIGKILL and that deadline
is reported (a warning on the ``pytest_runc.oci.runtime`` logger), never waited
for forever.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import fcntl
import functools
import io
import json
import logging
import os
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import pexpect

from pytest_runc.oci.constants import DEFAULT_TIMEOUT
from pytest_runc.oci.errors import RuntimeCommandError, RuntimeTimeout
from pytest_runc.oci.host import give_to_root
from pytest_runc.oci.transcript import Completed, Transcript

#: Lifecycle states of the OCI runtime spec ("State" section).
STATUSES = ("creating", "created", "running", "paused", "stopped")

#: How long a killed runtime (or ``sudo -n kill``) may take before we give up on it.
KILL_TIMEOUT = 10.0
#: How long reaping a process that has already exited may take.
_REAP_TIMEOUT = 5.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class State:
    """A container's state as the runtime reports it (``state``/``list`` JSON)."""

    id: str
    status: str
    pid: int
    bundle: str
    oci_version: str | None = None
    rootfs: str | None = None
    created: str | None = None
    owner: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        """Build a State from one decoded JSON object of ``state`` or ``list``."""
        return cls(
            id=str(data.get("id", "")),
            status=str(data.get("status", "")),
            pid=int(data.get("pid", 0) or 0),
            bundle=str(data.get("bundle", "")),
            oci_version=data.get("ociVersion"),
            rootfs=data.get("rootfs"),
            created=data.get("created"),
            owner=data.get("owner"),
            annotations=dict(data.get("annotations") or {}),
            raw=data,
        )


@dataclass(frozen=True)
class Runtime:
    """One OCI runtime binary bound to one state root.

    ``sudo`` prefixes every command with ``sudo -n`` (a non-root developer
    with passwordless sudo). ``transcript``, when set, receives every command.
    """

    binary: str
    root: Path
    timeout: float = DEFAULT_TIMEOUT
    sudo: bool = False
    transcript: Transcript | None = field(default=None, compare=False)

    def recording(self, transcript: Transcript) -> Runtime:
        """The same runtime, writing its commands into ``transcript``."""
        return replace(self, transcript=transcript)

    # -- command lines -------------------------------------------------
    def argv(self, *args: str, global_root: bool = True) -> list[str]:
        """The full command line for ``args``, with sudo and ``--root``."""
        prefix = ["sudo", "-n", "--"] if self.sudo else []
        root = ["--root", str(self.root)] if global_root else []
        return [*prefix, self.binary, *root, *args]

    def invoke(
        self,
        *args: str,
        input: str | None = None,
        stdout: Path | None = None,
        stderr: Path | None = None,
        timeout: float | None = None,
        check: bool = True,
        global_root: bool = True,
        pass_fds: Sequence[int] = (),
        fds: Mapping[int, int] | None = None,
    ) -> Completed:
        """Run one runtime command and wait for it, within the deadline.

        ``stdout``/``stderr`` name files that receive the stream (the
        container's, for create/run/exec); otherwise a temporary file does.
        Raises RuntimeCommandError on a non-zero status when ``check``,
        RuntimeTimeout when the deadline passes (the process group is killed).
        ``pass_fds`` are inherited by the runtime under the same numbers; ``fds``
        maps a descriptor number of the runtime process to one of ours (``{3: fd}``:
        the runtime's fd 3 is our ``fd``, whatever our own fd 3 is; ``exec --preserve-fds``).
        """
        argv = self.argv(*args, global_root=global_root)
        mapped = {fd: fd for fd in pass_fds} | dict(fds or {})
        if self.sudo and mapped:
            argv = _reopen_through_sudo(argv, mapped)
        deadline = self.timeout if timeout is None else timeout
        launch, preexec = _dying_with_us(argv, fds or {}, sudo=self.sudo)
        with _sink(stdout) as out, _sink(stderr) as err:
            started = time.monotonic()
            # A session of its own: a timeout kills runc and every helper it
            # forked, and a Ctrl-C at the terminal reaches pytest, whose
            # teardown then deletes the container deliberately.
            proc = subprocess.Popen(
                launch,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                pass_fds=tuple({*mapped, *mapped.values()}),
                preexec_fn=preexec,
            )
            try:
                if input is not None:
                    assert proc.stdin is not None
                    proc.stdin.write(input.encode())
                    proc.stdin.close()
                returncode = _wait(proc, deadline)
            except subprocess.TimeoutExpired:
                problem = _kill_group(proc, sudo=self.sudo)
                timeout_error = RuntimeTimeout(argv, deadline, _read(out), _read(err))
                if problem is not None and hasattr(timeout_error, "add_note"):
                    timeout_error.add_note(problem)  # Python 3.11+; logged in any case
                raise timeout_error from None
            except BaseException:
                # Ctrl-C, or SIGTERM turned into KeyboardInterrupt: the runtime
                # must not outlive the call that started it.
                _kill_group(proc, sudo=self.sudo)
                raise
            done = Completed(argv, returncode, _read(out), _read(err), time.monotonic() - started)
        if self.transcript is not None:
            self.transcript.add_command(done)
        if check and returncode != 0:
            raise RuntimeCommandError(argv, returncode, done.stdout, done.stderr)
        return done

    def hand_over_rootfs(self, bundle: Path) -> None:
        """Through sudo, make the bundle's rootfs root's before a container uses it.

        As root, the rootfs a test copied belongs to the container's root; through
        sudo it would belong to the developer, and the container's root (no
        CAP_DAC_OVERRIDE by default) could not write to it: ``root.readonly``
        false would fail and a read-only check would pass for the wrong reason.
        Only a rootfs inside ``bundle`` that the test process owns is changed.
        """
        if not self.sudo:
            return
        rootfs = _rootfs_in(bundle)
        if rootfs is not None:
            give_to_root(rootfs, sudo=True)

    # -- commands --------------------------------------------------------
    def version(self) -> str:
        """``runtime --version``: all it prints (``runc version 1.1.5``, ``commit: ...``,
        ``spec: 1.0.2-dev``); the ``spec:`` line is rarely the first."""
        done = self.invoke("--version", global_root=False)
        return done.stdout.strip()

    def features(self, *, timeout: float | None = None) -> str | None:
        """``runtime features``: the JSON text it prints, or None when the runtime
        has no such command (it exits non-zero); parse with ``pytest_runc.oci.features``."""
        done = self.invoke("features", global_root=False, check=False, timeout=timeout)
        return done.stdout if done.returncode == 0 and done.stdout.strip() else None

    def spec(self, bundle: Path, *, rootless: bool = False) -> dict[str, Any]:
        """``runtime spec`` in ``bundle``; returns the config it wrote."""
        args = ["spec", "--bundle", str(bundle)] + (["--rootless"] if rootless else [])
        self.invoke(*args, global_root=False)
        data: dict[str, Any] = json.loads((bundle / "config.json").read_text())
        return data

    def create(
        self,
        container_id: str,
        bundle: Path,
        *,
        pid_file: Path | None = None,
        console_socket: Path | None = None,
        stdout: Path | None = None,
        stderr: Path | None = None,
        check: bool = True,
    ) -> Completed:
        """``create``: set up the container; its process waits for ``start``."""
        self.hand_over_rootfs(bundle)
        args = ["create", "--bundle", str(bundle)]
        args += ["--pid-file", str(pid_file)] if pid_file else []
        args += ["--console-socket", str(console_socket)] if console_socket else []
        return self.invoke(*args, container_id, stdout=stdout, stderr=stderr, check=check)

    def start(self, container_id: str, *, check: bool = True) -> Completed:
        """``start``: run the user program of a created container."""
        return self.invoke("start", container_id, check=check)

    def run(
        self,
        container_id: str,
        bundle: Path,
        *,
        detach: bool = False,
        keep: bool = False,
        pid_file: Path | None = None,
        stdout: Path | None = None,
        stderr: Path | None = None,
        timeout: float | None = None,
        check: bool = False,
    ) -> Completed:
        """``run``: create and start; waits for the process unless ``detach``.

        Not checked by default: the exit status is the container's own.
        """
        self.hand_over_rootfs(bundle)
        args = ["run", "--bundle", str(bundle)]
        args += ["--detach"] if detach else []
        args += ["--keep"] if keep else []
        args += ["--pid-file", str(pid_file)] if pid_file else []
        return self.invoke(
            *args, container_id, stdout=stdout, stderr=stderr, timeout=timeout, check=check
        )

    def exec(
        self,
        container_id: str,
        *command: str,
        env: Sequence[str] = (),
        cwd: str | None = None,
        user: str | None = None,
        detach: bool = False,
        ignore_paused: bool = False,
        stdout: Path | None = None,
        timeout: float | None = None,
        check: bool = False,
        additional_gids: Sequence[int] = (),
        process: Path | None = None,
        pid_file: Path | None = None,
        tty: bool = False,
        console_socket: Path | None = None,
        preserve_fds: int = 0,
        fds: Mapping[int, int] | None = None,
    ) -> Completed:
        """``exec``: run another process in the container; status is its own.

        ``process`` names a process.json used instead of ``command``; ``tty``
        with ``console_socket`` (and ``detach``) sends the terminal's master
        to that socket; ``preserve_fds`` passes fds 3.. on (``fds`` maps them to ours).
        """
        args = ["exec"]
        for item in env:
            args += ["--env", item]
        args += ["--cwd", cwd] if cwd else []
        args += ["--user", user] if user else []
        for gid in additional_gids:
            args += ["--additional-gids", str(gid)]
        args += ["--process", str(process)] if process else []
        args += ["--pid-file", str(pid_file)] if pid_file else []
        args += ["--tty"] if tty else []
        args += ["--console-socket", str(console_socket)] if console_socket else []
        args += ["--preserve-fds", str(preserve_fds)] if preserve_fds else []
        args += ["--detach"] if detach else []
        args += ["--ignore-paused"] if ignore_paused else []
        return self.invoke(
            *args,
            container_id,
            *command,
            stdout=stdout,
            timeout=timeout,
            check=check,
            fds=fds,
        )

    def state(self, container_id: str) -> State:
        """``state``: the container's state, parsed."""
        done = self.invoke("state", container_id)
        return State.from_json(json.loads(done.stdout))

    def state_json(self, container_id: str) -> Any:
        """``state`` as decoded JSON, untouched (for schema validation)."""
        return json.loads(self.invoke("state", container_id).stdout)

    def list(self) -> builtins.list[State]:
        """``list --format json``: every container in this state root."""
        text = self.invoke("list", "--format", "json").stdout.strip()
        # runc prints "null" when the root holds no container.
        items = json.loads(text) if text else None
        return [State.from_json(item) for item in items or []]

    def list_table(self) -> str:
        """``list`` in its default table format."""
        return self.invoke("list").stdout

    def list_ids(self) -> builtins.list[str]:
        """``list --quiet``: the ids only."""
        return self.invoke("list", "--quiet").stdout.split()

    def pause(self, container_id: str, *, check: bool = True) -> Completed:
        """``pause``: freeze every process of the container."""
        return self.invoke("pause", container_id, check=check)

    def resume(self, container_id: str, *, check: bool = True) -> Completed:
        """``resume``: thaw a paused container."""
        return self.invoke("resume", container_id, check=check)

    def kill(
        self,
        container_id: str,
        signal_name: str = "TERM",
        *,
        all: bool = False,
        check: bool = True,
    ) -> Completed:
        """``kill``: send a signal to the container's init (or all, ``--all``)."""
        args = ["kill"] + (["--all"] if all else [])
        return self.invoke(*args, container_id, signal_name, check=check)

    def delete(self, container_id: str, *, force: bool = False, check: bool = True) -> Completed:
        """``delete``: remove a stopped container (any, with ``force``)."""
        args = ["delete"] + (["--force"] if force else [])
        return self.invoke(*args, container_id, check=check)

    def ps(self, container_id: str) -> builtins.list[int]:
        """``ps --format json``: host pids of the container's processes."""
        done = self.invoke("ps", "--format", "json", container_id)
        return [int(pid) for pid in json.loads(done.stdout or "[]") or []]

    def ps_table(self, container_id: str, *ps_args: str) -> str:
        """``ps`` in its table format (ps(1) columns); ``ps_args`` go to ps(1)."""
        return self.invoke("ps", container_id, *ps_args).stdout

    def spawn(
        self, *args: str, timeout: float | None = None, dimensions: tuple[int, int] = (24, 200)
    ) -> pexpect.spawn[str]:
        """Start a runtime command on a pseudo-terminal (``run`` with a terminal).

        The terminal's output is logged into the transcript as it arrives.
        """
        if "--bundle" in args[:-1]:
            self.hand_over_rootfs(Path(args[args.index("--bundle") + 1]))
        argv = self.argv(*args)
        output = io.StringIO()
        child = pexpect.spawn(
            argv[0],
            argv[1:],
            timeout=self.timeout if timeout is None else timeout,
            encoding="utf-8",
            codec_errors="replace",
            dimensions=dimensions,
            # Dies with the thread that spawned it (see the module docstring).
            preexec_fn=None if self.sudo else _child_setup({}),
        )
        child.logfile_read = output
        # pexpect's defaults sleep 50 ms before every send and 100 ms after
        # close: most of an interactive test's time. The terminal needs neither.
        child.delaybeforesend = None
        child.delayafterclose = 0.01
        child.delayafterterminate = 0.01
        # close() sleeps in ptyprocess, whose own delays pexpect does not pass on.
        ptyproc = getattr(child, "ptyproc", None)
        if ptyproc is not None:
            ptyproc.delayafterclose = 0.01
            ptyproc.delayafterterminate = 0.01
        if self.transcript is not None:
            self.transcript.add_stream(shlex.join(argv), output)
        return child

    def events_stats(self, container_id: str) -> dict[str, Any]:
        """``events --stats``: one resource-usage snapshot."""
        done = self.invoke("events", "--stats", container_id)
        data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[0])
        return data


def _reopen_through_sudo(argv: builtins.list[str], fds: Mapping[int, int]) -> builtins.list[str]:
    """``argv`` (``sudo -n -- runtime ...``) with ``fds`` opened again as root.

    sudo closes every descriptor above 2 (``closefrom``; keeping them needs a
    sudoers ``closefrom_override`` few machines have), so an inherited fd 3
    never reaches the runtime. Root reopens our ``/proc/<pid>/fd/<n>`` under
    the same number, with the same access mode and without truncating.
    ``fds`` maps the runtime's descriptor number to ours.
    """
    redirects = []
    for child, fd in sorted(fds.items()):
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        op = "<" if mode == os.O_RDONLY else "<>"
        redirects.append(f"{child}{op}/proc/{os.getpid()}/fd/{fd}")
    script = f'exec {" ".join(redirects)} && exec "$@"'
    assert argv[:3] == ["sudo", "-n", "--"], argv
    return [*argv[:3], "/bin/sh", "-c", script, "sh", *argv[3:]]


def _load_prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up once here: the child after fork must not load
    libraries (another thread may have held the loader's lock at the fork)."""
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux, or a libc without prctl
        return None
    arg = ctypes.c_ulong
    prctl.argtypes = [ctypes.c_int, arg, arg, arg, arg]  # type: ignore[attr-defined]
    prctl.restype = ctypes.c_int  # type: ignore[attr-defined]
    return prctl


_PRCTL = _load_prctl()


def _dying_with_us(
    argv: builtins.list[str], fds: Mapping[int, int], *, sudo: bool
) -> tuple[builtins.list[str], Callable[[], None] | None]:
    """The command line to start and the preexec function that make the runtime
    die with our thread: ``setpriv --pdeathsig KILL -- argv`` when possible.

    Nothing through sudo (the setuid exec would clear it; fds are reopened by
    root there). A binary that cannot be found is started bare, so that Popen
    still raises FileNotFoundError rather than setpriv exiting 127.
    """
    if sudo:
        return argv, None
    setpriv = _setpriv()
    if not fds and setpriv is not None and shutil.which(argv[0]) is not None:
        return [setpriv, "--pdeathsig", "KILL", "--", *argv], None
    return argv, _child_setup(fds)


@functools.cache
def _setpriv() -> str | None:
    """setpriv, if it knows ``--pdeathsig`` (util-linux 2.33 and later)."""
    path = shutil.which("setpriv")
    if path is None:
        return None
    try:
        done = subprocess.run(
            [path, "--pdeathsig", "KILL", "--", path, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=KILL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return path if done.returncode == 0 else None


def _child_setup(fds: Mapping[int, int]) -> Callable[[], None]:
    """The preexec function of a runtime started without sudo.

    In the child, before exec: ask for SIGKILL when our thread dies, then give
    the child ``fds`` (child number -> our fd; close_fds then keeps exactly the
    mapped numbers, and our own descriptors, say an xdist channel on fd 3, stay
    untouched). It calls nothing that takes a lock another thread could hold:
    Python reinitialises its own locks after the fork, glibc its malloc's, and
    ``prctl`` was looked up before.
    """
    parent = os.getpid()

    def setup() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            # The parent may have died between fork and prctl: then no signal
            # will ever come, and the runtime must not start at all.
            if os.getppid() != parent:
                os._exit(128 + signal.SIGKILL)
        for child, ours in fds.items():
            os.dup2(ours, child)

    return setup


def _rootfs_in(bundle: Path) -> Path | None:
    """The rootfs config.json names, if it is a directory inside ``bundle``."""
    try:
        config = json.loads((bundle / "config.json").read_text())
        path = config["root"]["path"]
    except (OSError, ValueError, TypeError, KeyError):
        return None  # an error check's bundle: the runtime must report it
    if not isinstance(path, str) or not path:
        return None
    base = bundle.resolve()
    rootfs = (base / path).resolve()
    return rootfs if rootfs != base and rootfs.is_relative_to(base) else None


class _sink:
    """A writable binary file for a child's stream: the named path or a temp file.

    A named file is always made anew (mode 0644, whatever the umask): runc
    hands a container's stdio files to the container's user (its init
    fchowns them), so through sudo an earlier file of the same name is
    root's and cannot be reopened for writing, and the test process must
    still be able to read the new one by its name.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        if self._path is None:
            self._file = tempfile.TemporaryFile()
        else:
            # Unlinking needs only the directory (ours), not the old file.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            os.fchmod(fd, 0o644)
            self._file = os.fdopen(fd, "w+b")
        return self._file

    def __exit__(self, *exc: object) -> None:
        assert self._file is not None
        self._file.close()


def _read(stream: IO[bytes]) -> str:
    stream.flush()
    stream.seek(0)
    return stream.read().decode(errors="replace")


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait for ``proc`` with a deadline, waking the moment it exits.

    ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms: measured here,
    that added ~25 ms to every runtime call. A pidfd wakes up at once.
    """
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # Python < 3.9 or kernel < 5.3
        return proc.wait(timeout=timeout)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(timeout * 1000):
            raise subprocess.TimeoutExpired(proc.args, timeout)
    finally:
        os.close(pidfd)
    # It has exited (the pidfd said so): this only reaps it.
    return proc.wait(timeout=_REAP_TIMEOUT)


def _kill_group(proc: subprocess.Popen[bytes], *, sudo: bool = False) -> str | None:
    """SIGKILL the runtime's process group and reap it, within KILL_TIMEOUT.

    Returns None once it is gone, else what is left and how to remove it (also
    logged); never raises, so the caller's own exception is the one reported.
    """
    if sudo:
        _kill_through_sudo(proc.pid)
    # As root this is the kill; through sudo it is a no-op (EPERM: everything
    # in the group is root's), which is why _kill_through_sudo came first.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=KILL_TIMEOUT)
    except subprocess.TimeoutExpired:
        how = "sudo kill" if sudo else "kill"
        problem = (
            f"runtime process {proc.pid} is still there"
            f" {KILL_TIMEOUT:g}s after SIGKILL; remove it with `{how} -KILL -- -{proc.pid}`"
        )
        log.warning("%s", problem)
        return problem
    return None


def _kill_through_sudo(pid: int) -> None:
    """SIGKILL, as root, the group led by our ``sudo`` and everything below it.

    We may not signal root's processes, and sudo cannot relay SIGKILL. With
    ``use_pty`` (Debian's default) sudo starts the runtime in a session of its
    own, which a group kill misses: its descendants are named one by one,
    from /proc (readable by anyone) before anything dies and is reparented.
    """
    targets = [f"-{pid}", *map(str, _descendants(pid))]
    try:
        subprocess.run(
            ["sudo", "-n", "kill", "-KILL", "--", *targets],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=KILL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("cannot kill runtime process %d through sudo: %s", pid, exc)


def _descendants(pid: int) -> builtins.list[int]:
    """Every process below ``pid`` now, children first (from /proc/*/stat)."""
    parents: dict[int, builtins.list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it exited meanwhile
        # The command name may hold spaces and parentheses: split after the last ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: builtins.list[int] = []
    pending = [pid]
    while pending:
        children = parents.get(pending.pop(), [])
        found += children
        pending += children
    return found
