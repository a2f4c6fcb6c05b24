"""The lifecycle: create, start, pause, resume, kill, delete, and what state says.

Rules: runtime spec runtime.md ("State", "Lifecycle", "Operations": query
state, create, start, kill, delete) and runc's documented commands (pause,
resume, exec, list, ps, events, run --detach, --pid-file). Each check tests
its own rule and reads only the state fields it needs; the state schema is
checked in test_state.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_runc.oci.polling import poll, settle_time
from pytest_runc.testing.kit import assert_runs, gone, running, stopped

pytestmark = pytest.mark.runc

# Prints a growing counter: it advances only while the container runs. It
# ticks every 20 ms without making a process (a read that times out on a FIFO
# nobody writes, not a `sleep` per tick): runc's cgroup v1 freezer cannot
# reliably freeze a cgroup in which new processes keep appearing, and on a
# loaded machine `pause` then gave up ("unable to freeze").
COUNTER = (
    "mkfifo /dev/prt-tick; i=0;"
    " while true; do i=$((i+1)); echo $i; read -t 0.02 x <> /dev/prt-tick; done"
)
#: How long a check waits for something that must NOT happen (a program run
#: before `start`, a frozen counter advancing): the counter ticks every
#: 20 ms, a wrongly started program prints within a few ms.
QUIET = 0.2


def ticks(made):
    return len(made.output().split())


@pytest.mark.oci_rule("runtime.create.makes-container", "runtime.state.pid-required-linux")
def test_create_leaves_a_created_container_with_a_live_init(bundle, container):
    """runtime.md "create"/"State": after create the status is created and pid is init's."""
    bundle.command("sleep", "60")
    made = container()
    made.create()
    state = made.state()
    assert state.status == "created", (
        f"state status {state.status!r} after create, expected 'created'"
    )
    assert state.pid > 0 and Path(f"/proc/{state.pid}").exists(), (
        f"state pid {state.pid} while created is not a live process on the host"
    )


@pytest.mark.oci_rule(
    "runtime.create.process-args-wait-for-start", "runtime.lifecycle.create-no-user-program"
)
@pytest.mark.runc_slow
def test_create_does_not_run_the_program(bundle, container):
    """runtime.md "create": the user program MUST NOT run until `start`."""
    bundle.shell("echo program-ran; sleep 60")
    made = container()
    made.create()
    seen = poll(made.output, lambda out: out != "", timeout=QUIET)
    assert seen == "", f"the user program ran before `start`: it printed {seen!r}"


@pytest.mark.runc_cli("runc-cli.create.pid-file", "runc-cli.run.pid-file")
@pytest.mark.parametrize("command", ["create", "run-detach"])
def test_pid_file_holds_the_init_pid(bundle, container, command):
    """runc create/run --pid-file: the file holds the pid that state reports."""
    bundle.command("sleep", "60")
    made = container()
    made.create() if command == "create" else made.run(detach=True)
    written = made.pid_file.read_text().strip() if made.pid_file.exists() else "(no file)"
    assert written == str(made.state().pid), (
        f"--pid-file holds {written!r}, state says pid {made.state().pid}"
    )


@pytest.mark.oci_rule("runtime.start.runs-process", "runtime.lifecycle.start-runs-program")
def test_start_runs_the_program(bundle, container):
    """runtime.md "start": runs the user-specified program."""
    bundle.shell("echo program-ran; sleep 60")
    made = container()
    made.create()
    made.start()
    made.wait_for_output("program-ran")


@pytest.mark.oci_rule("runtime.query-state.returns-state")
def test_running_after_start(bundle, container):
    """runtime.md "State": running once the process has executed the user program."""
    bundle.shell("echo program-ran; sleep 60")
    made = container()
    made.create()
    made.start()
    made.wait_for_output("program-ran")
    status = made.status()
    assert status == "running", (
        f"state status {status!r} while the program runs, expected 'running'"
    )


def paused_counter(container, bundle):
    bundle.shell(COUNTER)
    made = container()
    made.run(detach=True)
    made.wait_for_output("3")
    made.pause()
    return made


@pytest.mark.runc_cli("runc-cli.pause.freezes-every-process")
@pytest.mark.runc_root  # pause needs the freezer cgroup
@pytest.mark.runc_slow
def test_pause_freezes_every_process(bundle, container):
    """runc pause: every process of the container stops (a counter stops advancing)."""
    made = paused_counter(container, bundle)
    frozen = ticks(made)
    seen = poll(lambda: ticks(made), lambda n: n > frozen, timeout=QUIET)
    assert seen == frozen, f"the counter advanced from {frozen} to {seen} while paused"


@pytest.mark.runc_cli("runc-cli.pause.status-paused")
@pytest.mark.runc_root  # pause needs the freezer cgroup
def test_paused_after_pause(bundle, container):
    """runc pause: the state says paused."""
    made = paused_counter(container, bundle)
    status = made.status()
    assert status == "paused", f"state status {status!r} after pause, expected 'paused'"


@pytest.mark.runc_cli("runc-cli.resume.thaws-every-process")
@pytest.mark.runc_root  # pause needs the freezer cgroup
def test_resume_thaws_the_processes(bundle, container):
    """runc resume: the processes of a paused container run again."""
    made = paused_counter(container, bundle)
    frozen = ticks(made)
    made.resume()
    seen = poll(lambda: ticks(made), lambda n: n > frozen + 2, timeout=settle_time(made.runtime))
    assert seen > frozen + 2, f"the counter stayed at {seen} after resume"


@pytest.mark.runc_cli("runc-cli.resume.status-running")
@pytest.mark.runc_root  # pause needs the freezer cgroup
def test_running_after_resume(bundle, container):
    """runc resume: the state says running again."""
    made = paused_counter(container, bundle)
    made.resume()
    status = made.status()
    assert status == "running", f"state status {status!r} after resume, expected 'running'"


@pytest.mark.oci_rule("runtime.query-state.returns-state")
def test_stopped_after_the_process_exits(bundle, container):
    """runtime.md "State": stopped once the container process has exited."""
    bundle.command("true")
    made = container()
    made.create()
    made.start()
    made.wait_for_status("stopped")


@pytest.mark.oci_rule("runtime.kill.sends-signal")
def test_stopped_after_kill(bundle, container):
    """runtime.md "kill": KILL ends the process; the container is then stopped."""
    made = running(container)
    made.kill("KILL")
    made.wait_for_status("stopped")


@pytest.mark.oci_rule("runtime.lifecycle.delete-undoes-create")
def test_delete_removes_the_container(bundle, container):
    """runtime.md "delete": afterwards the runtime no longer knows the id."""
    made = stopped(container)
    made.delete()
    assert made.status() is None, "state still answers for a deleted container"
    assert gone(made), "list still shows a deleted container"


@pytest.fixture
def two_listed(bundle, container):
    """A running and a created container, both to be listed."""
    bundle.command("sleep", "60")
    running, created = container(), container()
    running.run(detach=True)
    created.create()
    return running, created


@pytest.mark.runc_cli("runc-cli.list.json-format")
def test_list_json_agrees_with_state(two_listed, runtime):
    """runc list --format json: one entry per container, as `state` reports it."""
    by_id = {s.id: s for s in runtime.list()}
    for made in two_listed:
        state = made.state()
        listed = by_id.get(made.id)
        assert listed is not None, f"{made.id} missing from list --format json"
        assert (listed.status, listed.pid, listed.bundle) == (state.status, state.pid, state.bundle)


@pytest.mark.runc_cli("runc-cli.list.table-format")
def test_list_table_agrees_with_state(two_listed, runtime):
    """runc list: a table with ID, PID, STATUS, BUNDLE columns, one row per container."""
    table = runtime.list_table().splitlines()
    assert table[0].split()[:4] == ["ID", "PID", "STATUS", "BUNDLE"], f"list header {table[0]!r}"
    rows = {row.split()[0]: row.split() for row in table[1:]}
    for made in two_listed:
        state = made.state()
        assert made.id in rows, f"{made.id} missing from the list table"
        assert rows[made.id][1:4] == [str(state.pid), state.status, state.bundle]


@pytest.mark.runc_cli("runc-cli.run.detach")
def test_run_detach_returns_while_the_container_runs(bundle, container):
    """runc run --detach: returns at once, and the container runs on."""
    bundle.shell("echo up; sleep 60")
    made = container()
    assert_runs(made.run(detach=True, timeout=10), "run --detach")
    made.wait_for_output("up")
    assert made.status() == "running", f"state status {made.status()!r} after run --detach"


@pytest.mark.runc_cli("runc-cli.exec.runs-in-the-container")
@pytest.mark.parametrize("phase", ["created", "running"])
def test_exec_runs_inside_the_container(bundle, container, phase):
    """runc exec: the process runs in the container (its UTS namespace), created or running."""
    bundle.command("sleep", "60").hostname("exec-target")
    made = container()
    made.create()
    if phase == "running":
        made.start()
    seen = assert_runs(made.exec("hostname"), "exec").strip()
    assert seen == "exec-target", f"exec did not run inside the container: hostname {seen!r}"


@pytest.mark.runc_cli("runc-cli.exec.exit-status")
@pytest.mark.parametrize("status", [0, 7])
def test_exec_exit_status_is_the_processes(bundle, container, status):
    """runc exec: its exit status is the exec'd process's."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    done = made.exec("sh", "-c", f"exit {status}")
    assert done.returncode == status, f"exec exited {done.returncode}, the process {status}"


@pytest.mark.runc_cli("runc-cli.ps.lists-processes")
@pytest.mark.runc_root  # runc ps reads the container's cgroup
def test_ps_lists_the_init_process(bundle, container):
    """runc ps: lists the container's processes, init's host pid among them."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    pid, listed = made.state().pid, made.ps()
    assert pid in listed, f"init's pid {pid} not in `ps`: {listed}"


@pytest.fixture
def stats(bundle, container, runtime):
    """A running container, and a call that asks `events --stats` about it
    (made in the check, so a runtime without `events` fails it, not its setup)."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    return lambda: runtime.events_stats(made.id), made


@pytest.mark.runc_cli("runc-cli.events.stats-event")
def test_events_stats_is_a_stats_event_of_the_container(stats):
    """runc events --stats: one event of type stats naming the container."""
    ask, made = stats
    event = ask()
    assert (event.get("type"), event.get("id")) == ("stats", made.id), (
        f"events --stats gave type {event.get('type')!r} id {event.get('id')!r}"
    )


@pytest.mark.runc_cli("runc-cli.events.stats-plausible")
@pytest.mark.runc_root  # rootless runc on cgroup v1 makes no cgroup to read
def test_events_stats_values_are_plausible(stats):
    """runc events --stats: the container has a process and uses memory."""
    ask, _ = stats
    event = ask()
    data = event.get("data") or {}
    pids = (data.get("pids") or {}).get("current", 0)
    memory = ((data.get("memory") or {}).get("usage") or {}).get("usage", 0)
    assert pids >= 1, f"events --stats counts {pids} pids in a running container"
    assert memory > 0, f"events --stats reports memory usage {memory} for a running container"


@pytest.mark.runc_cli("runc-cli.run.deletes-when-done")
def test_run_without_keep_deletes_the_container(bundle, container, runtime):
    """runc run: without --keep, the container is deleted when its process exits."""
    bundle.command("true")
    made = container()
    assert_runs(made.run())
    assert made.id not in runtime.list_ids(), "`run` left the container behind"
