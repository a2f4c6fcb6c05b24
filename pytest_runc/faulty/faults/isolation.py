"""Faulty runtimes for isolation: runtimes that add what the config did not ask
for (mounts, devices, capabilities, processes) or drop a detail of it."""

from __future__ import annotations

from collections.abc import Callable

from pytest_runc.faulty import behaviours
from pytest_runc.faulty.model import Config, Fault

TYPE_CHECKING = False  # as typing's, which a wrapper call need not import
if TYPE_CHECKING:
    from typing import Any

I = "conformance/test_isolation.py::"  # noqa: E741
M = "conformance/test_mounts_exact.py::"
D = "conformance/test_devices.py::"
R = "conformance/test_resources.py::"


def _add_host_bind_mount(config: Config) -> None:
    config.setdefault("mounts", []).append(
        {"destination": "/host-etc", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]}
    )


def _edit_mount_options(edit: Callable[[list[str]], list[str]]) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        for mount in config.get("mounts", []):
            mount["options"] = edit(list(mount.get("options", [])))

    return apply


def _without(*names: str) -> Callable[[list[str]], list[str]]:
    return lambda options: [o for o in options if o not in names]


def _without_prefix(prefix: str) -> Callable[[list[str]], list[str]]:
    return lambda options: [o for o in options if not o.startswith(prefix)]


def _swap(old: str, new: str) -> Callable[[list[str]], list[str]]:
    return lambda options: [new if o == old else o for o in options]


def _binds_as_tmpfs(config: Config) -> None:
    for mount in config.get("mounts", []):
        if {"bind", "rbind"} & set(mount.get("options", [])):
            options = [o for o in mount["options"] if o not in {"bind", "rbind"}]
            mount.update(type="tmpfs", source="tmpfs", options=options)


def _add_device(device: dict[str, Any]) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        config.setdefault("linux", {}).setdefault("devices", []).append(dict(device))

    return apply


def _drop_devices(config: Config) -> None:
    config.get("linux", {}).pop("devices", None)


def _add_capability(kind: str, name: str) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        caps = config.setdefault("process", {}).setdefault("capabilities", {})
        if name not in caps.setdefault(kind, []):
            caps[kind].append(name)

    return apply


def _before_exec(script: str) -> Callable[[Config], None]:
    """Run ``script`` in the container just before the configured process (as a
    runtime's own setup step would)."""

    def apply(config: Config) -> None:
        process = config.get("process", {})
        if process.get("args"):
            process["args"] = ["/bin/sh", "-c", f'{script}\nexec "$0" "$@"', *process["args"]]

    return apply


def _drop_cgroups_path(config: Config) -> None:
    config.get("linux", {}).pop("cgroupsPath", None)


def _widen_inheritable(config: Config) -> None:
    # The first bounding capability not inheritable yet: the kernel refuses an
    # inheritable capability outside the bounding set, and a runtime that
    # could not start containers would prove nothing.
    caps = config.setdefault("process", {}).setdefault("capabilities", {})
    inheritable = caps.setdefault("inheritable", [])
    extra = [c for c in caps.get("bounding", []) if c not in inheritable]
    inheritable.extend(extra[:1])


def _share_uts_namespace(config: Config) -> None:
    # A hostname needs a uts namespace of its own: runc refuses the pair.
    linux = config.setdefault("linux", {})
    linux["namespaces"] = [n for n in linux.get("namespaces", []) if n.get("type") != "uts"]
    config.pop("hostname", None)


def _hooks_without_stdin(config: Config) -> None:
    for hooks in config.get("hooks", {}).values():
        for hook in hooks:
            argv = hook.get("args") or [hook["path"]]
            hook["args"] = ["sh", "-c", 'exec "$0" "$@" </dev/null', hook["path"], *argv[1:]]
            hook["path"] = "/bin/sh"


def _prestart_hooks_last(config: Config) -> None:
    hooks = config.get("hooks", {})
    if hooks.get("prestart"):
        hooks["poststop"] = hooks.get("poststop", []) + hooks.pop("prestart")


#: A second zero device, where the spec wants the null device.
_NULL_AS_ZERO = {"path": "/dev/null", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666}
_KMSG = {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600}

FAULTS: list[Fault] = [
    Fault(
        "host-bind-mount-added",
        "bind-mounts the host's /etc into every container (read-only)",
        {M + "test_mount_table_is_exactly_the_configured_mounts": "/host-etc"},
        mutate=_add_host_bind_mount,
    ),
    Fault(
        "mount-flags-dropped",
        "mounts everything without ro, nosuid, noexec and nodev",
        {
            M + f"test_mount_flag_is_exactly_as_configured[{flag}]": f"{flag} not as configured"
            for flag in ("ro", "nosuid", "noexec", "nodev")
        },
        mutate=_edit_mount_options(_without("ro", "nosuid", "noexec", "nodev")),
    ),
    Fault(
        "mount-size-ignored",
        "ignores size= (tmpfs mounts get the kernel's default size)",
        {M + "test_mount_data_option_is_applied[size]": "size= not applied"},
        mutate=_edit_mount_options(_without_prefix("size=")),
    ),
    Fault(
        "mount-mode-ignored",
        "ignores mode= (tmpfs and devpts get the kernel's default mode)",
        {M + "test_mount_data_option_is_applied[mode]": "mode= not applied"},
        mutate=_edit_mount_options(_without_prefix("mode=")),
    ),
    Fault(
        "rbind-as-bind",
        "bind-mounts without the submounts where rbind is asked for",
        {M + "test_rbind_mount_is_recursive": "did not bring its submounts"},
        mutate=_edit_mount_options(_swap("rbind", "bind")),
    ),
    Fault(
        "bind-as-rbind",
        "bind-mounts recursively where a plain bind is asked for",
        {M + "test_bind_mount_is_not_recursive": "brought its submounts"},
        mutate=_edit_mount_options(_swap("bind", "rbind")),
    ),
    Fault(
        "bind-mounts-empty",
        "mounts an empty tmpfs where a bind mount of a host directory is asked for",
        {M + "test_bind_mount_shows_the_host_directory": "/prt-data/hello reads"},
        mutate=_binds_as_tmpfs,
    ),
    Fault(
        "device-added",
        "adds /dev/kmsg to every container",
        {D + "test_dev_holds_exactly_runcs_entries": "['kmsg']"},
        mutate=_add_device(_KMSG),
    ),
    Fault(
        "null-device-wrong",
        "makes /dev/null a zero device",
        {D + "test_default_devices_are_the_right_nodes": "'null': ('c', 1, 5"},
        mutate=_add_device(_NULL_AS_ZERO),
    ),
    Fault(
        "devices-ignored",
        "creates none of linux.devices",
        {
            D + "test_configured_device_is_created": "/dev/prt-zero was not created",
            D + "test_dev_holds_the_default_and_configured_devices": "lacks ['prt-zero']",
        },
        mutate=_drop_devices,
    ),
    Fault(
        "ptmx-elsewhere",
        "makes /dev/ptmx a link to another device than the container's /dev/pts/ptmx",
        {D + "test_ptmx_leads_to_the_containers_devpts": "/dev/ptmx is not /dev/pts/ptmx"},
        mutate=_before_exec("ln -sf null /dev/ptmx"),
    ),
    Fault(
        "inheritable-capability-added",
        "adds a bounding capability to the inheritable set",
        {
            I + "test_capability_set_is_exactly_the_configured_one[inheritable]": (
                "added ['CAP_AUDIT_WRITE']"
            )
        },
        mutate=_widen_inheritable,
    ),
    Fault(
        "ambient-capability-added",
        "raises CAP_KILL in the ambient set",
        {I + "test_capability_set_is_exactly_the_configured_one[ambient]": "added ['CAP_KILL']"},
        mutate=_add_capability("ambient", "CAP_KILL"),
    ),
    Fault(
        "process-left-in-container",
        "leaves a helper process running in the container's pid namespace",
        {I + "test_no_process_beyond_the_containers_own": "besides its own"},
        # a helper left running next to the process, as a runtime's shim might
        mutate=_before_exec("sleep 1000 </dev/null >/dev/null 2>&1 &"),
    ),
    Fault(
        "cgroups-path-ignored",
        "puts the container in its default cgroup whatever cgroupsPath says",
        {I + "test_cgroup_path_is_the_configured_cgroups_path": "other than the configured"},
        mutate=_drop_cgroups_path,
    ),
    Fault(
        "no-uts-namespace",
        "shares the host's uts namespace (and sets no hostname)",
        {I + "test_new_namespaces_differ_from_the_hosts[uts]": "host's uts namespace"},
        mutate=_share_uts_namespace,
    ),
    Fault(
        "no-new-privileges-forced",
        "sets no_new_privs whatever noNewPrivileges says",
        {I + "test_no_new_privileges[False]": "NoNewPrivs"},
        mutate=lambda config: config.setdefault("process", {}).update(noNewPrivileges=True),
    ),
    Fault(
        "env-added",
        "adds a variable of its own to the process's environment",
        {I + "test_env_is_exactly_the_configured_environment": "added ['PRT_RUNTIME=1']"},
        mutate=lambda config: (
            config.setdefault("process", {}).setdefault("env", []).append("PRT_RUNTIME=1")
        ),
    ),
    Fault(
        "hooks-get-no-state",
        "runs the hooks with nothing on stdin",
        {R + "test_hooks_get_the_state_on_stdin": "got no state JSON on stdin"},
        mutate=_hooks_without_stdin,
    ),
    Fault(
        "prestart-hooks-last",
        "runs the prestart hooks after the poststop ones",
        {R + "test_hooks_run_in_order": "hooks ran in the order"},
        mutate=_prestart_hooks_last,
    ),
    Fault(
        "delete-leaves-cgroups",
        "deletes the container but leaves its cgroups behind",
        {R + "test_cgroup_is_removed_after_delete": "cgroups left behind after delete"},
        intercept=behaviours.delete_leaves_cgroups,
    ),
]
