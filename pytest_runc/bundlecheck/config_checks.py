"""Static checks of the decoded config: each a refusal (or a silent change) runc
1.1.5 or the kernel makes at create or start time, learned from runc's own
errors (docs/bundle-check.md lists them with runc's words). The config is the
one :mod:`.gojson` decoded, so every set field has its Go type; values in
messages are printed as JSON, as the user wrote them. Nothing is run and
nothing is written.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

from pytest_runc.bundlecheck.findings import (
    Finding,
    as_dict,
    as_list,
    config_error,
    config_warning,
    js,
)
from pytest_runc.bundlecheck.hostfacts import (
    cgroup_v2_unified,
    known_syscalls,
    last_capability,
)
from pytest_runc.oci.linux import CAPABILITIES as LINUX_CAPABILITIES
from pytest_runc.oci.schemas import schema_errors

HOST_NAME_MAX = 64

#: runc init itself uses ~1.9-2.3 MB of memory here; the kernel refuses a limit
#: below current usage ("unable to set memory limit to 1048576 (current usage ...").
MIN_MEMORY_LIMIT = 2 * 1024 * 1024

COMFORTABLE_MEMORY_LIMIT = 4 * 1024 * 1024

KNOWN_NAMESPACES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")

PROC_MOUNT = '{"destination": "/proc", "type": "proc", "source": "proc"}'

RLIMITS = frozenset(
    "RLIMIT_" + n
    for n in [
        "CPU",
        "FSIZE",
        "DATA",
        "STACK",
        "CORE",
        "RSS",
        "NPROC",
        "NOFILE",
        "MEMLOCK",
        "AS",
        "LOCKS",
        "SIGPENDING",
        "MSGQUEUE",
        "NICE",
        "RTPRIO",
        "RTTIME",
    ]
)

SECCOMP_ACTIONS = frozenset(
    "SCMP_ACT_" + n
    for n in [
        "KILL",
        "KILL_PROCESS",
        "KILL_THREAD",
        "TRAP",
        "ERRNO",
        "TRACE",
        "ALLOW",
        "LOG",
        "NOTIFY",
    ]
)

SECCOMP_OPERATORS = frozenset(
    "SCMP_CMP_" + n for n in ["NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ"]
)

SECCOMP_ARCHES = frozenset(
    "SCMP_ARCH_" + n
    for n in [
        "X86",
        "X86_64",
        "X32",
        "ARM",
        "AARCH64",
        "MIPS",
        "MIPS64",
        "MIPS64N32",
        "MIPSEL",
        "MIPSEL64",
        "MIPSEL64N32",
        "PPC",
        "PPC64",
        "PPC64LE",
        "S390",
        "S390X",
        "RISCV64",
    ]
)

SECCOMP_FLAGS = frozenset(
    ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
)

DEVICE_TYPES = ("c", "b", "u", "p")

#: Sysctls runc allows in a private ipc namespace (plus fs.mqueue.*).
IPC_SYSCTLS = frozenset(
    "kernel." + n
    for n in ["msgmax", "msgmnb", "msgmni", "sem", "shmall", "shmmax", "shmmni", "shm_rmid_forced"]
)

#: Capability names without the CAP_ prefix, as runc matches them.
CAPABILITIES = [name.removeprefix("CAP_") for name in LINUX_CAPABILITIES]

#: The kernel's limit on one argument or environment string, NUL included
#: (MAX_ARG_STRLEN, 32 pages): execve fails with E2BIG past it.
MAX_ARG_STRLEN = 131072

#: The floor of the kernel's argument space (ARG_MAX) and its ceiling (3/4 of
#: _STK_LIM); in between, a quarter of the stack rlimit.
ARG_MAX_FLOOR = 131072

ARG_SPACE_CEILING = 6 * 1024 * 1024

#: Hook stages runc runs from the host, whose failure fails ``runc run``.
HOST_HOOK_STAGES = ("prestart", "createRuntime", "createContainer", "poststart")


def _schema(config: dict[str, Any]) -> list[Finding]:
    """The spec's own requirements that runc does not enforce: warnings."""
    found = []
    if "ociVersion" not in config:
        found.append(
            config_warning(
                "oci-version-missing",
                "no ociVersion: the spec requires it (runc runs the bundle anyway)",
                'add "ociVersion": "1.0.2"',
                "ociVersion",
            )
        )
    skip = ("(top level): 'ociVersion'", "process", "linux/namespaces", "mounts", "root")
    # windows.credentialSpec may hold any JSON, nested 10000 deep: the schema
    # validator recurses, and runc on Linux never reads the windows section.
    shallow = {key: value for key, value in config.items() if key != "windows"}
    for error in schema_errors("config", shallow):
        if error.startswith(skip):
            continue  # a dedicated check below says it with runc's verdict
        where, _, message = error.partition(": ")
        found.append(
            config_warning(
                "spec-schema",
                f"the runtime spec does not allow this ({message}); runc 1.1 does not check it",
                "change the value to what the runtime spec allows there",
                where.replace("/", "."),
            )
        )
    return found


def _process(config: dict[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    if not isinstance(config.get("process"), dict):
        return [
            config_error(
                "process-missing",
                'no process section (runc: "process property must not be empty")',
                'add "process" with args, env and cwd',
                "process",
            )
        ]
    process = config["process"]
    cwd = process.get("cwd", "")
    if cwd == "":
        found.append(
            config_error(
                "cwd-empty",
                'process.cwd is missing or "" (runc: "Cwd property must not be empty")',
                'set an absolute cwd, e.g. "cwd": "/"',
                "process.cwd",
            )
        )
    elif not cwd.startswith("/"):
        found.append(
            config_error(
                "cwd-relative",
                f'process.cwd {js(cwd)} is not an absolute path (runc: "Cwd must be'
                ' an absolute path")',
                f'use an absolute path, e.g. "cwd": {js("/" + cwd)}',
                "process.cwd",
            )
        )
    if not process.get("args"):
        found.append(
            config_error(
                "args-empty",
                f"process.args is {js(process.get('args'))}: nothing to run"
                ' (runc: "args must not be empty")',
                'name the program to run, e.g. "args": ["/bin/sh"]',
                "process.args",
            )
        )
    for index, arg in enumerate(as_list(process.get("args"))):
        if "\0" in arg:
            found.append(
                config_error(
                    "args-nul",
                    f"process.args[{index}] is {js(arg)}, which holds a NUL character:"
                    f' execve cannot pass it (runc: "exec {args_zero(process)}: invalid'
                    ' argument")',
                    f"remove the NUL (\\u0000) from process.args[{index}]",
                    f"process.args[{index}]",
                )
            )
    for index, entry in enumerate(as_list(process.get("env"))):
        name = entry.partition("=")[0]
        if "=" not in entry or not name or "\0" in entry:
            found.append(
                config_error(
                    "env-invalid",
                    f"process.env[{index}] is {js(entry)}, not NAME=VALUE"
                    ' (runc: "invalid environment variable")',
                    f"write it as {js((name or 'NAME') + '=value')} or remove it",
                    f"process.env[{index}]",
                )
            )
    if process.get("terminal") is True:
        found.append(
            config_warning(
                "terminal-needs-tty",
                "process.terminal is true: `runc run` needs a terminal on stdin, and"
                " detached use (run -d, create) needs --console-socket",
                'set "terminal": false for a detached or CI run',
                "process.terminal",
            )
        )
    oom = process.get("oomScoreAdj")
    if isinstance(oom, int) and not -1000 <= oom <= 1000:
        found.append(
            config_error(
                "oom-score-adj-range",
                f"process.oomScoreAdj is {oom}; the kernel accepts -1000 to 1000 (runc only"
                " says \"can't get final child's PID from pipe: EOF\")",
                "use a value from -1000 to 1000",
                "process.oomScoreAdj",
            )
        )
    for index, rlimit in enumerate(as_list(process.get("rlimits"))):
        kind = as_dict(rlimit).get("type", "")
        where = f"process.rlimits[{index}]"
        if kind not in RLIMITS:
            found.append(
                config_error(
                    "rlimit-unknown",
                    f"{where}.type is {js(kind)}, not an rlimit runc knows"
                    f' (runc: "wrong rlimit value: {kind}")',
                    f"use one of {', '.join(sorted(RLIMITS))}",
                    f"{where}.type",
                )
            )
        elif rlimit.get("soft", 0) > rlimit.get("hard", 0):
            found.append(
                config_error(
                    "rlimit-soft-above-hard",
                    f"{where} ({kind}) has soft {rlimit.get('soft', 0)} above hard"
                    f" {rlimit.get('hard', 0)}: setrlimit fails with EINVAL",
                    "make soft <= hard",
                    where,
                )
            )
    found += _capabilities(as_dict(process.get("capabilities")))
    return found


def args_zero(process: dict[str, Any]) -> str:
    """args[0] as runc names it in an exec error."""
    args = as_list(process.get("args"))
    return str(args[0]) if args else ""


def arg_space(config: dict[str, Any]) -> int:
    """The kernel's room for argument and environment strings (and their pointers)
    at the container's execve: a quarter of the stack rlimit, within
    [ARG_MAX_FLOOR, ARG_SPACE_CEILING]. The rlimit is the config's RLIMIT_STACK,
    else the one runc inherits from this process."""
    soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
    for rlimit in as_list(as_dict(config.get("process")).get("rlimits")):
        if as_dict(rlimit).get("type") == "RLIMIT_STACK" and isinstance(rlimit.get("soft"), int):
            soft = rlimit["soft"]
    quarter = ARG_SPACE_CEILING if soft in (resource.RLIM_INFINITY, -1) else soft // 4
    return max(min(ARG_SPACE_CEILING, quarter), ARG_MAX_FLOOR)


def _arg_space(config: dict[str, Any]) -> list[Finding]:
    """execve's E2BIG, which runc reports as "argument list too long": one string
    past MAX_ARG_STRLEN, or all of them past the argument space."""
    process = as_dict(config.get("process"))
    args = [a for a in as_list(process.get("args")) if isinstance(a, str)]
    env = [e for e in as_list(process.get("env")) if isinstance(e, str)]
    if not any(e.startswith("HOME=") for e in env):
        env = [*env, "HOME=/root"]  # runc adds it
    found: list[Finding] = []
    for key, values in (("args", args), ("env", env)):
        for index, value in enumerate(values):
            size = len(value.encode()) + 1
            if size > MAX_ARG_STRLEN:
                found.append(
                    config_error(
                        "arg-too-long",
                        f"process.{key}[{index}] is {size - 1} bytes; the kernel takes at most"
                        f' {MAX_ARG_STRLEN - 1} per string (runc: "exec'
                        f' {args_zero(process)}: argument list too long")',
                        "pass the data in a file instead",
                        f"process.{key}[{index}]",
                    )
                )
    strings = sum(len(v.encode()) + 1 for v in args + env) + len(args_zero(process)) + 1
    pointers = 8 * (max(len(args), 1) + len(env))
    room = arg_space(config)
    if strings + pointers > room:
        found.append(
            config_error(
                "args-env-too-long",
                f"process.args and process.env take about {strings + pointers} bytes"
                f" ({len(args)} args, {len(env)} env entries): more than the {room} the"
                " kernel gives execve here, a quarter of the stack rlimit"
                f' (runc: "exec {args_zero(process)}: argument list too long")',
                "pass the data in a file, or raise RLIMIT_STACK (up to 24 MiB counts)",
                "process.env",
            )
        )
    return found


def _capabilities(caps: dict[str, Any]) -> list[Finding]:
    last = last_capability()
    known = set("CAP_" + n for n in CAPABILITIES[: last + 1])
    unknown = sorted(
        {c for values in caps.values() for c in as_list(values) if isinstance(c, str)} - known
    )
    if not unknown:
        return []
    return [
        config_warning(
            "capability-unknown",
            f"{js(unknown)}: unknown to runc or unavailable on this kernel (runc runs the"
            f' bundle without them: "ignoring unknown or unavailable capabilities")',
            "remove them, or check the spelling (CAP_ prefix, upper case)",
            "process.capabilities",
        )
    ]


def _namespaces(config: dict[str, Any]) -> tuple[dict[str, str], list[Finding]]:
    found: list[Finding] = []
    types: dict[str, str] = {}
    linux = as_dict(config.get("linux"))
    for index, ns in enumerate(as_list(linux.get("namespaces"))):
        kind, path = as_dict(ns).get("type", ""), as_dict(ns).get("path", "")
        where = f"linux.namespaces[{index}]"
        if kind not in KNOWN_NAMESPACES:
            found.append(
                config_error(
                    "namespace-unknown",
                    f"{where}.type is {js(kind)}, not a namespace type",
                    f"use one of {', '.join(KNOWN_NAMESPACES)}",
                    f"{where}.type",
                )
            )
            continue
        if kind in types:
            found.append(
                config_error(
                    "namespace-duplicate",
                    f'namespace type {js(kind)} appears twice (runc: "malformed spec file:'
                    ' duplicated ns")',
                    "keep one entry per type",
                    where,
                )
            )
            continue
        types[kind] = path
        if path and not os.path.exists(path):
            found.append(
                config_error(
                    "namespace-path-missing",
                    f"{where}.path {js(path)} does not exist on this host, so there is"
                    " nothing to join",
                    "start the process that owns the namespace first, or remove path to get"
                    " a new namespace",
                    f"{where}.path",
                )
            )
    return types, found


def _hostname(config: dict[str, Any], namespaces: dict[str, str]) -> list[Finding]:
    found: list[Finding] = []
    for key in ("hostname", "domainname"):
        value = config.get(key, "")
        if not value:
            continue
        if "uts" not in namespaces:
            found.append(
                config_error(
                    "hostname-without-uts",
                    f'{key} is {js(value)} but there is no uts namespace (runc: "unable to'
                    f' set hostname without a private UTS namespace")',
                    f'add {{"type": "uts"}} to linux.namespaces, or remove {key}',
                    key,
                )
            )
        elif len(value.encode()) > HOST_NAME_MAX:
            found.append(
                config_error(
                    "hostname-too-long",
                    f"{key} is {len(value.encode())} bytes long; the kernel takes at most"
                    f' {HOST_NAME_MAX} (runc: "set{key}: invalid argument")',
                    f"shorten it to {HOST_NAME_MAX} bytes or fewer",
                    key,
                )
            )
    return found


def _linux(bundle: Path, config: dict[str, Any], namespaces: dict[str, str]) -> list[Finding]:
    linux = as_dict(config.get("linux"))
    found = _sysctls(as_dict(linux.get("sysctl")), namespaces)
    has_userns = "user" in namespaces
    for key in ("uidMappings", "gidMappings"):
        if linux.get(key) and not has_userns:
            found.append(
                config_warning(
                    "id-mappings-without-userns",
                    f"linux.{key} is set but there is no user namespace: runc ignores the"
                    " mappings silently",
                    'add {"type": "user"} to linux.namespaces, or remove the mappings',
                    f"linux.{key}",
                )
            )
    if has_userns and not namespaces["user"] and not linux.get("uidMappings"):
        found.append(
            config_error(
                "userns-without-mappings",
                'a new user namespace without linux.uidMappings (runc: "User namespaces'
                ' enabled, but no uid mappings found.")',
                'add "uidMappings" and "gidMappings" to linux',
                "linux.namespaces",
            )
        )
    for index, device in enumerate(as_list(linux.get("devices"))):
        kind = as_dict(device).get("type", "")
        if kind not in DEVICE_TYPES:
            found.append(
                config_error(
                    "device-type",
                    f"linux.devices[{index}].type is {js(kind)}"
                    f' (runc: "invalid device type {kind}")',
                    'use "c" (character), "b" (block), "u" (unbuffered) or "p" (fifo)',
                    f"linux.devices[{index}].type",
                )
            )
    found += _seccomp(as_dict(linux.get("seccomp")))
    found += _resources(as_dict(linux.get("resources")))
    path = linux.get("cgroupsPath", "")
    if path:
        depth = len([p for p in path.split("/") if p])
        found.append(
            config_warning(
                "cgroups-path",
                f"linux.cgroupsPath is {js(path)}: runc creates it in every cgroup"
                " controller"
                + (
                    " and `runc delete` removes only the last directory, leaving its"
                    f" {depth - 1} parent(s) behind"
                    if depth > 1
                    else ""
                )
                + " (the trial run used a private cgroup of its own)",
                "clean up the parents yourself, or leave cgroupsPath to the caller",
                "linux.cgroupsPath",
            )
        )
    return found


def _sysctls(sysctl: dict[str, str], namespaces: dict[str, str]) -> list[Finding]:
    found: list[Finding] = []
    for name in sysctl:
        where = f'linux.sysctl["{name}"]'
        if name in IPC_SYSCTLS or name.startswith("fs.mqueue."):
            if "ipc" not in namespaces:
                found.append(
                    config_error(
                        "sysctl-needs-ipc-ns",
                        f'sysctl {js(name)} needs an ipc namespace (runc: "is not allowed'
                        ' in the hosts ipc namespace")',
                        'add {"type": "ipc"} to linux.namespaces',
                        where,
                    )
                )
        elif name.startswith("net."):
            if "network" not in namespaces:
                found.append(
                    config_error(
                        "sysctl-needs-netns",
                        f'sysctl {js(name)} needs a network namespace (runc: "not allowed'
                        ' in host network namespace")',
                        'add {"type": "network"} to linux.namespaces',
                        where,
                    )
                )
        elif name == "kernel.domainname" and "uts" in namespaces:
            continue
        elif name == "kernel.hostname" and "uts" in namespaces:
            found.append(
                config_error(
                    "sysctl-hostname",
                    'sysctl "kernel.hostname" conflicts with the hostname field (runc refuses it)',
                    'set "hostname" instead',
                    where,
                )
            )
        else:
            found.append(
                config_error(
                    "sysctl-not-namespaced",
                    f"sysctl {js(name)} is not in a namespace the container owns: it"
                    ' would change the host (runc: "is not in a separate kernel namespace")',
                    "remove it (set it on the host if you mean to)",
                    where,
                )
            )
    return found


def _seccomp(seccomp: dict[str, Any]) -> list[Finding]:
    if not seccomp:
        return []
    found: list[Finding] = []
    actions = [("linux.seccomp.defaultAction", seccomp.get("defaultAction", ""))]
    syscalls = as_list(seccomp.get("syscalls"))
    unknown: list[str] = []
    names = known_syscalls()
    for index, rule in enumerate(syscalls):
        rule = as_dict(rule)
        actions.append((f"linux.seccomp.syscalls[{index}].action", rule.get("action", "")))
        for arg_index, arg in enumerate(as_list(rule.get("args"))):
            op = as_dict(arg).get("op", "")
            if op not in SECCOMP_OPERATORS:
                where = f"linux.seccomp.syscalls[{index}].args[{arg_index}].op"
                found.append(
                    config_error(
                        "seccomp-operator",
                        f'{where} is {js(op)} (runc: "string {op} is not a valid operator'
                        ' for seccomp")',
                        f"use one of {', '.join(sorted(SECCOMP_OPERATORS))}",
                        where,
                    )
                )
        if names:
            unknown += [n for n in as_list(rule.get("names")) if n not in names]
    for where, action in actions:
        if action not in SECCOMP_ACTIONS:
            found.append(
                config_error(
                    "seccomp-action",
                    f'{where} is {js(action)} (runc: "string {action} is not a valid action'
                    ' for seccomp")',
                    f"use one of {', '.join(sorted(SECCOMP_ACTIONS))}",
                    where,
                )
            )
    for index, arch in enumerate(as_list(seccomp.get("architectures"))):
        if arch not in SECCOMP_ARCHES:
            where = f"linux.seccomp.architectures[{index}]"
            found.append(
                config_error(
                    "seccomp-arch",
                    f'{where} is {js(arch)} (runc: "string {arch} is not a valid arch for'
                    ' seccomp")',
                    "use an SCMP_ARCH_ name, e.g. SCMP_ARCH_X86_64",
                    where,
                )
            )
    for index, flag in enumerate(as_list(seccomp.get("flags"))):
        if flag not in SECCOMP_FLAGS:
            where = f"linux.seccomp.flags[{index}]"
            found.append(
                config_error(
                    "seccomp-flag",
                    f"{where} is {js(flag)}, a flag runc 1.1 does not support"
                    ' (runc: "seccomp flags are not yet supported by runc")',
                    f"use only {', '.join(sorted(SECCOMP_FLAGS))}",
                    where,
                )
            )
    if unknown:
        found.append(
            config_warning(
                "seccomp-syscall-unknown",
                f"syscall names unknown on this host: {js(sorted(set(unknown)))}; runc"
                " skips their rules silently",
                "check the spelling (the names are the kernel's, e.g. openat)",
                "linux.seccomp.syscalls",
            )
        )
    return found


def _resources(resources: dict[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    if resources.get("unified") and not cgroup_v2_unified():
        found.append(
            config_error(
                "cgroup-unified-on-v1",
                "linux.resources.unified sets cgroup v2 files, but this host runs cgroup v1"
                ' (runc: "cannot use unified on cgroup v1")',
                "use the v1 fields (memory, cpu, pids, ...) or run on a cgroup v2 host",
                "linux.resources.unified",
            )
        )
    memory = as_dict(resources.get("memory"))
    limit = memory.get("limit")
    if isinstance(limit, int) and 0 < limit < MIN_MEMORY_LIMIT:
        found.append(
            config_error(
                "memory-limit-too-low",
                f"linux.resources.memory.limit is {limit} bytes: less than runc's own"
                " process needs before the container starts, so the kernel refuses it"
                ' (runc: "unable to set memory limit ... (current usage: ...)")',
                f"give at least {COMFORTABLE_MEMORY_LIMIT} (4 MiB), plus what the program needs",
                "linux.resources.memory.limit",
            )
        )
    elif isinstance(limit, int) and 0 < limit < COMFORTABLE_MEMORY_LIMIT:
        found.append(
            config_warning(
                "memory-limit-tight",
                f"linux.resources.memory.limit is {limit} bytes: runc's own process uses"
                " about 2 MiB of it before the program starts",
                "give at least 4 MiB plus what the program needs",
                "linux.resources.memory.limit",
            )
        )
    swap = memory.get("swap")
    if isinstance(limit, int) and isinstance(swap, int) and 0 < swap < limit:
        found.append(
            config_error(
                "memory-swap-below-limit",
                f"linux.resources.memory.swap ({swap}) is memory plus swap, and is below"
                f" limit ({limit}): the kernel refuses it (invalid argument)",
                "set swap >= limit, or -1 for no swap limit",
                "linux.resources.memory.swap",
            )
        )
    return found


def _mounts(bundle: Path, config: dict[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    mounts = [as_dict(m) for m in as_list(config.get("mounts"))]
    destinations = [m.get("destination", "") for m in mounts]
    if not any(d.rstrip("/") == "/proc" for d in destinations):
        found.append(
            config_error(
                "no-proc-mount",
                'no /proc mount: runc 1.1 fails with "open /proc/self/fd: no such'
                ' file or directory"',
                f"add {PROC_MOUNT} to mounts",
                "mounts",
            )
        )
    for index, mount in enumerate(mounts):
        dest = mount.get("destination", "")
        if dest and not dest.startswith("/"):
            found.append(
                config_warning(
                    "mount-destination-relative",
                    f"mounts[{index}].destination {js(dest)} is relative: the spec"
                    " requires an absolute path (runc accepts it, with a warning)",
                    f"use {js('/' + dest)}",
                    f"mounts[{index}].destination",
                )
            )
        options = as_list(mount.get("options"))
        is_bind = mount.get("type") == "bind" or "bind" in options or "rbind" in options
        source = mount.get("source", "")
        if is_bind and source:
            host = Path(source) if source.startswith("/") else bundle / source
            if not os.path.lexists(host):
                found.append(
                    config_error(
                        "mount-source-missing",
                        f"mounts[{index}] binds {js(source)}, which does not exist on this"
                        f' host (runc: "error mounting {source} ... no such file or directory")',
                        "create the source first, or fix mounts[{index}].source".replace(
                            "{index}", str(index)
                        ),
                        f"mounts[{index}].source",
                    )
                )
    return found


def _hook_paths(config: dict[str, Any]) -> list[Finding]:
    """Hooks run from the host whose program is not there: runc fails the run."""
    found: list[Finding] = []
    hooks = as_dict(config.get("hooks"))
    for stage in HOST_HOOK_STAGES:
        for index, hook in enumerate(as_list(hooks.get(stage))):
            path = as_dict(hook).get("path", "")
            where = f"hooks.{stage}[{index}].path"
            if isinstance(path, str) and path.startswith("/") and os.path.isfile(path):
                continue
            found.append(
                config_error(
                    "hook-path-missing",
                    f"{where} {js(path)} is not a file on this host: runc fails when it runs"
                    f' the {stage} hook (runc: "error running {stage} hook ...: no such'
                    ' file or directory"); the trial leaves hooks out, so it cannot tell',
                    "install the hook program on the host, or remove the hook",
                    where,
                )
            )
    return found


def config_findings(bundle: Path, config: dict[str, Any]) -> list[Finding]:
    """The findings of the config's own fields, up to and including its mounts."""
    findings = _schema(config)
    findings += _process(config)
    findings += _arg_space(config)
    namespaces, ns_findings = _namespaces(config)
    findings += ns_findings
    findings += _hostname(config, namespaces)
    findings += _linux(bundle, config, namespaces)
    findings += _mounts(bundle, config)
    return findings


def hook_findings(config: dict[str, Any]) -> list[Finding]:
    """Hooks whose program is not on this host, and a warning that hooks exist at all."""
    findings = _hook_paths(config)
    hooks = as_dict(config.get("hooks"))
    stages = sorted(k for k, v in hooks.items() if v)
    if stages:
        findings.append(
            config_warning(
                "hooks-present",
                f"the bundle has hooks ({', '.join(stages)}); they run on the host as root",
                "review them; the trial run leaves them out unless --allow-hooks is given",
                "hooks",
            )
        )
    return findings
