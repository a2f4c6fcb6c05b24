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
(startContainer's runs inside the container and logs into its rootfs), each
with a variable of its own in its ``env``, which it logs too.
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
    """One hook of each kind, with ``PRT_KIND=env-of-KIND`` as its env, writing
    ``KIND $PRT_KIND <stdin>`` as one line."""
    for kind in STATUS:
        where = f"/{INSIDE_LOG}" if kind == "startContainer" else shlex.quote(str(log))
        script = f"printf '%s %s ' {kind} \"$PRT_KIND\" >> {where}; cat >> {where}; echo >> {where}"
        bundle.hook(kind, "/bin/sh", "sh", "-c", script)
        bundle.config["hooks"][kind][-1]["env"] = [f"PRT_KIND=env-of-{kind}"]


def logged(bundle: Any, log: Path) -> dict[str, tuple[str, Any]]:
    """kind -> (its PRT_KIND, the state it read: a string where not JSON)."""
    found: dict[str, tuple[str, Any]] = {}
    for where in (log, bundle.rootfs / INSIDE_LOG):
        text = where.read_text() if where.exists() else ""
        for line in text.splitlines():
            kind, env, state = [*line.split(" ", 2), "", ""][:3]
            try:
                found[kind] = (env, json.loads(state))
            except ValueError:
                found[kind] = (env, state)
    return found


@pytest.fixture
def hook_states(bundle, container, tmp_path):
    """A container taken through create, start, kill and delete with a logging
    hook of every kind; what each hook logged, and the container's pid."""
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
    return logged(bundle, log), pid


@pytest.mark.runc_cli("runc-cli.hooks.state-status-per-kind")
@pytest.mark.oci_inputs("state:status")
def test_hook_state_has_the_status_of_its_point(hook_states):
    """Each kind of hook reads the status the container has when it runs."""
    found, _ = hook_states
    wrong = {}
    for kind, allowed in STATUS.items():
        state = found.get(kind, ("", None))[1]
        status = state.get("status") if isinstance(state, dict) else None
        if status not in allowed:
            wrong[kind] = f"{status!r}, not {' or '.join(map(repr, allowed))} (state {state!r})"
    assert not wrong, "hooks read the wrong status: " + "; ".join(
        f"the {kind} hook read {text}" for kind, text in wrong.items()
    )


@pytest.mark.runc_cli("runc-cli.hooks.state-pid")
@pytest.mark.oci_inputs("state:pid")
def test_hook_state_has_the_container_pid(hook_states):
    """Every hook that runs while the container's process lives reads its pid,
    as the hook's pid namespace numbers it."""
    found, host_pid = hook_states
    wrong = {}
    for kind in STATUS:
        if kind == "poststop":
            continue
        pid = 1 if kind in IN_CONTAINER else host_pid
        state = found.get(kind, ("", None))[1]
        seen = state.get("pid") if isinstance(state, dict) else None
        if seen != pid:
            where = "in the container" if kind in IN_CONTAINER else "on the host"
            wrong[kind] = f"the pid {seen!r}, not {pid} ({where})"
    assert not wrong, "hooks read the wrong pid: " + "; ".join(
        f"the {kind} hook read {text}" for kind, text in wrong.items()
    )


@pytest.mark.runc_cli("runc-cli.hooks.env-is-exact")
@pytest.mark.oci_inputs(*(f"config:hooks.{kind}[].env" for kind in STATUS))
def test_hook_of_each_kind_gets_its_env(hook_states):
    """Each kind of hook runs with the env its entry lists (test_hooks.py tries
    prestart's exactly; here every kind's own variable)."""
    found, _ = hook_states
    wrong = {
        kind: found.get(kind, ("(the hook did not run)", None))[0]
        for kind in STATUS
        if found.get(kind, ("", None))[0] != f"env-of-{kind}"
    }
    assert not wrong, "hooks ran without their env: " + "; ".join(
        f"the {kind} hook had PRT_KIND={env!r}, its env says 'env-of-{kind}'"
        for kind, env in wrong.items()
    )
