"""Private working directories of one pytest process, their lock, and the sweeper.

Each pytest process that runs containers (the session, or each xdist worker)
owns one directory ``<base>/s-<token>`` holding the runtime's state root, the
rootfs template and the bundles. The process holds an exclusive ``flock`` on
the directory for as long as it lives; the kernel drops the lock when the
process dies, however it dies, and whatever pid namespace it runs in.

The base is checked before use and held open (:mod:`pytest_runc.sessions.basedir`);
every entry is made, listed and opened relative to it, never through a
symlink. The sweeper visits only the base in use and removes a directory
only when it can take that lock: the owner is gone. It first deletes the dead
run's containers through a runtime it trusts (this run's, or the dead run's
own if no one else can write it), then kills what is left in the cgroups the
dead run recorded and removes them, and only then the directory. When
containers cannot be deleted, the directory stays and the sweeper says which
containers are left and the command that removes them. Nothing named in a
file found there is executed unless it passes :func:`trusted_executable`.
See docs/architecture.md ("Cleanup").
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import json
import os
import re
import secrets
import shlex
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_runc.oci.constants import PROBE_TIMEOUT, run_prefix
from pytest_runc.oci.errors import RuntimeTimeout
from pytest_runc.oci.host import HostAccessError, remove_tree
from pytest_runc.oci.linux import mount_table
from pytest_runc.oci.runtime import Runtime
from pytest_runc.sessions.basedir import (
    DIR_FLAGS,
    Base,
    UnsafeBaseDir,
    base_dir,
    check_ancestors,
    open_base,
    read_small_file,
    write_new_file,
)
from pytest_runc.sessions.cgroups import remove_cgroups, valid_prefix

__all__ = [
    "KEEP_FILE",
    "OWNER_FILE",
    "RECORD_FILE",
    "SweepResult",
    "UnsafeBaseDir",
    "WorkDir",
    "base_dir",
    "container_ids",
    "is_locked",
    "mounts_below",
    "new_token",
    "sweep",
    "trusted_executable",
    "unmount_below",
]

OWNER_FILE = "owner.json"
KEEP_FILE = "kept"
#: The container id prefixes a run handed out, one per line (see :mod:`.runcgroups`).
RECORD_FILE = "cgroups"
#: Directories being made carry this prefix until their lock is held.
_NEW = "n-"
_SESSION = "s-"
_ENTRY = re.compile(r"(?:s|n)-([0-9A-Za-z]{4,32})")
#: A half-made directory (``n-*``) younger than this may still be in the making.
_GRACE_SECONDS = 60.0


def new_token() -> str:
    """A run's token: names its directory, and prefixes its container ids."""
    return secrets.token_hex(4)


# -- the lock --------------------------------------------------------------


def _lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def is_locked(path: Path) -> bool:
    """Whether a live process holds ``path``'s lock (for tests and reports)."""
    try:
        fd = os.open(path, DIR_FLAGS)
    except OSError:
        return False
    try:
        return not _lock(fd)
    finally:
        os.close(fd)


@dataclass
class WorkDir:
    """The private directory of this process, locked while the process lives."""

    path: Path
    token: str
    _lock_fd: int | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        base: Path | None = None,
        token: str | None = None,
        *,
        binary: str | None = None,
        state_root: Path | None = None,
    ) -> WorkDir:
        """Make and lock ``<base>/s-<token>``; UnsafeBaseDir when the base is not ours.

        ``binary`` and ``state_root`` (when not the private one) go into the
        owner file, so that a later sweeper deletes the containers through
        the same runtime (if it trusts it) and root.
        """
        token = token or new_token()
        # Made under another name and renamed once locked: the sweeper only
        # takes s-* directories whose lock it gets, so it never takes one in the making.
        making, final = f"{_NEW}{token}", f"{_SESSION}{token}"
        for _ in range(5):  # another run may remove the empty base meanwhile
            opened = open_base(base or base_dir(), create=True)
            assert opened is not None  # made when missing
            try:
                os.mkdir(making, 0o700, dir_fd=opened.fd)
                break
            except FileNotFoundError:
                opened.close()
        else:
            raise OSError(f"cannot make {making} in {base or base_dir()}")
        with opened:
            fd = os.open(making, DIR_FLAGS, dir_fd=opened.fd)
            if not _lock(fd):
                os.close(fd)
                raise OSError(f"cannot lock the new directory {opened.path / making}")
            owner: dict[str, Any] = {"pid": os.getpid(), "created": time.time(), "token": token}
            if binary:
                owner["binary"] = binary
            if state_root:
                owner["state_root"] = str(state_root)
            write_new_file(fd, OWNER_FILE, json.dumps(owner).encode())
            os.rename(making, final, src_dir_fd=opened.fd, dst_dir_fd=opened.fd)
            return cls(opened.path / final, token, fd)

    @property
    def state_root(self) -> Path:
        return self.path / "state"

    @property
    def bundles(self) -> Path:
        return self.path / "bundles"

    def record(self, prefix: str) -> None:
        """Note a container id prefix before any container uses it: the cgroups
        named after it are ours to remove (see :mod:`.runcgroups`)."""
        if not valid_prefix(prefix, self.token):
            raise ValueError(f"{prefix!r} is not a container id prefix of run {self.token}")
        if self._lock_fd is None:
            raise ValueError(f"{self.path} is released: nothing more can be recorded")
        write_new_file(self._lock_fd, RECORD_FILE, f"{prefix}\n".encode(), append=True)

    def recorded(self) -> list[str]:
        """The id prefixes recorded so far."""
        if self._lock_fd is None:
            return []
        return _recorded(self._lock_fd, self.token)

    def keep(self, note: str) -> None:
        """Mark the directory as kept (--runc-keep-failed): the sweeper spares it."""
        if self._lock_fd is None:
            raise ValueError(f"{self.path} is released")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(KEEP_FILE, dir_fd=self._lock_fd)
        write_new_file(self._lock_fd, KEEP_FILE, note.encode())

    def release(self) -> None:
        """Drop the lock: from now on a sweeper may remove what is left here."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def remove(self, *, sudo: bool = False) -> None:
        """Unmount, remove the directory (and the base, if now empty), then unlock.

        With ``sudo``, what runc made as root is removed through ``sudo -n``;
        HostAccessError if that fails (the directory stays for the sweeper).
        """
        try:
            unmount_below(self.path, sudo=sudo)
            remove_tree(self.path, sudo=sudo)
            with contextlib.suppress(OSError):
                os.rmdir(self.path.parent)
        finally:
            self.release()


def _recorded(dir_fd: int, token: str) -> list[str]:
    data = read_small_file(dir_fd, RECORD_FILE, limit=1 << 20) or b""
    lines = data.decode(errors="replace").splitlines()
    return list(dict.fromkeys(p for p in lines if valid_prefix(p, token)))


# -- trusting a binary named in a file ------------------------------------------


def trusted_executable(binary: Any) -> str | None:
    """``binary`` when it is an absolute path to an executable regular file that no
    one but root or us can change (the file, and every directory and link on
    the way); otherwise None. A sweeper runs nothing else from an owner file."""
    if not isinstance(binary, str) or not os.path.isabs(binary):
        return None
    try:
        check_ancestors(Path(binary))
        real = os.path.realpath(binary)
        check_ancestors(Path(real))
        info = os.stat(real)
    except (UnsafeBaseDir, OSError):
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_uid not in (0, os.geteuid()):
        return None
    if info.st_mode & 0o022 or not os.access(real, os.X_OK):
        return None
    return binary


# -- the sweeper -------------------------------------------------------------


@dataclass
class SweepResult:
    """What one sweep removed, and what it had to leave (with the command that removes it)."""

    removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)


def _owner(dir_fd: int) -> dict[str, Any]:
    data = read_small_file(dir_fd, OWNER_FILE)
    if data is None:
        return {}
    try:
        parsed = json.loads(data)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _recorded_state_root(owner: dict[str, Any]) -> Path | None:
    """A shared state root (``--runc-root``) from the owner file, if it is one no
    one else controls; None when there is none or it is not trusted."""
    recorded = owner.get("state_root")
    if not isinstance(recorded, str) or not os.path.isabs(recorded):
        return None
    try:
        check_ancestors(Path(recorded) / "x")
    except UnsafeBaseDir:
        return None
    return Path(recorded)


class _Leftover:
    """A dead run's directory, locked by the sweeper while it works on it."""

    def __init__(self, path: Path, token: str, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.token = token
        self.owner = _owner(fd)
        self.prefixes = _recorded(fd, token)
        shared = "state_root" in self.owner
        self.private_root = not shared
        self.state_root = _recorded_state_root(self.owner) if shared else path / "state"

    def container_ids(self, runtime: Runtime | None) -> list[str] | None:
        """The dead run's containers, or None when they cannot be known."""
        if self.state_root is None:
            return None
        if self.private_root:
            return _private_ids(self.fd)
        return container_ids(self.state_root, runtime, prefix=run_prefix(self.token), private=False)


def _private_ids(dir_fd: int) -> list[str] | None:
    """Container ids in the private state root ``state`` below ``dir_fd``, read
    without following links; None when root made it unreadable to us (sudo)."""
    try:
        fd = os.open("state", DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return []
    except PermissionError:
        return None
    except OSError:
        return []
    try:
        with os.scandir(fd) as listing:
            return sorted(e.name for e in listing if e.is_dir(follow_symlinks=False))
    except PermissionError:
        return None
    finally:
        os.close(fd)


def container_ids(
    state_root: Path, runtime: Runtime | None, *, prefix: str | None, private: bool
) -> list[str] | None:
    """The containers in ``state_root`` (only ids starting with ``prefix``, if
    given), or None when they cannot be known.

    A private state root is read directly: its subdirectories are the
    container ids, and asking ``list`` would fail on a half-written state.
    A shared root (``--runc-root``), or one only root can read (sudo), is
    asked through ``runtime``.
    """
    if not state_root.is_dir():
        return []
    ids: list[str] | None = None
    if private:
        with contextlib.suppress(PermissionError):
            ids = [e.name for e in state_root.iterdir() if e.is_dir() and not e.is_symlink()]
    if ids is None:
        if runtime is None:
            return None
        try:
            ids = runtime.list_ids()
        except Exception:  # a broken runtime: the caller reports what it could not see
            return None
    return sorted(i for i in ids if prefix is None or i.startswith(prefix))


def sweep(
    binary: str | None,
    *,
    sudo: bool = False,
    base: Path | None = None,
    timeout: float = PROBE_TIMEOUT,
) -> SweepResult:
    """Remove what dead pytest-runc runs left under ``base`` (default: the base in use).

    Touches only our own ``s-*``/``n-*`` directories under that base (real
    directories, never links) whose lock it can take (their owner is gone)
    and that were not kept on purpose. A directory goes only after all its
    containers were deleted; otherwise it stays and the result says what is
    left and how to remove it. UnsafeBaseDir when the base is not ours.
    """
    result = SweepResult()
    opened = open_base(base or base_dir(), create=False)
    if opened is None:
        return result
    with opened:
        for name in opened.entries():
            match = _ENTRY.fullmatch(name)
            if match is None:
                continue
            fd = opened.open_dir(name)
            if fd is None:
                continue
            try:
                if _spared(name, fd) or not _lock(fd):
                    continue  # kept, in the making, or a live run holds it
                leftover = _Leftover(opened.path / name, match.group(1), fd)
                _sweep_one(leftover, opened, binary, sudo, timeout, result)
            finally:
                os.close(fd)
        opened.remove_if_empty()
    return result


def _spared(name: str, fd: int) -> bool:
    """A kept directory, or a half-made one that may still be in the making."""
    with contextlib.suppress(OSError):
        os.stat(KEEP_FILE, dir_fd=fd, follow_symlinks=False)
        return True
    if name.startswith(_NEW):
        with contextlib.suppress(OSError):
            return time.time() - os.fstat(fd).st_mtime < _GRACE_SECONDS
    return False


def _runtimes_for(
    leftover: _Leftover, binary: str | None, sudo: bool, timeout: float
) -> list[Runtime]:
    """The dead run's own runtime if no one else can change it, then this run's."""
    if leftover.state_root is None:
        return []
    chosen = dict.fromkeys(filter(None, (trusted_executable(leftover.owner.get("binary")), binary)))
    return [Runtime(b, leftover.state_root, timeout=timeout, sudo=sudo) for b in chosen]


def _sweep_one(
    leftover: _Leftover,
    base: Base,
    binary: str | None,
    sudo: bool,
    timeout: float,
    result: SweepResult,
) -> None:
    runtimes = _runtimes_for(leftover, binary, sudo, timeout)
    ids = leftover.container_ids(runtimes[0] if runtimes else None)
    for runtime in runtimes:
        if not ids:
            break
        for container_id in ids:
            try:
                runtime.delete(container_id, force=True, check=False)
            except (RuntimeTimeout, OSError):
                continue  # a sweep must never break a run; it is reported below
        remaining = leftover.container_ids(runtime)
        deleted = [i for i in ids if remaining is not None and i not in remaining]
        result.removed += [f"container {i} (state root {leftover.state_root})" for i in deleted]
        ids = remaining
    if ids is None or ids:
        result.left += _left_report(leftover, ids, runtimes, sudo)
        return
    # Every container is deleted: what is still in the recorded cgroups is an
    # orphan of the dead run (a `runc init` whose create was killed).
    removed = remove_cgroups(leftover.prefixes, sudo=sudo, kill=True)
    result.removed += [f"cgroup {c}" for c in removed]
    unmount_below(leftover.path, sudo=sudo)
    try:
        remove_tree(leftover.path, sudo=sudo)
    except HostAccessError as exc:
        result.left.append(f"{leftover.path}: kept; {exc}")
        return
    name = leftover.path.name
    try:
        os.stat(name, dir_fd=base.fd, follow_symlinks=False)
    except FileNotFoundError:
        result.removed.append(f"directory {leftover.path}")
        return
    result.left.append(f"{leftover.path}: kept; it could not be removed completely")


def _left_report(
    leftover: _Leftover, ids: list[str] | None, runtimes: list[Runtime], sudo: bool
) -> list[str]:
    root = leftover.state_root or Path(str(leftover.owner.get("state_root", "?")))
    runtime = runtimes[-1] if runtimes else Runtime("runc", root, sudo=sudo)
    if leftover.state_root is None:
        return [
            f"{leftover.path}: kept; its owner file names a state root ({root}) that other"
            " users could change, so the sweeper does not act on it. Delete its containers"
            f" with `{shlex.join(runtime.argv('delete', '--force', 'ID'))}`, then remove"
            " the directory."
        ]
    why = "no working runtime deleted them" if runtimes else "no runtime binary to delete them"
    if ids is None:
        listing = shlex.join(runtime.argv("list"))
        return [
            f"{leftover.path}: kept; its containers in {root} could not be"
            f" listed ({why}). List them with `{listing}`, delete each with"
            f" `{shlex.join(runtime.argv('delete', '--force', 'ID'))}`, then remove the directory."
        ]
    lines = [f"{leftover.path}: kept, {len(ids)} container(s) left ({why}):"]
    lines += [f"  {shlex.join(runtime.argv('delete', '--force', i))}" for i in ids]
    return lines


# -- mounts ------------------------------------------------------------------

_MNT_DETACH = 2
_UMOUNT_NOFOLLOW = 8


def mounts_below(path: Path) -> list[str]:
    """Mount points at or under ``path`` in this mount namespace."""
    prefix = os.path.realpath(path)
    return [
        entry.point
        for entry in mount_table()
        if entry.point == prefix or entry.point.startswith(prefix + "/")
    ]


def _umount2(point: str) -> bool:
    """Detach ``point`` without following a link in its last component."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return int(libc.umount2(os.fsencode(point), _MNT_DETACH | _UMOUNT_NOFOLLOW)) == 0


def unmount_below(path: Path, *, sudo: bool = False) -> None:
    """Lazily unmount anything left mounted inside ``path``, deepest first."""
    for point in sorted(mounts_below(path), key=len, reverse=True):
        if os.geteuid() == 0 and _umount2(point):
            continue
        prefix = ["sudo", "-n", "--"] if sudo and os.geteuid() != 0 else []
        subprocess.run(
            [*prefix, "umount", "-l", "--", point], capture_output=True, timeout=10, check=False
        )
