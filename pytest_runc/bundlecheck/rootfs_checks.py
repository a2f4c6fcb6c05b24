"""Static checks of the rootfs a config names: where it is, whether runc can use it,
and whether the process's program, its interpreter and libraries, and the
user files are there. Never follows a symlink out of the rootfs; a rootfs
outside the bundle directory is a host directory and is not read unless host
mounts are allowed. Files are opened non-blocking and only when regular: a
FIFO in the rootfs cannot hang the check (it is reported where runc would
hang on it).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from pytest_runc.bundlecheck.findings import (
    ERROR,
    WARNING,
    Finding,
    as_dict,
    as_list,
    config_error,
    js,
)
from pytest_runc.bundlecheck.rootfs_guard import refuse_rootfs
from pytest_runc.bundlecheck.rootfs_paths import (
    ResolveError,
    find_executable,
    resolve_in_rootfs,
)
from pytest_runc.oci.elf import read_elf

MAX_SCAN_ENTRIES = 200_000

#: The kernel follows at most 4 levels of ``#!`` interpreters (BINPRM_MAX_RECURSION).
MAX_SCRIPT_DEPTH = 4

LIBRARY_DIRS = (
    "/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib",
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
)  # fmt: skip

#: Files runc 1.1 opens in the container to look up the user: a FIFO there
#: blocks it for ever, a device is read as the file.
USER_FILES = ("/etc/passwd", "/etc/group")


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
            config_error(
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
            config_error(
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
            config_error(
                "rootfs-symlink",
                f"{rootfs} is a symlink; runc rejects it",
                "point root.path at the real directory",
                where,
            )
        ]
    if not rootfs.exists():
        return None, [
            config_error(
                "rootfs-missing",
                f"{rootfs} does not exist",
                "unpack the root filesystem there, or fix root.path",
                where,
            )
        ]
    if not rootfs.is_dir():
        return None, [
            config_error(
                "rootfs-not-a-directory",
                f"{rootfs} is not a directory",
                "root.path must name a directory",
                where,
            )
        ]
    if not os.access(rootfs, os.R_OK | os.X_OK):
        return None, [
            config_error(
                "rootfs-unreadable", f"{rootfs} cannot be read", "fix its permissions", where
            )
        ]
    return rootfs, []


def _executable(rootfs: Path, config: dict[str, Any]) -> list[Finding]:
    process = as_dict(config.get("process"))
    args = as_list(process.get("args"))
    if not args or not args[0]:
        return []
    env = as_list(process.get("env"))
    path_var = next((e[5:] for e in env if e.startswith("PATH=")), None)
    where = f"process.args[0] ({js(args[0])})"
    if "/" not in args[0] and path_var is None:
        return [
            config_error(
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
            config_error(
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
            config_error(
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
            config_error(
                "args0-not-executable", f"{host} is not executable", f"chmod +x {host}", where
            )
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
            return config_error(
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


def _program(rootfs: Path, host: Path, name: str, where: str, depth: int) -> list[Finding]:
    """What the kernel needs to start ``host``: its ``#!`` interpreter (recursively),
    an ELF loader and libraries, all inside the rootfs."""
    try:
        fd = _open_regular(host)
    except OSError as exc:
        return [
            config_error(
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
            config_error(
                "args0-unreadable", f"cannot read {host}: {exc.strerror}", "fix its mode", where
            )
        ]
    finally:
        os.close(fd)
    if interpreter is not None:
        if depth >= MAX_SCRIPT_DEPTH:
            return [
                config_error(
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
                config_error(
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
            config_error(
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
                config_error(
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


def rootfs_findings(rootfs: Path, config: dict[str, Any]) -> list[Finding]:
    """The findings of a usable rootfs: the program, the user files, absolute links."""
    return _executable(rootfs, config) + _user_files(rootfs) + _absolute_links(rootfs)
