"""A root.path that names the host itself is refused before anything reads it.

``"root": {"path": "/"}`` would make the static walk visit the whole host and
a trial run copy or mount it; ``/usr`` or ``/etc`` are no better. The check
resolves the path (symlinks and ``..``) and compares it with a list of host
system directories: it costs a few ``stat`` calls, never a walk.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_runc.bundlecheck.findings import ERROR, Finding

#: Directories of the host (and their well-known children) that are never a rootfs.
SYSTEM_DIRECTORIES = frozenset(
    [
        "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64",
        "/libx32", "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv",
        "/sys", "/tmp", "/usr", "/var", "/snap", "/nix",
        "/dev/shm", "/run/user", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64",
        "/usr/libexec", "/usr/local", "/usr/local/bin", "/usr/local/lib", "/usr/share",
        "/usr/include", "/usr/src", "/var/lib", "/var/log", "/var/cache", "/var/tmp",
        "/var/run", "/var/spool", "/var/mail", "/var/lib/docker", "/var/lib/containers",
    ]
)  # fmt: skip
#: Pseudo filesystems: nothing below them is a rootfs either (/dev/shm is a
#: tmpfs where bundles may well live).
PSEUDO_TREES = ("/proc/", "/sys/", "/dev/")
NOT_PSEUDO = ("/dev/shm/",)


def refuse_rootfs(rootfs: Path, written: str) -> Finding | None:
    """A finding when ``rootfs`` (root.path as ``written``) resolves to a host system
    directory, else None."""
    try:
        real = os.path.realpath(rootfs)
    except (OSError, ValueError):
        return None
    home = os.path.realpath(os.path.expanduser("~"))
    if (
        real in SYSTEM_DIRECTORIES
        or real == home
        or (real.startswith(PSEUDO_TREES) and not real.startswith(NOT_PSEUDO))
    ):
        same = "" if real == str(rootfs) else f" (it resolves to {real})"
        return Finding(
            ERROR,
            "rootfs-is-host-directory",
            f'root.path "{written}" names the host directory {real}{same}: the container'
            " would run on the host's own files; the check neither walks nor copies it",
            "point root.path at an unpacked image (e.g. a rootfs/ directory in the bundle)",
            "config.json root.path",
        )
    return None
