"""Faulty runtimes for config.md: mount options and order, hooks, the process
object and the config's other fields, each with one rule broken."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from pytest_runc.faulty import behaviours
from pytest_runc.faulty.model import Config, Fault

TYPE_CHECKING = False  # as typing's, which a wrapper call need not import
if TYPE_CHECKING:
    from typing import Any

O = "conformance/test_mount_options.py::"  # noqa: E741
MOUNT_FLAG = O + "test_mount_option_sets_the_flags_mount8_sets"
RECURSIVE = O + "test_recursive_option_reaches_every_submount"

#: Options that set a flag, options that clear one, access-time options, flags a
#: tmpfs does not show, and the recursive options the checks use.
SETTING = [
    "ro", "nosuid", "nodev", "noexec", "sync", "dirsync", "noatime", "strictatime",
    "nodiratime", "lazytime", "nosymfollow",
]  # fmt: skip
CLEARING = [
    "rw", "suid", "dev", "exec", "async", "atime", "diratime", "nostrictatime", "nolazytime",
    "symfollow",
]  # fmt: skip
ATIME = ["atime", "relatime", "norelatime", "nostrictatime"]
UNSEEN = ["iversion", "noiversion", "silent", "loud", "defaults"]
#: Options mount(8) keeps to itself.
MOUNT8_ONLY = ["nofail"]
RECURSIVE_OPTIONS = [
    "rro", "rrw", "rnosuid", "rsuid", "rdev", "rnoexec", "rexec", "rnoatime", "ratime",
    "rstrictatime", "rnostrictatime", "rrelatime", "rnodiratime", "rdiratime", "rnosymfollow",
    "rsymfollow",
]  # fmt: skip
_PROPAGATION_SWAP = {
    "private": "shared",
    "shared": "private",
    "slave": "private",
    "unbindable": "private",
    "rprivate": "rshared",
    "rshared": "rprivate",
    "rslave": "rprivate",
    "runbindable": "rprivate",
}


def _mount_options(
    edit: Callable[[list[str]], list[str]], *, binds_only: bool = False
) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        for mount in config.get("mounts", []):
            options = list(mount.get("options", []))
            if binds_only and not {"bind", "rbind"} & set(options):
                continue
            mount["options"] = edit(options)

    return apply


def _without_idmap(config: Config) -> None:
    for mount in config.get("mounts", []):
        mount["options"] = [o for o in mount.get("options", []) if o not in ("idmap", "ridmap")]
        mount.pop("uidMappings", None)
        mount.pop("gidMappings", None)


def _unmapped_idmap_dropped(config: Config) -> None:
    for mount in config.get("mounts", []):
        if "uidMappings" not in mount:
            options = mount.get("options", [])
            mount["options"] = [o for o in options if o not in ("idmap", "ridmap")]


def _reverse_mounts(config: Config) -> None:
    config["mounts"] = list(reversed(config.get("mounts", [])))


def _relative_to_cwd(config: Config) -> None:
    cwd = config.get("process", {}).get("cwd", "/").rstrip("/")
    for mount in config.get("mounts", []):
        if not mount.get("destination", "/").startswith("/"):
            mount["destination"] = f"{cwd}/{mount['destination']}"


FAULTS: list[Fault] = [
    Fault(
        "mount-setting-options-ignored",
        "ignores the mount options that set a flag (ro, nosuid, noexec, sync, noatime, ...)",
        {f"{MOUNT_FLAG}[{name}]": f"mount option {name}:" for name in SETTING},
        mutate=_mount_options(lambda options: [o for o in options if o not in SETTING]),
    ),
    Fault(
        "mount-clearing-options-ignored",
        "ignores the mount options that clear a flag (rw, suid, exec, async, atime, ...)",
        {f"{MOUNT_FLAG}[{name}]": f"mount option {name}:" for name in CLEARING},
        mutate=_mount_options(lambda options: [o for o in options if o not in CLEARING]),
    ),
    Fault(
        "atime-options-as-noatime",
        "takes every access-time option (atime, relatime, norelatime, ...) for noatime",
        {f"{MOUNT_FLAG}[{name}]": f"mount option {name}:" for name in ATIME},
        mutate=_mount_options(lambda options: ["noatime" if o in ATIME else o for o in options]),
    ),
    Fault(
        "mount-flags-passed-as-data",
        "does not know iversion, noiversion, silent, loud, defaults and nofail: hands them"
        " to the filesystem as data",
        {
            **{
                f"{MOUNT_FLAG}[{name}]": "the container did not start with mounts"
                for name in UNSEEN
            },
            O + "test_mount8_only_option_is_not_handed_to_the_kernel": (
                "the container did not start with mounts"
            ),
        },
        mutate=_mount_options(
            lambda options: [f"x-{o}" if o in UNSEEN + MOUNT8_ONLY else o for o in options]
        ),
    ),
    Fault(
        "recursive-options-top-only",
        "applies rro, rnosuid, ratime, ... to the top mount only, not to its submounts",
        {f"{RECURSIVE}[{name}]": f"recursive option {name}:" for name in RECURSIVE_OPTIONS},
        mutate=_mount_options(
            lambda options: [o[1:] if o in RECURSIVE_OPTIONS else o for o in options],
            binds_only=True,
        ),
    ),
    Fault(
        "rnorelatime-as-rrelatime",
        "takes rnorelatime for rrelatime: sets relatime on the whole tree",
        {f"{RECURSIVE}[rnorelatime]": "recursive option rnorelatime:"},
        mutate=_mount_options(
            lambda options: ["rrelatime" if o == "rnorelatime" else o for o in options],
            binds_only=True,
        ),
    ),
    Fault(
        "bind-propagation-wrong",
        "gives bind mounts another propagation than asked (shared for private, ...)",
        {
            **{
                f"{O}test_propagation_option[{name}]": "has propagation"
                for name in ("private", "shared", "slave", "unbindable")
            },
            **{
                f"{O}test_recursive_propagation_option[{name}]": f"rbind with {name}:"
                for name in ("rprivate", "rshared", "rslave", "runbindable")
            },
        },
        mutate=_mount_options(
            lambda options: [_PROPAGATION_SWAP.get(o, o) for o in options], binds_only=True
        ),
    ),
    Fault(
        "remount-as-new-mount",
        "ignores remount: stacks a new mount on the existing one",
        {O + "test_remount_changes_the_existing_mount": "remount stacked a new mount"},
        mutate=_mount_options(lambda options: [o for o in options if o != "remount"]),
    ),
    Fault(
        "mounts-reversed",
        "makes the mounts in the reverse order of the mounts array",
        {
            f"{O}test_mounts_are_made_in_config_order[{order}]": "were not made in that order"
            for order in ("outer-first", "inner-first")
        },
        mutate=_reverse_mounts,
    ),
    Fault(
        "idmap-mappings-ignored",
        "makes idmap and ridmap mounts as plain binds, without their mappings",
        {
            O + "test_idmap_mount_maps_owners_with_its_mappings": "through the idmap mount",
            O + "test_ridmap_mount_maps_every_submount": "through the ridmap mount",
        },
        mutate=_without_idmap,
    ),
    Fault(
        "idmap-without-mappings-accepted",
        "makes an idmap mount that has no mappings as a plain bind instead of failing",
        {
            f"{O}test_idmap_without_mappings_or_user_namespace_is_refused[{option}]": (
                f"accepted an {option} mount without mappings"
            )
            for option in ("idmap", "ridmap")
        },
        mutate=_unmapped_idmap_dropped,
    ),
    Fault(
        "tmpcopyup-ignored",
        "mounts an empty tmpfs where tmpcopyup asks for the directory's files",
        {
            O
            + "test_tmpcopyup_copies_the_directory_into_the_tmpfs": "the rootfs files were not copied"
        },
        mutate=_mount_options(lambda options: [o for o in options if o != "tmpcopyup"]),
    ),
    Fault(
        "relative-destination-from-cwd",
        "resolves a relative mount destination against process.cwd instead of /",
        {O + "test_relative_destination_is_taken_from_the_root": "was mounted at"},
        mutate=_relative_to_cwd,
    ),
]


# -- hooks -----------------------------------------------------------------
H = "conformance/test_hooks.py::"
_KINDS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


def _each_hook(edit: Callable[[str, dict[str, Any]], None]) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        for kind, hooks in config.get("hooks", {}).items():
            for hook in hooks:
                edit(kind, hook)

    return apply


def _wrap(hook: dict[str, Any], shell: str, script: str) -> None:
    """Run the hook through ``shell -c script`` ("$0" "$@" is the hook itself)."""
    argv = hook.get("args") or [hook["path"]]
    hook["args"] = ["sh", "-c", script, hook["path"], *argv[1:]]
    hook["path"] = shell


def _wrong_lookup(kind: str, hook: dict[str, Any]) -> None:
    # The path as the other namespace sees it: a directory that namespace has not.
    hook["path"] = "/prt-other-namespace" + hook["path"]


def _own_mount_namespace(kind: str, hook: dict[str, Any]) -> None:
    # startContainer runs after pivot_root: the container's busybox unshare.
    unshare = "/bin/unshare" if kind == "startContainer" else "/usr/bin/unshare"
    argv = hook.get("args") or [hook["path"]]
    hook["args"] = ["unshare", "-m", "--", hook["path"], *argv[1:]]
    hook["path"] = unshare


def _with_sys_admin(config: Config) -> None:
    caps = config.setdefault("process", {}).setdefault("capabilities", {})
    for key in ("bounding", "effective", "permitted"):
        if "CAP_SYS_ADMIN" not in caps.setdefault(key, []):
            caps[key].append("CAP_SYS_ADMIN")


def _hooks_in_own_mount_namespace(config: Config) -> None:
    _each_hook(_own_mount_namespace)(config)
    if config.get("hooks", {}).get("startContainer"):
        _with_sys_admin(config)  # unshare in the container needs it


def _late(kind: str, hook: dict[str, Any]) -> None:
    # The hook returns at once; the real one runs two seconds later, with
    # the state on the saved stdin and its output away from the runtime's pipes.
    _wrap(hook, "/bin/sh", 'exec 3<&0; (sleep 2; "$0" "$@" <&3) >/dev/null 2>&1 &')


def _reverse_hooks(config: Config) -> None:
    for kind, hooks in config.get("hooks", {}).items():
        config["hooks"][kind] = list(reversed(hooks))


def _create_container_first(config: Config) -> None:
    hooks = config.get("hooks", {})
    moved = hooks.pop("createContainer", [])
    if moved:
        hooks["createRuntime"] = moved + hooks.get("createRuntime", [])


def _argv0_is_path(kind: str, hook: dict[str, Any]) -> None:
    if hook.get("args"):
        hook["args"][0] = hook["path"]


def _env_added(kind: str, hook: dict[str, Any]) -> None:
    hook["env"] = [*hook.get("env", []), "PRT_RUNTIME=1"]


def _failures_ignored(kind: str, hook: dict[str, Any]) -> None:
    _wrap(hook, "/bin/sh", '"$0" "$@" || true')


def _poststop_stops_at_first(config: Config) -> None:
    hooks = config.get("hooks", {})
    if hooks.get("poststop"):
        hooks["poststop"] = hooks["poststop"][:1]


FAULTS += [
    Fault(
        "hook-paths-looked-up-in-wrong-namespace",
        "looks a hook's path up in the container (startContainer: in the runtime's namespace)",
        {f"{H}test_hook_path_is_looked_up_where_the_spec_says[{k}]": "did not run" for k in _KINDS},
        mutate=_each_hook(_wrong_lookup),
    ),
    Fault(
        "hooks-in-own-mount-namespace",
        "runs every hook in a new mount namespace of its own",
        {
            f"{H}test_hook_runs_in_the_namespace_the_spec_says[{k}]": "ran in mount namespace"
            for k in _KINDS
        },
        mutate=_hooks_in_own_mount_namespace,
    ),
    Fault(
        "hooks-run-late",
        "starts each hook in the background and goes on without waiting for it",
        {
            **{
                f"{H}test_create_hook_runs_during_create_before_pivot_root[{k}]": (
                    f"the {k} hook had not run when create returned"
                )
                for k in ("prestart", "createRuntime", "createContainer")
            },
            H + "test_start_container_hook_runs_before_the_program": "the program started before",
            H + "test_poststart_hook_runs_before_start_returns": "the poststart hook",
            H + "test_poststop_hook_runs_after_delete_before_it_returns": (
                "had not run when delete returned"
            ),
        },
        mutate=_each_hook(_late),
    ),
    Fault(
        "hooks-reversed",
        "runs the hooks of each kind from the last to the first",
        {H + "test_hooks_of_a_kind_run_in_array_order": "not in the order of their arrays"},
        mutate=_reverse_hooks,
    ),
    Fault(
        "create-container-hooks-first",
        "runs the createContainer hooks before the createRuntime ones",
        {
            H
            + "test_create_container_hooks_run_after_create_runtime_hooks": "hooks ran in the order"
        },
        mutate=_create_container_first,
    ),
    Fault(
        "hook-argv0-is-path",
        "starts hooks with their path as argv[0] instead of args[0]",
        {H + "test_hook_argv_is_its_args": "the hook's argv is"},
        mutate=_each_hook(_argv0_is_path),
    ),
    Fault(
        "hook-env-added",
        "adds a variable of its own to every hook's environment",
        {H + "test_hook_environment_is_exactly_its_env": "added ['PRT_RUNTIME=1']"},
        mutate=_each_hook(_env_added),
    ),
    Fault(
        "hook-timeout-ignored",
        "waits for hooks however long they take",
        {H + "test_hook_timeout_stops_the_wait": "for a hook with a 1 s timeout"},
        mutate=_each_hook(lambda kind, hook: hook.pop("timeout", None)),
    ),
    Fault(
        "failing-hooks-ignored",
        "takes a hook that fails for one that succeeded",
        {
            **{
                f"{H}test_failing_create_hook_fails_create_and_destroys[{k}]": (
                    f"create with a failing {k} hook: `"
                )
                for k in ("prestart", "createRuntime", "createContainer")
            },
            H + "test_failing_start_container_hook_fails_start_and_stops": (
                "start with a failing startContainer hook: `"
            ),
            H + "test_failing_poststart_hook_fails_start_and_stops": (
                "start with a failing poststart hook: `"
            ),
        },
        mutate=_each_hook(_failures_ignored),
    ),
    Fault(
        "poststop-stops-at-first-failure",
        "runs no poststop hook after a failing one",
        {H + "test_failing_poststop_hook_is_only_a_warning": "after the failing one did not run"},
        mutate=_poststop_stops_at_first,
    ),
]


# -- the process object ----------------------------------------------------
P = "conformance/test_process.py::"
_KNOWN_RLIMITS = {
    f"RLIMIT_{name}"
    for name in (
        "CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK", "AS",
        "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME",
    )
}  # fmt: skip


def _process_edit(edit: Callable[[dict[str, Any]], None]) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        if isinstance(config.get("process"), dict):
            edit(config["process"])

    return apply


def _default_program(process: dict[str, Any]) -> None:
    if process.get("args") == []:
        process["args"] = ["sh"]


def _rlimits(
    edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
) -> Callable[[Config], None]:
    def apply(process: dict[str, Any]) -> None:
        if "rlimits" in process:
            process["rlimits"] = edit(list(process["rlimits"]))

    return _process_edit(apply)


def _last_of_each_type(limits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({limit.get("type"): limit for limit in limits}.values())


def _unknown_capabilities(process: dict[str, Any]) -> set[str]:
    # Imported here: pytest_runc.oci.linux imports dataclasses, which a call of
    # every other fault of this module would pay for.
    from pytest_runc.oci.linux import CAPABILITIES

    return {
        name
        for names in process.get("capabilities", {}).values()
        for name in names
        if name not in CAPABILITIES
    }


def _refuse_unknown_capabilities(process: dict[str, Any]) -> None:
    if _unknown_capabilities(process):
        # the runtime's refusal, made with an rlimit the real runtime refuses
        process.setdefault("rlimits", []).append(
            {"type": "RLIMIT_PRT_REFUSED", "soft": 0, "hard": 0}
        )


def _drop_unknown_capabilities(process: dict[str, Any]) -> None:
    unknown = _unknown_capabilities(process)
    for key, names in process.get("capabilities", {}).items():
        process["capabilities"][key] = [n for n in names if n not in unknown]


def _default_oom_score_adj(process: dict[str, Any]) -> None:
    process.setdefault("oomScoreAdj", 100)


def _terminal_for_console_size(process: dict[str, Any]) -> None:
    if "consoleSize" in process:
        process["terminal"] = True


_EXEC_VALUE_OPTIONS = {"--env", "-e", "--cwd", "--user", "-u", "--process", "-p", "--cap", "-c"}
_EXEC_VALUE_OPTIONS |= {"--console-socket", "--pid-file", "--additional-gids", "-g"}
_EXEC_VALUE_OPTIONS |= {"--process-label", "--apparmor", "--preserve-fds", "--cgroup"}


@behaviours.acts_on("exec")
def exec_pinned_to_cpu0(call: behaviours.Call) -> int | None:
    """``exec`` that pins the new process to CPU 0 after it joined the cgroup."""
    if call.command != "exec":
        return None
    index = 0
    while index < len(call.sub) and call.sub[index].startswith("-"):
        index += 2 if call.sub[index] in _EXEC_VALUE_OPTIONS else 1
    sub = [*call.sub[: index + 1], "taskset", "-c", "0", *call.sub[index + 1 :]]
    argv = [call.real_binary, *call.global_opts, "exec", *sub]
    return behaviours.exit_of(behaviours.run(argv).returncode)


FAULTS += [
    Fault(
        "empty-args-run-a-shell",
        "runs a shell when process.args is empty",
        {P + "test_empty_args_is_refused": "accepted empty process.args"},
        mutate=_process_edit(_default_program),
    ),
    Fault(
        "unknown-rlimits-skipped",
        "skips rlimit types it does not know instead of refusing them",
        {P + "test_unknown_rlimit_type_is_refused": "accepted rlimit type RLIMIT_PRT_BOGUS"},
        mutate=_rlimits(lambda limits: [r for r in limits if r.get("type") in _KNOWN_RLIMITS]),
    ),
    Fault(
        "duplicate-rlimits-last-wins",
        "takes the last of two rlimits of one type instead of refusing them",
        {P + "test_duplicate_rlimit_type_is_refused": "accepted two rlimits of type"},
        mutate=_rlimits(_last_of_each_type),
    ),
    Fault(
        "rlimits-other-than-nofile-ignored",
        "sets RLIMIT_NOFILE and no other rlimit",
        {P + "test_every_configured_rlimit_is_in_force": "rlimits not as configured"},
        mutate=_rlimits(lambda limits: [r for r in limits if r.get("type") == "RLIMIT_NOFILE"]),
    ),
    Fault(
        "unknown-capability-fatal",
        "refuses to start a container that asks for a capability it does not know",
        {P + "test_unknown_capability_does_not_stop_the_container": "did not start with"},
        mutate=_process_edit(_refuse_unknown_capabilities),
    ),
    Fault(
        "unknown-capability-dropped-silently",
        "drops capabilities it does not know without a warning",
        {P + "test_unknown_capability_is_warned_about": "no warning names CAP_PRT_BOGUS"},
        mutate=_process_edit(_drop_unknown_capabilities),
    ),
    Fault(
        "oom-score-adj-defaulted",
        "writes an oom_score_adj of 100 when oomScoreAdj is absent",
        {P + "test_oom_score_adj_is_inherited_when_absent": "oom_score_adj is 100"},
        mutate=_process_edit(_default_oom_score_adj),
    ),
    Fault(
        "console-size-gives-terminal",
        "gives the process a terminal whenever consoleSize is set",
        {P + "test_console_size_is_ignored_without_terminal": "did not run with consoleSize"},
        mutate=_process_edit(_terminal_for_console_size),
    ),
    Fault(
        "scheduler-ignored",
        "leaves the process with the default scheduler whatever process.scheduler says",
        {P + "test_scheduler_policy_and_nice_are_applied": "nice and policy are"},
        mutate=_process_edit(lambda process: process.pop("scheduler", None)),
    ),
    Fault(
        "io-priority-ignored",
        "leaves the process's I/O priority alone whatever process.ioPriority says",
        {P + "test_io_priority_is_applied": "the I/O priority is"},
        mutate=_process_edit(lambda process: process.pop("ioPriority", None)),
    ),
    Fault(
        "exec-pinned-to-cpu0",
        "pins every exec'd process to CPU 0 once it joined the container's cgroup",
        {P + "test_exec_cpu_affinity_left_to_the_cgroup": "the exec'd process may run on CPUs 0,"},
        intercept=exec_pinned_to_cpu0,
    ),
]


# -- the config's other fields ----------------------------------------------
X = "conformance/test_config_misc.py::"
#: config.json's top-level properties in spec 1.3 (any platform).
_KNOWN_TOP = {"ociVersion", "root", "mounts", "process", "hostname", "domainname", "hooks"}
_KNOWN_TOP |= {"annotations", "linux", "windows", "solaris", "vm", "zos", "freebsd"}


def _refuse(config: Config) -> None:
    """Make the real runtime refuse the config (an rlimit type it does not know)."""
    process = config.setdefault("process", {})
    process.setdefault("rlimits", []).append({"type": "RLIMIT_PRT_REFUSED", "soft": 0, "hard": 0})


def _refuse_unknown_properties(config: Config) -> None:
    if set(config) - _KNOWN_TOP:
        _refuse(config)


def _refuse_unknown_annotations(config: Config) -> None:
    keys = config.get("annotations", {})
    if any(not key.startswith("org.opencontainers.image.") for key in keys):
        _refuse(config)


def _coerce_readonly(config: Config) -> None:
    root = config.get("root", {})
    if "readonly" in root and not isinstance(root["readonly"], bool):
        root["readonly"] = bool(root["readonly"])


@behaviours.acts_on("state")
def state_without_annotations(call: behaviours.Call) -> int | None:
    """``state`` that leaves the annotations out."""
    if call.command != "state":
        return None
    done = behaviours.run(call.real, capture=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        return int(done.returncode)
    data = json.loads(done.stdout)
    data.pop("annotations", None)
    sys.stdout.write(json.dumps(data, indent=2))
    return 0


def _default_hostname(config: Config) -> None:
    namespaces = config.get("linux", {}).get("namespaces", [])
    if "hostname" not in config and any(
        n.get("type") == "uts" and not n.get("path") for n in namespaces
    ):
        config["hostname"] = "runc"


FAULTS += [
    Fault(
        "unknown-properties-refused",
        "refuses a config with a top-level property it does not know",
        {X + "test_unknown_properties_are_ignored": "refused a config with unknown properties"},
        mutate=_refuse_unknown_properties,
    ),
    Fault(
        "unknown-annotations-refused",
        "refuses annotation keys outside org.opencontainers.image.*",
        {X + "test_unknown_annotation_keys_are_ignored": "refused unknown annotation keys"},
        mutate=_refuse_unknown_annotations,
    ),
    Fault(
        "invalid-values-coerced",
        "takes a string root.readonly for a boolean instead of refusing it",
        {X + "test_invalid_value_is_an_error": 'accepted root.readonly "yes"'},
        mutate=_coerce_readonly,
    ),
    Fault(
        "state-without-annotations",
        "leaves the annotations out of `state`",
        {X + "test_annotations_appear_in_state": "state shows annotations None"},
        intercept=state_without_annotations,
    ),
    Fault(
        "stop-signal-ignored",
        "stops containers with SIGTERM whatever org.opencontainers.image.stopSignal says",
        {X + "test_image_stop_signal_stops_the_container": "did not send SIGUSR1"},
        mutate=lambda config: config.get("annotations", {}).pop(
            "org.opencontainers.image.stopSignal", None
        ),
    ),
    Fault(
        "domainname-ignored",
        "does not set the domainname",
        {X + "test_domainname_is_set": "the domain name inside is '(none)'"},
        mutate=lambda config: config.pop("domainname", None),
    ),
    Fault(
        "hostname-defaulted",
        "names the container 'runc' when the config has no hostname",
        {X + "test_no_hostname_keeps_the_inherited_one": "without a hostname field"},
        mutate=_default_hostname,
    ),
]
