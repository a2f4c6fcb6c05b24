"""Faulty runtimes for config-linux.md: namespaces, devices, cgroups, seccomp
(and its listener), sysctl, personality, Intel RDT, network devices.

Config edits are plain ``mutate`` functions; what a config edit cannot do
(chown after create, ignore ``update``, tamper with what reaches the seccomp
listener) is an ``intercept``. The listener faults put a proxy socket between
the real runtime and the test's listener and change what it forwards.
"""

from __future__ import annotations

import array
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pytest_runc.faulty.behaviours import (
    Call,
    Intercept,
    acts_on,
    exit_of,
    read_config,
    run,
    state_dir,
)
from pytest_runc.faulty.model import Config, Fault

TYPE_CHECKING = False  # as typing's, which a wrapper call need not import
if TYPE_CHECKING:
    from typing import Any

NS = "conformance/test_linux_namespaces.py::"
DV = "conformance/test_linux_devices.py::"
CG = "conformance/test_cgroups.py::"
SC = "conformance/test_seccomp.py::"
MS = "conformance/test_linux_misc.py::"

_NS_FILES = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
             "cgroup": "cgroup", "user": "user", "time": "time"}  # fmt: skip


def _linux(config: Config) -> dict[str, Any]:
    linux: dict[str, Any] = config.setdefault("linux", {})
    return linux


def _seccomp(config: Config) -> dict[str, Any]:
    section: dict[str, Any] = _linux(config).get("seccomp") or {}
    return section


def _pop(*keys: str) -> Callable[[Config], None]:
    """Remove linux.<keys...> (the last key from its parent)."""

    def apply(config: Config) -> None:
        node: Any = _linux(config)
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(keys[-1], None)

    return apply


# -- namespaces ----------------------------------------------------------


def _merge_duplicate_namespaces(config: Config) -> None:
    seen: set[str] = set()
    kept = []
    for ns in _linux(config).get("namespaces", []):
        if ns.get("type") not in seen:
            seen.add(ns.get("type"))
            kept.append(ns)
    _linux(config)["namespaces"] = kept


def _drop_mismatched_namespace_paths(config: Config) -> None:
    for ns in _linux(config).get("namespaces", []):
        path = ns.get("path")
        if not path:
            continue
        try:
            target = os.readlink(path)
        except OSError:
            continue
        if not target.startswith(_NS_FILES.get(ns.get("type", ""), "?") + ":"):
            ns.pop("path")


def _add_unlisted_namespaces(config: Config) -> None:
    linux = _linux(config)
    listed = {ns.get("type") for ns in linux.get("namespaces", [])}
    for kind in ("ipc", "uts", "network"):
        if kind not in listed:
            linux.setdefault("namespaces", []).append({"type": kind})


def _drop_user_namespace(config: Config) -> None:
    linux = _linux(config)
    linux["namespaces"] = [n for n in linux.get("namespaces", []) if n.get("type") != "user"]
    linux.pop("uidMappings", None)
    linux.pop("gidMappings", None)


def _drop_time_namespace(config: Config) -> None:
    linux = _linux(config)
    linux["namespaces"] = [n for n in linux.get("namespaces", []) if n.get("type") != "time"]
    linux.pop("timeOffsets", None)


def _shift_mapping(key: str) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        for mapping in _linux(config).get(key, []):
            if mapping.get("hostID"):
                mapping["hostID"] += 1

    return apply


def _host_id(mappings: list[dict[str, int]], inner: int) -> int | None:
    for m in mappings:
        if m["containerID"] <= inner < m["containerID"] + m["size"]:
            return m["hostID"] + inner - m["containerID"]
    return None


def _read_config(call: Call) -> Config | None:
    try:
        config = json.loads((call.bundle / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


@acts_on("create", "run")
def chown_rootfs_into_mapping(call: Call) -> int | None:
    """Before create/run with a user namespace, shift every rootfs owner into
    the uid/gid mappings, as a runtime that chowns instead of mapping would."""
    if call.command not in {"create", "run"}:
        return None
    config = _read_config(call)
    if config is None or not _linux(config).get("uidMappings"):
        return None
    root = Path(config.get("root", {}).get("path", "rootfs"))
    root = root if root.is_absolute() else call.bundle / root
    uids, gids = _linux(config)["uidMappings"], _linux(config).get("gidMappings", [])
    for directory, dirs, files in os.walk(root):
        for name in [".", *dirs, *files] if directory == str(root) else [*dirs, *files]:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            uid, gid = _host_id(uids, st.st_uid), _host_id(gids, st.st_gid)
            os.lchown(path, st.st_uid if uid is None else uid, st.st_gid if gid is None else gid)
    return None


# -- devices --------------------------------------------------------------


def _drop_device_ownership(config: Config) -> None:
    for device in _linux(config).get("devices", []):
        if str(device.get("path", "")).startswith("/dev/prt-"):
            for key in ("uid", "gid", "fileMode"):
                device.pop(key, None)


def _drop_devices_outside_dev(config: Config) -> None:
    linux = _linux(config)
    linux["devices"] = [
        d for d in linux.get("devices", []) if str(d.get("path", "")).startswith("/dev/")
    ]


def _reverse_device_rules(config: Config) -> None:
    rules = _linux(config).get("resources", {}).get("devices")
    if rules:
        rules.reverse()


def _widen_device_rules(config: Config) -> None:
    for rule in _linux(config).get("resources", {}).get("devices", []):
        if rule.get("allow"):
            rule["access"] = "rwm"


# -- cgroups ---------------------------------------------------------------


def _suffix_cgroups_path(suffix: Callable[[], str]) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        linux = _linux(config)
        if linux.get("cgroupsPath"):
            linux["cgroupsPath"] += suffix()

    return apply


def _repair_cgroups_path(config: Config) -> None:
    linux = _linux(config)
    if "\0" in linux.get("cgroupsPath", ""):
        linux["cgroupsPath"] = linux["cgroupsPath"].replace("\0", "-")


def _drop_zero_pids_limit(config: Config) -> None:
    resources = _linux(config).get("resources", {})
    if resources.get("pids", {}).get("limit") == 0:
        resources.pop("pids")


def _drop_resource_values(config: Config) -> None:
    resources = _linux(config).get("resources", {})
    for key in ("cpu", "memory", "blockIO", "hugepageLimits"):
        resources.pop(key, None)


@acts_on("create")
def chown_cgroup_to_container_root(call: Call) -> int | None:
    """After create, hand the container's cgroup to the host uid of container root."""
    if call.command != "create":
        return None
    config = _read_config(call)
    status = exit_of(run(call.real).returncode)
    if status != 0 or config is None:
        return status
    path = _linux(config).get("cgroupsPath", "").lstrip("/")
    owner = _host_id(_linux(config).get("uidMappings", []), 0)
    group = _host_id(_linux(config).get("gidMappings", []), 0)
    if path and owner is not None:
        for where in [f"/sys/fs/cgroup/{path}", *glob.glob(f"/sys/fs/cgroup/*/{path}")]:
            for target in (where, os.path.join(where, "cgroup.procs")):
                if os.path.exists(target):
                    os.chown(target, owner, owner if group is None else group)
    return status


@acts_on("update")
def update_ignored(call: Call) -> int | None:
    return 0 if call.command == "update" else None


# -- seccomp -----------------------------------------------------------------


def _drop_errno_ret(config: Config) -> None:
    for rule in _seccomp(config).get("syscalls", []):
        if rule.get("action") == "SCMP_ACT_ERRNO":
            rule.pop("errnoRet", None)


def _errno_default_enospc(config: Config) -> None:
    for rule in _seccomp(config).get("syscalls", []):
        if rule.get("action") == "SCMP_ACT_ERRNO":
            rule.setdefault("errnoRet", 28)


def _kill_as_errno(config: Config) -> None:
    for rule in _seccomp(config).get("syscalls", []):
        if rule.get("action") == "SCMP_ACT_KILL":
            rule["action"] = "SCMP_ACT_ERRNO"


def _default_allow(config: Config) -> None:
    section = _seccomp(config)
    if section.get("defaultAction") == "SCMP_ACT_ERRNO":
        section["defaultAction"] = "SCMP_ACT_ALLOW"
        section.pop("defaultErrnoRet", None)


def _drop_unknown_seccomp_names(config: Config) -> None:
    section = _seccomp(config)
    if "PRT" in section.get("defaultAction", ""):
        section["defaultAction"] = "SCMP_ACT_ALLOW"
    for key in ("architectures", "flags"):
        if key in section:
            section[key] = [name for name in section[key] if "PRT" not in name]


_ERRNO_ACTIONS = {"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"}


def _drop_errno_ret_on_other_actions(config: Config) -> None:
    for rule in _seccomp(config).get("syscalls", []):
        if rule.get("action") not in _ERRNO_ACTIONS:
            rule.pop("errnoRet", None)


def _drop_default_errno_ret_on_other_actions(config: Config) -> None:
    section = _seccomp(config)
    if section.get("defaultAction") not in _ERRNO_ACTIONS:
        section.pop("defaultErrnoRet", None)


def _receive_state(conn: socket.socket) -> tuple[bytes, list[int]]:
    """Read up to one whole JSON state (or end of file) and the descriptors with it:
    not to the end, as a runtime may keep its end open until it exits."""
    data = b""
    fds: list[int] = []
    while True:
        chunk, ancdata, _, _ = conn.recvmsg(1 << 16, socket.CMSG_SPACE(16 * 4))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                got = array.array("i")
                got.frombytes(payload[: len(payload) - len(payload) % got.itemsize])
                fds.extend(got)
        data += chunk
        if not chunk:
            return data, fds
        try:
            json.loads(data)
        except ValueError:
            continue
        return data, fds


def _edit_state(variant: str, data: bytes) -> bytes:
    state = json.loads(data)
    if variant == "no-oci-version":
        state.pop("ociVersion", None)
    elif variant == "wrong-pid":
        # The runtime's own pid: pid + 1 was once another container's init on
        # a busy host, which the check rightly took for a container process.
        state["pid"] = os.getpid()
    elif variant == "no-state":
        state.pop("state", None)
    return json.dumps(state).encode()


def _forward(server: socket.socket, target: str, variant: str) -> None:
    """Take the runtime's one connection, then hand a changed copy to ``target``."""
    try:
        conn, _ = server.accept()
    except OSError:
        return
    with conn:
        data, fds = _receive_state(conn)
    out = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            out.connect(target)
        except OSError:
            return  # nobody listens: swallow the state, as if it was sent
        if variant in {"no-oci-version", "wrong-pid", "no-state"}:
            data = _edit_state(variant, data)
        if variant == "not-json":
            data = b"prt-not-json " + data
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        if variant == "empty":
            return
        if variant == "no-fds":
            out.sendall(data)
        elif variant == "fds-late":
            half = len(data) // 2
            out.sendall(data[:half])
            time.sleep(0.2)  # let the listener read the first part on its own
            out.sendmsg([data[half:]], rights)
        else:
            out.sendmsg([data], rights)
        if variant == "two-states":
            out.sendall(data)
        if variant == "kept-open":
            # A helper keeps the connection open after the runtime has returned.
            subprocess.Popen(
                ["sleep", "3"], pass_fds=[out.fileno()], start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
    finally:
        out.close()
        for fd in fds:
            os.close(fd)


#: The longest path a unix socket can bind to (``sun_path`` less its NUL).
_SOCKET_PATH_MAX = 107


def _proxy_dir() -> str:
    """A new directory for a proxy's socket, inside this runtime's state directory:
    the harness removes that one with its run, even after a timeout killed this
    process before its own clean-up (a directory in /tmp would stay). /tmp only
    when the state directory's path is too long for a socket below it."""
    state = str(state_dir())
    if len(state) + len("/prt-proxy-12345678/s") <= _SOCKET_PATH_MAX:
        return tempfile.mkdtemp(prefix="prt-proxy-", dir=state)
    return tempfile.mkdtemp(prefix="prt-proxy-")


def listener_proxy(variant: str) -> Intercept:
    """Put a proxy at the config's seccomp listenerPath that forwards with ``variant``."""

    @acts_on("create", "run")
    def intercept(call: Call) -> int | None:
        read = read_config(call)
        if read is None:
            return None
        original, config = read
        config_path = call.bundle / "config.json"
        section = _seccomp(config)
        target = section.get("listenerPath")
        if not target:
            return None
        where = _proxy_dir()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(os.path.join(where, "s"))
        server.listen(1)
        server.settimeout(10)
        section["listenerPath"] = os.path.join(where, "s")
        config_path.write_text(json.dumps(config))
        helper = threading.Thread(target=_forward, args=(server, target, variant), daemon=True)
        helper.start()
        try:
            return exit_of(run(call.real).returncode)
        finally:
            config_path.write_bytes(original)
            helper.join(5)
            server.close()
            shutil.rmtree(where, ignore_errors=True)

    return intercept


# -- network devices -----------------------------------------------------------


@acts_on("create", "run")
def flush_net_device_addresses(call: Call) -> int | None:
    """Before create/run, remove the addresses of the interfaces to be moved."""
    if call.command in {"create", "run"}:
        config = _read_config(call)
        for name in (_linux(config).get("netDevices") or {}) if config else {}:
            subprocess.run(["ip", "addr", "flush", "dev", name], capture_output=True, check=False)
    return None


def _refuse_template_net_device_names(config: Config) -> None:
    for device in (_linux(config).get("netDevices") or {}).values():
        if "%d" in device.get("name", ""):
            device["name"] = device["name"].replace("%d", "x")


def _drop_missing_net_devices(config: Config) -> None:
    devices = _linux(config).get("netDevices") or {}
    for name in [n for n in devices if not os.path.exists(f"/sys/class/net/{n}")]:
        del devices[name]


def _drop_dev_shm(config: Config) -> None:
    mounts = config.get("mounts", [])
    config["mounts"] = [m for m in mounts if m.get("destination") != "/dev/shm"]


def _rename_taken_net_device_names(config: Config) -> None:
    for device in (_linux(config).get("netDevices") or {}).values():
        if device.get("name") == "lo":
            device["name"] = "prtfree0"


FAULTS: list[Fault] = [
    # namespaces
    Fault(
        "cl-duplicate-namespaces-merged",
        "keeps the first of two linux.namespaces entries of one type instead of failing",
        {NS + "test_duplicate_namespace_type_is_refused": "listing the ipc namespace twice"},
        mutate=_merge_duplicate_namespaces,
    ),
    Fault(
        "cl-namespace-path-type-unchecked",
        "makes a new namespace when a namespace path is of another type",
        {NS + "test_namespace_path_of_another_type_is_refused": "whose path is a network"},
        mutate=_drop_mismatched_namespace_paths,
    ),
    Fault(
        "cl-unlisted-namespaces-created",
        "creates ipc, uts and network namespaces that linux.namespaces leaves out",
        {
            NS + f"test_unlisted_namespace_is_the_runtimes_own[{kind}]": "not the runtime's own"
            for kind in ("ipc", "uts", "network")
        },
        mutate=_add_unlisted_namespaces,
    ),
    Fault(
        "cl-user-namespace-dropped",
        "ignores the user namespace entry (and its mappings)",
        {NS + "test_new_namespace_of_the_newer_types[user]": "host's user namespace"},
        mutate=_drop_user_namespace,
    ),
    Fault(
        "cl-time-namespace-dropped",
        "ignores the time namespace entry and its offsets (provable where the runtime has"
        " time namespaces, e.g. runc 1.5.1)",
        {NS + "test_new_namespace_of_the_newer_types[time]": "host's time namespace"},
        mutate=_drop_time_namespace,
    ),
    Fault(
        "cl-time-offsets-dropped",
        "makes the time namespace without its offsets (provable with runc 1.5.1)",
        {NS + "test_time_namespace_offsets_are_applied": "timens_offsets inside"},
        mutate=_pop("timeOffsets"),
    ),
    Fault(
        "cl-uid-mapping-shifted",
        "writes every uid mapping one host id off",
        {NS + "test_user_namespace_has_the_configured_mappings[uid]": "uid_map inside is"},
        mutate=_shift_mapping("uidMappings"),
    ),
    Fault(
        "cl-gid-mapping-shifted",
        "writes every gid mapping one host id off",
        {NS + "test_user_namespace_has_the_configured_mappings[gid]": "gid_map inside is"},
        mutate=_shift_mapping("gidMappings"),
    ),
    Fault(
        "cl-rootfs-chowned-for-userns",
        "chowns the rootfs into the user namespace mapping before running",
        {
            NS
            + "test_user_namespace_leaves_the_rootfs_owner_alone": "the runtime chowned the rootfs"
        },
        intercept=chown_rootfs_into_mapping,
    ),
    # devices
    Fault(
        "cl-device-ownership-dropped",
        "creates configured devices without their fileMode, uid and gid",
        {
            DV + f"test_configured_device_node_is_exactly_as_configured[{kind}]": ", configured ("
            for kind in ("block", "char", "fifo")
        },
        mutate=_drop_device_ownership,
    ),
    Fault(
        "cl-existing-device-path-ignored",
        "skips a device whose path outside /dev already holds a file",
        {DV + "test_regular_file_at_a_device_path_is_refused": "is a regular file"},
        mutate=_drop_devices_outside_dev,
    ),
    Fault(
        "cl-device-rules-reversed",
        "applies linux.resources.devices in reverse order",
        {
            DV + f"test_device_rules_apply_in_the_listed_order[{order}]": "the last matching rule"
            for order in ("allow-loop-then-deny-all", "deny-all-then-allow-loop")
        },
        mutate=_reverse_device_rules,
    ),
    Fault(
        "cl-device-rules-widened",
        "allows rwm for every allow entry of the device list",
        {DV + "test_device_rule_grants_only_its_access": "with only read access allowed"},
        mutate=_widen_device_rules,
    ),
    # cgroups
    Fault(
        "cl-cgroups-path-moved",
        "puts the container in <cgroupsPath>-moved",
        {CG + "test_absolute_cgroups_path_is_under_the_cgroup_mount": "not at the configured"},
        mutate=_suffix_cgroups_path(lambda: "-moved"),
    ),
    Fault(
        "cl-cgroups-path-drifts",
        "adds its own process id to cgroupsPath, so one path gives a new cgroup each time",
        {
            CG + "test_same_cgroups_path_gives_the_same_cgroup": "led to different cgroups",
            CG + "test_create_in_an_occupied_cgroup_is_refused": "which holds the process",
        },
        mutate=_suffix_cgroups_path(lambda: f"-{os.getpid()}"),
    ),
    Fault(
        "cl-invalid-cgroups-path-repaired",
        "replaces a NUL in cgroupsPath instead of failing",
        {CG + "test_invalid_cgroups_path_is_refused": "holding a NUL byte"},
        mutate=_repair_cgroups_path,
    ),
    Fault(
        "cl-cgroup-chowned-to-container",
        "hands the container cgroup to the container's root user after create",
        {
            CG + f"test_cgroup_is_not_handed_to_the_container[{case}]": "the runtime chowned"
            for case in ("cgroup-v1", "no-cgroup-namespace", "no-rw-cgroup-mount")
        },
        intercept=chown_cgroup_to_container_root,
    ),
    Fault(
        "cl-pids-zero-ignored",
        "reads a pids limit of 0 as unset",
        {CG + "test_pids_limit_zero_is_a_limit": "configured limit 0"},
        mutate=_drop_zero_pids_limit,
    ),
    Fault(
        "cl-unified-dropped",
        "ignores linux.resources.unified",
        {CG + "test_unified_key_of_an_absent_controller_is_refused": "has no such controller"},
        mutate=_pop("resources", "unified"),
    ),
    Fault(
        "cl-cgroup-values-dropped",
        "writes no cpu, memory, blkio or hugetlb values",
        {
            CG + f"test_resource_value_is_written_to_the_cgroup[{name}]": ", configured ["
            for name in (
                "cpu-quota-period",
                "cpuset",
                "memory-reservation",
                "memory-swap",
                "blkio-throttle",
            )
        },
        mutate=_drop_resource_values,
    ),
    Fault(
        "cl-update-ignored",
        "`update` exits 0 and changes nothing",
        {
            CG + f"test_update_changes_the_cgroup_limit[{name}]": "after `runc update"
            for name in ("memory", "pids", "cpu-quota", "resources-file")
        },
        intercept=update_ignored,
    ),
    # seccomp
    Fault(
        "cl-seccomp-errno-ret-ignored",
        "returns EPERM whatever errnoRet says",
        {
            SC + f"test_errno_action_returns_the_errno_ret[{a}]": "not refused with ENOSPC"
            for a in ("native", "unset")
        },
        mutate=_drop_errno_ret,
    ),
    Fault(
        "cl-seccomp-errno-default-enospc",
        "returns ENOSPC for SCMP_ACT_ERRNO rules without errnoRet",
        {SC + "test_errno_action_without_errno_ret_returns_eperm": "not refused with EPERM"},
        mutate=_errno_default_enospc,
    ),
    Fault(
        "cl-seccomp-kill-as-errno",
        "turns SCMP_ACT_KILL rules into SCMP_ACT_ERRNO",
        {SC + "test_kill_action_kills_the_calling_process": "not killed by SIGSYS"},
        mutate=_kill_as_errno,
    ),
    Fault(
        "cl-seccomp-default-allow",
        "allows every syscall no rule lists, whatever defaultAction says",
        {SC + "test_default_action_applies_to_unlisted_syscalls": "did not get the default"},
        mutate=_default_allow,
    ),
    Fault(
        "cl-seccomp-unknown-names-dropped",
        "drops unknown seccomp actions, architectures and flags instead of failing",
        {
            SC + f"test_unknown_seccomp_name_is_refused[{what}]": "with an unknown seccomp"
            for what in ("action", "architecture", "flag")
        },
        mutate=_drop_unknown_seccomp_names,
    ),
    Fault(
        "cl-seccomp-errno-ret-on-kill-dropped",
        "drops errnoRet from rules whose action takes no errno instead of failing",
        {SC + "test_errno_ret_on_a_kill_rule_is_refused": "errnoRet 28 on an SCMP_ACT_KILL"},
        mutate=_drop_errno_ret_on_other_actions,
    ),
    Fault(
        "cl-seccomp-default-errno-ret-dropped",
        "drops defaultErrnoRet beside a default action that takes no errno",
        {
            SC + "test_default_errno_ret_with_an_allow_default_is_refused": (
                "defaultErrnoRet 28 and defaultAction SCMP_ACT_ALLOW"
            )
        },
        mutate=_drop_default_errno_ret_on_other_actions,
    ),
    Fault(
        "cl-listener-empty",
        "connects to the seccomp listener and sends nothing",
        {SC + "test_listener_gets_a_stream_connection": "sent nothing"},
        intercept=listener_proxy("empty"),
    ),
    Fault(
        "cl-listener-not-json",
        "sends the container process state behind a non-JSON prefix",
        {SC + "test_listener_payload_is_json": "is not JSON"},
        intercept=listener_proxy("not-json"),
    ),
    Fault(
        "cl-listener-two-states",
        "sends the container process state twice on one connection",
        {SC + "test_listener_connection_carries_one_state": "carried more than one state"},
        intercept=listener_proxy("two-states"),
    ),
    Fault(
        "cl-listener-kept-open",
        "keeps the listener connection open after sending",
        {SC + "test_listener_connection_is_closed_after_the_state": "kept the listener connection"},
        intercept=listener_proxy("kept-open"),
    ),
    Fault(
        "cl-listener-no-fds",
        "sends the state without its file descriptors",
        {
            SC + "test_listener_gets_the_fds_with_scm_rights": "SCM_RIGHTS carried 0",
            SC + "test_listener_gets_the_seccomp_notify_fd": "not a seccomp notify fd",
        },
        intercept=listener_proxy("no-fds"),
    ),
    Fault(
        "cl-listener-fds-late",
        "sends the state in two messages, the descriptors with the second",
        {SC + "test_listener_fds_travel_with_the_first_message": "after the first"},
        intercept=listener_proxy("fds-late"),
    ),
    Fault(
        "cl-listener-no-oci-version",
        "sends a container process state without ociVersion",
        {SC + "test_listener_state_has_the_oci_version": "has no ociVersion"},
        intercept=listener_proxy("no-oci-version"),
    ),
    Fault(
        "cl-listener-wrong-pid",
        "sends a container process state with another pid",
        {SC + "test_listener_state_has_the_container_pid": "which is not the container process"},
        intercept=listener_proxy("wrong-pid"),
    ),
    Fault(
        "cl-listener-no-state",
        "sends a container process state without the container state",
        {SC + "test_listener_state_has_the_container_state": "not the state of"},
        intercept=listener_proxy("no-state"),
    ),
    Fault(
        "cl-listener-unreachable-ignored",
        "goes on when nothing listens at listenerPath",
        {SC + "test_unreachable_listener_is_an_error": "nothing listens at its listenerPath"},
        intercept=listener_proxy("swallow"),
    ),
    # sysctl, personality, Intel RDT, network devices
    Fault(
        "cl-sysctl-dropped",
        "ignores linux.sysctl",
        {
            MS + "test_sysctl_outside_the_containers_namespaces_is_refused[not-namespaced]": (
                "which would change the host"
            ),
            MS + "test_sysctl_outside_the_containers_namespaces_is_refused[net-without-netns]": (
                "which would change the host"
            ),
            MS + "test_unknown_sysctl_is_refused": "accepted the sysctl net.prt.none",
        },
        mutate=_pop("sysctl"),
    ),
    Fault(
        "cl-personality-dropped",
        "ignores linux.personality",
        {MS + "test_personality_linux32": "not i686"},
        mutate=_pop("personality"),
    ),
    Fault(
        "cl-intel-rdt-dropped",
        "ignores linux.intelRdt",
        {
            MS + f"test_intel_rdt_without_resctrl_is_an_error[{case}]": "no resctrl filesystem"
            for case in ("clos-id", "l3-cache-schema")
        },
        mutate=_pop("intelRdt"),
    ),
    Fault(
        "cl-net-devices-dropped",
        "ignores linux.netDevices (provable with a runtime that claims netDevices, runc 1.5.1)",
        {MS + "test_net_device_is_moved_in_and_up": "no prt0 inside"},
        mutate=_pop("netDevices"),
    ),
    Fault(
        "cl-net-device-addresses-lost",
        "moves network devices without their addresses (provable with runc 1.5.1)",
        {MS + "test_net_device_keeps_its_address": "lost 192.0.2.77/32"},
        intercept=flush_net_device_addresses,
    ),
    Fault(
        "cl-net-device-template-literal",
        "takes a %d name template literally (provable with runc 1.5.1)",
        {MS + "test_net_device_template_name_gets_a_kernel_number": "no prtt0 inside"},
        mutate=_refuse_template_net_device_names,
    ),
    Fault(
        "cl-missing-net-device-skipped",
        "leaves out a netDevices entry whose host interface does not exist (runc 1.5.1)",
        {MS + "test_missing_net_device_is_an_error": "without the missing prtnone0"},
        mutate=_drop_missing_net_devices,
    ),
    Fault(
        "cl-net-devices-left-on-host",
        "leaves the netDevices interfaces on the host (provable with runc 1.5.1)",
        {MS + "test_moved_net_device_stays_in_the_container": "is on the host while"},
        mutate=_pop("netDevices"),
    ),
    Fault(
        "cl-dev-shm-dropped",
        "does not mount /dev/shm",
        {MS + "test_standard_filesystems_are_mounted": "lacks standard filesystems"},
        mutate=_drop_dev_shm,
    ),
    Fault(
        "cl-net-device-name-conflict-renamed",
        "renames a device whose new name is taken instead of failing (provable with runc 1.5.1)",
        {MS + "test_net_device_name_taken_is_an_error": "under the taken name lo"},
        mutate=_rename_taken_net_device_names,
    ),
]
