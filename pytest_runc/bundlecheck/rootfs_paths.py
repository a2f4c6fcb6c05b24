"""Resolving paths inside a rootfs the way the container will see them.

Symlinks are followed inside the rootfs (an absolute link target is taken
relative to the rootfs root, as after pivot_root), never on the host.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

MAX_LINKS = 40


class ResolveError(Exception):
    """A path cannot be resolved inside the rootfs (loop, escape, not a dir)."""


def resolve_in_rootfs(rootfs: Path, path: str) -> tuple[Path, list[str]]:
    """The host path that ``path`` (absolute, in the container) names, and the
    links followed on the way. The result may not exist; ResolveError on a
    symlink loop."""
    parts = list(PurePosixPath(path).parts[1:])
    current = PurePosixPath("/")
    followed: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            current = current.parent  # ".." at / stays at /, as in the container
            continue
        candidate = current / part
        host = rootfs / str(candidate).lstrip("/")
        try:
            info = os.lstat(host)
        except FileNotFoundError:
            return rootfs / str(PurePosixPath(candidate, *parts)).lstrip("/"), followed
        except NotADirectoryError:
            raise ResolveError(f"{current} is not a directory") from None
        if stat.S_ISLNK(info.st_mode):
            hops += 1
            if hops > MAX_LINKS:
                raise ResolveError(f"too many levels of symbolic links at {candidate}")
            target = os.readlink(host)
            followed.append(f"{candidate} -> {target}")
            parts = (
                list(
                    PurePosixPath(target).parts[1:]
                    if target.startswith("/")
                    else PurePosixPath(target).parts
                )
                + parts
            )
            if target.startswith("/"):
                current = PurePosixPath("/")
            continue
        current = candidate
    return rootfs / str(current).lstrip("/"), followed


def find_executable(
    rootfs: Path, name: str, path_var: str, cwd: str
) -> tuple[Path | None, list[str], str]:
    """Look ``name`` up as the runtime will: through PATH unless it has a slash.

    Returns (host path or None, links followed, what was tried).
    """
    if "/" in name:
        candidates = [name if name.startswith("/") else str(PurePosixPath(cwd) / name)]
    else:
        candidates = [str(PurePosixPath(d or ".") / name) for d in path_var.split(":")]
    tried = []
    for candidate in candidates:
        if not candidate.startswith("/"):
            continue
        tried.append(candidate)
        try:
            host, followed = resolve_in_rootfs(rootfs, candidate)
        except ResolveError as exc:
            tried[-1] += f" ({exc})"
            continue
        if host.is_file():
            return host, followed, ", ".join(tried)
        if followed and not host.exists():
            tried[-1] += f" (dangling link: {followed[-1]})"
    return None, [], ", ".join(tried)
