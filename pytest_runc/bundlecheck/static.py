"""Static bundle checks: read config.json and the rootfs, run nothing.

Covers the project's JSON Schema for config.json and what runc needs that
the schema cannot say (each learned from runc 1.1's own errors). Never
writes to the bundle and never follows a symlink out of the rootfs.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from pytest_runc.compat.findings import ERROR, WARNING, Finding
from pytest_runc.compat.rootfs_paths import ResolveError, find_executable, resolve_in_rootfs
from pytest_runc.elf import read_elf
from pytest_runc.schemas import schema_errors

MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_SCAN_ENTRIES = 200_000
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KNOWN_NAMESPACES = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"}
LIBRARY_DIRS = (
    "/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib",
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
)  # fmt: skip
PROC_MOUNT = '{"destination": "/proc", "type": "proc", "source": "proc"}'


def load_config(bundle: Path) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Read config.json safely: a finding, never an exception or a hang."""
    if not bundle.exists():
        return None, [
            Finding(
                ERROR,
                "bundle-missing",
                f"{bundle} does not exist",
                "give the path of a bundle directory",
                str(bundle),
            )
        ]
    if not bundle.is_dir():
        return None, [
            Finding(
                ERROR,
                "not-a-bundle",
                f"{bundle} is not a directory",
                "give the bundle directory (the one holding config.json)",
                str(bundle),
            )
        ]
    path = bundle / "config.json"
    try:
        info = path.stat()
    except FileNotFoundError:
        return None, [
            Finding(
                ERROR,
                "config-missing",
                "the bundle has no config.json",
                "write one (`runc spec` makes a default)",
                "config.json",
            )
        ]
    except OSError as exc:
        return None, [
            Finding(
                ERROR,
                "config-unreadable",
                f"cannot stat config.json: {exc.strerror}",
                "make config.json readable",
                "config.json",
            )
        ]
    if not stat.S_ISREG(info.st_mode):
        return None, [
            Finding(
                ERROR,
                "config-not-a-file",
                "config.json is not a regular file",
                "replace it with a JSON file",
                "config.json",
            )
        ]
    if info.st_size > MAX_CONFIG_BYTES:
        return None, [
            Finding(
                ERROR,
                "config-too-large",
                f"config.json is {info.st_size} bytes; a config is a few KiB",
                "check that the right file was written as config.json",
                "config.json",
            )
        ]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [
            Finding(
                ERROR,
                "config-unreadable",
                f"cannot read config.json: {exc.strerror}",
                "make config.json readable by the user running the check",
                "config.json",
            )
        ]
    if b"\0" in raw:
        return None, [
            Finding(
                ERROR,
                "config-binary",
                "config.json contains NUL bytes (binary)",
                "write config.json as UTF-8 JSON text",
                "config.json",
            )
        ]
    try:
        text = raw.decode("utf-8")
        config = json.loads(text)
    except UnicodeDecodeError as exc:
        return None, [
            Finding(
                ERROR,
                "config-not-utf8",
                f"config.json is not UTF-8 ({exc.reason})",
                "write config.json as UTF-8 JSON text",
                "config.json",
            )
        ]
    except json.JSONDecodeError as exc:
        return None, [
            Finding(
                ERROR,
                "config-invalid-json",
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                "fix the JSON syntax there",
                f"config.json:{exc.lineno}:{exc.colno}",
            )
        ]
    except RecursionError:
        return None, [
            Finding(
                ERROR,
                "config-invalid-json",
                "JSON nested too deeply",
                "write a flat config",
                "config.json",
            )
        ]
    if not isinstance(config, dict):
        return None, [
            Finding(
                ERROR,
                "config-not-object",
                "config.json is not a JSON object",
                "the top level must be {...}",
                "config.json",
            )
        ]
    return config, []


def check_config(bundle: Path, config: dict[str, Any]) -> list[Finding]:
    """Every static finding for a loaded ``config`` of ``bundle``."""
    findings = _schema(config)
    findings += _process(config)
    findings += _linux(config)
    findings += _mounts(config)
    rootfs, rootfs_findings = _rootfs(bundle, config)
    findings += rootfs_findings
    if rootfs is not None:
        findings += _executable(rootfs, config)
        findings += _absolute_links(rootfs)
    if config.get("hooks"):
        stages = ", ".join(sorted(config["hooks"])) if isinstance(config["hooks"], dict) else "?"
        findings.append(
            Finding(
                WARNING,
                "hooks-present",
                f"the bundle has hooks ({stages}); they run on the host as root",
                "review them; the dynamic check skips them unless --allow-hooks is given",
                "config.json hooks",
            )
        )
    return findings


def _schema(config: dict[str, Any]) -> list[Finding]:
    found = []
    if "ociVersion" not in config:
        found.append(
            Finding(
                WARNING,
                "oci-version-missing",
                "no ociVersion: the spec requires it (runc runs the bundle anyway)",
                'add "ociVersion": "1.0.2"',
                "config.json ociVersion",
            )
        )
    covered = ("process/user", "process/args", "linux/namespaces", "process/env")
    for error in schema_errors("config", config):
        if error.startswith("(top level): 'ociVersion'") or error.startswith(covered):
            continue  # reported by a dedicated check below, with a better fix
        where, _, message = error.partition(": ")
        found.append(
            Finding(
                ERROR,
                "schema",
                message,
                "change the value to what the runtime spec allows there",
                f"config.json {where}",
            )
        )
    return found


def _process(config: dict[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    process = config.get("process")
    if not isinstance(process, dict):
        return [
            Finding(
                ERROR,
                "process-missing",
                "no process section: nothing to run",
                'add "process" with args, env and cwd',
                "config.json process",
            )
        ]
    args = process.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        found.append(
            Finding(
                ERROR,
                "args-empty",
                "process.args is missing or empty",
                'name the program to run, e.g. "args": ["/bin/sh"]',
                "config.json process.args",
            )
        )
    cwd = process.get("cwd")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        found.append(
            Finding(
                ERROR,
                "cwd-relative",
                f'process.cwd {cwd!r} is not an absolute path (runc: "Cwd must be'
                ' an absolute path")',
                'use an absolute path, e.g. "cwd": "/"',
                "config.json process.cwd",
            )
        )
    env = process.get("env", [])
    if not isinstance(env, list):
        found.append(
            Finding(
                ERROR,
                "env-invalid",
                "process.env is not a list of strings",
                'use ["KEY=VALUE", ...]',
                "config.json process.env",
            )
        )
    else:
        for index, entry in enumerate(env):
            if not isinstance(entry, str) or "=" not in entry or entry.startswith("="):
                found.append(
                    Finding(
                        ERROR,
                        "env-invalid",
                        f"process.env[{index}] {entry!r} is not KEY=VALUE"
                        ' (runc: "invalid environment variable")',
                        f'write it as "{entry}=value" or remove it',
                        f"config.json process.env[{index}]",
                    )
                )
    user = process.get("user", {})
    if isinstance(user, dict):
        for key in ("uid", "gid"):
            if key in user and (
                not isinstance(user[key], int) or isinstance(user[key], bool) or user[key] < 0
            ):
                found.append(
                    Finding(
                        ERROR,
                        "user-id-not-number",
                        f"process.user.{key} is {user[key]!r}, not a number"
                        " (runc cannot unmarshal it)",
                        f'use a number, e.g. "{key}": 0 (names are not resolved)',
                        f"config.json process.user.{key}",
                    )
                )
    if process.get("terminal") is True:
        found.append(
            Finding(
                WARNING,
                "terminal-needs-tty",
                "terminal is true: `runc run` needs a terminal on stdin, and"
                " detached use (run -d, create) needs --console-socket",
                'set "terminal": false for a detached or CI run',
                "config.json process.terminal",
            )
        )
    return found


def _linux(config: dict[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    linux = config.get("linux", {})
    namespaces = linux.get("namespaces", []) if isinstance(linux, dict) else []
    types = []
    for index, ns in enumerate(namespaces if isinstance(namespaces, list) else []):
        kind = ns.get("type") if isinstance(ns, dict) else None
        if kind not in KNOWN_NAMESPACES:
            found.append(
                Finding(
                    ERROR,
                    "namespace-unknown",
                    f"linux.namespaces[{index}] has unknown type {kind!r}",
                    f"use one of {', '.join(sorted(KNOWN_NAMESPACES))}",
                    f"config.json linux.namespaces[{index}]",
                )
            )
        elif kind in types:
            found.append(
                Finding(
                    ERROR,
                    "namespace-duplicate",
                    f"namespace type {kind!r} appears twice",
                    "keep one entry per type",
                    f"config.json linux.namespaces[{index}]",
                )
            )
        types.append(kind)
    if config.get("hostname") and "uts" not in types:
        found.append(
            Finding(
                ERROR,
                "hostname-without-uts",
                'a hostname is set but there is no uts namespace (runc: "unable to'
                ' set hostname without a private UTS namespace")',
                'add {"type": "uts"} to linux.namespaces, or remove hostname',
                "config.json hostname",
            )
        )
    return found


def _mounts(config: dict[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    mounts = config.get("mounts", [])
    mounts = mounts if isinstance(mounts, list) else []
    destinations = [m.get("destination") for m in mounts if isinstance(m, dict)]
    if not any(d in ("/proc", "/proc/") for d in destinations):
        found.append(
            Finding(
                ERROR,
                "no-proc-mount",
                'no /proc mount: runc 1.1 fails with "open /proc/self/fd: no such'
                ' file or directory"',
                f"add {PROC_MOUNT} to mounts",
                "config.json mounts",
            )
        )
    for index, dest in enumerate(destinations):
        if isinstance(dest, str) and not dest.startswith("/"):
            found.append(
                Finding(
                    WARNING,
                    "mount-destination-relative",
                    f"mounts[{index}].destination {dest!r} is relative: the spec"
                    " requires an absolute path (runc accepts it, with a warning)",
                    f'use "/{dest}"',
                    f"config.json mounts[{index}]",
                )
            )
    return found


def _rootfs(bundle: Path, config: dict[str, Any]) -> tuple[Path | None, list[Finding]]:
    root = config.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str):
        return None, [
            Finding(
                ERROR,
                "root-missing",
                "no root.path in config.json",
                'add "root": {"path": "rootfs"}',
                "config.json root",
            )
        ]
    rootfs = Path(root["path"])
    rootfs = rootfs if rootfs.is_absolute() else bundle / rootfs
    where = f"rootfs {root['path']}"
    if rootfs.is_symlink():
        return None, [
            Finding(
                ERROR,
                "rootfs-symlink",
                f"{rootfs} is a symlink; runc rejects it",
                "point root.path at the real directory",
                where,
            )
        ]
    if not rootfs.exists():
        return None, [
            Finding(
                ERROR,
                "rootfs-missing",
                f"{rootfs} does not exist",
                "unpack the root filesystem there, or fix root.path",
                where,
            )
        ]
    if not rootfs.is_dir():
        return None, [
            Finding(
                ERROR,
                "rootfs-not-a-directory",
                f"{rootfs} is not a directory",
                "root.path must name a directory",
                where,
            )
        ]
    if not os.access(rootfs, os.R_OK | os.X_OK):
        return None, [
            Finding(
                ERROR, "rootfs-unreadable", f"{rootfs} cannot be read", "fix its permissions", where
            )
        ]
    return rootfs, []


def _executable(rootfs: Path, config: dict[str, Any]) -> list[Finding]:
    process = config.get("process") if isinstance(config.get("process"), dict) else {}
    assert isinstance(process, dict)
    args = process.get("args")
    if not isinstance(args, list) or not args or not isinstance(args[0], str):
        return []
    env: list[Any] = process["env"] if isinstance(process.get("env"), list) else []
    path_var = next(
        (e[5:] for e in env if isinstance(e, str) and e.startswith("PATH=")), DEFAULT_PATH
    )
    cwd = process.get("cwd") if isinstance(process.get("cwd"), str) else "/"
    where = f"rootfs (process.args[0] {args[0]!r})"
    try:
        host, _, tried = find_executable(rootfs, args[0], path_var, str(cwd))
    except OSError as exc:
        return [
            Finding(
                ERROR,
                "args0-unreadable",
                f"cannot look up {args[0]!r}: {exc}",
                "fix the rootfs permissions",
                where,
            )
        ]
    if host is None:
        trap = (
            " — an absolute link written by `busybox --install -s`?" if "dangling" in tried else ""
        )
        return [
            Finding(
                ERROR,
                "args0-not-found",
                f"{args[0]!r} is not in the rootfs (tried {tried}){trap}",
                "install the program in the rootfs, fix PATH or args[0]; make busybox"
                " applet links relative (ln -s busybox sh)",
                where,
            )
        ]
    found: list[Finding] = []
    if not os.access(host, os.X_OK):
        found.append(
            Finding(
                ERROR,
                "args0-not-executable",
                f"{host} is not executable",
                f"chmod +x {host}",
                where,
            )
        )
    try:
        info = read_elf(host)
    except OSError as exc:
        return [
            *found,
            Finding(
                ERROR,
                "args0-unreadable",
                f"cannot read {host}: {exc.strerror}",
                "fix its permissions",
                where,
            ),
        ]
    if info is None:
        return found  # a script: its interpreter line is the kernel's business
    if info.interpreter:
        try:
            interp, _ = resolve_in_rootfs(rootfs, info.interpreter)
        except ResolveError:
            interp = rootfs / "nonexistent"
        if not interp.exists():
            found.append(
                Finding(
                    ERROR,
                    "elf-interpreter-missing",
                    f"{args[0]} is dynamically linked; its interpreter"
                    f" {info.interpreter} is not in the rootfs",
                    "copy the loader and libraries into the rootfs, or use a"
                    " static binary (e.g. busybox-static)",
                    where,
                )
            )
    for library in info.needed:
        if not any(_exists_in(rootfs, f"{d}/{library}") for d in LIBRARY_DIRS):
            found.append(
                Finding(
                    ERROR,
                    "elf-library-missing",
                    f"{args[0]} needs {library}, which is not in the rootfs's library directories",
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


def _absolute_links(rootfs: Path) -> list[Finding]:
    """Absolute symlinks whose target does not exist inside the rootfs."""
    dangling: list[str] = []
    scanned = 0
    pending = [rootfs]
    while pending and scanned < MAX_SCAN_ENTRIES:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            scanned += 1
            if entry.is_symlink():
                try:
                    target = os.readlink(entry.path)
                except OSError:
                    continue
                if target.startswith("/") and not _exists_in(rootfs, target):
                    dangling.append(f"/{Path(entry.path).relative_to(rootfs)} -> {target}")
            elif entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
    if not dangling:
        return []
    sample = ", ".join(sorted(dangling)[:3]) + (
        f" and {len(dangling) - 3} more" if len(dangling) > 3 else ""
    )
    return [
        Finding(
            WARNING,
            "absolute-symlink-outside-rootfs",
            f"{len(dangling)} absolute symlink(s) point at paths missing inside the rootfs"
            f" (they resolve on the host, not in the container): {sample}",
            "make them relative (ln -s busybox sh) or point them inside the rootfs;"
            " `busybox --install -s` writes host paths",
            "rootfs",
        )
    ]
