"""The lifecycle: create, start, pause, resume, kill, delete, and what state says.

Rules: runtime spec runtime.md ("State", "Lifecycle", "Operations": query
state, create, start, kill, delete) and runc's documented commands (pause,
resume, exec, list, ps, events, run --detach, --pid-file). In every phase
the state JSON is validated against our schema for the OCI state.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pytest_runc.assertions import assert_state

pytestmark = pytest.mark.runc

# Prints a growing counter: it advances only while the container runs.
COUNTER = "i=0; while true; do i=$((i+1)); echo $i; sleep 0.02; done"


def lines(container):
    return container.output().split()


def test_created_has_init_pid_and_has_not_run_the_program(bundle, container):
    """runtime.md "create": the process is not run until `start`; state gives
    the pid of the container's init while created."""
    bundle.shell("echo program-ran; sleep 60")
    made = container()
    made.create()
    state = assert_state(
        made.state_json(), container_id=made.id, status="created", bundle=bundle.path
    )
    assert Path(f"/proc/{state['pid']}").exists()
    time.sleep(0.2)  # give a wrongly started program time to show itself
    assert made.output() == "", "the user program ran before `start`"
    assert made.pid_file.read_text().strip() == str(state["pid"]), "--pid-file disagrees with state"


def test_start_runs_the_program_and_state_is_running(bundle, container):
    """runtime.md "start": runs the user-specified program; status becomes running."""
    bundle.shell("echo program-ran; sleep 60")
    made = container()
    made.create()
    made.start()
    made.wait_for_output("program-ran")
    assert_state(made.state_json(), container_id=made.id, status="running", bundle=bundle.path)


@pytest.mark.runc_root  # pause needs the freezer cgroup
def test_pause_freezes_and_resume_thaws(bundle, container):
    """runc pause/resume: every process is frozen (a counter stops advancing),
    status is paused, and resume brings it back to running."""
    bundle.shell(COUNTER)
    made = container()
    made.run(detach=True)
    made.wait_for_output("3")
    made.pause()
    assert_state(made.state_json(), container_id=made.id, status="paused", bundle=bundle.path)
    frozen = len(lines(made))
    time.sleep(0.3)
    assert len(lines(made)) == frozen, "the counter advanced while the container was paused"
    made.resume()
    assert_state(made.state_json(), container_id=made.id, status="running", bundle=bundle.path)
    deadline = time.monotonic() + 5
    while len(lines(made)) <= frozen + 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(lines(made)) > frozen + 2, "the counter did not advance after resume"


def test_stopped_after_the_process_exits(bundle, container):
    """runtime.md "State": stopped once the container process has exited."""
    bundle.command("true")
    made = container()
    made.create()
    made.start()
    made.wait_for_status("stopped")
    assert_state(made.state_json(), container_id=made.id, status="stopped", bundle=bundle.path)


def test_stopped_after_kill(bundle, container):
    """runtime.md "kill": KILL ends the process; the container is then stopped."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    made.kill("KILL")
    made.wait_for_status("stopped")
    assert_state(made.state_json(), container_id=made.id, status="stopped", bundle=bundle.path)


def test_delete_removes_the_container(bundle, container, runtime):
    """runtime.md "delete": afterwards the runtime no longer knows the id."""
    bundle.command("true")
    made = container()
    made.create()
    made.start()
    made.wait_for_status("stopped")
    made.delete()
    assert made.status() is None, "state still answers for a deleted container"
    assert made.id not in runtime.list_ids()


def test_list_json_and_table_agree_with_state(bundle, container, runtime):
    """runc list: the JSON and table formats agree with `state` for each container."""
    bundle.command("sleep", "60")
    running, created = container(), container()
    running.run(detach=True)
    created.create()
    by_id = {s.id: s for s in runtime.list()}
    table = runtime.list_table().splitlines()
    assert table[0].split()[:4] == ["ID", "PID", "STATUS", "BUNDLE"]
    rows = {row.split()[0]: row.split() for row in table[1:]}
    for made in (running, created):
        state = made.state()
        listed = by_id.get(made.id)
        assert listed is not None, f"{made.id} missing from list --format json"
        assert (listed.status, listed.pid, listed.bundle) == (state.status, state.pid, state.bundle)
        assert made.id in rows, f"{made.id} missing from the list table"
        assert rows[made.id][1:4] == [str(state.pid), state.status, state.bundle]


def test_run_detach_returns_while_the_container_runs(bundle, container):
    """runc run --detach: returns at once; the container runs on; --pid-file holds init's pid."""
    bundle.shell("echo up; sleep 60")
    made = container()
    done = made.run(detach=True)
    assert done.returncode == 0, done.stderr
    state = assert_state(
        made.state_json(), container_id=made.id, status="running", bundle=bundle.path
    )
    assert made.pid_file.read_text().strip() == str(state["pid"])
    made.wait_for_output("up")


@pytest.mark.parametrize("phase", ["created", "running"])
@pytest.mark.parametrize("status", [0, 7])
def test_exec_runs_in_the_container_and_its_status_propagates(bundle, container, phase, status):
    """runc exec: works in created and running containers; its exit status is the process's."""
    bundle.command("sleep", "60").hostname("exec-target")
    made = container()
    made.create()
    if phase == "running":
        made.start()
    done = made.exec("sh", "-c", f"hostname; exit {status}")
    assert done.returncode == status, done.stderr
    assert done.stdout.strip() == "exec-target", "exec did not run inside the container"


@pytest.mark.runc_root  # runc ps reads the container's cgroup
def test_ps_lists_the_init_process(bundle, container):
    """runc ps: lists the container's processes, init's host pid among them."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    assert made.state().pid in made.ps()


def test_events_stats_reports_the_container(bundle, container, runtime):
    """runc events --stats: one stats event for the container."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    event = runtime.events_stats(made.id)
    assert event["type"] == "stats"
    assert event["id"] == made.id
    assert "pids" in event["data"] or "cpu" in event["data"]


@pytest.mark.runc_root  # the paused phase needs the freezer cgroup
def test_state_is_valid_in_every_phase(bundle, container):
    """runtime.md "State": a valid state document in created, running, paused and stopped."""
    bundle.command("sleep", "60")
    made = container()
    made.create()
    phases = [
        ("created", lambda: None),
        ("running", made.start),
        ("paused", made.pause),
        ("running", made.resume),
        ("stopped", lambda: made.kill("KILL")),
    ]
    for status, step in phases:
        step()
        if status == "stopped":
            made.wait_for_status("stopped")
        assert_state(made.state_json(), container_id=made.id, status=status, bundle=bundle.path)


def test_run_without_keep_deletes_the_container(bundle, container, runtime):
    """runc run: without --keep, the container is deleted when its process exits."""
    bundle.command("true")
    made = container()
    assert made.run().returncode == 0
    assert made.id not in runtime.list_ids(), "`run` left the container behind"
