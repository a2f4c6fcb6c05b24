"""Seccomp: actions applied to real syscalls, errors for what cannot be
applied, and the seccomp notify listener.

Rules: runtime spec config-linux.md "Seccomp" and "The Container Process
State"; how runc applies actions (errnoRet, kill, default action, unknown
names) as runc conventions. Every filter here blocks mkdir/mkdirat, which
busybox ``mkdir`` uses, on a read-only root: an unfiltered mkdir fails with
EROFS, so each errno seen inside names the rule that produced it.
"""

from __future__ import annotations

import array
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.oci import skips
from pytest_runc.testing.sockets import socket_path

pytestmark = pytest.mark.runc

BLOCKED = ["mkdir", "mkdirat"]
ERRNO_TEXT = {
    1: "Operation not permitted",  # EPERM
    28: "No space left on device",  # ENOSPC
    30: "Read-only file system",  # EROFS: mkdir was not filtered
}
MKDIR = "mkdir /prt-probe; echo status=$?"


def seccomp(bundle, **config: Any) -> None:
    bundle.linux["seccomp"] = config


def mkdir_error(container, bundle) -> str:
    """Run ``mkdir`` in the container; what it printed on stderr."""
    bundle.shell(MKDIR)
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    assert "status=1" in done.stdout, f"mkdir did not fail as filtered: {done.stdout!r}"
    return str(done.stderr)


def refused(container, bundle, what: str) -> None:
    bundle.command("true")
    done = container().run()
    assert done.returncode != 0, f"the runtime ran the container with {what}"


@pytest.mark.runc_cli("runc-cli.run.seccomp-errno-ret")
@pytest.mark.parametrize("arches", ["unset", "native"])
def test_errno_action_returns_the_errno_ret(bundle, container, arches):
    """A rule with SCMP_ACT_ERRNO and errnoRet 28 makes mkdir fail with ENOSPC
    (with ``architectures`` unset, and listing the native ones)."""
    config: dict[str, Any] = {"defaultAction": "SCMP_ACT_ALLOW"}
    if arches == "native":
        config["architectures"] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    config["syscalls"] = [{"names": BLOCKED, "action": "SCMP_ACT_ERRNO", "errnoRet": 28}]
    seccomp(bundle, **config)
    error = mkdir_error(container, bundle)
    assert ERRNO_TEXT[28] in error, f"mkdir was not refused with ENOSPC (errnoRet 28): {error!r}"


@pytest.mark.runc_cli("runc-cli.run.seccomp-errno-default-eperm")
def test_errno_action_without_errno_ret_returns_eperm(bundle, container):
    """A rule with SCMP_ACT_ERRNO and no errnoRet makes mkdir fail with EPERM."""
    seccomp(
        bundle,
        defaultAction="SCMP_ACT_ALLOW",
        syscalls=[{"names": BLOCKED, "action": "SCMP_ACT_ERRNO"}],
    )
    error = mkdir_error(container, bundle)
    assert ERRNO_TEXT[1] in error, f"mkdir was not refused with EPERM (no errnoRet): {error!r}"


@pytest.mark.runc_cli("runc-cli.run.seccomp-kill")
def test_kill_action_kills_the_calling_process(bundle, container):
    """A rule with SCMP_ACT_KILL ends the process calling mkdir with SIGSYS
    (the shell sees status 128+31), and only that process."""
    seccomp(
        bundle,
        defaultAction="SCMP_ACT_ALLOW",
        syscalls=[{"names": BLOCKED, "action": "SCMP_ACT_KILL"}],
    )
    bundle.shell(MKDIR)
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    assert done.stdout.strip() == "status=159", (
        f"mkdir was not killed by SIGSYS (status 159): stdout {done.stdout!r},"
        f" stderr {done.stderr!r}"
    )


def host_syscall_names() -> list[str]:
    """Every x86_64 syscall this kernel has, from /proc/kallsyms (``__x64_sys_NAME``)."""
    names: set[str] = set()
    try:
        with open("/proc/kallsyms") as symbols:
            text = symbols.read()
    except OSError:
        return []
    # One regex over the whole file (5 MB, 150k lines): ~10x faster than a
    # split per line. Lines are "ADDR TYPE NAME", a module's with "\t[mod]" after.
    for name in re.findall(r" __x64_sys_([a-z0-9_]+)(?:\t\[\S+\])?$", text, re.MULTILINE):
        names.add(name)
        if name.startswith("new"):  # newuname, newstat ... are uname, stat
            names.add(name[3:])
    return sorted(names)


@pytest.mark.runc_cli("runc-cli.run.seccomp-default-action")
@pytest.mark.runc_slow
def test_default_action_applies_to_unlisted_syscalls(bundle, container):
    """defaultAction SCMP_ACT_ERRNO with defaultErrnoRet 28, and every syscall
    but mkdir/mkdirat allowed: mkdir fails with ENOSPC, the rest works."""
    if os.uname().machine != "x86_64":
        skips.skip_host(f"the syscall list is x86_64's; this host is {os.uname().machine}")
    allowed = [name for name in host_syscall_names() if name not in BLOCKED]
    if len(allowed) < 200:
        skips.skip_host("/proc/kallsyms does not list the kernel's __x64_sys_* syscalls")
    seccomp(
        bundle,
        defaultAction="SCMP_ACT_ERRNO",
        defaultErrnoRet=28,
        architectures=["SCMP_ARCH_X86_64"],
        syscalls=[{"names": allowed, "action": "SCMP_ACT_ALLOW"}],
    )
    error = mkdir_error(container, bundle)
    assert ERRNO_TEXT[28] in error, (
        f"mkdir, which no rule lists, did not get the default action's ENOSPC: {error!r}"
    )


UNKNOWN = {
    "action": {"defaultAction": "SCMP_ACT_PRT_NONE"},
    "architecture": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PRT_NONE"]},
    "flag": {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_PRT_NONE"]},
}


@pytest.mark.runc_cli("runc-cli.run.seccomp-unknown-name-refused")
@pytest.mark.parametrize("what", list(UNKNOWN))
def test_unknown_seccomp_name_is_refused(bundle, container, what):
    """An unknown seccomp action, architecture or flag makes the runtime fail
    rather than run the container without (part of) the filter."""
    seccomp(bundle, **UNKNOWN[what])
    refused(container, bundle, f"an unknown seccomp {what} ({UNKNOWN[what]})")


@pytest.mark.oci_rule("config-linux.seccomp.errno-unsupported-action-error")
def test_errno_ret_on_a_kill_rule_is_refused(bundle, container):
    """config-linux.md "Seccomp": errnoRet on a rule whose action returns no
    errno (SCMP_ACT_KILL) is an error."""
    seccomp(
        bundle,
        defaultAction="SCMP_ACT_ALLOW",
        syscalls=[{"names": BLOCKED, "action": "SCMP_ACT_KILL", "errnoRet": 28}],
    )
    refused(container, bundle, "errnoRet 28 on an SCMP_ACT_KILL rule")


@pytest.mark.oci_rule("config-linux.seccomp.default-errno-unsupported-action-error")
def test_default_errno_ret_with_an_allow_default_is_refused(bundle, container):
    """config-linux.md "Seccomp": defaultErrnoRet with a default action that
    returns no errno (SCMP_ACT_ALLOW) is an error."""
    seccomp(bundle, defaultAction="SCMP_ACT_ALLOW", defaultErrnoRet=28)
    refused(container, bundle, "defaultErrnoRet 28 and defaultAction SCMP_ACT_ALLOW")


# -- the seccomp notify listener ----------------------------------------


@dataclass(frozen=True)
class PidView:
    """A pid as the host sees it: its ``NSpid`` chain (host pid first, the pid
    in its own pid namespace last; empty when there is no such process)."""

    pid: object
    nspid: tuple[int, ...]

    @property
    def is_a_pid_namespace_init(self) -> bool:
        """The process is pid 1 of a pid namespace below the host's."""
        return len(self.nspid) >= 2 and self.nspid[-1] == 1

    def __str__(self) -> str:
        if not self.nspid:
            return f"pid {self.pid!r} names no process"
        return f"pid {self.pid} is pid {self.nspid[-1]} of its pid namespace (NSpid {self.nspid})"


def view_of_state_pid(data: bytes) -> PidView | None:
    """The process the ``pid`` of a whole JSON state names; None while ``data``
    is not yet one whole JSON document."""
    try:
        state = json.loads(data)
    except ValueError:
        return None
    pid = state.get("pid") if isinstance(state, dict) else None
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return PidView(pid, ())
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return PidView(pid, ())
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            return PidView(pid, tuple(int(n) for n in line.split()[1:]))
    return PidView(pid, ())


@dataclass
class Connection:
    """What one connection to the listener carried."""

    chunks: list[bytes] = field(default_factory=list)
    fds_per_chunk: list[list[int]] = field(default_factory=list)
    closed: bool = False
    #: The runtime closed the connection while the listener still held the
    #: notify fd (so the container could not have finished yet).
    closed_while_held: bool = False
    #: The process the state's ``pid`` names, seen on the host as soon as the
    #: state was whole and before its descriptors were closed (while the
    #: container process cannot have got past its notified mkdir).
    pid_view: PidView | None = None

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def fds(self) -> list[int]:
        return [fd for fds in self.fds_per_chunk for fd in fds]


class Listener:
    """A Unix stream socket that records every connection, on a thread.

    Received descriptors are closed at once (the notified syscall then fails
    with ENOSYS and the container goes on), or with ``hold`` seconds, kept
    until the runtime closes the connection or that time passes.
    """

    def __init__(self, path: Path, hold: float = 0.0) -> None:
        self.path = path
        self.hold = hold
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(4)
        self.sock.settimeout(0.05)
        self.connections: list[Connection] = []
        self.fd_kinds: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            record = Connection()
            self.connections.append(record)
            threading.Thread(target=self._read, args=(conn, record), daemon=True).start()

    def _read(self, conn: socket.socket, record: Connection) -> None:
        held: list[int] = []
        release_at = 0.0
        with conn:
            while True:
                wait = release_at - time.monotonic() if held else 10.0
                conn.settimeout(max(wait, 0.001))
                try:
                    data, ancdata, _, _ = conn.recvmsg(1 << 16, socket.CMSG_SPACE(16 * 4))
                except TimeoutError:
                    if not held:
                        return
                    _close_all(held)
                    held = []
                    continue
                except OSError:
                    break
                fds = _scm_rights(ancdata)
                for fd in fds:
                    self.fd_kinds[fd] = os.readlink(f"/proc/self/fd/{fd}")
                if not data and not fds:
                    record.closed_while_held = bool(held)
                    record.closed = True
                    break
                record.chunks.append(data)
                record.fds_per_chunk.append(fds)
                if record.pid_view is None:  # before any descriptor is let go
                    record.pid_view = view_of_state_pid(record.data)
                if self.hold and fds:
                    held.extend(fds)
                    release_at = time.monotonic() + self.hold
                else:
                    _close_all(fds)
        _close_all(held)

    def wait_closed(self, timeout: float = 2.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connections and all(c.closed for c in self.connections):
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(1)


def _scm_rights(ancdata: list[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            got = array.array("i")
            got.frombytes(payload[: len(payload) - len(payload) % got.itemsize])
            fds.extend(got)
    return fds


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)  # the last close of the notify fd fails notified syscalls: ENOSYS


def listener_path(bundle, runc_session) -> Path:
    """Where a seccomp listener socket goes (inside the run's directory)."""
    return socket_path(bundle, runc_session, "l")


def run_notified(
    bundle, container, runc_session, hold: float = 0.0
) -> Iterator[tuple[Any, Listener]]:
    """Run a container whose mkdir goes to a seccomp listener; yields
    (container, listener) once the runtime has closed the connection (or 2 s)."""
    listener = Listener(listener_path(bundle, runc_session), hold)
    try:
        seccomp(
            bundle,
            defaultAction="SCMP_ACT_ALLOW",
            listenerPath=str(listener.path),
            listenerMetadata="prt-metadata",
            syscalls=[{"names": BLOCKED, "action": "SCMP_ACT_NOTIFY"}],
        )
        bundle.shell(MKDIR)
        made = container()
        # `run`: once the notify fd is closed the notified mkdir fails (ENOSYS)
        # and the container ends without a teardown to pay for.
        done = made.run()
        assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
        listener.wait_closed()
        yield made, listener
    finally:
        listener.close()
        listener.path.unlink(missing_ok=True)


@pytest.fixture
def notified(bundle, container, runc_session) -> Iterator[tuple[Any, Listener]]:
    """A container run with a listener that closes the notify fd at once."""
    yield from run_notified(bundle, container, runc_session)


def only_connection(listener: Listener) -> Connection:
    assert listener.connections, "the runtime never connected to the seccomp listenerPath"
    return listener.connections[0]


def sent_state(listener: Listener) -> dict[str, Any]:
    data = only_connection(listener).data
    try:
        state = json.loads(data)
    except ValueError:
        raise AssertionError(
            f"the listener payload is not one JSON document: {data[:300]!r}"
        ) from None
    assert isinstance(state, dict), f"the listener payload is {type(state).__name__}: {state!r}"
    return state


@pytest.mark.oci_rule("config-linux.seccomp.listener-stream-socket")
def test_listener_gets_a_stream_connection(notified):
    """config-linux.md "Seccomp": the runtime connects to listenerPath, a
    SOCK_STREAM Unix socket, and sends over that stream."""
    _, listener = notified
    conn = only_connection(listener)
    assert conn.data, "the runtime connected to the SOCK_STREAM listener but sent nothing"


@pytest.mark.oci_rule("config-linux.container-process-state.json-payload")
def test_listener_payload_is_json(notified):
    """config-linux.md "The Container Process State": the state travels as
    JSON in the regular payload."""
    _, listener = notified
    data = only_connection(listener).data
    try:
        json.loads(data)
    except ValueError as exc:
        raise AssertionError(f"the listener payload is not JSON ({exc}): {data[:300]!r}") from None


@pytest.mark.oci_rule(
    "config-linux.seccomp.one-state-per-connection", "config-linux.seccomp.no-connection-reuse"
)
def test_listener_connection_carries_one_state(notified):
    """config-linux.md "Seccomp": one connection per state, and on it exactly
    one state document and nothing after."""
    _, listener = notified
    assert len(listener.connections) == 1, (
        f"the runtime opened {len(listener.connections)} connections for one container"
    )
    data = only_connection(listener).data
    decoder = json.JSONDecoder()
    try:
        _, end = decoder.raw_decode(data.decode(errors="replace"))
    except ValueError:
        raise AssertionError(
            f"the payload does not start with a JSON state: {data[:300]!r}"
        ) from None
    rest = data.decode(errors="replace")[end:].strip()
    assert not rest, f"the connection carried more than one state; after the first: {rest[:300]!r}"


@pytest.mark.oci_rule("config-linux.seccomp.close-after-send")
@pytest.mark.runc_slow
def test_listener_connection_is_closed_after_the_state(bundle, container, runc_session):
    """config-linux.md "Seccomp": the runtime closes the connection once the
    state is sent, not when it exits: the listener keeps the notify fd (so the
    container's mkdir waits) and must read end of file within 0.5 s."""
    for _, listener in run_notified(bundle, container, runc_session, hold=0.5):
        conn = only_connection(listener)
        assert conn.closed_while_held, (
            "the runtime kept the listener connection open after sending the state"
            " (closed only once the container could finish)"
        )


@pytest.mark.oci_rule("config-linux.container-process-state.fds-scm-rights")
def test_listener_gets_the_fds_with_scm_rights(notified):
    """config-linux.md "The Container Process State": the fds the state names
    arrive as SCM_RIGHTS ancillary data, as many as ``fds`` lists."""
    _, listener = notified
    names = sent_state(listener).get("fds")
    got = only_connection(listener).fds
    assert isinstance(names, list) and names, f"the state lists no fds: {names!r}"
    assert len(got) == len(names), (
        f"the state names fds {names}, SCM_RIGHTS carried {len(got)} descriptors"
    )


@pytest.mark.oci_rule("config-linux.container-process-state.fds-first-message")
def test_listener_fds_travel_with_the_first_message(notified):
    """config-linux.md "The Container Process State": when the state takes
    several messages, only the first carries descriptors."""
    _, listener = notified
    conn = only_connection(listener)
    late = [i for i, fds in enumerate(conn.fds_per_chunk) if fds and i > 0]
    assert conn.fds_per_chunk and not late, (
        f"descriptors arrived with message(s) {late} after the first"
        f" (descriptors per message: {[len(f) for f in conn.fds_per_chunk]})"
    )


@pytest.mark.oci_rule("config-linux.seccomp.seccomp-fd-sent")
def test_listener_gets_the_seccomp_notify_fd(notified):
    """config-linux.md "Seccomp": ``fds`` names "seccompFd" and the descriptor
    at that place is a seccomp notify fd."""
    _, listener = notified
    names = sent_state(listener).get("fds") or []
    assert "seccompFd" in names, f"the state's fds {names} do not name seccompFd"
    got = only_connection(listener).fds
    index = names.index("seccompFd")
    kind = listener.fd_kinds.get(got[index]) if index < len(got) else None
    assert kind == "anon_inode:seccomp notify", (
        f"the descriptor named seccompFd is {kind!r}, not a seccomp notify fd"
    )


@pytest.mark.oci_rule("config-linux.container-process-state.oci-version-required")
def test_listener_state_has_the_oci_version(notified):
    """config-linux.md "The Container Process State": it includes ociVersion."""
    _, listener = notified
    version = sent_state(listener).get("ociVersion")
    assert isinstance(version, str) and re.match(r"^\d+\.\d+\.\d+", version), (
        f"the container process state has no ociVersion: {version!r}"
    )


@pytest.mark.oci_rule("config-linux.container-process-state.pid-required")
def test_listener_state_has_the_container_pid(notified):
    """config-linux.md "The Container Process State": pid is the container
    process as the runtime sees it: on the host (the runtime's pid namespace,
    and ours), the process that is pid 1 of the container's new pid namespace,
    looked at when the state arrived, while the container still waited."""
    _, listener = notified
    pid = sent_state(listener).get("pid")
    view = only_connection(listener).pid_view
    assert view is not None and view.is_a_pid_namespace_init, (
        f"the container process state says pid {pid!r}, which is not the container process"
        f" (pid 1 of the container's pid namespace): {view}"
    )


@pytest.mark.oci_rule("config-linux.container-process-state.state-required")
def test_listener_state_has_the_container_state(notified):
    """config-linux.md "The Container Process State": it includes the
    container's state, whose id is the container's."""
    made, listener = notified
    state = sent_state(listener).get("state")
    assert isinstance(state, dict) and state.get("id") == made.id, (
        f"the container process state's state is {state!r}, not the state of {made.id}"
    )


@pytest.mark.oci_rule("config-linux.seccomp.listener-send-failure-error")
def test_unreachable_listener_is_an_error(bundle, container, runc_session):
    """config-linux.md "Seccomp": when nothing listens at listenerPath the
    state cannot be sent, and create fails."""
    # A path short enough to be a socket address: a create that failed only
    # because the path is too long would prove nothing.
    nobody = listener_path(bundle, runc_session)
    seccomp(
        bundle,
        defaultAction="SCMP_ACT_ALLOW",
        listenerPath=str(nobody),
        syscalls=[{"names": BLOCKED, "action": "SCMP_ACT_NOTIFY"}],
    )
    bundle.command("true")
    done = container().create(check=False)
    assert done.returncode != 0, (
        "the runtime created the container although nothing listens at its listenerPath"
    )
