"""Faulty runtimes that ignore or misapply one input: an exec flag, a config field,
a signal to ``runc run``, an argument that must be refused, a seccomp action or
argument condition (the checks of the input inventory, pytest_runc/rules/inputs.py)."""

from __future__ import annotations

from pytest_runc.faulty.behaviours import (
    bundle_echoed_as_given,
    create_run_options_dropped,
    exec_options_dropped,
    exec_process_edited,
    global_options_dropped,
    kill_unknown_signal_sends_term,
    list_quiet_ignored,
    pidfd_of_the_runtime,
    run_keeps_signals,
    state_rewritten,
    succeeds_when_stopped,
    update_options_dropped,
)
from pytest_runc.faulty.model import Fault

TYPE_CHECKING = False  # as typing's, which a wrapper call need not import
if TYPE_CHECKING:
    from typing import Any

XO = "conformance/test_exec_options.py::"
RF = "conformance/test_run_foreground.py::"
SO = "conformance/test_stopped_operations.py::"
RV = "conformance/test_resource_values.py::"

#: The resource fields test_resource_values.py checks, by the section they are in.
_CHECKED_RESOURCES = {
    "cpu": ("burst", "idle", "realtimePeriod", "realtimeRuntime"),
    "memory": ("swappiness", "disableOOMKiller"),
    "blockIO": ("throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"),
}


SA = "conformance/test_seccomp_actions.py::"


def _seccomp_rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = config.get("linux", {}).get("seccomp", {}).get("syscalls", [])
    return rules


_NEWER_ACTIONS = (
    "SCMP_ACT_TRAP",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRACE",
)


def _newer_actions_allowed(config: dict[str, Any]) -> None:
    """A runtime whose action table stops at KILL/ERRNO/ALLOW: the rest become ALLOW."""
    for rule in _seccomp_rules(config):
        if rule.get("action") in _NEWER_ACTIONS:
            rule["action"] = "SCMP_ACT_ALLOW"


def _log_denies(config: dict[str, Any]) -> None:
    """A runtime that maps SCMP_ACT_LOG onto the errno action."""
    for rule in _seccomp_rules(config):
        if rule.get("action") == "SCMP_ACT_LOG":
            rule["action"] = "SCMP_ACT_ERRNO"


def _args_dropped(config: dict[str, Any]) -> None:
    """A runtime that adds each rule without its argument conditions."""
    for rule in _seccomp_rules(config):
        rule.pop("args", None)


HS = "conformance/test_hooks_state.py::"
HOOK_KINDS = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)


def _hooks_read_edited(edits: dict[str, str]) -> Any:
    """A mutation that makes each hook of kind K read its state through ``sed
    edits[K]``: the runtime hands that hook a wrong state."""

    def mutate(config: dict[str, Any]) -> None:
        for kind, hooks in config.get("hooks", {}).items():
            if kind not in edits:
                continue
            for hook in hooks:
                script = f'/bin/sed -e \'{edits[kind]}\' | exec "$0" "$@"'
                original = [hook["path"], *hook.get("args", [hook["path"]])[1:]]
                hook["path"], hook["args"] = "/bin/sh", ["sh", "-c", script, *original]

    return mutate


def _hook_env_dropped(config: dict[str, Any]) -> None:
    """A runtime that runs every hook with an empty environment."""
    for hooks in config.get("hooks", {}).values():
        for hook in hooks:
            hook.pop("env", None)


def _timeouts_only_for_prestart(config: dict[str, Any]) -> None:
    """A runtime that enforces a hook's timeout for prestart hooks only."""
    for kind, hooks in config.get("hooks", {}).items():
        for hook in hooks if kind != "prestart" else []:
            hook.pop("timeout", None)


def _status(value: str) -> str:
    return f's/"status":"[a-z]*"/"status":"{value}"/'


#: Each kind's status taken from the next point of the container's life.
_STATUS_ONE_STEP_LATE = {
    "prestart": "created", "createRuntime": "created", "createContainer": "created",
    "startContainer": "running", "poststart": "stopped", "poststop": "running",
}  # fmt: skip
SC = "conformance/test_scheduler.py::"


def _scheduler(config: dict[str, Any]) -> dict[str, Any]:
    scheduler: dict[str, Any] = config.get("process", {}).get("scheduler", {})
    return scheduler


def _priority_one_lower(config: dict[str, Any]) -> None:
    """A runtime that counts realtime priorities from 0 where the kernel counts from 1."""
    scheduler = _scheduler(config)
    if scheduler.get("priority"):
        scheduler["priority"] -= 1


def _deadline_runtime_in_wrong_unit(config: dict[str, Any]) -> None:
    """A runtime that reads the deadline runtime as a share of the deadline, not nanoseconds."""
    scheduler = _scheduler(config)
    if scheduler.get("runtime") and scheduler.get("deadline"):
        scheduler["runtime"] = scheduler["deadline"] * 8 // 9


def _scheduler_flags_dropped(config: dict[str, Any]) -> None:
    _scheduler(config).pop("flags", None)


UF = "conformance/test_update_flags.py::"
_UPDATE_FLAGS = (
    "cpu-period", "cpu-share", "cpuset-cpus", "memory-reservation", "memory-swap",
    "cpu-burst", "cpu-idle", "cpu-rt-period", "cpu-rt-runtime",
)  # fmt: skip
CR = "conformance/test_create_run_options.py::"
RP = "conformance/test_rootfs_propagation.py::"


#: A propagation table with its keys mixed up.
_PROPAGATION_MIXED = {"shared": "private", "private": "shared", "unbindable": "private"}


def _rootfs_propagation_mixed(config: dict[str, Any]) -> None:
    linux = config.get("linux", {})
    if linux.get("rootfsPropagation") in _PROPAGATION_MIXED:
        linux["rootfsPropagation"] = _PROPAGATION_MIXED[linux["rootfsPropagation"]]


PS = "conformance/test_pidfd_socket.py::"


def _listener_metadata_dropped(config: dict[str, Any]) -> None:
    config.get("linux", {}).get("seccomp", {}).pop("listenerMetadata", None)


SV = "conformance/test_state_values.py::"


def _no_pid_while_created(item: dict[str, Any]) -> None:
    """A runtime that fills in the pid only once the container has started."""
    if item.get("status") == "created":
        item["pid"] = 0


CF = "conformance/test_cli_flags.py::"


def _console_size_dropped(config: dict[str, Any]) -> None:
    config.get("process", {}).pop("consoleSize", None)


_COMPARISONS = ("EQ", "NE", "LT", "LE", "GT", "GE", "MASKED_EQ")
_RESOURCE_CHECKS = (
    "cpu-burst", "cpu-idle", "cpu-realtime", "memory-swappiness", "memory-oom-killer-off",
    "blkio-write-bps", "blkio-read-iops", "blkio-write-iops",
)  # fmt: skip


def _drop_resource_fields(config: dict[str, Any]) -> None:
    """A runtime that knows only the older resource fields: these are never written."""
    resources = config.get("linux", {}).get("resources", {})
    for section, fields in _CHECKED_RESOURCES.items():
        for name in fields:
            resources.get(section, {}).pop(name, None)


def _drop_final_affinity(process: dict[str, Any]) -> bool:
    affinity = process.get("execCPUAffinity") or {}
    return affinity.pop("final", None) is not None


FAULTS: list[Fault] = [
    Fault(
        "exec-cap-ignored",
        "`exec --cap` is accepted and not applied",
        {
            XO
            + "test_exec_cap_adds_the_capability": "exec --cap CAP_SYS_NICE gave a process without"
        },
        intercept=exec_options_dropped("--cap", "-c"),
    ),
    Fault(
        "exec-no-new-privs-ignored",
        "`exec --no-new-privs` is accepted and not applied",
        {XO + "test_exec_no_new_privs_sets_the_flag": "NoNewPrivs is '0', not 1"},
        intercept=exec_options_dropped("--no-new-privs"),
    ),
    Fault(
        "exec-cgroup-ignored",
        "`exec --cgroup` runs the process in the container's own cgroup",
        {XO + "test_exec_cgroup_runs_in_the_sub_cgroup": "not in the sub-cgroup prt-sub"},
        intercept=exec_options_dropped("--cgroup"),
    ),
    Fault(
        "exec-cpu-affinity-final-ignored",
        "an exec'd process keeps the cgroup's CPUs whatever execCPUAffinity.final says",
        {
            XO
            + "test_exec_cpu_affinity_final_pins_the_process": "the exec'd process may run on CPUs"
        },
        intercept=exec_process_edited(_drop_final_affinity),
    ),
    Fault(
        "run-keeps-signals",
        "a foreground `runc run` catches the signals sent to it and forwards none",
        {
            RF + f"test_signal_to_runc_run_reaches_the_container[{name}]": (
                f"SIG{name} sent to the foreground `runc run`"
            )
            for name in ("USR1", "TERM")
        },
        intercept=run_keeps_signals,
    ),
    Fault(
        "pause-stopped-accepted",
        "`pause` of a stopped container does nothing and exits 0",
        {SO + "test_pause_of_a_stopped_container_fails": "pause of a stopped container exited 0"},
        intercept=succeeds_when_stopped("pause"),
    ),
    Fault(
        "resume-stopped-accepted",
        "`resume` of a stopped container does nothing and exits 0",
        {SO + "test_resume_of_a_stopped_container_fails": "resume of a stopped container exited 0"},
        intercept=succeeds_when_stopped("resume"),
    ),
    Fault(
        "exec-stopped-accepted",
        "`exec` into a stopped container runs nothing and exits 0",
        {SO + "test_exec_in_a_stopped_container_fails": "exec in a stopped container exited 0"},
        intercept=succeeds_when_stopped("exec"),
    ),
    Fault(
        "kill-unknown-signal-sends-term",
        "`kill` with a signal it does not know sends SIGTERM instead",
        {
            SO + f"test_kill_with_an_unknown_signal_fails_and_sends_nothing[{name}]": (
                f"kill with the unknown signal '{name}' exited 0"
            )
            for name in ("PRTBOGUS", "SIGPRTBOGUS")
        },
        intercept=kill_unknown_signal_sends_term,
    ),
    Fault(
        "resource-fields-unapplied",
        "cpu burst/idle/realtime, memory swappiness/OOM switch and the write/IOPS"
        " throttles are accepted and never written to the cgroup",
        {
            RV + f"test_resource_value_reaches_its_cgroup_file[{name}]": (
                f"{name}: the container's cgroup files"
            )
            for name in _RESOURCE_CHECKS
        },
        mutate=_drop_resource_fields,
    ),
    Fault(
        "seccomp-newer-actions-allowed",
        "seccomp rules with TRAP, KILL_PROCESS, KILL_THREAD or TRACE let the call through",
        {
            SA + f"test_seccomp_action_does_what_it_names[{action}]": f"{action}: mkdir ended with"
            for action in _NEWER_ACTIONS
        },
        mutate=_newer_actions_allowed,
    ),
    Fault(
        "seccomp-log-denies",
        "a seccomp rule with SCMP_ACT_LOG denies the call (EPERM)",
        {
            SA + "test_seccomp_action_does_what_it_names[SCMP_ACT_LOG]": (
                "SCMP_ACT_LOG: mkdir ended with"
            )
        },
        mutate=_log_denies,
    ),
    Fault(
        "seccomp-args-ignored",
        "seccomp rules are applied without their argument conditions",
        {
            SA + f"test_seccomp_rule_matches_only_calls_whose_argument_compares[SCMP_CMP_{op}]": (
                f"SCMP_CMP_{op} (value"
            )
            for op in _COMPARISONS
        },
        mutate=_args_dropped,
    ),
    Fault(
        "hooks-read-a-later-status",
        "each hook reads the status of a later point of the container's life than its own",
        {
            HS + "test_hook_state_has_the_status_of_its_point": (
                "the prestart hook read 'created', not 'creating'"
            )
        },
        mutate=_hooks_read_edited({k: _status(v) for k, v in _STATUS_ONE_STEP_LATE.items()}),
    ),
    Fault(
        "hooks-read-pid-0",
        "every hook reads the state with pid 0, as if the process had not started",
        {HS + "test_hook_state_has_the_container_pid": "the prestart hook read the pid 0, not"},
        mutate=_hooks_read_edited(dict.fromkeys(HOOK_KINDS, 's/"pid":[0-9]*/"pid":0/')),
    ),
    Fault(
        "scheduler-priority-one-lower",
        "a realtime scheduler priority is applied one lower than configured",
        {SC + "test_realtime_priority_is_applied": "policy and rt_priority are ('1', '9')"},
        mutate=_priority_one_lower,
    ),
    Fault(
        "scheduler-deadline-runtime-wrong",
        "a SCHED_DEADLINE runtime is applied as most of the deadline, not as configured",
        {SC + "test_deadline_policy_and_runtime_are_applied": "ns of runtime left, configured"},
        mutate=_deadline_runtime_in_wrong_unit,
    ),
    Fault(
        "scheduler-flags-ignored",
        "process.scheduler.flags are accepted and not applied",
        {SC + "test_reset_on_fork_flag_is_applied": "the process's policy and its child's are"},
        mutate=_scheduler_flags_dropped,
    ),
    Fault(
        "update-flags-unapplied",
        "`runc update` accepts --cpu-period, --cpu-share, --cpuset-cpus, --memory-reservation,"
        " --memory-swap, --cpu-burst, --cpu-idle and --cpu-rt-* and changes nothing",
        {
            UF + f"test_update_flag_rewrites_its_cgroup_file[{name}]": "after `runc update"
            for name in _UPDATE_FLAGS
        },
        intercept=update_options_dropped(*(f"--{name}" for name in _UPDATE_FLAGS)),
    ),
    Fault(
        "create-run-preserve-fds-ignored",
        "create and run accept --preserve-fds and pass no fd on",
        {
            CR + "test_run_preserve_fds_passes_fd_3_on": "run --preserve-fds 1 did not pass fd 3",
            CR + "test_create_preserve_fds_passes_fd_3_on": "create --preserve-fds 1 did not pass",
        },
        intercept=create_run_options_dropped("--preserve-fds"),
    ),
    Fault(
        "run-console-socket-ignored",
        "run ignores --console-socket (and so cannot give a detached process a terminal)",
        {
            CR + "test_run_detach_sends_the_terminal_to_the_console_socket": (
                "no terminal master came over the console socket"
            )
        },
        intercept=create_run_options_dropped("--console-socket"),
    ),
    Fault(
        "rootfs-propagation-mixed-up",
        "linux.rootfsPropagation applies the wrong propagation (shared and private swapped,"
        " unbindable as private)",
        {
            RP + f"test_root_mount_has_the_configured_propagation[{name}]": (
                f"with rootfsPropagation '{name}' the root mount is"
            )
            for name in ("shared", "private", "unbindable")
        },
        mutate=_rootfs_propagation_mixed,
    ),
    Fault(
        "pidfd-of-the-runtime",
        "--pidfd-socket receives a pidfd of the runtime's own process, not the container's",
        {
            PS + "test_pidfd_socket_gets_the_containers_process[create]": (
                "create --pidfd-socket sent pidfd of"
            ),
            PS + "test_pidfd_socket_gets_the_containers_process[run]": (
                "run --pidfd-socket sent pidfd of"
            ),
            PS
            + "test_exec_pidfd_socket_gets_the_execd_process": "exec --pidfd-socket sent pidfd of",
        },
        intercept=pidfd_of_the_runtime,
    ),
    Fault(
        "seccomp-listener-metadata-lost",
        "the state sent to the seccomp listener leaves out listenerMetadata",
        {
            SA + "test_listener_metadata_reaches_the_listener": (
                "the state sent to the listener has metadata None"
            )
        },
        mutate=_listener_metadata_dropped,
    ),
    Fault(
        "state-bundle-as-given",
        "state reports the bundle path as create was given it, relative paths too",
        {
            SV + "test_state_bundle_is_absolute_when_create_got_a_relative_path": (
                "(relative) gave the state bundle '"
            )
        },
        intercept=bundle_echoed_as_given,
    ),
    Fault(
        "state-pid-0-while-created",
        "state reports pid 0 until the container has started",
        {
            SV + "test_state_pid_of_a_created_container_is_the_process_start_runs": (
                "state pid 0 while created"
            )
        },
        intercept=state_rewritten(_no_pid_while_created),
    ),
    Fault(
        "hook-env-dropped",
        "hooks run with an empty environment whatever their env says",
        {HS + "test_hook_of_each_kind_gets_its_env": "the prestart hook had PRT_KIND=''"},
        mutate=_hook_env_dropped,
    ),
    Fault(
        "hook-timeout-prestart-only",
        "only prestart hooks are given up at their timeout; others are waited for",
        {
            "conformance/test_hooks_timeout.py::test_hook_timeout_stops_the_wait_for_every_kind"
            f"[{kind}]": f"s for a {kind} hook with a 1 s timeout"
            for kind in HOOK_KINDS
            if kind != "prestart"
        },
        mutate=_timeouts_only_for_prestart,
    ),
    Fault(
        "log-option-ignored",
        "runc --log FILE logs to stderr as ever and leaves FILE alone",
        {CF + "test_log_file_gets_the_error": "--log FILE: after a failing delete FILE holds ''"},
        intercept=global_options_dropped("--log"),
    ),
    Fault(
        "log-format-ignored",
        "runc --log-format json writes its log as text",
        {CF + "test_log_format_json_writes_json_lines": "--log-format json: the log holds"},
        intercept=global_options_dropped("--log-format"),
    ),
    Fault(
        "list-quiet-ignored",
        "list --quiet prints the table",
        {CF + "test_list_quiet_prints_the_ids_alone": "list --quiet printed ['ID"},
        intercept=list_quiet_ignored,
    ),
    Fault(
        "no-new-keyring-ignored",
        "create/run --no-new-keyring make the container a session keyring all the same",
        {
            CF + "test_no_new_keyring_keeps_the_callers_session_keyring": (
                "with --no-new-keyring the container has a keyring of its own"
            )
        },
        intercept=create_run_options_dropped("--no-new-keyring"),
    ),
    Fault(
        "console-size-ignored",
        "process.consoleSize is accepted and the terminal keeps the pty's default size",
        {CR + "test_console_size_is_the_terminals_size": "with consoleSize 17x53 the process's"},
        mutate=_console_size_dropped,
    ),
]
