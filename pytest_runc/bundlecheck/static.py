"""Static bundle checks: the decoded config and the rootfs, nothing run.

Each check is one refusal (or one silent change) runc 1.1.5 or the kernel
makes at create or start time, learned from runc's own errors on this host
(docs/bundle-check.md lists them with runc's words). The config is the one
:mod:`.gojson` decoded, so every set field has its Go type. Values in
messages are printed as JSON, as the user wrote them. Never writes to the
bundle and never follows a symlink out of the rootfs; a rootfs outside the
bundle directory is a host directory, and is not read unless host mounts are
allowed. Files are opened non-blocking and only when regular: a FIFO in the
rootfs cannot hang the check (it is reported where runc would hang on it).
"""

from __future__ import annotations

import json
import os
import resource
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from pytest_runc.bundlecheck.findings import ERROR, WARNING, Finding
from pytest_runc.bundlecheck.hostfacts import (
    cgroup_v2_unified,
    known_syscalls,
    last_capability,
)
from pytest_runc.bundlecheck.rootfs_guard import refuse_rootfs
from pytest_runc.bundlecheck.rootfs_paths import (
    ResolveError,
    find_executable,
    resolve_in_rootfs,
)
from pytest_runc.elf import read_elf
from pytest_runc.linux import CAPABILITIES as LINUX_CAPABILITIES
from pytest_runc.schemas import schema_errors

MAX_SCAN_ENTRIES = 200_000
#: The kernel follows at most 4 levels of ``#!`` interpreters (BINPRM_MAX_RECURSION).
MAX_SCRIPT_DEPTH = 4
HOST_NAME_MAX = 64
#: runc init itself uses ~1.9-2.3 MB of memory here; the kernel refuses a limit
#: below current usage ("unable to set memory limit to 1048576 (current usage ...").
MIN_MEMORY_LIMIT = 2 * 1024 * 1024
COMFORTABLE_MEMORY_LIMIT = 4 * 1024 * 1024
KNOWN_NAMESPACES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
LIBRARY_DIRS = (
    "/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib",
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
)  # fmt: skip
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
#: Files runc 1.1 opens in the container to look up the user: a FIFO there
#: blocks it for ever, a device is read as the file.
USER_FILES = ("/etc/passwd", "/etc/group")
#: Hook stages runc runs from the host, whose failure fails ``runc run``.
HOST_HOOK_STAGES = ("prestart", "createRuntime", "createContainer", "poststart")


def js(value: Any, limit: int = 60) -> str:
    """``value`` as JSON text, the way it reads in config.json."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _err(code: str, message: str, fix: str, where: str) -> Finding:
    return Finding(ERROR, code, message, fix, f"config.json {where}")


def _warn(code: str, message: str, fix: str, where: str) -> Finding:
    return Finding(WARNING, code, message, fix, f"config.json {where}")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def check_config(
    bundle: Path, config: dict[str, Any], *, allow_host_mounts: bool = False
) -> list[Finding]:
    """Every static finding for ``config`` (decoded as runc does) of ``bundle``."""
    findings = _schema(config)
    findings += _process(config)
    findings += _arg_space(config)
    namespaces, ns_findings = _namespaces(config)
    findings += ns_findings
    findings += _hostname(config, namespaces)
    findings += _linux(bundle, config, namespaces)
    findings += _mounts(bundle, config)
    rootfs, rootfs_findings = rootfs_of(bundle, config, allow_host_mounts=allow_host_mounts)
    findings += rootfs_findings
    if rootfs is not None:
        findings += _executable(rootfs, config)
        findings += _user_files(rootfs)
        findings += _absolute_links(rootfs)
    findings += _hook_paths(config)
    hooks = _dict(config.get("hooks"))
    stages = sorted(k for k, v in hooks.items() if v)
    if stages:
        findings.append(
            _warn(
                "hooks-present",
                f"the bundle has hooks ({', '.join(stages)}); they run on the host as root",
                "review them; the trial run leaves them out unless --allow-hooks is given",
                "hooks",
            )
        )
    return findings


def _schema(config: dict[str, Any]) -> list[Finding]:
    """The spec's own requirements that runc does not enforce: warnings."""
    found = []
    if "ociVersion" not in config:
        found.append(
            _warn(
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
            _warn(
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
            _err(
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
            _err(
                "cwd-empty",
                'process.cwd is missing or "" (runc: "Cwd property must not be empty")',
                'set an absolute cwd, e.g. "cwd": "/"',
                "process.cwd",
            )
        )
    elif not cwd.startswith("/"):
        found.append(
            _err(
                "cwd-relative",
                f'process.cwd {js(cwd)} is not an absolute path (runc: "Cwd must be'
                ' an absolute path")',
                f'use an absolute path, e.g. "cwd": {js("/" + cwd)}',
                "process.cwd",
            )
        )
    if not process.get("args"):
        found.append(
            _err(
                "args-empty",
                f"process.args is {js(process.get('args'))}: nothing to run"
                ' (runc: "args must not be empty")',
                'name the program to run, e.g. "args": ["/bin/sh"]',
                "process.args",
            )
        )
    for index, arg in enumerate(_list(process.get("args"))):
        if "\0" in arg:
            found.append(
                _err(
                    "args-nul",
                    f"process.args[{index}] is {js(arg)}, which holds a NUL character:"
                    f' execve cannot pass it (runc: "exec {args_zero(process)}: invalid'
                    ' argument")',
                    f"remove the NUL (\\u0000) from process.args[{index}]",
                    f"process.args[{index}]",
                )
            )
    for index, entry in enumerate(_list(process.get("env"))):
        name = entry.partition("=")[0]
        if "=" not in entry or not name or "\0" in entry:
            found.append(
                _err(
                    "env-invalid",
                    f"process.env[{index}] is {js(entry)}, not NAME=VALUE"
                    ' (runc: "invalid environment variable")',
                    f"write it as {js((name or 'NAME') + '=value')} or remove it",
                    f"process.env[{index}]",
                )
            )
    if process.get("terminal") is True:
        found.append(
            _warn(
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
            _err(
                "oom-score-adj-range",
                f"process.oomScoreAdj is {oom}; the kernel accepts -1000 to 1000 (runc only"
                " says \"can't get final child's PID from pipe: EOF\")",
                "use a value from -1000 to 1000",
                "process.oomScoreAdj",
            )
        )
    for index, rlimit in enumerate(_list(process.get("rlimits"))):
        kind = _dict(rlimit).get("type", "")
        where = f"process.rlimits[{index}]"
        if kind not in RLIMITS:
            found.append(
                _err(
                    "rlimit-unknown",
                    f"{where}.type is {js(kind)}, not an rlimit runc knows"
                    f' (runc: "wrong rlimit value: {kind}")',
                    f"use one of {', '.join(sorted(RLIMITS))}",
                    f"{where}.type",
                )
            )
        elif rlimit.get("soft", 0) > rlimit.get("hard", 0):
            found.append(
                _err(
                    "rlimit-soft-above-hard",
                    f"{where} ({kind}) has soft {rlimit.get('soft', 0)} above hard"
                    f" {rlimit.get('hard', 0)}: setrlimit fails with EINVAL",
                    "make soft <= hard",
                    where,
                )
            )
    found += _capabilities(_dict(process.get("capabilities")))
    return found


def args_zero(process: dict[str, Any]) -> str:
    """args[0] as runc names it in an exec error."""
    args = _list(process.get("args"))
    return str(args[0]) if args else ""


def arg_space(config: dict[str, Any]) -> int:
    """The kernel's room for argument and environment strings (and their pointers)
    at the container's execve: a quarter of the stack rlimit, within
    [ARG_MAX_FLOOR, ARG_SPACE_CEILING]. The rlimit is the config's RLIMIT_STACK,
    else the one runc inherits from this process."""
    soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
    for rlimit in _list(_dict(config.get("process")).get("rlimits")):
        if _dict(rlimit).get("type") == "RLIMIT_STACK" and isinstance(rlimit.get("soft"), int):
            soft = rlimit["soft"]
    quarter = ARG_SPACE_CEILING if soft in (resource.RLIM_INFINITY, -1) else soft // 4
    return max(min(ARG_SPACE_CEILING, quarter), ARG_MAX_FLOOR)


def _arg_space(config: dict[str, Any]) -> list[Finding]:
    """execve's E2BIG, which runc reports as "argument list too long": one string
    past MAX_ARG_STRLEN, or all of them past the argument space."""
    process = _dict(config.get("process"))
    args = [a for a in _list(process.get("args")) if isinstance(a, str)]
    env = [e for e in _list(process.get("env")) if isinstance(e, str)]
    if not any(e.startswith("HOME=") for e in env):
        env = [*env, "HOME=/root"]  # runc adds it
    found: list[Finding] = []
    for key, values in (("args", args), ("env", env)):
        for index, value in enumerate(values):
            size = len(value.encode()) + 1
            if size > MAX_ARG_STRLEN:
                found.append(
                    _err(
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
            _err(
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
        {c for values in caps.values() for c in _list(values) if isinstance(c, str)} - known
    )
    if not unknown:
        return []
    return [
        _warn(
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
    linux = _dict(config.get("linux"))
    for index, ns in enumerate(_list(linux.get("namespaces"))):
        kind, path = _dict(ns).get("type", ""), _dict(ns).get("path", "")
        where = f"linux.namespaces[{index}]"
        if kind not in KNOWN_NAMESPACES:
            found.append(
                _err(
                    "namespace-unknown",
                    f"{where}.type is {js(kind)}, not a namespace type",
                    f"use one of {', '.join(KNOWN_NAMESPACES)}",
                    f"{where}.type",
                )
            )
            continue
        if kind in types:
            found.append(
                _err(
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
                _err(
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
                _err(
                    "hostname-without-uts",
                    f'{key} is {js(value)} but there is no uts namespace (runc: "unable to'
                    f' set hostname without a private UTS namespace")',
                    f'add {{"type": "uts"}} to linux.namespaces, or remove {key}',
                    key,
                )
            )
        elif len(value.encode()) > HOST_NAME_MAX:
            found.append(
                _err(
                    "hostname-too-long",
                    f"{key} is {len(value.encode())} bytes long; the kernel takes at most"
                    f' {HOST_NAME_MAX} (runc: "set{key}: invalid argument")',
                    f"shorten it to {HOST_NAME_MAX} bytes or fewer",
                    key,
                )
            )
    return found


def _linux(bundle: Path, config: dict[str, Any], namespaces: dict[str, str]) -> list[Finding]:
    linux = _dict(config.get("linux"))
    found = _sysctls(_dict(linux.get("sysctl")), namespaces)
    has_userns = "user" in namespaces
    for key in ("uidMappings", "gidMappings"):
        if linux.get(key) and not has_userns:
            found.append(
                _warn(
                    "id-mappings-without-userns",
                    f"linux.{key} is set but there is no user namespace: runc ignores the"
                    " mappings silently",
                    'add {"type": "user"} to linux.namespaces, or remove the mappings',
                    f"linux.{key}",
                )
            )
    if has_userns and not namespaces["user"] and not linux.get("uidMappings"):
        found.append(
            _err(
                "userns-without-mappings",
                'a new user namespace without linux.uidMappings (runc: "User namespaces'
                ' enabled, but no uid mappings found.")',
                'add "uidMappings" and "gidMappings" to linux',
                "linux.namespaces",
            )
        )
    for index, device in enumerate(_list(linux.get("devices"))):
        kind = _dict(device).get("type", "")
        if kind not in DEVICE_TYPES:
            found.append(
                _err(
                    "device-type",
                    f"linux.devices[{index}].type is {js(kind)}"
                    f' (runc: "invalid device type {kind}")',
                    'use "c" (character), "b" (block), "u" (unbuffered) or "p" (fifo)',
                    f"linux.devices[{index}].type",
                )
            )
    found += _seccomp(_dict(linux.get("seccomp")))
    found += _resources(_dict(linux.get("resources")))
    path = linux.get("cgroupsPath", "")
    if path:
        depth = len([p for p in path.split("/") if p])
        found.append(
            _warn(
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
                    _err(
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
                    _err(
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
                _err(
                    "sysctl-hostname",
                    'sysctl "kernel.hostname" conflicts with the hostname field (runc refuses it)',
                    'set "hostname" instead',
                    where,
                )
            )
        else:
            found.append(
                _err(
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
    syscalls = _list(seccomp.get("syscalls"))
    unknown: list[str] = []
    names = known_syscalls()
    for index, rule in enumerate(syscalls):
        rule = _dict(rule)
        actions.append((f"linux.seccomp.syscalls[{index}].action", rule.get("action", "")))
        for arg_index, arg in enumerate(_list(rule.get("args"))):
            op = _dict(arg).get("op", "")
            if op not in SECCOMP_OPERATORS:
                where = f"linux.seccomp.syscalls[{index}].args[{arg_index}].op"
                found.append(
                    _err(
                        "seccomp-operator",
                        f'{where} is {js(op)} (runc: "string {op} is not a valid operator'
                        ' for seccomp")',
                        f"use one of {', '.join(sorted(SECCOMP_OPERATORS))}",
                        where,
                    )
                )
        if names:
            unknown += [n for n in _list(rule.get("names")) if n not in names]
    for where, action in actions:
        if action not in SECCOMP_ACTIONS:
            found.append(
                _err(
                    "seccomp-action",
                    f'{where} is {js(action)} (runc: "string {action} is not a valid action'
                    ' for seccomp")',
                    f"use one of {', '.join(sorted(SECCOMP_ACTIONS))}",
                    where,
                )
            )
    for index, arch in enumerate(_list(seccomp.get("architectures"))):
        if arch not in SECCOMP_ARCHES:
            where = f"linux.seccomp.architectures[{index}]"
            found.append(
                _err(
                    "seccomp-arch",
                    f'{where} is {js(arch)} (runc: "string {arch} is not a valid arch for'
                    ' seccomp")',
                    "use an SCMP_ARCH_ name, e.g. SCMP_ARCH_X86_64",
                    where,
                )
            )
    for index, flag in enumerate(_list(seccomp.get("flags"))):
        if flag not in SECCOMP_FLAGS:
            where = f"linux.seccomp.flags[{index}]"
            found.append(
                _err(
                    "seccomp-flag",
                    f"{where} is {js(flag)}, a flag runc 1.1 does not support"
                    ' (runc: "seccomp flags are not yet supported by runc")',
                    f"use only {', '.join(sorted(SECCOMP_FLAGS))}",
                    where,
                )
            )
    if unknown:
        found.append(
            _warn(
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
            _err(
                "cgroup-unified-on-v1",
                "linux.resources.unified sets cgroup v2 files, but this host runs cgroup v1"
                ' (runc: "cannot use unified on cgroup v1")',
                "use the v1 fields (memory, cpu, pids, ...) or run on a cgroup v2 host",
                "linux.resources.unified",
            )
        )
    memory = _dict(resources.get("memory"))
    limit = memory.get("limit")
    if isinstance(limit, int) and 0 < limit < MIN_MEMORY_LIMIT:
        found.append(
            _err(
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
            _warn(
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
            _err(
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
    mounts = [_dict(m) for m in _list(config.get("mounts"))]
    destinations = [m.get("destination", "") for m in mounts]
    if not any(d.rstrip("/") == "/proc" for d in destinations):
        found.append(
            _err(
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
                _warn(
                    "mount-destination-relative",
                    f"mounts[{index}].destination {js(dest)} is relative: the spec"
                    " requires an absolute path (runc accepts it, with a warning)",
                    f"use {js('/' + dest)}",
                    f"mounts[{index}].destination",
                )
            )
        options = _list(mount.get("options"))
        is_bind = mount.get("type") == "bind" or "bind" in options or "rbind" in options
        source = mount.get("source", "")
        if is_bind and source:
            host = Path(source) if source.startswith("/") else bundle / source
            if not os.path.lexists(host):
                found.append(
                    _err(
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


def rootfs_of(
    bundle: Path, config: dict[str, Any], *, allow_host_mounts: bool = False
) -> tuple[Path | None, list[Finding]]:
    """The usable rootfs directory that root.path names, or None and why not.

    A rootfs whose real path is outside the bundle directory is a host
    directory: None (and a finding) unless ``allow_host_mounts``.
    """
    root = config.get("root")
    if not isinstance(root, dict) or not root.get("path"):
        return None, [
            _err(
                "root-missing",
                "no root.path (runc cannot find a root filesystem)",
                'add "root": {"path": "rootfs"}',
                "root.path",
            )
        ]
    written = root["path"]
    rootfs = Path(written) if written.startswith("/") else bundle / written
    refusal = refuse_rootfs(rootfs, written)
    if refusal is not None:
        return None, [refusal]
    where = f"root.path ({js(written)})"
    real, real_bundle = os.path.realpath(rootfs), os.path.realpath(bundle)
    if not allow_host_mounts and not (real == real_bundle or real.startswith(real_bundle + "/")):
        return None, [
            _err(
                "rootfs-outside-bundle",
                f"the rootfs {real} is outside the bundle directory: a host directory the"
                " check neither reads nor runs on (the bundle's process would run as root"
                " on it); no trial run",
                "put the rootfs in the bundle, or pass --allow-host-mounts if you trust the bundle",
                where,
            )
        ]
    if rootfs.is_symlink():
        return None, [
            _err(
                "rootfs-symlink",
                f"{rootfs} is a symlink; runc rejects it",
                "point root.path at the real directory",
                where,
            )
        ]
    if not rootfs.exists():
        return None, [
            _err(
                "rootfs-missing",
                f"{rootfs} does not exist",
                "unpack the root filesystem there, or fix root.path",
                where,
            )
        ]
    if not rootfs.is_dir():
        return None, [
            _err(
                "rootfs-not-a-directory",
                f"{rootfs} is not a directory",
                "root.path must name a directory",
                where,
            )
        ]
    if not os.access(rootfs, os.R_OK | os.X_OK):
        return None, [
            _err("rootfs-unreadable", f"{rootfs} cannot be read", "fix its permissions", where)
        ]
    return rootfs, []


def _executable(rootfs: Path, config: dict[str, Any]) -> list[Finding]:
    process = _dict(config.get("process"))
    args = _list(process.get("args"))
    if not args or not args[0]:
        return []
    env = _list(process.get("env"))
    path_var = next((e[5:] for e in env if e.startswith("PATH=")), None)
    where = f"process.args[0] ({js(args[0])})"
    if "/" not in args[0] and path_var is None:
        return [
            _err(
                "args0-no-path",
                f"process.args[0] is the bare name {js(args[0])} and process.env has no PATH:"
                f' runc cannot look it up (runc: "exec: {js(args[0])}: executable file not'
                ' found in $PATH")',
                f'add "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" to'
                f" process.env, or give the full path, e.g. {js('/bin/' + args[0])}",
                where,
            )
        ]
    cwd = process.get("cwd") or "/"
    try:
        host, _, tried = find_executable(rootfs, args[0], path_var or "", cwd)
    except OSError as exc:
        return [
            _err(
                "args0-unreadable",
                f"cannot look up {js(args[0])}: {exc}",
                "fix the rootfs permissions",
                where,
            )
        ]
    if host is None:
        special = _special_args0(rootfs, str(args[0]), path_var or "", cwd, where)
        if special is not None:
            return [special]
        trap = (
            " — an absolute link written by `busybox --install -s`?" if "dangling" in tried else ""
        )
        return [
            _err(
                "args0-not-found",
                f"{js(args[0])} is not in the rootfs (tried {tried}){trap}",
                "install the program in the rootfs, fix PATH or args[0]; make busybox"
                " applet links relative (ln -s busybox sh)",
                where,
            )
        ]
    found: list[Finding] = []
    if not os.access(host, os.X_OK):
        found.append(
            _err("args0-not-executable", f"{host} is not executable", f"chmod +x {host}", where)
        )
    return found + _program(rootfs, host, str(args[0]), where, depth=0)


def _open_regular(host: Path) -> int:
    """A read-only descriptor of the regular file at ``host`` (a path resolved in the
    rootfs): never through a symlink, never blocking; OSError otherwise."""
    fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{host} is not a regular file")
    return fd


def _special_args0(rootfs: Path, name: str, path_var: str, cwd: str, where: str) -> Finding | None:
    """An error when the first candidate for args[0] is a FIFO, socket or device."""
    if "/" in name:
        candidates = [name if name.startswith("/") else str(PurePosixPath(cwd) / name)]
    else:
        candidates = [str(PurePosixPath(d or ".") / name) for d in path_var.split(":")]
    for candidate in candidates:
        try:
            host, _ = resolve_in_rootfs(rootfs, candidate)
        except (ResolveError, OSError):
            continue
        kind = special_kind(host)
        if kind is not None:
            return _err(
                "args0-special-file",
                f'{candidate} in the rootfs is {kind}, not a program (runc: "exec {name}:'
                ' permission denied")',
                "make args[0] a regular executable file",
                where,
            )
    return None


def _shebang(fd: int) -> str | None:
    head = os.pread(fd, 256, 0)
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].strip()
    return line.split()[0].decode(errors="replace") if line.split() else ""


def special_kind(host: Path) -> str | None:
    """What ``host`` is when it is a FIFO, socket or device (not following a link)."""
    try:
        mode = os.lstat(host).st_mode
    except OSError:
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device node"
    return None


def _special_file(rootfs: Path, path: str, who: str) -> Finding | None:
    """An error when ``path`` in the rootfs is a special file that ``who`` opens."""
    try:
        host, _ = resolve_in_rootfs(rootfs, path)
    except ResolveError:
        return None
    kind = special_kind(host)
    if kind is None:
        return None
    return Finding(
        ERROR,
        "rootfs-special-file",
        f"{path} in the rootfs is {kind}, and {who} opens it: runc would wait for ever"
        " on a FIFO (or read a device as the file); no trial run",
        f"make {path} a regular file",
        "rootfs",
    )


def _user_files(rootfs: Path) -> list[Finding]:
    """/etc/passwd and /etc/group, which runc opens to look the user up."""
    found = [_special_file(rootfs, path, "runc 1.1 (to look up the user)") for path in USER_FILES]
    return [f for f in found if f is not None]


def _hook_paths(config: dict[str, Any]) -> list[Finding]:
    """Hooks run from the host whose program is not there: runc fails the run."""
    found: list[Finding] = []
    hooks = _dict(config.get("hooks"))
    for stage in HOST_HOOK_STAGES:
        for index, hook in enumerate(_list(hooks.get(stage))):
            path = _dict(hook).get("path", "")
            where = f"hooks.{stage}[{index}].path"
            if isinstance(path, str) and path.startswith("/") and os.path.isfile(path):
                continue
            found.append(
                _err(
                    "hook-path-missing",
                    f"{where} {js(path)} is not a file on this host: runc fails when it runs"
                    f' the {stage} hook (runc: "error running {stage} hook ...: no such'
                    ' file or directory"); the trial leaves hooks out, so it cannot tell',
                    "install the hook program on the host, or remove the hook",
                    where,
                )
            )
    return found


def _program(rootfs: Path, host: Path, name: str, where: str, depth: int) -> list[Finding]:
    """What the kernel needs to start ``host``: its ``#!`` interpreter (recursively),
    an ELF loader and libraries, all inside the rootfs."""
    try:
        fd = _open_regular(host)
    except OSError as exc:
        return [
            _err(
                "args0-unreadable",
                f"cannot read {host}: {exc.strerror or exc}",
                "fix its mode",
                where,
            )
        ]
    try:
        interpreter = _shebang(fd)
        # Through our descriptor: the path could be swapped for a link meanwhile.
        info = None if interpreter is not None else read_elf(Path(f"/proc/self/fd/{fd}"))
    except OSError as exc:
        return [
            _err("args0-unreadable", f"cannot read {host}: {exc.strerror}", "fix its mode", where)
        ]
    finally:
        os.close(fd)
    if interpreter is not None:
        if depth >= MAX_SCRIPT_DEPTH:
            return [
                _err(
                    "script-interpreter-loop",
                    f"{name} starts a chain of more than {MAX_SCRIPT_DEPTH} #! interpreters"
                    " (the kernel stops there: ELOOP)",
                    "point the #! line at a binary",
                    where,
                )
            ]
        try:
            target, _ = resolve_in_rootfs(rootfs, interpreter) if interpreter else (None, [])
        except ResolveError:
            target = None
        if not interpreter or target is None or not target.is_file():
            return [
                _err(
                    "script-interpreter-missing",
                    f"{name} is a script whose #! interpreter {js(interpreter)} is not in the"
                    f' rootfs (runc: "exec {name}: no such file or directory", the same'
                    " words as a missing ELF loader)",
                    f"install {interpreter or 'an interpreter'} in the rootfs, or change the"
                    " #! line (e.g. #!/bin/sh with busybox)",
                    where,
                )
            ]
        return _program(rootfs, target, interpreter, where, depth + 1)
    if info is None:
        return []  # neither ELF nor script: the kernel says ENOEXEC, runc "exec format error"
    found: list[Finding] = []
    if info.interpreter and not _exists_in(rootfs, info.interpreter):
        found.append(
            _err(
                "elf-interpreter-missing",
                f"{name} is dynamically linked; its interpreter {info.interpreter} is not"
                " in the rootfs",
                "copy the loader and libraries into the rootfs, or use a static binary"
                " (e.g. busybox-static)",
                where,
            )
        )
    for library in info.needed:
        special = [
            _special_file(rootfs, f"{d}/{library}", "the dynamic loader")
            for d in LIBRARY_DIRS
            if _exists_in(rootfs, f"{d}/{library}")
        ]
        found += [f for f in special[:1] if f is not None]
        if not special:
            found.append(
                _err(
                    "elf-library-missing",
                    f"{name} needs {library}, which is not in the rootfs's library directories",
                    f"copy {library} into the rootfs (e.g. /lib/x86_64-linux-gnu)",
                    where,
                )
            )
    return found


def _exists_in(rootfs: Path, path: str) -> bool:
    try:
        host, _ = resolve_in_rootfs(rootfs, path)
    except ResolveError:
        return False
    return host.exists()


def dangling_absolute_links(rootfs: Path) -> list[tuple[str, str]]:
    """(path in the container, target) of absolute symlinks whose target is missing
    inside the rootfs. Stays on the rootfs's filesystem; visits at most
    MAX_SCAN_ENTRIES entries."""
    dangling: list[tuple[str, str]] = []
    scanned = 0
    device = os.lstat(rootfs).st_dev
    pending = [rootfs]
    while pending and scanned < MAX_SCAN_ENTRIES:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            scanned += 1
            try:
                if entry.is_symlink():
                    target = os.readlink(entry.path)
                    if target.startswith("/") and not _exists_in(rootfs, target):
                        inside = "/" + str(PurePosixPath(entry.path).relative_to(rootfs))
                        dangling.append((inside, target))
                elif (
                    entry.is_dir(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_dev == device
                ):
                    pending.append(Path(entry.path))
            except OSError:
                continue
    return sorted(dangling)


def _absolute_links(rootfs: Path) -> list[Finding]:
    dangling = [f"{path} -> {target}" for path, target in dangling_absolute_links(rootfs)]
    if not dangling:
        return []
    sample = ", ".join(dangling[:3]) + (
        f" and {len(dangling) - 3} more" if len(dangling) > 3 else ""
    )
    return [
        Finding(
            WARNING,
            "absolute-symlink-outside-rootfs",
            f"{len(dangling)} absolute symlink(s) point at paths missing inside the rootfs"
            f" (they resolve on the host, not in the container): {sample}",
            "make them relative (ln -s busybox sh) or point them inside the rootfs;"
            " `busybox --install -s` writes host paths (check --fix does it)",
            "rootfs",
        )
    ]
