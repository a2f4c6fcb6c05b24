"""The errors users meet: each must fail, with the runtime's documented message.

Rules: runtime spec runtime.md ("Operations": create MUST fail on a taken
id; start/kill/delete on a container in the wrong state MUST fail) and
config.md (cwd absolute, hostname needs a UTS namespace); runc's documented
behaviour for the rest. The expected words come from
``pytest_runc.messages``, one table per runtime, looked up by its
``--version``: a message that merely contains "id" or "json" does not pass.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest

from pytest_runc.assertions import assert_refused
from pytest_runc.messages import expected_message
from pytest_runc.transcript import Completed

pytestmark = pytest.mark.runc

Refused = Callable[..., str]


@pytest.fixture
def refused(runc_session) -> Refused:
    """``refused(done, error, container_id=..., executable=...)``: the command
    failed with the documented message for ``error`` (a key of messages.ERRORS)."""
    version = runc_session.probe().version

    def check(done: Completed, error: str, **names: str) -> str:
        return assert_refused(done, expected_message(version, error, **names))

    return check


@pytest.mark.oci_rule("runtime.create.bad-id-error", "runtime.state.id-unique-on-host")
def test_duplicate_id_is_refused(bundle, container, refused):
    """runtime.md "create": MUST error if the id is already in use."""
    bundle.command("sleep", "60")
    first = container()
    first.create()
    second = container(container_id=first.id)
    refused(second.create(check=False), "id-in-use", container_id=first.id)
    assert first.status() == "created", "the failed create disturbed the first container"


@pytest.mark.oci_rule(
    "config.root.path-directory-exists", "runtime.lifecycle.create-error-when-impossible"
)
def test_missing_rootfs(bundle, container, refused):
    """config.md "Root": the rootfs must exist."""
    shutil.rmtree(bundle.rootfs)
    bundle.command("true")
    refused(container().run(), "rootfs-missing")


@pytest.mark.oci_rule("bundle.container-format.config-json-required")
def test_missing_config_json(bundle, runtime, refused):
    """bundle.md: a bundle MUST contain config.json."""
    done = runtime.create("no-config", bundle.path, check=False)
    refused(done, "config-missing")


@pytest.mark.oci_rule("runtime.lifecycle.create-error-when-impossible")
def test_invalid_json(bundle, runtime, refused):
    """bundle.md/config.md: config.json must be valid JSON."""
    bundle.config_path.write_text('{"ociVersion": "1.0.2", "process": ')
    done = runtime.create("bad-json", bundle.path, check=False)
    refused(done, "config-truncated")
    runtime.delete("bad-json", force=True, check=False)


@pytest.mark.oci_rule("config.process.args-required")
def test_executable_not_found(bundle, container, refused):
    """config.md "args": the executable must exist in the container."""
    bundle.command("no-such-program")
    refused(container().run(), "executable-not-found", executable="no-such-program")


@pytest.mark.oci_rule("config.process.cwd-absolute")
def test_relative_cwd(bundle, container, refused):
    """config.md "process.cwd": MUST be an absolute path."""
    bundle.command("true").cwd("tmp")
    refused(container().run(), "cwd-relative")


@pytest.mark.runc_cli("runc-cli.run.hostname-needs-uts-namespace")
def test_hostname_without_uts_namespace(bundle, container, refused):
    """config.md "hostname"/runc: setting a hostname needs a private UTS namespace."""
    bundle.command("true").hostname("no-uts").remove_namespace("uts")
    refused(container().run(), "hostname-without-uts")


@pytest.mark.runc_cli("runc-cli.run.detach-terminal-needs-console-socket")
def test_terminal_with_detach_needs_a_console_socket(bundle, container, refused):
    """runc run -d: a terminal for a detached container needs --console-socket."""
    bundle.args("sh").terminal(True)
    refused(container().run(detach=True), "terminal-detached-without-socket")


@pytest.mark.oci_rule("runtime.start.not-created-error")
def test_start_twice(bundle, container, refused):
    """runtime.md "start": MUST error on a container that is not created."""
    bundle.command("sleep", "60")
    made = container()
    made.create()
    made.start()
    refused(made.start(check=False), "start-running", container_id=made.id)


@pytest.mark.oci_rule("runtime.start.not-created-error")
def test_start_a_stopped_container(bundle, container, refused):
    """runtime.md "start": a stopped container cannot be started again."""
    bundle.command("true")
    made = container()
    made.create()
    made.start()
    made.wait_for_status("stopped")
    refused(made.start(check=False), "start-stopped", container_id=made.id)


@pytest.mark.oci_rule("runtime.delete.not-stopped-error", "runtime.delete.not-stopped-no-effect")
def test_delete_running_without_force(bundle, container, refused):
    """runtime.md "delete": MUST error when the container is not stopped."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    refused(made.delete(check=False), "delete-not-stopped", container_id=made.id)
    assert made.status() == "running", "a refused delete still stopped the container"


@pytest.mark.oci_rule("runtime.kill.not-live-error")
def test_kill_a_stopped_container(bundle, container, refused):
    """runtime.md "kill": MUST error on a container that is neither created nor running.

    runc 1.1 refuses; newer runc versions may accept a kill of a stopped
    container only with --all, so plain kill is what is checked.
    """
    bundle.command("true")
    made = container()
    made.create()
    made.start()
    made.wait_for_status("stopped")
    refused(made.kill("KILL", check=False), "kill-stopped", container_id=made.id)


@pytest.mark.runc_cli("runc-cli.pause.not-running-fails")
@pytest.mark.runc_root  # pause needs the freezer cgroup
def test_pause_a_paused_container(bundle, container, refused):
    """runc pause: a container that is not running cannot be paused."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    made.pause()
    refused(made.pause(check=False), "pause-not-running", container_id=made.id)


@pytest.mark.runc_cli("runc-cli.resume.not-paused-fails")
def test_resume_a_running_container(bundle, container, refused):
    """runc resume: a container that is not paused cannot be resumed."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    refused(made.resume(check=False), "resume-not-paused", container_id=made.id)


@pytest.mark.runc_cli("runc-cli.exec.paused-fails")
@pytest.mark.runc_root  # pause needs the freezer cgroup
def test_exec_in_a_paused_container(bundle, container, refused):
    """runc exec: refused in a paused container (unless --ignore-paused)."""
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    made.pause()
    refused(made.exec("true"), "exec-paused", container_id=made.id)


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

#: Where the spec itself requires the error (runtime.md "Query State").
SPEC_UNKNOWN_ID = {"state": pytest.mark.oci_rule("runtime.query-state.unknown-container-error")}


@pytest.mark.runc_cli("runc-cli.id.unknown-fails")
@pytest.mark.parametrize(
    "command",
    [
        pytest.param(command, marks=SPEC_UNKNOWN_ID.get(command, ()))
        for command in sorted(COMMANDS_ON_AN_ID)
    ],
)
def test_unknown_id(runtime, command, refused):
    """runtime.md "Operations": an operation on an id that does not exist MUST error."""
    missing = "prt-no-such-container"
    template = COMMANDS_ON_AN_ID[command]
    args = [a.format(id=missing) for a in template] if len(template) > 1 else [*template, missing]
    done = runtime.invoke(*args, check=False)
    refused(done, "id-unknown", container_id=missing)


@pytest.mark.runc_cli("runc-cli.id.format")
@pytest.mark.parametrize("bad_id", ["foo/bar", ".."])
def test_invalid_container_id(bundle, container, bad_id, refused):
    """runc: container ids are restricted to letters, digits and `_+-.`, and not `.`/`..`."""
    bundle.command("true")
    refused(container(container_id=bad_id).run(), "id-invalid")


@pytest.mark.runc_cli("runc-cli.id.not-empty")
def test_empty_container_id(bundle, container, refused):
    """runc: a container id cannot be empty."""
    bundle.command("true")
    refused(container(container_id="").run(), "id-empty")
