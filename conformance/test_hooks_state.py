"""The state each kind of hook reads on its stdin: the status of the container
at that point of its life, and its pid.

Rule: runc's hooks (runc convention; the spec says only that a hook gets the
container's state): prestart, createRuntime and createContainer hooks run
while the container is being created and see ``creating``; startContainer
hooks see ``created``, poststart hooks ``created`` or ``running`` (runc
records ``running`` only once they are done: 1.1.5 and 1.5.1 say
``created``) and poststop hooks ``stopped``. Every hook but poststop sees the
pid of the container's process as its own pid namespace numbers it: the host
pid for the hooks run in the runtime's namespaces, 1 for createContainer and
startContainer, which run in the container's. The hooks are our own shell scripts that copy stdin to a log
(startContainer's runs inside the container and logs into its rootfs).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.runc

#: kind -> the statuses its state may say.
STATUS = {
    "prestart": ("creating",),
    "createRuntime": ("creating",),
    "createContainer": ("creating",),
    "startContainer": ("created",),
    "poststart": ("created", "running"),
    "poststop": ("stopped",),
}
#: The hooks that run in the container's pid namespace, where its process is pid 1.
IN_CONTAINER = ("createContainer", "startContainer")
#: Where startContainer's hook (inside the container) writes.
INSIDE_LOG = "prt-hook-state.log"


def add_logging_hooks(bundle: Any, log: Path) -> None:
    """One hook of each kind, writing ``KIND <stdin>`` as one line."""
    for kind in STATUS:
        where = f"/{INSIDE_LOG}" if kind == "startContainer" else shlex.quote(str(log))
        script = f"printf '%s ' {kind} >> {where}; cat >> {where}; echo >> {where}"
        bundle.hook(kind, "/bin/sh", "sh", "-c", script)


def states(bundle: Any, log: Path) -> dict[str, Any]:
    """kind -> the state its hook read (a string where it was not JSON)."""
    found: dict[str, Any] = {}
    for where in (log, bundle.rootfs / INSIDE_LOG):
        text = where.read_text() if where.exists() else ""
        for line in text.splitlines():
            kind, _, state = line.partition(" ")
            try:
                found[kind] = json.loads(state)
            except ValueError:
                found[kind] = state
    return found


@pytest.fixture
def hook_states(bundle, container, tmp_path):
    """A container taken through create, start, kill and delete with a logging
    hook of every kind; the state each hook read, and the container's pid."""
    log = tmp_path / "hook-states.log"
    add_logging_hooks(bundle, log)
    bundle.shell("echo ready; exec sleep 60").readonly(False)
    made = container()
    made.create()
    pid = made.state().pid
    made.start()
    made.wait_for_output("ready")
    made.kill("KILL")
    made.wait_for_status("stopped")
    made.delete()
    return states(bundle, log), pid


@pytest.mark.runc_cli("runc-cli.hooks.state-status-per-kind")
@pytest.mark.oci_inputs("state:status")
@pytest.mark.parametrize("kind", list(STATUS))
def test_hook_state_has_the_status_of_its_point(hook_states, kind):
    """Each kind of hook reads the status the container has when it runs."""
    found, _ = hook_states
    state = found.get(kind)
    status = state.get("status") if isinstance(state, dict) else None
    assert status in STATUS[kind], (
        f"the {kind} hook read the status {status!r} (state {state!r}),"
        f" not {' or '.join(map(repr, STATUS[kind]))}"
    )


@pytest.mark.runc_cli("runc-cli.hooks.state-pid")
@pytest.mark.oci_inputs("state:pid")
@pytest.mark.parametrize("kind", [kind for kind in STATUS if kind != "poststop"])
def test_hook_state_has_the_container_pid(hook_states, kind):
    """Every hook that runs while the container's process lives reads its pid,
    as the hook's pid namespace numbers it."""
    found, host_pid = hook_states
    pid = 1 if kind in IN_CONTAINER else host_pid
    state = found.get(kind)
    seen = state.get("pid") if isinstance(state, dict) else None
    assert seen == pid, (
        f"the {kind} hook read the pid {seen!r} (state {state!r}), not {pid}"
        f" ({'in the container' if kind in IN_CONTAINER else 'on the host'})"
    )
