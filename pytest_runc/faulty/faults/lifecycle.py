"""Faulty runtimes for the lifecycle, state, session, signal and error checks."""

from __future__ import annotations

from pytest_runc.faulty import behaviours
from pytest_runc.faulty.model import Config, Fault

S = "conformance/test_session.py::"
L = "conformance/test_lifecycle.py::"
G = "conformance/test_signals.py::"
E = "conformance/test_errors.py::"
T = "conformance/test_state.py::"

#: The spec's error checks (oci_rule): a runtime that accepts (exit 0) what it
#: must refuse fails them; different words do not.
SPEC_ERROR_CHECKS = [
    "test_duplicate_id_is_refused",
    "test_missing_rootfs",
    "test_missing_config_json",
    "test_invalid_json",
    "test_executable_not_found",
    "test_start_twice",
    "test_start_a_stopped_container",
    "test_delete_running_without_force",
    "test_kill_a_stopped_container",
    "test_state_of_an_unknown_id_is_an_error",
]
#: runc's words (runc_cli): refused, and refused with the documented message.
WORDS_CHECKS = [
    "test_duplicate_id_words",
    "test_missing_rootfs_words",
    "test_missing_config_json_words",
    "test_invalid_json_words",
    "test_executable_not_found_words",
    "test_relative_cwd",
    "test_hostname_without_uts_namespace",
    "test_terminal_with_detach_needs_a_console_socket",
    "test_start_twice_words",
    "test_start_a_stopped_container_words",
    "test_delete_running_without_force_words",
    "test_kill_a_stopped_container_words",
    "test_pause_a_paused_container",
    "test_resume_a_running_container",
    "test_exec_in_a_paused_container",
    *(
        f"test_unknown_id[{command}]"
        for command in ("delete", "exec", "kill", "pause", "ps", "resume", "start", "state")
    ),
    "test_invalid_container_id[foo/bar]",
    "test_invalid_container_id[..]",
    "test_empty_container_id",
]
ERROR_CHECKS = SPEC_ERROR_CHECKS + WORDS_CHECKS
#: assert_refused's failure, and assert_refused_with_words' when only the words differ.
ACCEPTED = "succeeded (exit 0) but must fail"
REWORDED = "but not with the documented message"


def _user_not_root(config: Config) -> None:
    user = config.setdefault("process", {}).setdefault("user", {})
    if user.get("uid", 0) == 0:
        user.update(uid=1000, gid=1000)


def _host_dir_in_root(config: Config) -> None:
    config.setdefault("mounts", []).append(
        {"destination": "/host-etc", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]}
    )


def _sys_writable(config: Config) -> None:
    for mount in config.get("mounts", []):
        if mount.get("destination") == "/sys":
            mount["options"] = [o for o in mount.get("options", []) if o != "ro"]


def _no_cgroups_path(config: Config) -> None:
    config.get("linux", {}).pop("cgroupsPath", None)


def _no_terminal(config: Config) -> None:
    config.setdefault("process", {})["terminal"] = False


def _absolute_cwd(config: Config) -> None:
    process = config.setdefault("process", {})
    if not str(process.get("cwd", "/")).startswith("/"):
        process["cwd"] = "/" + process["cwd"]


def _uts_for_hostname(config: Config) -> None:
    namespaces = config.setdefault("linux", {}).setdefault("namespaces", [])
    if config.get("hostname") and not any(n.get("type") == "uts" for n in namespaces):
        namespaces.append({"type": "uts"})


FAULTS: list[Fault] = [
    # -- session (runc run on a terminal) ---------------------------------
    Fault(
        "user-not-root",
        "runs a process configured as uid 0 as uid 1000",
        {S + "test_id_is_root_by_default": "configured uid 0 gid 0"},
        mutate=_user_not_root,
    ),
    Fault(
        "host-dir-in-root",
        "bind-mounts the host's /etc at /host-etc in every container",
        {S + "test_ls_root_shows_exactly_the_rootfs": "extra ['host-etc']"},
        mutate=_host_dir_in_root,
    ),
    Fault(
        "sys-writable",
        "mounts /sys read-write although the config says ro",
        {S + "test_mount_shows_the_configured_filesystems": "/sys is configured ro but mounted"},
        mutate=_sys_writable,
    ),
    Fault(
        "cgroups-path-unused",
        "puts the container in its default cgroup, not linux.cgroupsPath",
        {S + "test_proc_1_cgroup_is_the_configured_cgroups_path": "not in the configured cgroup"},
        mutate=_no_cgroups_path,
    ),
    Fault(
        "terminal-ignored",
        "gives the process pipes, not a terminal, although process.terminal is true"
        " (the shell then shows no prompt: the session times out)",
        {S + "test_tty_is_a_pts_inside_the_container": "Timeout exceeded"},
        mutate=_no_terminal,
    ),
    Fault(
        "terminal-run-status-off-by-one",
        "`run` of a process with a terminal exits with its status plus one",
        {
            S + f"test_exit_status_is_the_exit_status_of_runc_run[{status}]": "runc run exited"
            for status in (0, 3, 255)
        },
        intercept=behaviours.terminal_run_status_off_by_one,
    ),
    Fault(
        "keep-ignored",
        "`run --keep` deletes the container anyway",
        {S + "test_keep_leaves_a_stopped_container_until_delete": "list shows no container"},
        intercept=behaviours.keep_ignored,
    ),
    # -- lifecycle ----------------------------------------------------------
    Fault(
        "create-starts",
        "`create` starts the user program at once",
        {L + "test_create_does_not_run_the_program": "the user program ran before `start`"},
        intercept=behaviours.create_starts,
    ),
    Fault(
        "pid-file-wrong",
        "--pid-file receives a pid one above init's",
        {
            L + "test_pid_file_holds_the_init_pid[create]": "--pid-file holds",
            L + "test_pid_file_holds_the_init_pid[run-detach]": "--pid-file holds",
        },
        intercept=behaviours.pid_file_wrong,
    ),
    Fault(
        "start-does-nothing",
        "`start` exits 0 and starts nothing",
        {L + "test_start_runs_the_program": "did not print 'program-ran'"},
        intercept=behaviours.start_does_nothing,
    ),
    Fault(
        "state-hides-running",
        "`state` says created for a running container",
        {L + "test_running_after_start": "while the program runs, expected 'running'"},
        intercept=behaviours.state_hides_running,
    ),
    Fault(
        "state-hides-paused",
        "the first `state` of a paused container says running",
        {L + "test_paused_after_pause": "after pause, expected 'paused'"},
        intercept=behaviours.state_hides_paused,
    ),
    Fault(
        "resume-does-nothing",
        "the first `resume` of a container exits 0 and thaws nothing",
        {
            L + "test_resume_thaws_the_processes": "the counter stayed at",
            L + "test_running_after_resume": "after resume, expected 'running'",
        },
        intercept=behaviours.resume_does_nothing,
    ),
    Fault(
        "state-never-stopped",
        "`state` says running for a stopped container",
        {L + "test_stopped_after_the_process_exits": "did not reach 'stopped'"},
        intercept=behaviours.state_never_stopped,
    ),
    Fault(
        "detach-ignored",
        "`run --detach` waits for the container's process",
        {L + "test_run_detach_returns_while_the_container_runs": "did not finish within"},
        intercept=behaviours.detach_ignored,
    ),
    Fault(
        "exec-on-host",
        "`exec` runs the process on the host, outside the container",
        {
            L + f"test_exec_runs_inside_the_container[{phase}]": "did not run inside the container"
            for phase in ("created", "running")
        },
        intercept=behaviours.exec_on_host,
    ),
    Fault(
        "exec-status-off-by-one",
        "`exec` exits with the process's status plus one",
        {
            L + f"test_exec_exit_status_is_the_processes[{status}]": "exec exited"
            for status in (0, 7)
        },
        intercept=behaviours.exec_status_off_by_one,
    ),
    Fault(
        "ps-empty",
        "`ps` lists no process",
        {L + "test_ps_lists_the_init_process": "not in `ps`"},
        intercept=behaviours.ps_empty,
    ),
    Fault(
        "events-wrong-id",
        "`events --stats` names another container",
        {L + "test_events_stats_is_a_stats_event_of_the_container": "events --stats gave"},
        intercept=behaviours.events_wrong_id,
    ),
    Fault(
        "events-stats-zeroed",
        "`events --stats` reports no pids and no memory in use",
        {L + "test_events_stats_values_are_plausible": "counts 0 pids"},
        intercept=behaviours.events_stats_zeroed,
    ),
    # -- state ---------------------------------------------------------------
    Fault(
        "state-without-oci-version",
        "`state` leaves out ociVersion",
        {
            T + f"test_state_matches_the_schema[{phase}]": "'ociVersion' is a required property"
            for phase in ("created", "running", "paused", "stopped")
        },
        intercept=behaviours.state_without_oci_version,
    ),
    Fault(
        "state-wrong-id",
        "`state` reports another id",
        {T + "test_state_id_is_the_container_id": "state id"},
        intercept=behaviours.state_wrong_id,
    ),
    Fault(
        "state-wrong-bundle",
        "`state` reports the bundle's parent directory as the bundle",
        {T + "test_state_bundle_is_the_absolute_bundle_path": "state bundle"},
        intercept=behaviours.state_wrong_bundle,
    ),
    Fault(
        "state-wrong-pid",
        "`state` reports the caller's pid as the container's",
        {T + "test_state_pid_is_the_container_process": "not the container's `sleep 60`"},
        intercept=behaviours.state_wrong_pid,
    ),
    # -- errors ----------------------------------------------------------------
    Fault(
        "errors-swallowed",
        "every refused command exits 0 without a message",
        {E + name: ACCEPTED for name in ERROR_CHECKS},
        intercept=behaviours.errors_swallowed,
    ),
    Fault(
        "errors-reworded",
        "every refusal keeps its status but says only 'operation failed'"
        " (the spec's checks pass it: only runc's words are missing)",
        {E + name: REWORDED for name in WORDS_CHECKS},
        intercept=behaviours.errors_reworded,
    ),
    Fault(
        "relative-cwd-fixed-up",
        "makes a relative process.cwd absolute instead of refusing it",
        {E + "test_relative_cwd": ACCEPTED},
        mutate=_absolute_cwd,
    ),
    Fault(
        "uts-namespace-added",
        "adds a UTS namespace when a hostname is set without one, instead of refusing",
        {E + "test_hostname_without_uts_namespace": ACCEPTED},
        mutate=_uts_for_hostname,
    ),
]
