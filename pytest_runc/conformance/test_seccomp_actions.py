"""Seccomp actions test_seccomp.py does not try, and rules with argument conditions.

Rules: how runc applies each seccomp action (runc conventions over
libseccomp): SCMP_ACT_TRAP, KILL_PROCESS and KILL_THREAD end a
single-threaded caller with SIGSYS, TRACE without a tracer fails the call
with ENOSYS, LOG lets it through; and a rule with ``args`` matches only the
calls whose argument passes the comparison. The filtered call is busybox
``mkdir`` on a read-only root (unfiltered, it fails with EROFS), or the
shell's ``kill`` builtin signalling itself with signal 0 or 18 (SIGCONT,
harmless), whose signal number is argument 1 of kill(2). Last, the
listenerMetadata of a SCMP_ACT_NOTIFY filter reaches the listener.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import socket
from typing import Any

import pytest

from pytest_runc.testing.sockets import socket_path

pytestmark = pytest.mark.runc

MKDIR = "mkdir /prt-probe; echo status=$?"
BLOCKED = ["mkdir", "mkdirat"]

#: action -> (what the shell prints on stdout, a fragment of stderr).
ACTIONS = {
    "SCMP_ACT_TRAP": ("status=159", ""),
    "SCMP_ACT_KILL_PROCESS": ("status=159", ""),
    "SCMP_ACT_KILL_THREAD": ("status=159", ""),
    "SCMP_ACT_TRACE": ("status=1", "Function not implemented"),
    "SCMP_ACT_LOG": ("status=1", "Read-only file system"),
}
RULES = {
    "SCMP_ACT_TRAP": "runc-cli.run.seccomp-trap",
    "SCMP_ACT_KILL_PROCESS": "runc-cli.run.seccomp-kill-process",
    "SCMP_ACT_KILL_THREAD": "runc-cli.run.seccomp-kill-thread",
    "SCMP_ACT_TRACE": "runc-cli.run.seccomp-trace-without-tracer",
    "SCMP_ACT_LOG": "runc-cli.run.seccomp-log-allows",
}


def seccomp(bundle: Any, **config: Any) -> None:
    bundle.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", **config}


@pytest.mark.oci_inputs("config:linux.seccomp.syscalls[].action")
@pytest.mark.parametrize(
    "action", [pytest.param(a, marks=pytest.mark.runc_cli(RULES[a])) for a in ACTIONS]
)
def test_seccomp_action_does_what_it_names(bundle, container, action):
    """mkdir under a rule with ``action``: TRAP and the KILLs end the shell's
    mkdir with SIGSYS (status 128+31), TRACE fails it with ENOSYS, LOG lets it
    reach the read-only root (EROFS)."""
    seccomp(bundle, syscalls=[{"names": BLOCKED, "action": action}])
    bundle.readonly(True)
    bundle.shell(MKDIR)
    done = container().run()
    stdout, stderr = ACTIONS[action]
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    assert done.stdout.strip() == stdout and stderr in done.stderr, (
        f"{action}: mkdir ended with {done.stdout.strip()!r} and said {done.stderr.strip()!r};"
        f" the action means {stdout!r}" + (f" with {stderr!r}" if stderr else " (SIGSYS)")
    )


#: op -> (value, valueTwo, (signal 0 denied, signal 18 denied)). For
#: MASKED_EQ ``value`` is the mask and ``valueTwo`` what the masked argument
#: must equal: 18 & 0xF0 == 0x10, 0 & 0xF0 == 0.
COMPARISONS = {
    "SCMP_CMP_EQ": (0, 0, (True, False)),
    "SCMP_CMP_NE": (0, 0, (False, True)),
    "SCMP_CMP_LT": (10, 0, (True, False)),
    "SCMP_CMP_LE": (0, 0, (True, False)),
    "SCMP_CMP_GT": (10, 0, (False, True)),
    "SCMP_CMP_GE": (18, 0, (False, True)),
    "SCMP_CMP_MASKED_EQ": (0xF0, 0x10, (False, True)),
}
KILLS = "kill -0 $$; echo sig0=$?; kill -18 $$; echo sig18=$?"


@pytest.mark.runc_cli("runc-cli.run.seccomp-arg-conditions")
@pytest.mark.oci_inputs(
    "config:linux.seccomp.syscalls[].args[].index",
    "config:linux.seccomp.syscalls[].args[].op",
    "config:linux.seccomp.syscalls[].args[].value",
    "config:linux.seccomp.syscalls[].args[].valueTwo",
)
@pytest.mark.parametrize("op", list(COMPARISONS))
def test_seccomp_rule_matches_only_calls_whose_argument_compares(bundle, container, op):
    """A rule on kill(2) with ``args`` [{index 1, op, value, valueTwo}] denies
    (errno ENOSPC) exactly the calls whose signal number passes the comparison."""
    value, value_two, expected = COMPARISONS[op]
    condition = {"index": 1, "op": op, "value": value, "valueTwo": value_two}
    seccomp(
        bundle,
        syscalls=[{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28,
                   "args": [condition]}],
    )  # fmt: skip
    bundle.shell(KILLS)
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    statuses = dict(part.split("=") for part in done.stdout.split())
    denied = (statuses.get("sig0") != "0", statuses.get("sig18") != "0")
    assert denied == expected, (
        f"{op} (value {value:#x}, valueTwo {value_two:#x}) on kill's signal: signal 0"
        f" {'denied' if denied[0] else 'allowed'}, signal 18 {'denied' if denied[1] else 'allowed'};"
        f" the comparison denies {[s for s, d in zip((0, 18), expected) if d]} only"
    )


def receive_state(server: socket.socket) -> dict[str, Any]:
    """Accept one connection on ``server``; the JSON it carried (fds closed at once,
    which fails the notified call with ENOSYS and lets the container go on)."""
    server.settimeout(10)
    conn, _ = server.accept()
    data = b""
    with conn:
        conn.settimeout(5)
        while True:
            chunk, fds, _, _ = socket.recv_fds(conn, 65536, 16)
            for fd in fds:
                os.close(fd)
            if not chunk:
                break
            data += chunk
    state: dict[str, Any] = json.loads(data)
    return state


@pytest.mark.runc_cli("runc-cli.run.seccomp-listener-metadata")
@pytest.mark.oci_inputs("config:linux.seccomp.listenerMetadata")
def test_listener_metadata_reaches_the_listener(bundle, container, runc_session):
    """The state sent to listenerPath carries listenerMetadata as its ``metadata``."""
    path = socket_path(bundle, runc_session, "m")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        seccomp(
            bundle,
            listenerPath=str(path),
            listenerMetadata="prt-meta-42",
            syscalls=[{"names": BLOCKED, "action": "SCMP_ACT_NOTIFY"}],
        )
        bundle.shell(MKDIR)
        made = container()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            state = pool.submit(receive_state, server)
            done = made.run()
            sent = state.result(timeout=15)
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    assert sent.get("metadata") == "prt-meta-42", (
        f"the state sent to the listener has metadata {sent.get('metadata')!r},"
        " not the listenerMetadata 'prt-meta-42'"
    )
