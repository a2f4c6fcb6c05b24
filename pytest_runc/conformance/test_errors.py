"""The errors users meet: what must fail, and the words each runtime fails with.

Two kinds of check, kept apart:

- ``oci_rule`` checks: the operation generates an error, as runtime.md
  requires (create on a taken id, start/kill/delete in the wrong state,
  state of an unknown id, create of a bundle the runtime cannot carry out).
  runtime.md "Errors": the spec "does not mandate how, or even if," the
  error is returned, so any non-zero exit passes and no words are asked
  for; where the spec says the failed operation changes nothing, that is
  checked too (more of it in test_operations.py).
- ``runc_cli`` checks (``test_*_words``, and the refusals the spec does not
  require): runc's documented words, from ``pytest_runc.testing.messages``, one
  table per runtime looked up by its ``--version``; a message that merely
  contains "id" or "json" does not pass.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest

from pytest_runc.oci.transcript import Completed
from pytest_runc.testing.kit import (
    assert_refused,
    assert_refused_with_words,
    create_or_start,
    reach_state,
    running,
    stopped,
)
from pytest_runc.testing.messages import expected_message

pytestmark = pytest.mark.runc

Words = Callable[..., str]


@pytest.fixture
def said(runc_session) -> Words:
    """``said(done, error, container_id=..., executable=...)``: the command failed
    with this runtime's documented words for ``error`` (a key of messages.ERRORS).
    For runc_cli checks only."""
    version = runc_session.probe().version

    def check(done: Completed, error: str, **names: str) -> str:
        return assert_refused_with_words(done, expected_message(version, error, **names))

    return check


# -- create ------------------------------------------------------------------------


@pytest.mark.oci_rule(
    "runtime.create.bad-id-error",
    "runtime.state.id-unique-on-host",
    "runtime.errors.error-leaves-no-change",
)
def test_duplicate_id_is_refused(bundle, container):
    """runtime.md "create": MUST error if the id is already in use, and the
    error leaves the container that holds the id as it was."""
    first = reach_state(container, "created")
    second = container(container_id=first.id)
    assert_refused(second.create(check=False), "create with the id of a created container")
    assert first.status() == "created", "the failed create disturbed the first container"


@pytest.mark.runc_cli("runc-cli.create.id-in-use-words")
def test_duplicate_id_words(bundle, container, said):
    """runc create: a taken id is refused with runc's words."""
    first = reach_state(container, "created")
    said(container(container_id=first.id).create(check=False), "id-in-use", container_id=first.id)


@pytest.mark.oci_rule("runtime.lifecycle.create-error-when-impossible")
def test_missing_rootfs(bundle, container):
    """runtime.md "Lifecycle": create MUST generate an error when it cannot make
    the environment config.json asks for: here, root.path does not exist."""
    shutil.rmtree(bundle.rootfs)
    bundle.command("true")
    assert_refused(container().create(check=False), "create of a bundle whose root.path is gone")


@pytest.mark.runc_cli("runc-cli.run.rootfs-missing-words")
def test_missing_rootfs_words(bundle, container, said):
    """runc run: a root.path that does not exist is refused with runc's words."""
    shutil.rmtree(bundle.rootfs)
    bundle.command("true")
    said(container().run(), "rootfs-missing")


@pytest.mark.oci_rule("runtime.lifecycle.create-error-when-impossible")
def test_missing_config_json(bundle, runtime):
    """runtime.md "Lifecycle": create MUST generate an error when it cannot make
    the environment config.json asks for: here, the bundle has no config.json."""
    done = runtime.create("no-config", bundle.path, check=False)
    runtime.delete("no-config", force=True, check=False)
    assert_refused(done, "create of a bundle without config.json")


@pytest.mark.runc_cli("runc-cli.create.config-missing-words")
def test_missing_config_json_words(bundle, runtime, said):
    """runc create: a bundle without config.json is refused with runc's words."""
    done = runtime.create("no-config", bundle.path, check=False)
    runtime.delete("no-config", force=True, check=False)
    said(done, "config-missing")


@pytest.mark.oci_rule("runtime.lifecycle.create-error-when-impossible")
def test_invalid_json(bundle, runtime):
    """runtime.md "Lifecycle": create MUST generate an error when it cannot make
    the environment config.json asks for: here, config.json is cut off mid-value."""
    bundle.config_path.write_text('{"ociVersion": "1.0.2", "process": ')
    done = runtime.create("bad-json", bundle.path, check=False)
    runtime.delete("bad-json", force=True, check=False)
    assert_refused(done, "create of a bundle whose config.json is not valid JSON")


@pytest.mark.runc_cli("runc-cli.create.config-invalid-json-words")
def test_invalid_json_words(bundle, runtime, said):
    """runc create: a config.json that is not valid JSON is refused with runc's words."""
    bundle.config_path.write_text('{"ociVersion": "1.0.2", "process": ')
    done = runtime.create("bad-json", bundle.path, check=False)
    runtime.delete("bad-json", force=True, check=False)
    said(done, "config-truncated")


@pytest.mark.oci_rule("runtime.start.runs-process")
def test_executable_not_found(bundle, container):
    """runtime.md "start": start MUST run the user program; one that is not in
    the container cannot run, so create (which MAY validate) or start fails."""
    bundle.command("no-such-program")
    done = create_or_start(container())
    assert_refused(done, "create and start of a process whose program does not exist")


@pytest.mark.runc_cli("runc-cli.run.executable-not-found-words")
def test_executable_not_found_words(bundle, container, said):
    """runc run: a program that is not in the container is refused with runc's words."""
    bundle.command("no-such-program")
    said(container().run(), "executable-not-found", executable="no-such-program")


@pytest.mark.runc_cli("runc-cli.run.cwd-relative-refused")
def test_relative_cwd(bundle, container, said):
    """runc run: a relative process.cwd is refused, with runc's words.

    config.md's "cwd MUST be an absolute path" binds the config's author;
    a runtime MAY validate (runtime.md "create"), so refusing is runc's choice.
    """
    bundle.command("true").cwd("tmp")
    said(container().run(), "cwd-relative")


@pytest.mark.runc_cli("runc-cli.run.hostname-needs-uts-namespace")
def test_hostname_without_uts_namespace(bundle, container, said):
    """config.md "hostname"/runc: setting a hostname needs a private UTS namespace."""
    bundle.command("true").hostname("no-uts").remove_namespace("uts")
    said(container().run(), "hostname-without-uts")


@pytest.mark.runc_cli("runc-cli.run.detach-terminal-needs-console-socket")
def test_terminal_with_detach_needs_a_console_socket(bundle, container, said):
    """runc run -d: a terminal for a detached container needs --console-socket."""
    bundle.args("sh").terminal(True)
    said(container().run(detach=True), "terminal-detached-without-socket")


# -- start, delete, kill in the wrong state ----------------------------------------


@pytest.mark.oci_rule("runtime.start.not-created-error")
def test_start_twice(bundle, container):
    """runtime.md "start": MUST error on a container that is not created (here: running)."""
    made = running(container)
    assert_refused(made.start(check=False), "start of a running container")


@pytest.mark.runc_cli("runc-cli.start.running-words")
def test_start_twice_words(bundle, container, said):
    """runc start: a running container is refused with runc's words."""
    made = running(container)
    said(made.start(check=False), "start-running", container_id=made.id)


@pytest.mark.oci_rule("runtime.start.not-created-error")
def test_start_a_stopped_container(bundle, container):
    """runtime.md "start": MUST error on a container that is not created (here: stopped)."""
    made = stopped(container)
    assert_refused(made.start(check=False), "start of a stopped container")


@pytest.mark.runc_cli("runc-cli.start.stopped-words")
def test_start_a_stopped_container_words(bundle, container, said):
    """runc start: a stopped container is refused with runc's words."""
    made = stopped(container)
    said(made.start(check=False), "start-stopped", container_id=made.id)


@pytest.mark.oci_rule("runtime.delete.not-stopped-error", "runtime.delete.not-stopped-no-effect")
def test_delete_running_without_force(bundle, container):
    """runtime.md "delete": MUST error when the container is not stopped, and leave it running."""
    made = running(container)
    assert_refused(made.delete(check=False), "delete of a running container")
    assert made.status() == "running", "a refused delete still stopped the container"


@pytest.mark.runc_cli("runc-cli.delete.not-stopped-words")
def test_delete_running_without_force_words(bundle, container, said):
    """runc delete: a running container is refused (without --force) with runc's words."""
    made = running(container)
    said(made.delete(check=False), "delete-not-stopped", container_id=made.id)


@pytest.mark.oci_rule("runtime.kill.not-live-error")
def test_kill_a_stopped_container(bundle, container):
    """runtime.md "kill": MUST error on a container that is neither created nor running.

    runc 1.1 refuses; newer runc versions may accept a kill of a stopped
    container only with --all, so plain kill is what is checked.
    """
    made = stopped(container)
    assert_refused(made.kill("KILL", check=False), "kill of a stopped container")


@pytest.mark.runc_cli("runc-cli.kill.stopped-words")
def test_kill_a_stopped_container_words(bundle, container, said):
    """runc kill: a stopped container is refused with runc's words."""
    made = stopped(container)
    said(made.kill("KILL", check=False), "kill-stopped", container_id=made.id)


# -- runc's own commands -------------------------------------------------------------


@pytest.mark.runc_cli("runc-cli.pause.not-running-fails")
@pytest.mark.runc_root  # pause needs the freezer cgroup
def test_pause_a_paused_container(bundle, container, said):
    """runc pause: a container that is not running cannot be paused."""
    made = reach_state(container, "paused")
    said(made.pause(check=False), "pause-not-running", container_id=made.id)


@pytest.mark.runc_cli("runc-cli.resume.not-paused-fails")
def test_resume_a_running_container(bundle, container, said):
    """runc resume: a container that is not paused cannot be resumed."""
    made = running(container)
    said(made.resume(check=False), "resume-not-paused", container_id=made.id)


@pytest.mark.runc_cli("runc-cli.exec.paused-fails")
@pytest.mark.runc_root  # pause needs the freezer cgroup
def test_exec_in_a_paused_container(bundle, container, said):
    """runc exec: refused in a paused container (unless --ignore-paused)."""
    made = reach_state(container, "paused")
    said(made.exec("true"), "exec-paused", container_id=made.id)


# -- ids -------------------------------------------------------------------------------

MISSING = "prt-no-such-container"


@pytest.mark.oci_rule("runtime.query-state.unknown-container-error")
def test_state_of_an_unknown_id_is_an_error(runtime):
    """runtime.md "Query State": querying a container that does not exist MUST generate an error."""
    assert_refused(runtime.invoke("state", MISSING, check=False), "state of an unknown id")


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


@pytest.mark.runc_cli("runc-cli.id.unknown-fails")
@pytest.mark.parametrize("command", sorted(COMMANDS_ON_AN_ID))
def test_unknown_id(runtime, command, said):
    """runc: every command on an id it does not know fails, saying the container does not exist."""
    template = COMMANDS_ON_AN_ID[command]
    args = [a.format(id=MISSING) for a in template] if len(template) > 1 else [*template, MISSING]
    done = runtime.invoke(*args, check=False)
    said(done, "id-unknown", container_id=MISSING)


@pytest.mark.runc_cli("runc-cli.id.format")
@pytest.mark.parametrize("bad_id", ["foo/bar", ".."])
def test_invalid_container_id(bundle, container, bad_id, said):
    """runc: container ids are restricted to letters, digits and `_+-.`, and not `.`/`..`."""
    bundle.command("true")
    said(container(container_id=bad_id).run(), "id-invalid")


@pytest.mark.runc_cli("runc-cli.id.not-empty")
def test_empty_container_id(bundle, container, said):
    """runc: a container id cannot be empty."""
    bundle.command("true")
    said(container(container_id="").run(), "id-empty")
