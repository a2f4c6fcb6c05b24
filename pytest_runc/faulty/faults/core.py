"""The first faulty runtimes: session, lifecycle, signals, errors, isolation, resources."""

from __future__ import annotations

import os
from collections.abc import Callable

from pytest_runc.faulty import behaviours
from pytest_runc.faulty.model import Config, Fault

TYPE_CHECKING = False  # as typing's, which a wrapper call need not import
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


def _set(path: str, value: Any) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return apply


def _drop_namespace(kind: str) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        linux = config.setdefault("linux", {})
        linux["namespaces"] = [n for n in linux.get("namespaces", []) if n.get("type") != kind]

    return apply


def _drop_resources(config: Config) -> None:
    config.get("linux", {}).pop("resources", None)


def _add_cap(config: Config) -> None:
    caps = config.setdefault("process", {}).setdefault("capabilities", {})
    for key in ("bounding", "effective", "permitted"):
        caps.setdefault(key, []).append("CAP_SYS_ADMIN")


def _tamper_env(config: Config) -> None:
    config.setdefault("process", {}).setdefault("env", []).append("TAMPERED=1")


def _drop_masks(config: Config) -> None:
    config.get("linux", {}).pop("maskedPaths", None)
    config.get("linux", {}).pop("readonlyPaths", None)


def _drop_hooks(config: Config) -> None:
    config.pop("hooks", None)


def _drop_mount_options(config: Config) -> None:
    for mount in config.get("mounts", []):
        if mount.get("destination", "").startswith("/prt-"):
            mount["options"] = [o for o in mount.get("options", []) if o not in {"ro", "nosuid"}]


def _drop_additional_gids(config: Config) -> None:
    config.get("process", {}).get("user", {}).pop("additionalGids", None)


def _drop_umask(config: Config) -> None:
    config.get("process", {}).get("user", {}).pop("umask", None)


def _drop_shm(config: Config) -> None:
    config["mounts"] = [m for m in config.get("mounts", []) if m.get("destination") != "/dev/shm"]


def _drop_namespace_paths(config: Config) -> None:
    for ns in config.get("linux", {}).get("namespaces", []):
        ns.pop("path", None)


def _drop_sysctl(config: Config) -> None:
    config.get("linux", {}).pop("sysctl", None)


def _drop_env(config: Config) -> None:
    proc = config.get("process", {})
    proc["env"] = [e for e in proc.get("env", []) if e.startswith("PATH=") or e.startswith("PS1=")]


def _program_found(bundle: Path, config: Config) -> bool:
    """Whether process.args[0] is in the rootfs (on the process's PATH, or by its path)."""
    process = config.get("process") or {}
    args = process.get("args") or []
    if not args:
        return True  # not this fault's business
    root = bundle / str((config.get("root") or {}).get("path", "rootfs"))
    name = str(args[0])
    if "/" in name:
        return os.path.lexists(root / name.lstrip("/"))
    env = dict(e.split("=", 1) for e in process.get("env", []) if "=" in e)
    dirs = env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":")
    return any(os.path.lexists(root / d.lstrip("/") / name) for d in dirs if d)


@behaviours.acts_on("create", "run")
def missing_program_runs_true(call: behaviours.Call) -> int | None:
    """create/run of a process whose program is not in the container runs `true` instead."""

    def edit(config: dict[str, Any]) -> bool:
        if _program_found(call.bundle, config):
            return False
        config["process"]["args"] = ["true"]
        return True

    return behaviours.run_with_config(call, edit)


S = "conformance/test_session.py::"
L = "conformance/test_lifecycle.py::"
G = "conformance/test_signals.py::"
E = "conformance/test_errors.py::"
I = "conformance/test_isolation.py::"  # noqa: E741
R = "conformance/test_resources.py::"
M = "conformance/test_mounts_exact.py::"

FAULTS: list[Fault] = [
    Fault(
        "wrong-hostname",
        "sets another hostname than configured",
        {S + "test_hostname_is_the_configured_one": "configured 'conformance-host'"},
        mutate=_set("hostname", "wrong"),
    ),
    Fault(
        "no-pid-namespace",
        "runs the container in the host's pid namespace",
        {
            S + "test_shell_is_pid_1_and_sees_no_host_process": "not 1 of a new pid namespace",
            S + "test_proc_lists_only_container_processes": "/proc shows foreign processes",
            I + "test_new_namespaces_differ_from_the_hosts[pid]": "host's pid namespace",
        },
        mutate=_drop_namespace("pid"),
    ),
    Fault(
        "state-lies",
        "`state` always says running",
        {L + "test_create_leaves_a_created_container_with_a_live_init": "expected 'created'"},
        intercept=behaviours.state_lies,
    ),
    Fault(
        "pause-does-not-freeze",
        "pause reports success and paused, freezes nothing",
        {L + "test_pause_freezes_every_process": "while paused"},
        intercept=behaviours.pause_does_not_freeze,
    ),
    Fault(
        "delete-does-nothing",
        "plain delete exits 0 and deletes nothing",
        {L + "test_delete_removes_the_container": "state still answers for a deleted container"},
        intercept=behaviours.delete_does_nothing,
    ),
    Fault(
        "exit-status-lost",
        "`run` always exits 0",
        {
            S + "test_exit_status_is_the_exit_status_of_runc_run[3]": "runc run exited 0",
            S + "test_exit_status_is_the_exit_status_of_runc_run[255]": "runc run exited 0",
            G + "test_runc_run_exits_128_plus_the_signal": "runc run exited 0",
        },
        intercept=behaviours.exit_status_lost,
    ),
    Fault(
        "run-keeps-container",
        "`run` without --keep leaves the stopped container behind",
        {L + "test_run_without_keep_deletes_the_container": "`run` left the container behind"},
        intercept=behaviours.run_keeps_container,
    ),
    Fault(
        "no-cgroup-namespace",
        "ignores a configured cgroup namespace",
        {
            I + "test_new_namespaces_differ_from_the_hosts[cgroup]": "host's cgroup namespace",
            I + "test_cgroup_namespace_hides_the_host_hierarchy": "other than the namespace root",
        },
        mutate=_drop_namespace("cgroup"),
    ),
    Fault(
        "umask-ignored",
        "ignores process.user.umask",
        {I + "test_umask": "umask 0022"},
        mutate=_drop_umask,
    ),
    Fault(
        "no-dev-shm",
        "leaves out the /dev/shm mount",
        {
            M
            + "test_mount_table_is_exactly_the_configured_mounts": "missing inside the container: ['/dev/shm']"
        },
        mutate=_drop_shm,
    ),
    Fault(
        "namespace-path-ignored",
        "makes new namespaces instead of joining the configured paths",
        {
            I + f"test_namespace_path_joins_that_namespace[{kind}]": "did not join"
            for kind in ("network", "ipc", "uts")
        },
        mutate=_drop_namespace_paths,
    ),
    Fault(
        "root-always-readonly",
        "mounts the root read-only even when root.readonly is false",
        {I + "test_writable_root_when_not_readonly": "status=0"},
        mutate=_set("root.readonly", True),
    ),
    Fault(
        "list-hides",
        "`list` leaves out the first container",
        {
            L + "test_list_json_agrees_with_state": "missing from list --format json",
            L + "test_list_table_agrees_with_state": "missing from the list table",
        },
        intercept=behaviours.list_hides,
    ),
    Fault(
        "start-hangs",
        "`start` starts the container, then never returns",
        {L + "test_start_runs_the_program": "did not finish within"},
        intercept=behaviours.start_hangs,
    ),
    Fault(
        "kill-ignored",
        "`kill` exits 0 and sends nothing",
        {
            G + "test_term_reaches_a_process_that_traps_it": "did not print 'got-TERM'",
            G + "test_kill_signal_stops_the_process": "did not reach 'stopped'",
            L + "test_stopped_after_kill": "did not reach 'stopped'",
        },
        intercept=behaviours.kill_ignored,
    ),
    Fault(
        "exec-status-lost",
        "`exec` always exits 0",
        {L + "test_exec_exit_status_is_the_processes[7]": "exec exited 0"},
        intercept=behaviours.exec_status_lost,
    ),
    Fault(
        "duplicate-id-accepted",
        "create with a taken id exits 0",
        {E + "test_duplicate_id_is_refused": "succeeded (exit 0) but must fail"},
        intercept=behaviours.duplicate_id_accepted,
    ),
    Fault(
        "start-twice-accepted",
        "a refused start exits 0",
        {E + "test_start_twice": "succeeded (exit 0) but must fail"},
        intercept=behaviours.refused_start_accepted,
    ),
    Fault(
        "missing-program-runs-true",
        "runs `true` when process.args[0] is not in the container, instead of failing",
        {E + "test_executable_not_found": "succeeded (exit 0) but must fail"},
        intercept=missing_program_runs_true,
    ),
    Fault(
        "readonly-ignored",
        "mounts the root read-write despite root.readonly",
        {I + "test_readonly_root": "wrote to a read-only root"},
        mutate=_set("root.readonly", False),
    ),
    Fault(
        "masks-dropped",
        "ignores maskedPaths and readonlyPaths",
        {
            I + "test_masked_file_reads_empty": "bytes inside",
            I + "test_masked_directory_is_empty": " shows ['",
            I + "test_readonly_paths_are_read_only": "is not a mount of its own",
        },
        mutate=_drop_masks,
    ),
    Fault(
        "extra-capability",
        "grants CAP_SYS_ADMIN on top of the configured set",
        {
            I
            + f"test_capability_set_is_exactly_the_configured_one[{kind}]": "added ['CAP_SYS_ADMIN']"
            for kind in ("bounding", "effective", "permitted")
        },
        mutate=_add_cap,
    ),
    Fault(
        "rlimits-ignored",
        "does not apply process.rlimits",
        {I + "test_rlimits_are_applied": "Max open files"},
        mutate=_set("process.rlimits", []),
    ),
    Fault(
        "no-new-privileges-dropped",
        "ignores noNewPrivileges",
        {I + "test_no_new_privileges[True]": "NoNewPrivs"},
        mutate=_set("process.noNewPrivileges", False),
    ),
    Fault(
        "user-ignored",
        "runs the process as root whatever process.user says",
        {
            S + "test_id_is_the_configured_user": "configured uid 1234 gid 5678",
            I + "test_user_uid_and_gid": "uid ['0', '0']",
        },
        mutate=_set("process.user", {"uid": 0, "gid": 0}),
    ),
    Fault(
        "additional-gids-dropped",
        "ignores process.user.additionalGids",
        {I + "test_additional_gids": "supplementary groups []"},
        mutate=_drop_additional_gids,
    ),
    Fault(
        "cwd-ignored",
        "starts the process in / whatever process.cwd says",
        {I + "test_cwd": "started in '/'"},
        mutate=_set("process.cwd", "/"),
    ),
    Fault(
        "env-dropped",
        "passes only PATH to the process",
        {I + "test_env_is_exactly_the_configured_environment": "missing ['PRT_EMPTY=',"},
        mutate=_drop_env,
    ),
    Fault(
        "no-network-namespace",
        "shares the host's network namespace",
        {I + "test_new_namespaces_differ_from_the_hosts[network]": "host's network namespace"},
        mutate=_drop_namespace("network"),
    ),
    Fault(
        "no-ipc-namespace",
        "shares the host's ipc namespace",
        {I + "test_new_namespaces_differ_from_the_hosts[ipc]": "host's ipc namespace"},
        mutate=_drop_namespace("ipc"),
    ),
    Fault(
        "mount-options-dropped",
        "drops ro and nosuid from bind mounts",
        {M + "test_ro_bind_mount_refuses_writes": "wrote through a read-only bind mount"},
        mutate=_drop_mount_options,
    ),
    Fault(
        "sysctl-ignored",
        "does not apply linux.sysctl",
        {I + "test_sysctl_is_applied": "ip_forward"},
        mutate=_drop_sysctl,
    ),
    Fault(
        "oom-score-ignored",
        "does not apply process.oomScoreAdj",
        {I + "test_oom_score_adj": "oom_score_adj"},
        mutate=_set("process.oomScoreAdj", 0),
    ),
    Fault(
        "resources-ignored",
        "applies no cgroup limits",
        {
            R + "test_memory_limit": "memory limit",
            R + "test_pids_limit": "pids.max is max",
            R + "test_pids_limit_stops_a_fork_bomb": "no fork was refused",
            R + "test_cpu_shares": "cpu.shares",
        },
        mutate=_drop_resources,
    ),
    Fault(
        "hooks-not-run",
        "ignores the hooks",
        {R + "test_hooks_run_in_order": "hooks ran in the order []"},
        mutate=_drop_hooks,
    ),
    Fault(
        "config-tampered",
        "edits config.json in place before running (adds an env var)",
        {I + "test_config_json_is_not_rewritten": "config.json on disk changed"},
        mutate=_tamper_env,
        tamper=True,
    ),
]
