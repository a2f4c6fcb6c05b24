"""Cgroup limits and hooks.

Rules: runtime spec config-linux.md "Control groups" (memory, pids, cpu) and
config.md "POSIX-platform Hooks" (prestart, createRuntime, poststart,
poststop: called in order, with the container state on stdin). Limits are
read from the container's cgroup on the host, for cgroup v1 (and hybrid)
and v2 alike.
"""

from __future__ import annotations

import contextlib
import json
import math
import shlex

import pytest

from pytest_runc.oci.linux import cgroup_dir, cgroup_dirs

# Every check here needs cgroups that only real root can create.
pytestmark = [pytest.mark.runc, pytest.mark.runc_root]

MIB = 1024 * 1024


def running(container, bundle, script: str = "echo ready; sleep 60"):
    bundle.shell(script)
    made = container()
    made.run(detach=True)
    made.wait_for_output("ready")
    return made


@pytest.mark.oci_rule("runtime.lifecycle.create-makes-resources")
def test_memory_limit(bundle, container, cgroup_mode):
    """config-linux.md "memory.limit": the container's memory cgroup has the limit."""
    bundle.resources(memory={"limit": 64 * MIB})
    made = running(container, bundle)
    where = cgroup_dir(made.state().pid, "memory", cgroup_mode)
    name = "memory.max" if cgroup_mode == "v2" else "memory.limit_in_bytes"
    # v2 says "max" where no limit is set; v1 a huge number: compare the text.
    limit = (where / name).read_text().strip()
    assert limit == str(64 * MIB), f"{name} is {limit}: the memory limit is not {64 * MIB}"


@pytest.mark.oci_rule("runtime.lifecycle.create-makes-resources")
def test_pids_limit(bundle, container, cgroup_mode):
    """config-linux.md "pids.limit": the container's pids cgroup has the limit."""
    bundle.resources(pids={"limit": 16})
    made = running(container, bundle)
    limit = (cgroup_dir(made.state().pid, "pids", cgroup_mode) / "pids.max").read_text().strip()
    assert limit == "16", f"pids.max is {limit}, configured 16"


@pytest.mark.oci_rule("runtime.lifecycle.create-makes-resources")
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
    events = dict(line.split() for line in (where / "pids.events").read_text().splitlines())
    assert int(events["max"]) > 0, "no fork was refused: the bomb was not stopped at the limit"
    current = int((where / "pids.current").read_text())
    assert current <= 16, f"{current} processes in a cgroup limited to 16"


def shares_to_weight(shares: int) -> set[int]:
    """The cgroup v2 cpu.weight of a v1 cpu.shares value, by each conversion the
    runtimes document: linear (runc up to 1.2, older crun) and the quadratic one
    of opencontainers/cgroups (runc 1.3 and later, newer crun)."""
    linear = 1 + ((shares - 2) * 9999) // 262142
    log = math.log2(shares)
    quadratic = math.ceil(10 ** ((log * log + 125 * log) / 612.0 - 7.0 / 34.0))
    return {linear, quadratic}


@pytest.mark.oci_rule("runtime.lifecycle.create-makes-resources")
def test_cpu_shares(bundle, container, cgroup_mode):
    """config-linux.md "cpu.shares": the cpu cgroup gets the share (v2: its weight)."""
    bundle.resources(cpu={"shares": 512})
    made = running(container, bundle)
    where = cgroup_dir(made.state().pid, "cpu", cgroup_mode)
    if cgroup_mode == "v2":
        weight = int((where / "cpu.weight").read_text())
        wanted = shares_to_weight(512)
        assert weight in wanted, (
            f"cpu.weight is {weight}, cpu.shares 512 makes one of {sorted(wanted)}"
        )
    else:
        shares = int((where / "cpu.shares").read_text())
        assert shares == 512, f"cpu.shares is {shares}, configured 512"


@pytest.mark.oci_rule("runtime.delete.removes-created-resources")
def test_cgroup_is_removed_after_delete(bundle, container):
    """runtime.md "delete": deleting the container removes the cgroups it made,
    in every hierarchy."""
    bundle.resources(pids={"limit": 32})
    made = running(container, bundle)
    made_dirs = [d for d in cgroup_dirs(made.state().pid) if d.name.startswith(made.id)]
    assert made_dirs, f"no cgroup named for {made.id} found on the host"
    made.delete(force=True)
    left = [d for d in made_dirs if d.exists()]
    for directory in left:
        # a broken runtime's leftover: an empty cgroup, removable with rmdir
        with contextlib.suppress(OSError):
            directory.rmdir()
    assert not left, f"cgroups left behind after delete: {[str(d) for d in left]}"


STAGES = ("prestart", "createRuntime", "poststart", "poststop")


def run_with_hooks(container, bundle, log):
    """A container through its whole life, each stage's hook logging ``stage state``.

    The hooks are our own scripts: they only append to a log in tmp_path.
    """
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
    text = log.read_text() if log.exists() else ""  # no hook ran: no log
    entries = [line.split(" ", 1) for line in text.splitlines() if line.strip()]
    return made, [(entry[0], entry[1] if len(entry) > 1 else "") for entry in entries]


@pytest.mark.oci_rule(
    "config.hooks-prestart.before-create-runtime",
    "runtime.lifecycle.prestart-hooks-run",
    "runtime.lifecycle.create-runtime-hooks-run",
    "runtime.lifecycle.poststart-hooks-run",
    "runtime.lifecycle.poststop-hooks-run",
)
def test_hooks_run_in_order(bundle, container, tmp_path):
    """config.md "POSIX-platform Hooks": prestart, createRuntime, poststart and
    poststop each run once, in that order."""
    _, entries = run_with_hooks(container, bundle, tmp_path / "hooks.log")
    order = [stage for stage, _ in entries]
    assert order == list(STAGES), f"hooks ran in the order {order}, expected {list(STAGES)}"


@pytest.mark.oci_rule("config.hooks.state-on-stdin")
def test_hooks_get_the_state_on_stdin(bundle, container, tmp_path):
    """config.md "POSIX-platform Hooks": each hook reads the container's state
    (its id and bundle) on stdin."""
    made, entries = run_with_hooks(container, bundle, tmp_path / "hooks.log")
    assert entries, "no hook ran"
    for stage, state_text in entries:
        try:
            state = json.loads(state_text)
        except ValueError:
            raise AssertionError(
                f"{stage} hook got no state JSON on stdin: {state_text!r}"
            ) from None
        assert state.get("id") == made.id, f"{stage} hook got the state of {state.get('id')}"
        assert state.get("bundle") == str(bundle.path), (
            f"{stage} hook got the state of bundle {state.get('bundle')}"
        )
