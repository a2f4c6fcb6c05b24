"""The errors users meet: each must fail, with a message that names the cause.

Rules: runtime spec runtime.md ("Operations": create MUST fail on a taken
id; start/kill/delete on a container in the wrong state MUST fail) and
config.md (cwd absolute, hostname needs a UTS namespace); runc's documented
behaviour for the rest. Messages are runc 1.1's; each check accepts the
words other runc versions use for the same error.
"""

from __future__ import annotations

import shutil

import pytest

from pytest_runc.assertions import assert_fails

pytestmark = pytest.mark.runc


def test_duplicate_id_is_refused(bundle, container):
    """runtime.md "create": MUST error if the id is already in use."""
    bundle.command("sleep", "60")
    first = container()
    first.create()
    second = container(container_id=first.id)
    assert_fails(second.create(check=False), "exists|already")
    assert first.status() == "created", "the failed create disturbed the first container"


def test_missing_rootfs(bundle, container):
    """config.md "Root": the rootfs must exist."""
    shutil.rmtree(bundle.rootfs)
    bundle.command("true")
    assert_fails(container().run(), "rootfs")


def test_missing_config_json(bundle, runtime):
    """bundle.md: a bundle MUST contain config.json."""
    done = runtime.create("no-config", bundle.path, check=False)
    assert_fails(done, "config.json")


def test_invalid_json(bundle, runtime):
    """bundle.md/config.md: config.json must be valid JSON."""
    bundle.config_path.write_text('{"ociVersion": "1.0.2", "process": ')
    done = runtime.create("bad-json", bundle.path, check=False)
    assert_fails(done, "eof|json|invalid character")
    runtime.delete("bad-json", force=True, check=False)


def test_executable_not_found(bundle, container):
    """config.md "args": the executable must exist in the container."""
    bundle.command("no-such-program")
    assert_fails(container().run(), "executable file not found|no such file")


def test_relative_cwd(bundle, container):
    """config.md "process.cwd": MUST be an absolute path."""
    bundle.command("true").cwd("tmp")
    assert_fails(container().run(), "absolute")


def test_hostname_without_uts_namespace(bundle, container):
    """config.md "hostname"/runc: setting a hostname needs a private UTS namespace."""
    bundle.command("true").hostname("no-uts").remove_namespace("uts")
    assert_fails(container().run(), "uts")


def test_terminal_with_detach_needs_a_console_socket(bundle, container):
    """runc run -d: a terminal for a detached container needs --console-socket."""
    bundle.args("sh").terminal(True)
    assert_fails(container().run(detach=True), "console|tty")


def test_start_twice(bundle, container):
    """runtime.md "start": MUST error on a container that is not created."""
    bundle.command("sleep", "60")
    made = container()
    made.create()
    made.start()
    assert_fails(made.start(check=False), "running|not created|cannot start")


def test_start_a_stopped_container(bundle, container):
    """runtime.md "start": a stopped container cannot be started again."""
    bundle.command("true")
    made = container()
    made.create()
    made.start()
    made.wait_for_status("stopped")
    assert_fails(made.start(check=False), "stopped|cannot start")


def test_delete_running_without_force(bundle, container):
    """runtime.md "delete": MUST error when the container is not stopped."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    assert_fails(made.delete(check=False), "not stopped|running")
    assert made.status() == "running", "a refused delete still stopped the container"


def test_kill_a_stopped_container(bundle, container):
    """runtime.md "kill": MUST error on a container that is neither created nor running.

    runc 1.1 refuses; newer runc versions may accept a kill of a stopped
    container only with --all, so plain kill is what is checked.
    """
    bundle.command("true")
    made = container()
    made.create()
    made.start()
    made.wait_for_status("stopped")
    assert_fails(made.kill("KILL", check=False), "not running|stopped")


@pytest.mark.runc_root  # pause needs the freezer cgroup
def test_pause_a_paused_container(bundle, container):
    """runc pause: a container that is not running cannot be paused."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    made.pause()
    assert_fails(made.pause(check=False), "not running|paused")


def test_resume_a_running_container(bundle, container):
    """runc resume: a container that is not paused cannot be resumed."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    assert_fails(made.resume(check=False), "not paused")


@pytest.mark.runc_root  # pause needs the freezer cgroup
def test_exec_in_a_paused_container(bundle, container):
    """runc exec: refused in a paused container (unless --ignore-paused)."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    made.pause()
    assert_fails(made.exec("true"), "paused")


COMMANDS_ON_AN_ID = {
    "state": ("state",),
    "start": ("start",),
    "kill": ("kill", "{id}", "KILL"),
    "delete": ("delete",),
    "pause": ("pause",),
    "resume": ("resume",),
    "exec": ("exec", "{id}", "true"),
    "ps": ("ps",),
}


@pytest.mark.parametrize("command", sorted(COMMANDS_ON_AN_ID))
def test_unknown_id(runtime, command):
    """runtime.md "Operations": an operation on an id that does not exist MUST error."""
    missing = "prt-no-such-container"
    template = COMMANDS_ON_AN_ID[command]
    args = [a.format(id=missing) for a in template] if len(template) > 1 else [*template, missing]
    done = runtime.invoke(*args, check=False)
    assert_fails(done, "does not exist|not found|no such")


@pytest.mark.parametrize("bad_id", ["foo/bar", "..", ""])
def test_invalid_container_id(bundle, container, bad_id):
    """runc: container ids are restricted to letters, digits and `_+-.`, and not `.`/`..`."""
    bundle.command("true")
    assert_fails(container(container_id=bad_id).run(), "invalid|id")
