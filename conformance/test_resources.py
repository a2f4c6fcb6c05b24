"""Cgroup limits and hooks.

Rules: runtime spec config-linux.md "Control groups" (memory, pids, cpu) and
config.md "POSIX-platform Hooks" (prestart, createRuntime, poststart,
poststop: called in order, with the container state on stdin). Limits are
read from the container's cgroup on the host, for cgroup v1 (and hybrid)
and v2 alike.
"""

from __future__ import annotations

import json
import shlex

import pytest

from pytest_runc.linux import cgroup_dir

# Every check here needs cgroups that only real root can create.
pytestmark = [pytest.mark.runc, pytest.mark.runc_root]

MIB = 1024 * 1024


def running(container, bundle, script: str = "echo ready; sleep 60"):
    bundle.shell(script)
    made = container()
    made.run(detach=True)
    made.wait_for_output("ready")
    return made


def test_memory_limit(bundle, container, cgroup_mode):
    """config-linux.md "memory.limit": the container's memory cgroup has the limit."""
    bundle.resources(memory={"limit": 64 * MIB})
    made = running(container, bundle)
    where = cgroup_dir(made.state().pid, "memory", cgroup_mode)
    name = "memory.max" if cgroup_mode == "v2" else "memory.limit_in_bytes"
    assert int((where / name).read_text()) == 64 * MIB


def test_pids_limit_stops_a_fork_bomb(bundle, container, cgroup_mode):
    """config-linux.md "pids.limit": forks beyond the limit fail; the count stays at it."""
    bundle.resources(pids={"limit": 16})
    # ash exits when a fork fails: the bomb runs in a child shell, and the
    # init shell then waits with `exec`, which needs no fork.
    bomb = (
        "sh -c 'i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done' 2>/dev/null;"
        " echo ready; exec sleep 60"
    )
    made = running(container, bundle, bomb)
    where = cgroup_dir(made.state().pid, "pids", cgroup_mode)
    assert (where / "pids.max").read_text().strip() == "16"
    assert int((where / "pids.current").read_text()) <= 16
    events = dict(line.split() for line in (where / "pids.events").read_text().splitlines())
    assert int(events["max"]) > 0, "no fork was refused: the bomb was not stopped at the limit"


def test_cpu_shares(bundle, container, cgroup_mode):
    """config-linux.md "cpu.shares": the cpu cgroup gets the share (v2: runc's weight)."""
    bundle.resources(cpu={"shares": 512})
    made = running(container, bundle)
    where = cgroup_dir(made.state().pid, "cpu", cgroup_mode)
    if cgroup_mode == "v2":
        # runc's documented conversion of shares to cpu.weight
        assert int((where / "cpu.weight").read_text()) == 1 + ((512 - 2) * 9999) // 262142
    else:
        assert int((where / "cpu.shares").read_text()) == 512


def test_cgroup_is_removed_after_delete(bundle, container, cgroup_mode):
    """runtime.md "delete": deleting the container removes the resources it made."""
    bundle.resources(pids={"limit": 32})
    made = running(container, bundle)
    where = cgroup_dir(made.state().pid, "pids", cgroup_mode)
    assert where.is_dir()
    made.delete(force=True)
    assert not where.exists(), f"cgroup {where} left behind"


STAGES = ("prestart", "createRuntime", "poststart", "poststop")


def test_hooks_run_in_order_with_the_state(bundle, container, tmp_path):
    """config.md "Hooks": prestart, createRuntime, poststart, poststop run in
    that order, each with the container's state JSON on stdin.

    The hooks are our own scripts: they only append to a log in tmp_path.
    """
    log = tmp_path / "hooks.log"
    for stage in STAGES:
        script = (
            f"printf '%s ' {stage} >> {shlex.quote(str(log))}; cat >> {shlex.quote(str(log))};"
            f" echo >> {shlex.quote(str(log))}"
        )
        bundle.hook(stage, "/bin/sh", "sh", "-c", script)
    bundle.shell("echo ready; sleep 60")
    made = container()
    made.create()
    made.start()
    made.wait_for_output("ready")
    made.kill("KILL")
    made.wait_for_status("stopped")
    made.delete()
    entries = [line.split(" ", 1) for line in log.read_text().splitlines() if line.strip()]
    assert [stage for stage, _ in entries] == list(STAGES)
    for stage, state_text in entries:
        state = json.loads(state_text)
        assert state["id"] == made.id, f"{stage} got the state of {state.get('id')}"
        assert state["bundle"] == str(bundle.path), f"{stage} got bundle {state.get('bundle')}"
