"""Host files that belong to root, reached with the run's own privilege.

As root, or rootless, the test process reads and removes what the runtime
made. Through ``sudo -n`` it cannot: ``/proc/<pid>/ns/*`` of a root-owned
container needs ptrace rights over it, and files runc made as root (state
directories, what a container wrote into its rootfs) are root's. Each helper
here asks sudo for exactly that one thing, and only when ``sudo`` is true;
the test process never tries to get at root's files any other way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from pytest_runc.oci.errors import RuncError

#: A sudo call here is one short command; a hung sudo must not hang the run.
_TIMEOUT = 30.0


class HostAccessError(RuncError):
    """A privileged look-up or removal through ``sudo -n`` failed."""


def _sudo(*argv: str) -> subprocess.CompletedProcess[str]:
    command = ["sudo", "-n", "--", *argv]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostAccessError(f"`{' '.join(command)}` failed: {exc}") from exc
    if done.returncode != 0:
        raise HostAccessError(
            f"`{' '.join(command)}` exited {done.returncode}: {done.stderr.strip()}"
            " (passwordless sudo must allow it: `sudo -n true` must succeed)"
        )
    return done


def readlink(path: str | Path, *, sudo: bool) -> str:
    """The target of the link ``path`` (e.g. ``/proc/<pid>/ns/net``).

    With ``sudo``, read by ``sudo -n readlink``: a namespace link of a
    process owned by root is readable only with ptrace rights over it.
    """
    if not sudo:
        return os.readlink(path)
    return _sudo("readlink", "--", str(path)).stdout.rstrip("\n")


def give_to_root(path: Path, *, sudo: bool) -> bool:
    """Make the tree at ``path`` root's (uid and gid 0), as if unpacked by root.

    Through sudo the container's root is the host's root, but a rootfs the
    test process copied is the test user's: without CAP_DAC_OVERRIDE (not in
    the default capabilities) the container's root could not write to it,
    and a read-only check would pass for the wrong reason. Only a directory
    the test process owns is changed; returns whether anything was.
    """
    if not sudo:
        return False
    try:
        info = path.lstat()
    except OSError:
        return False  # a check about a missing rootfs: the runtime must say so
    if not path.is_dir() or path.is_symlink() or info.st_uid != os.geteuid():
        return False
    # -h: a link in the rootfs is changed itself, never what it points to.
    _sudo("chown", "-R", "-h", "0:0", "--", str(path))
    return True


def remove_tree(path: Path, *, sudo: bool) -> None:
    """Remove ``path`` and everything below it; silent when it is gone.

    What the test process cannot remove (the runtime's state, files a
    container wrote as root) goes through ``sudo -n rm``, but only below a
    directory the test process owns, and never across into another mount.
    """
    shutil.rmtree(path, ignore_errors=True)
    if not sudo or not os.path.lexists(path):
        return
    try:
        info = path.lstat()
    except OSError:
        return
    if info.st_uid != os.geteuid() or path.is_symlink():
        raise HostAccessError(f"refusing to remove {path} as root: it is not ours")
    _sudo("rm", "-rf", "--one-file-system", "--", str(path))


def make_cgroup(path: Path, *, sudo: bool) -> None:
    """Make the cgroup directory ``path`` (a child of a container's cgroup).

    cgroupfs directories are root's: through sudo, ``sudo -n mkdir``. The
    name must be new (no ``-p``): a check never takes over a cgroup it finds.
    """
    if not sudo:
        path.mkdir()
        return
    _sudo("mkdir", "--", str(path))


def remove_cgroup(path: Path, *, sudo: bool) -> None:
    """rmdir the empty cgroup ``path`` that a check made (never recursively).

    Raises OSError (or HostAccessError through sudo) while it still has a process.
    """
    if not sudo:
        path.rmdir()
        return
    _sudo("rmdir", "--", str(path))
