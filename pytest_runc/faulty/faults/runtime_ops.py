"""Faulty runtimes for the operations, hooks, exec/kill/console, /dev links and features checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pytest_runc.faulty.behaviours import (
    Call,
    Intercept,
    acts_on,
    exit_of,
    features_rewritten,
    run,
)
from pytest_runc.faulty.model import Config, Fault

TYPE_CHECKING = False  # as typing's, which a wrapper call need not import
if TYPE_CHECKING:
    from typing import Any

OPS = "conformance/test_operations.py::"
X = "conformance/test_exec.py::"
K = "conformance/test_kill.py::"
C = "conformance/test_console.py::"
F = "conformance/test_features.py::"
D = "conformance/test_runtime_linux.py::"
E = "conformance/test_errors.py::"

#: Options of create/run/exec/kill/delete/state that take a value.
_WITH_VALUE = {
    "--bundle", "-b", "--pid-file", "--console-socket", "--process", "-p", "--cwd", "--env",
    "-e", "--user", "-u", "--additional-gids", "-g", "--preserve-fds", "--process-label",
    "--apparmor", "--cap", "-c", "--cgroup",
}  # fmt: skip


def _split(sub: list[str]) -> tuple[list[str], list[str]]:
    """(options with their values, positional arguments) of a command's arguments."""
    options: list[str] = []
    index = 0
    while index < len(sub) and sub[index].startswith("-"):
        width = 2 if sub[index] in _WITH_VALUE else 1
        options += sub[index : index + width]
        index += width
    return options, sub[index:]


def _without(sub: list[str], *names: str) -> list[str]:
    """``sub`` minus the options ``names`` (and their values)."""
    options, rest = _split(sub)
    kept: list[str] = []
    index = 0
    while index < len(options):
        width = 2 if options[index] in _WITH_VALUE else 1
        if options[index] not in names:
            kept += options[index : index + width]
        index += width
    return kept + rest


def _again(call: Call, sub: list[str]) -> int:
    """Run the same command with other arguments; its exit status."""
    return exit_of(run([call.real_binary, *call.global_opts, call.command, *sub]).returncode)


def _quiet(call: Call, *args: str) -> subprocess.CompletedProcess[Any]:
    """Another command of the real runtime, same --root, output captured (through files)."""
    return run([call.real_binary, *call.global_opts, *args], capture=True)


def _config_of(call: Call) -> Config:
    try:
        data: Config = json.loads((call.bundle / "config.json").read_text())
        return data
    except (OSError, ValueError):
        return {}


def _refuse_config(test: Callable[[Config], bool], words: str) -> Intercept:
    """create/run refuse (exit 1, ``words`` on stderr) a config for which ``test`` holds."""

    @acts_on("create", "run")
    def intercept(call: Call) -> int | None:
        if call.command not in {"create", "run"} or not test(_config_of(call)):
            return None
        sys.stderr.write(f'level=error msg="{words}"\n')
        return 1

    return intercept


def _linux(data: dict[str, Any]) -> dict[str, Any]:
    linux: dict[str, Any] = data.setdefault("linux", {})
    return linux


def _seccomp_lists(key: str, bogus: str) -> Intercept:
    def fix(data: dict[str, Any]) -> None:
        seccomp = _linux(data).setdefault("seccomp", {})
        seccomp[key] = [*seccomp.get(key, []), bogus]
        if key == "knownFlags":  # only known flags the runtime also supports are tried
            seccomp["supportedFlags"] = [*seccomp.get("supportedFlags", []), bogus]

    return features_rewritten(fix)


# -- operations ----------------------------------------------------------------


@acts_on("start")
def start_unknown(call: Call) -> int | None:
    """The runtime has no `start` command."""
    if call.command != "start":
        return None
    sys.stderr.write("No help topic for 'start'\n")
    return 1


@acts_on("state", "create", "start", "kill", "delete")
def missing_id_accepted(call: Call) -> int | None:
    """state/create/start/kill/delete without a container id exit 0."""
    if call.command in {"state", "create", "start", "kill", "delete"} and not _split(call.sub)[1]:
        return 0
    return None


def _sane_config(config: Config) -> Config:
    """The config minus namespace paths that do not exist (what made create fail)."""
    linux = config.get("linux", {})
    linux["namespaces"] = [
        ns for ns in linux.get("namespaces", []) if not ns.get("path") or Path(ns["path"]).exists()
    ]
    return config


def _drop_missing_namespace_paths(config: Config) -> None:
    _sane_config(config)


@acts_on("create", "delete")
def failed_create_leaves_container(call: Call) -> int | None:
    """A create that fails (bad id, unusable namespace path) leaves a container behind anyway.

    The leftover of a bad id ("bad/id" -> "bad-id") goes when the bad id is deleted.
    """
    if call.command == "delete" and "/" in call.container_id:
        _quiet(call, "delete", "--force", call.container_id.replace("/", "-"))
        return None
    if call.command != "create":
        return None
    done = run(call.real, capture=True)
    if done.returncode == 0:
        return 0
    sys.stderr.write(done.stderr)
    path = call.bundle / "config.json"
    original = path.read_bytes()
    try:
        path.write_text(json.dumps(_sane_config(json.loads(original))))
        options, _ = _split(call.sub)
        left = call.container_id.replace("/", "-")
        kept = _without(options, "--pid-file", "--console-socket")
        _quiet(call, "create", *kept, left)
    finally:
        path.write_bytes(original)
    return exit_of(done.returncode)


def _status_renamed(was: str, name: str) -> Intercept:
    @acts_on("state")
    def intercept(call: Call) -> int | None:
        if call.command != "state":
            return None
        done = run(call.real, capture=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return int(done.returncode)
        data = json.loads(done.stdout)
        if data.get("status") == was:
            data["status"] = name
        sys.stdout.write(json.dumps(data))
        return 0

    return intercept


@acts_on("start")
def start_rereads_config(call: Call) -> int | None:
    """`start` recreates the container from the bundle's config.json as it is now."""
    if call.command != "start":
        return None
    state = _quiet(call, "state", call.container_id)
    if state.returncode != 0:
        return None
    bundle = json.loads(state.stdout).get("bundle", "")
    _quiet(call, "delete", "--force", call.container_id)
    _quiet(call, "create", "--bundle", bundle, call.container_id)
    return exit_of(run(call.real).returncode)


def _after_refusal(command: str, then: Callable[[Call], object]) -> Intercept:
    @acts_on(command)
    def intercept(call: Call) -> int | None:
        if call.command != command or "--force" in call.sub:
            return None
        done = run(call.real, capture=True)
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            then(call)
        return exit_of(done.returncode)

    return intercept


def _kill_and_wait(call: Call) -> None:
    """KILL the container's init and wait (2 s at most) until state says stopped."""
    _quiet(call, "kill", call.container_id, "KILL")
    deadline = time.monotonic() + 2
    while _status(call) not in ("stopped", "") and time.monotonic() < deadline:
        time.sleep(0.01)


@acts_on("state")
def unknown_id_state_answers(call: Call) -> int | None:
    """`state` of an id the runtime does not know prints a made-up stopped state, exit 0."""
    if call.command != "state":
        return None
    done = run(call.real, capture=True)
    if done.returncode == 0:
        sys.stdout.write(done.stdout)
        return 0
    made_up = {"ociVersion": "1.0.2", "id": call.container_id, "status": "stopped", "pid": 0}
    sys.stdout.write(json.dumps({**made_up, "bundle": "/"}) + "\n")
    return 0


def _status(call: Call) -> str:
    state = _quiet(call, "state", call.container_id)
    return str(json.loads(state.stdout).get("status")) if state.returncode == 0 else ""


@acts_on("delete")
def delete_of_created_kills(call: Call) -> int | None:
    """`delete` of a created container is refused, but kills it on the way."""
    if call.command != "delete" or "--force" in call.sub or _status(call) != "created":
        return None
    _quiet(call, "kill", call.container_id, "KILL")
    sys.stderr.write('level=error msg="cannot delete container that is not stopped: created"\n')
    return 1


def _default_process(config: Config) -> None:
    config.setdefault(
        "process", {"args": ["/bin/sh", "-c", ":"], "cwd": "/", "user": {"uid": 0, "gid": 0}}
    )


# -- warnings --------------------------------------------------------------------


def _unknown_capabilities(config: Config) -> set[str]:
    """Capability names of the config no runtime knows (this fault refuses such a config)."""
    # Imported here: pytest_runc.oci.linux imports dataclasses, which a call of
    # every other fault of this module would pay for.
    from pytest_runc.oci.linux import CAPABILITIES

    return _capabilities(config) - set(CAPABILITIES)


def _capabilities(config: Config) -> set[str]:
    caps = (config.get("process") or {}).get("capabilities") or {}
    return {name for names in caps.values() for name in names or []}


@acts_on("delete")
def delete_removes_bind_sources(call: Call) -> int | None:
    """`delete` also removes the bind-mounted source directories named foreign-data."""
    if call.command != "delete":
        return None
    state = _quiet(call, "state", call.container_id)
    bundle = json.loads(state.stdout).get("bundle", "") if state.returncode == 0 else ""
    status = exit_of(run(call.real).returncode)
    try:
        mounts = json.loads((Path(bundle) / "config.json").read_text()).get("mounts", [])
    except (OSError, ValueError):
        return status
    for mount in mounts:
        source = Path(str(mount.get("source", "")))
        if source.name == "foreign-data" and source.is_dir():
            shutil.rmtree(source, ignore_errors=True)
    return status


@acts_on("state")
def state_pid_of_runtime(call: Call) -> int | None:
    """`state` reports the pid of the caller (a host process, not the container's init)."""
    if call.command != "state":
        return None
    done = run(call.real, capture=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        return int(done.returncode)
    data = json.loads(done.stdout)
    if data.get("pid"):
        data["pid"] = os.getppid()
    sys.stdout.write(json.dumps(data))
    return 0


def _ps_rewrite(table: bool) -> Intercept:
    @acts_on("ps")
    def intercept(call: Call) -> int | None:
        if call.command != "ps" or ("json" in call.sub) == table:
            return None
        done = run(call.real, capture=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return int(done.returncode)
        if table:
            sys.stdout.write(done.stdout + "root 999999 1 0 00:00 ? 00:00:00 ghost\n")
        else:
            pid = json.loads(_quiet(call, "state", call.container_id).stdout).get("pid")
            sys.stdout.write(json.dumps([p for p in json.loads(done.stdout) if p != pid]))
        return 0

    return intercept


# -- exec ------------------------------------------------------------------------


def _exec_dropping(*names: str) -> Intercept:
    @acts_on("exec")
    def intercept(call: Call) -> int | None:
        if call.command != "exec":
            return None
        return _again(call, _without(call.sub, *names))

    return intercept


@acts_on("exec")
def exec_process_fields_dropped(call: Call) -> int | None:
    """`exec --process FILE` runs only FILE's args: its env and cwd are dropped."""
    if call.command != "exec" or "--process" not in call.sub:
        return None
    process = json.loads(Path(call.sub[call.sub.index("--process") + 1]).read_text())
    sub = _without(call.sub, "--process")
    return _again(call, [*sub, *process.get("args", [])])


@acts_on("exec")
def exec_detach_runs_nothing(call: Call) -> int | None:
    """`exec --detach` returns 0 and runs nothing."""
    return 0 if call.command == "exec" and {"-d", "--detach"} & set(call.sub) else None


@acts_on("exec")
def exec_pid_file_init(call: Call) -> int | None:
    """`exec --pid-file` receives init's pid instead of the exec'd process's."""
    if call.command != "exec" or "--pid-file" not in call.sub:
        return None
    status = exit_of(run(call.real).returncode)
    _, rest = _split(call.sub)
    state = _quiet(call, "state", rest[0] if rest else "")
    if state.returncode == 0:
        pid = json.loads(state.stdout).get("pid")
        Path(call.sub[call.sub.index("--pid-file") + 1]).write_text(str(pid))
    return status


# -- kill ------------------------------------------------------------------------


def _kill_signal_mapped(change: Callable[[str | None], str | None]) -> Intercept:
    @acts_on("kill")
    def intercept(call: Call) -> int | None:
        if call.command != "kill":
            return None
        options, rest = _split(call.sub)
        if not rest:
            return None
        signal = rest[1] if len(rest) > 1 else None
        changed = change(signal)
        if changed == signal:
            return None
        return _again(call, [*options, rest[0], *([changed] if changed else [])])

    return intercept


def _name_to_term(signal: str | None) -> str | None:
    if signal and not signal.isdigit() and signal.upper().removeprefix("SIG") != "KILL":
        return "TERM"
    return signal


def _number_plus_two(signal: str | None) -> str | None:
    return str(int(signal) + 2) if signal and signal.isdigit() else signal


def _default_usr1(signal: str | None) -> str | None:
    return "USR1" if signal is None else signal


@acts_on("kill")
def _kill_dropping_all(call: Call) -> int | None:
    if call.command != "kill" or not {"--all", "-a"} & set(call.sub):
        return None
    return _again(call, _without(call.sub, "--all", "-a"))


# -- console -------------------------------------------------------------------


@acts_on("create")
def console_socket_ignored(call: Call) -> int | None:
    """`create --console-socket` never connects to the socket."""
    if call.command != "create" or "--console-socket" not in call.sub:
        return None
    sys.stderr.write('level=error msg="cannot allocate tty: console socket ignored"\n')
    return 1


def _terminal_stdin_detached(config: Config) -> None:
    """A terminal process gets /dev/null for stdin and stdout (the pty stays stderr)."""
    process = config.get("process") or {}
    if process.get("terminal") and process.get("args"):
        process["args"] = ["sh", "-c", 'exec "$@" </dev/null', "sh", *process["args"]]


# -- /dev links ----------------------------------------------------------------


def _dev_stdin_removed(config: Config) -> None:
    """A createContainer hook (cwd: the rootfs, mounts done) removes /dev/stdin."""
    config.setdefault("hooks", {}).setdefault("createContainer", []).append(
        {"path": "/bin/rm", "args": ["rm", "-f", "dev/stdin"]}
    )


# -- features ------------------------------------------------------------------


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key, None)


def _version_refused(which: str) -> Intercept:
    """create/run refuse a config whose ociVersion is the runtime's own ``which``."""

    @acts_on("create", "run")
    def intercept(call: Call) -> int | None:
        if call.command not in {"create", "run"}:
            return None
        done = run([call.real_binary, "features"], capture=True)
        try:
            version = json.loads(done.stdout).get(which)
        except ValueError:
            return None
        if _config_of(call).get("ociVersion") != version:
            return None
        sys.stderr.write(f'level=error msg="unsupported spec version {version}"\n')
        return 1

    return intercept


def _memory_policy(config: Config) -> dict[str, Any]:
    policy: dict[str, Any] = (config.get("linux") or {}).get("memoryPolicy") or {}
    return policy


MODES = ("MPOL_DEFAULT", "MPOL_PREFERRED", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_LOCAL",
         "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE")  # fmt: skip
MPOL_FLAGS = ("MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES", "MPOL_F_NUMA_BALANCING")
REFUSED = "the runtime refused a config with"

FAULTS: list[Fault] = [
    # -- operations ---------------------------------------------------------------
    Fault(
        "start-unknown",
        "has no `start` command",
        {OPS + "test_every_operation_works_on_a_container_one_created": "`start` on a container"},
        intercept=start_unknown,
    ),
    Fault(
        "missing-id-accepted",
        "state/create/start/kill/delete without a container id exit 0",
        {
            OPS + f"test_operation_without_a_container_id_fails[{c}]": "without a container id: `"
            for c in ("state", "create", "start", "kill", "delete")
        },
        intercept=missing_id_accepted,
    ),
    Fault(
        "failed-create-leaves-container",
        "a create that fails still leaves a container behind",
        {
            OPS
            + "test_create_with_an_invalid_id_leaves_no_container": "the refused create of 'bad/id' left",
            OPS + "test_failed_create_leaves_no_container": "the failed create left container",
        },
        intercept=failed_create_leaves_container,
    ),
    Fault(
        "missing-namespace-path-ignored",
        "a namespace path that does not exist is silently dropped",
        {OPS + "test_create_fails_when_a_property_cannot_be_applied": ("which does not exist: `")},
        mutate=_drop_missing_namespace_paths,
    ),
    Fault(
        "state-says-exited",
        '`state` names the stopped state "exited"',
        {OPS + "test_status_names_only_spec_states_through_a_life": "runtime-specific status"},
        intercept=_status_renamed("stopped", "exited"),
    ),
    Fault(
        "start-rereads-config",
        "`start` recreates the container from config.json as edited after create",
        {
            OPS + "test_config_edits_after_create_do_not_change_the_container": (
                "the edit of config.json after create was used"
            )
        },
        intercept=start_rereads_config,
    ),
    Fault(
        "refused-start-kills",
        "a refused `start` kills the container",
        {
            OPS
            + "test_refused_start_leaves_a_running_container_as_it_was": "a refused start changed"
        },
        intercept=_after_refusal(
            "start", lambda call: _quiet(call, "kill", call.container_id, "KILL")
        ),
    ),
    Fault(
        "refused-kill-deletes",
        "a refused `kill` deletes the container",
        {OPS + "test_refused_kill_leaves_a_stopped_container_as_it_was": "a refused kill changed"},
        intercept=_after_refusal(
            "kill", lambda call: _quiet(call, "delete", "--force", _split(call.sub)[1][0])
        ),
    ),
    Fault(
        "refused-create-deletes-holder",
        "a create refused for a taken id deletes the container that holds the id",
        {E + "test_duplicate_id_is_refused": "the failed create disturbed the first container"},
        intercept=_after_refusal(
            "create", lambda call: _quiet(call, "delete", "--force", call.container_id)
        ),
    ),
    Fault(
        "refused-delete-kills",
        "a refused `delete` (no --force) kills the container's process on the way",
        {E + "test_delete_running_without_force": "a refused delete still stopped the container"},
        intercept=_after_refusal("delete", _kill_and_wait),
    ),
    Fault(
        "unknown-id-state-answers",
        "`state` of an id it does not know prints a made-up stopped state and exits 0",
        {E + "test_state_of_an_unknown_id_is_an_error": "succeeded (exit 0) but must fail"},
        intercept=unknown_id_state_answers,
    ),
    Fault(
        "delete-of-created-kills",
        "`delete` of a created container is refused but kills its process",
        {
            OPS
            + "test_refused_delete_leaves_a_created_container_as_it_was": "a refused delete changed"
        },
        intercept=delete_of_created_kills,
    ),
    Fault(
        "default-process",
        "a config without process gets a default one (`true`)",
        {OPS + "test_start_without_a_process_fails": "whose config.json has no process: `"},
        mutate=_default_process,
    ),
    Fault(
        "warning-aborts",
        "an unknown capability (a warning in runc) aborts create/run",
        {OPS + "test_a_warning_does_not_stop_the_operation": "run with an unknown capability"},
        intercept=_refuse_config(
            lambda config: bool(_unknown_capabilities(config)), "unknown capability"
        ),
    ),
    Fault(
        "delete-removes-bind-sources",
        "`delete` removes the host directories the container bind-mounted",
        {OPS + "test_delete_keeps_a_bind_mount_source": "delete removed or changed"},
        intercept=delete_removes_bind_sources,
    ),
    Fault(
        "state-pid-of-caller",
        "`state` reports a host process's pid, not the container's init",
        {OPS + "test_state_pid_is_pid_1_of_the_container": "in its namespace, not 1"},
        intercept=state_pid_of_runtime,
    ),
    Fault(
        "ps-json-without-init",
        "`ps --format json` leaves out init",
        {OPS + "test_ps_json_is_init_and_its_child": "ps --format json gave"},
        intercept=_ps_rewrite(table=False),
    ),
    Fault(
        "ps-table-ghost-row",
        "`ps` (table) lists a process the container does not have",
        {OPS + "test_ps_table_rows_are_the_json_pids": "ps table lists pids"},
        intercept=_ps_rewrite(table=True),
    ),
    # -- exec ---------------------------------------------------------------------
    Fault(
        "exec-env-dropped",
        "`exec --env` is ignored",
        {X + "test_exec_env_sets_the_variable": "--env GREETING='hello exec' gave"},
        intercept=_exec_dropping("--env", "-e"),
    ),
    Fault(
        "exec-cwd-ignored",
        "`exec --cwd` is ignored",
        {X + "test_exec_cwd_is_the_working_directory": "--cwd /etc gave"},
        intercept=_exec_dropping("--cwd"),
    ),
    Fault(
        "exec-user-ignored",
        "`exec --user` is ignored (the process runs as root)",
        {X + "test_exec_user_sets_uid_and_gid": "--user 1000:1001 ran the process as"},
        intercept=_exec_dropping("--user", "-u"),
    ),
    Fault(
        "exec-additional-gids-ignored",
        "`exec --additional-gids` is ignored",
        {X + "test_exec_additional_gids_are_supplementary_groups": "--additional-gids 2001 2002"},
        intercept=_exec_dropping("--additional-gids", "-g"),
    ),
    Fault(
        "exec-process-fields-dropped",
        "`exec --process` uses only the file's args",
        {X + "test_exec_process_json_runs_that_process": "--process ran something else"},
        intercept=exec_process_fields_dropped,
    ),
    Fault(
        "exec-detach-runs-nothing",
        "`exec --detach` returns 0 without running the process",
        {X + "test_exec_detach_returns_while_the_process_runs": "its process no longer runs"},
        intercept=exec_detach_runs_nothing,
    ),
    Fault(
        "exec-pid-file-init",
        "`exec --pid-file` receives init's pid",
        {X + "test_exec_pid_file_holds_the_process_pid": "--pid-file holds init's pid"},
        intercept=exec_pid_file_init,
    ),
    Fault(
        "exec-preserve-fds-ignored",
        "`exec --preserve-fds` passes nothing on",
        {X + "test_exec_preserve_fds_passes_fd_3_on": "--preserve-fds 1 did not pass fd 3 on"},
        intercept=_exec_dropping("--preserve-fds"),
    ),
    Fault(
        "exec-tty-ignored",
        "`exec --tty --console-socket` gives no terminal and sends nothing",
        {X + "test_exec_tty_sends_a_terminal_to_the_console_socket": "no terminal master came"},
        intercept=_exec_dropping("--tty", "-t", "--console-socket"),
    ),
    # -- kill ---------------------------------------------------------------------
    Fault(
        "kill-names-read-as-term",
        "`kill` sends TERM for every signal given by name (KILL aside)",
        {
            K + f"test_kill_takes_a_signal_by_name[{n}]": f"kill {n} made init report"
            for n in ("USR1", "SIGUSR1")
        },
        intercept=_kill_signal_mapped(_name_to_term),
    ),
    Fault(
        "kill-number-off-by-two",
        "`kill` sends signal N+2 for a number N",
        {K + "test_kill_takes_a_signal_by_number": "kill 10 made init report"},
        intercept=_kill_signal_mapped(_number_plus_two),
    ),
    Fault(
        "kill-default-usr1",
        "`kill` without a signal sends USR1",
        {K + "test_kill_without_a_signal_sends_term": "kill without a signal made init report"},
        intercept=_kill_signal_mapped(_default_usr1),
    ),
    Fault(
        "kill-all-init-only",
        "`kill --all` signals init only",
        {K + "test_kill_all_reaches_every_process": "did not reach init's child"},
        intercept=_kill_dropping_all,
    ),
    # -- console ------------------------------------------------------------------
    Fault(
        "console-socket-ignored",
        "`create --console-socket` fails without sending the terminal",
        {
            C + "test_create_sends_the_terminal_master_to_the_console_socket": (
                "no terminal master fd came over the console socket"
            )
        },
        intercept=console_socket_ignored,
    ),
    Fault(
        "terminal-stdin-detached",
        "a terminal process gets /dev/null as stdin",
        {
            C + "test_the_process_runs_on_the_console_terminal": "does not see its stdin/stdout",
            C
            + "test_input_written_to_the_master_reaches_the_process": "did not answer what was typed",
        },
        mutate=_terminal_stdin_detached,
    ),
    # -- /dev links ---------------------------------------------------------------
    Fault(
        "dev-stdin-link-missing",
        "/dev/stdin is not created",
        {D + "test_dev_fd_and_std_links_point_into_proc_self_fd": "/dev links missing or wrong"},
        mutate=_dev_stdin_removed,
    ),
    # -- features (proven with a runtime whose ociVersionMax is 1.1.0 or later) ---
    Fault(
        "features-no-oci-version-min",
        "`features` leaves out ociVersionMin",
        {F + "test_features_has_oci_version_min": "ociVersionMin is None"},
        intercept=features_rewritten(_drop("ociVersionMin")),
    ),
    Fault(
        "features-no-oci-version-max",
        "`features` leaves out ociVersionMax",
        {F + "test_features_has_oci_version_max": "ociVersionMax is None"},
        intercept=features_rewritten(_drop("ociVersionMax")),
    ),
    Fault(
        "features-min-above-max",
        "`features` claims an ociVersionMin above its ociVersionMax",
        {F + "test_features_max_is_not_below_min": "is below ociVersionMin"},
        intercept=features_rewritten(lambda data: data.update(ociVersionMin="9.9.9")),
    ),
    Fault(
        "features-undefined-property",
        "`features` has a property no spec version defines",
        {F + "test_features_has_no_property_its_spec_version_lacks": "does not define"},
        intercept=features_rewritten(lambda data: data.update(bogusFeature=True)),
    ),
    Fault(
        "features-empty-for-unknown",
        "`features` says {} for an unknown apparmor section",
        {F + "test_features_uses_no_empty_value_for_unknown": "empty values"},
        intercept=features_rewritten(lambda data: _linux(data).update(apparmor={})),
    ),
    Fault(
        "features-annotation-not-string",
        "`features` has an annotation whose value is a number",
        {F + "test_features_annotations_are_a_string_map": "non-string value"},
        intercept=features_rewritten(lambda data: data.setdefault("annotations", {}).update(x=1)),
    ),
    Fault(
        "features-data-mount-option",
        "`features` lists mode=755 among mountOptions",
        {F + "test_features_mount_options_leave_out_filesystem_data": "filesystem data options"},
        intercept=features_rewritten(
            lambda data: data.update(mountOptions=[*data.get("mountOptions", []), "mode=755"])
        ),
    ),
    Fault(
        "refuses-its-oci-version-min",
        "create/run refuse a config whose ociVersion is the runtime's ociVersionMin",
        {F + "test_runtime_runs_a_config_of_its_listed_version[min]": REFUSED},
        intercept=_version_refused("ociVersionMin"),
    ),
    Fault(
        "refuses-its-oci-version-max",
        "create/run refuse a config whose ociVersion is the runtime's ociVersionMax",
        {F + "test_runtime_runs_a_config_of_its_listed_version[max]": REFUSED},
        intercept=_version_refused("ociVersionMax"),
    ),
    Fault(
        "start-container-hooks-dropped",
        "startContainer hooks never run",
        {F + "test_every_listed_hook_runs": "hooks listed in `features` that did not run"},
        mutate=lambda config: (config.get("hooks") or {}).pop("startContainer", None),
    ),
    Fault(
        "features-idmap-disclaimed",
        "`features` says idmap mounts are not supported, though they work",
        {F + "test_idmap_support_is_not_disclaimed": "yet an id-mapped bind mount works"},
        intercept=features_rewritten(
            lambda data: _linux(data).update(mountExtensions={"idmap": {"enabled": False}})
        ),
    ),
    Fault(
        "features-unknown-mount-option",
        "`features` lists a mount option the runtime does not know",
        {F + "test_every_listed_mount_option_is_accepted": REFUSED},
        intercept=features_rewritten(
            lambda data: data.update(mountOptions=[*data.get("mountOptions", []), "nobogus"])
        ),
    ),
    Fault(
        "cgroup-namespace-refused",
        "create/run refuse a config with a cgroup namespace",
        {F + "test_every_listed_namespace_is_accepted": REFUSED},
        intercept=_refuse_config(
            lambda config: any(
                ns.get("type") == "cgroup"
                for ns in (config.get("linux") or {}).get("namespaces", [])
            ),
            "cgroup namespaces are not supported",
        ),
    ),
    Fault(
        "cap-syslog-refused",
        "create/run refuse a config with CAP_SYSLOG",
        {F + "test_every_listed_capability_is_accepted": REFUSED},
        intercept=_refuse_config(
            lambda config: "CAP_SYSLOG" in _capabilities(config), "unknown capability CAP_SYSLOG"
        ),
    ),
    Fault(
        "features-unknown-seccomp-action",
        "`features` lists a seccomp action the runtime does not know",
        {F + "test_every_listed_seccomp_action_is_accepted": REFUSED},
        intercept=_seccomp_lists("actions", "SCMP_ACT_BOGUS"),
    ),
    Fault(
        "features-unknown-seccomp-operator",
        "`features` lists a seccomp operator the runtime does not know",
        {F + "test_every_listed_seccomp_operator_is_accepted": REFUSED},
        intercept=_seccomp_lists("operators", "SCMP_CMP_BOGUS"),
    ),
    Fault(
        "features-unknown-seccomp-arch",
        "`features` lists a seccomp architecture the runtime does not know",
        {F + "test_every_listed_seccomp_arch_is_accepted": REFUSED},
        intercept=_seccomp_lists("archs", "SCMP_ARCH_BOGUS"),
    ),
    Fault(
        "features-unknown-seccomp-flag",
        "`features` lists (and claims to support) a seccomp flag the runtime does not know",
        {
            F + f"test_listed_seccomp_flags_are_accepted[{key}]": REFUSED
            for key in ("knownFlags", "supportedFlags")
        },
        intercept=_seccomp_lists("knownFlags", "SECCOMP_FILTER_FLAG_BOGUS"),
    ),
    Fault(
        "memory-policy-mode-refused",
        "create/run refuse any linux.memoryPolicy without flags",
        {F + f"test_listed_memory_policy_mode_is_accepted[{m}]": REFUSED for m in MODES},
        intercept=_refuse_config(
            lambda config: bool(_memory_policy(config)) and not _memory_policy(config).get("flags"),
            "memory policy not supported",
        ),
    ),
    Fault(
        "memory-policy-flags-refused",
        "create/run refuse linux.memoryPolicy flags",
        {F + f"test_listed_memory_policy_flag_is_accepted[{f}]": REFUSED for f in MPOL_FLAGS},
        intercept=_refuse_config(
            lambda config: bool(_memory_policy(config).get("flags")), "memory policy flags refused"
        ),
    ),
]
