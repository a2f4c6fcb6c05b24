"""The operations of runtime.md, where they must fail, and what they must leave alone.

Rules: runtime spec runtime.md "Scope of a Container", "Lifecycle" (config
edits after create), "Errors", "Warnings",
"Operations" (state, create, start, kill, delete: a missing id, a container
in the wrong state, a config that cannot be applied, resources the
container did not create); plus runc's ``ps`` and ``state`` pid. The
refusals checked in test_errors.py (their messages) are not repeated here:
these checks look at what a refused or failed operation leaves behind.
Hooks (where each kind runs, what a failing one does) are checked in
test_hooks.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_runc.oci.polling import poll, settle_time
from pytest_runc.testing.kit import (
    assert_refused,
    assert_runs,
    create_or_start,
    created,
    gone,
    left_behind,
    listed_ids,
    running,
    stopped,
)

pytestmark = pytest.mark.runc


# -- scope and operations ------------------------------------------------------


@pytest.mark.oci_rule(
    "runtime.scope.creator-can-operate", "runtime.operations.supports-all-operations"
)
def test_every_operation_works_on_a_container_one_created(bundle, container):
    """runtime.md "Scope"/"Operations": create, state, start, kill, delete all work on it."""
    bundle.command("sleep", "60")
    made = container()
    steps = [
        ("create", lambda: made.create(check=False)),
        ("state", lambda: made.runtime.invoke("state", made.id, check=False)),
        ("start", lambda: made.start(check=False)),
        ("kill", lambda: made.kill("KILL", check=False)),
    ]
    for name, step in steps:
        assert_runs(step(), f"`{name}` on a container this runtime created")
    made.wait_for_status("stopped")
    assert_runs(made.delete(check=False), "`delete` on a container this runtime created")


MISSING_ID = {
    "state": ("runtime.query-state.missing-id-error", ("state",)),
    "create": ("runtime.create.missing-args-error", ("create", "--bundle", "{bundle}")),
    "start": ("runtime.start.missing-id-error", ("start",)),
    "kill": ("runtime.kill.missing-id-error", ("kill",)),
    "delete": ("runtime.delete.missing-id-error", ("delete",)),
}


@pytest.mark.parametrize(
    "command",
    [pytest.param(c, marks=pytest.mark.oci_rule(MISSING_ID[c][0])) for c in MISSING_ID],
)
def test_operation_without_a_container_id_fails(bundle, runtime, command):
    """runtime.md "Operations": state/create/start/kill/delete without an id fail."""
    bundle.command("true").write()
    args = [a.format(bundle=bundle.path) for a in MISSING_ID[command][1]]
    done = runtime.invoke(*args, check=False)
    assert_refused(done, f"`{command}` without a container id")
    left = listed_ids(runtime) or []
    assert left == [], f"`{command}` without an id left containers {left}"


#: The statuses of runtime.md "State"; a runtime may add others only for new states.
SPEC_STATUSES = {"creating", "created", "running", "stopped"}


@pytest.mark.oci_rule("runtime.state.extra-status-new-states-only")
def test_status_names_only_spec_states_through_a_life(bundle, container):
    """runtime.md "State": created, running, stopped keep their spec names (no "exited" etc.)."""
    bundle.command("true")
    made = container()
    made.create()
    seen = [made.status()]
    made.start()
    # After start: running for a moment, then the state its exit leads to.
    seen.append(
        poll(
            made.status,
            lambda status: status not in ("created", "running"),
            timeout=settle_time(made.runtime),
        )
    )
    odd = [status for status in seen if status not in SPEC_STATUSES]
    assert not odd, (
        f"state gave runtime-specific status {odd} for a spec state (statuses seen: {seen})"
    )


# -- create ------------------------------------------------------------------------


@pytest.mark.oci_rule("runtime.create.bad-id-no-container")
def test_create_with_an_invalid_id_leaves_no_container(bundle, container, runtime):
    """runtime.md "create": a refused (invalid) id leaves no container behind, by any name."""
    bundle.command("sleep", "60")
    done = container(container_id="bad/id").create(check=False)
    assert_refused(done, "create with the invalid id 'bad/id'")
    left = left_behind(runtime, "bad/id")
    assert left == [], f"the refused create of 'bad/id' left containers {left}"


#: A namespace path that does not exist: a property runc cannot apply.
NO_SUCH_NETNS = "/proc/self/ns/no-such-namespace"


@pytest.mark.oci_rule(
    "runtime.create.unapplicable-property-error", "runtime.lifecycle.create-error-when-impossible"
)
def test_create_fails_when_a_property_cannot_be_applied(bundle, container):
    """runtime.md "create": a network namespace path that does not exist makes create fail."""
    bundle.command("sleep", "60").add_namespace("network", NO_SUCH_NETNS)
    done = container().create(check=False)
    assert_refused(
        done,
        f"create although linux.namespaces names {NO_SUCH_NETNS}, which does not exist",
    )


@pytest.mark.oci_rule(
    "runtime.create.unapplicable-property-no-container", "runtime.errors.error-leaves-no-change"
)
def test_failed_create_leaves_no_container(bundle, container, runtime):
    """runtime.md "create"/"Errors": after a create that failed, no container of that id exists."""
    bundle.command("sleep", "60").add_namespace("network", NO_SUCH_NETNS)
    made = container()
    done = made.create(check=False)
    assert_refused(done, f"create although {NO_SUCH_NETNS} does not exist")
    assert gone(made), (
        f"the failed create left container {made.id} behind ({made.status()!r}):"
        f" {listed_ids(runtime)}"
    )


@pytest.mark.oci_rule("runtime.lifecycle.config-edits-after-create-ignored")
def test_config_edits_after_create_do_not_change_the_container(bundle, container):
    """runtime.md "Lifecycle": config.json edited between create and start is not used."""
    bundle.shell("echo original > /out; sleep 60").readonly(False)
    made = container()
    made.create()
    edited = json.loads(bundle.config_path.read_text())
    edited["process"]["args"] = ["sh", "-c", "echo edited > /out; sleep 60"]
    bundle.config_path.write_text(json.dumps(edited))
    made.start()
    out = bundle.rootfs / "out"
    text = poll(
        lambda: out.read_text() if out.exists() else "", bool, timeout=settle_time(made.runtime)
    )
    assert text == "original\n", (
        f"the program that ran wrote {text!r}: the edit of config.json after create was used"
    )


# -- start, kill, delete in the wrong state -----------------------------------


@pytest.mark.oci_rule(
    "runtime.start.not-created-no-effect", "runtime.errors.error-leaves-no-change"
)
def test_refused_start_leaves_a_running_container_as_it_was(bundle, container):
    """runtime.md "start": start of a running container fails and leaves it running, same pid."""
    made = running(container)
    before = made.state()
    assert_refused(made.start(check=False), "start of a running container")
    after = made.state()
    assert (after.status, after.pid) == ("running", before.pid), (
        f"a refused start changed the container: {before.status}/pid {before.pid}"
        f" became {after.status}/pid {after.pid}"
    )


@pytest.mark.oci_rule("runtime.kill.not-live-no-effect")
def test_refused_kill_leaves_a_stopped_container_as_it_was(bundle, container):
    """runtime.md "kill": kill of a stopped container fails and leaves it stopped and present."""
    made = stopped(container)
    assert_refused(made.kill("KILL", check=False), "kill of a stopped container")
    status = made.status()
    assert status == "stopped", f"a refused kill changed a stopped container: it is now {status!r}"


@pytest.mark.oci_rule("runtime.delete.not-stopped-no-effect")
def test_refused_delete_leaves_a_created_container_as_it_was(bundle, container):
    """runtime.md "delete": delete of a created container fails and leaves it created, same pid."""
    made = created(container)
    before = made.state()
    assert_refused(made.delete(check=False), "delete of a created container")
    after = made.state() if made.status() else None
    assert after is not None and (after.status, after.pid) == ("created", before.pid), (
        f"a refused delete changed the created container (pid {before.pid}): it is now"
        f" {after.status + '/pid ' + str(after.pid) if after else 'gone'}"
    )


@pytest.mark.oci_rule("runtime.start.no-process-error")
def test_start_without_a_process_fails(bundle, container):
    """runtime.md "start": a config without process cannot be started (create or start fails)."""
    bundle.command("sleep", "60")
    del bundle.config["process"]
    done = create_or_start(container())
    assert_refused(done, "create and start of a container whose config.json has no process")


# -- warnings ---------------------------------------------------------------------


@pytest.mark.oci_rule("runtime.warnings.warning-keeps-flow")
def test_a_warning_does_not_stop_the_operation(bundle, container):
    """runtime.md "Warnings": an unknown capability is warned about, and the container runs."""
    bundle.shell("echo ran").readonly(True)
    caps = bundle.process["capabilities"]
    caps["bounding"] = [*caps["bounding"], "CAP_NO_SUCH_CAPABILITY"]
    made = container()
    assert_runs(made.run(), "run with an unknown capability (a warning)")
    assert made.output() == "ran\n", f"the program did not run after the warning: {made.output()!r}"


# -- delete ------------------------------------------------------------------------


@pytest.mark.oci_rule("runtime.delete.keeps-foreign-resources")
def test_delete_keeps_a_bind_mount_source(bundle, container, tmp_path):
    """runtime.md "delete": a bind-mounted host directory and its file outlive the container."""
    source = tmp_path / "foreign-data"
    source.mkdir()
    (source / "kept").write_text("mine\n")
    bundle.command("true").mount("/data", "bind", str(source), ["rbind", "ro"])
    stopped(container, command=None).delete()
    kept = source / "kept"
    assert kept.exists() and kept.read_text() == "mine\n", (
        f"delete removed or changed {kept}, which the container only bind-mounted"
    )


# -- state pid and ps (runc) ----------------------------------------------------


@pytest.mark.runc_root  # reads /proc/<pid>/status of the container's init
@pytest.mark.runc_cli("runc-cli.state.pid-is-init")
def test_state_pid_is_pid_1_of_the_container(bundle, container):
    """runc state: pid is the host pid of the process that is pid 1 in the container."""
    bundle.shell("echo ready; sleep 60")
    made = container()
    made.run(detach=True)
    made.wait_for_output("ready")
    pid = made.state().pid
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        lines = []
    nspid = next((line.split()[1:] for line in lines if line.startswith("NSpid:")), [])
    assert nspid[-1:] == ["1"], (
        f"state pid {pid} is pid {nspid[-1:] or '?'} in its namespace, not 1"
    )


@pytest.fixture
def two_processes(bundle, container):
    """A running container: init (sh) and one child (sleep 60)."""
    bundle.shell("sleep 60 & echo ready; wait")
    made = container()
    made.run(detach=True)
    made.wait_for_output("ready")
    return made


@pytest.mark.runc_root  # runc ps reads the container's cgroup
@pytest.mark.runc_cli("runc-cli.ps.json-agrees-with-state")
def test_ps_json_is_init_and_its_child(two_processes):
    """runc ps --format json: exactly two pids, init's (from state) among them."""
    pid = two_processes.state().pid
    listed = poll(
        two_processes.ps, lambda pids: len(pids) == 2, timeout=settle_time(two_processes.runtime)
    )
    assert len(listed) == 2 and pid in listed, (
        f"ps --format json gave {listed}; expected init {pid} and its one child"
    )


@pytest.mark.runc_root  # runc ps reads the container's cgroup
@pytest.mark.runc_cli("runc-cli.ps.table-agrees-with-state")
def test_ps_table_rows_are_the_json_pids(two_processes):
    """runc ps: a ps(1) table with a PID column whose rows are the pids of ps --format json."""
    made = two_processes
    table = made.runtime.ps_table(made.id).splitlines()
    header = table[0].split() if table else []
    assert "PID" in header, f"ps table header {header} has no PID column"
    column = header.index("PID")
    rows = sorted(int(row.split()[column]) for row in table[1:] if row.strip())
    expected = sorted(made.ps())
    assert rows == expected and made.state().pid in rows, (
        f"ps table lists pids {rows}; ps --format json {expected}, state pid {made.state().pid}"
    )
