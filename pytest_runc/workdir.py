"""Private working directories of one pytest process, their lock, and the sweeper.

Each pytest process that runs containers (the session, or each xdist worker)
owns one directory ``<base>/s-<token>`` holding the runtime's state root, the
rootfs template and the bundles. The process holds an exclusive ``flock`` on
the directory for as long as it lives; the kernel drops the lock when the
process dies, however it dies, and whatever pid namespace it runs in.

The sweeper visits only the base in use (see :func:`base_dir`) and removes a
directory only when it can take that lock: the owner is gone. It first
deletes the dead run's containers through a runtime, then removes the empty
cgroups named after the dead run's token, and only then the directory. When
containers cannot be deleted, the directory stays and the sweeper says which
containers are left and the command that removes them. See
docs/architecture.md ("Cleanup").
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_runc.constants import CGROUP_ROOT, ID_PREFIX, PROBE_TIMEOUT, run_prefix
from pytest_runc.errors import RuntimeTimeout
from pytest_runc.host import HostAccessError, remove_tree
from pytest_runc.linux import mount_table
from pytest_runc.runtime import Runtime

OWNER_FILE = "owner.json"
KEEP_FILE = "kept"
#: Directories being made carry this prefix until their lock is held.
_NEW = "n-"
_SESSION = "s-"
#: A half-made directory (``n-*``) younger than this may still be in the making.
_GRACE_SECONDS = 60.0
_TOKEN = re.compile(r"[0-9a-f]{6,32}")

SHM = Path("/dev/shm")


def new_token() -> str:
    """A run's token: names its directory, and prefixes its container ids."""
    return secrets.token_hex(4)


def _usable_tmpfs(path: Path) -> bool:
    """A writable tmpfs that allows exec (containers run binaries from it)."""
    for entry in mount_table():
        if entry.point == str(path):
            return entry.fstype == "tmpfs" and not entry.has("noexec") and not entry.has("ro")
    return False


def base_dir() -> Path:
    """Where our session directories go: ``$PYTEST_RUNC_TMPDIR``, else /dev/shm when
    it is an exec-able tmpfs, else the system temp dir; plus ``pytest-runc-<uid>``.

    A tmpfs matters: each test copies a rootfs of ~400 symlinks, which costs
    3 ms on tmpfs and 30-700 ms on a busy ext4 (measured here).
    """
    chosen = os.environ.get("PYTEST_RUNC_TMPDIR")
    if chosen:
        parent = Path(chosen)
    elif _usable_tmpfs(SHM) and os.access(SHM, os.W_OK | os.X_OK):
        parent = SHM
    else:
        parent = Path(tempfile.gettempdir())
    return parent / f"pytest-runc-{os.getuid()}"


# -- the lock --------------------------------------------------------------


def _try_lock(path: Path) -> int | None:
    """An open descriptor of ``path`` holding its exclusive flock, or None when
    another process holds it (or the directory is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def is_locked(path: Path) -> bool:
    """Whether a live process holds ``path``'s lock (for tests and reports)."""
    fd = _try_lock(path)
    if fd is None:
        return path.is_dir()
    os.close(fd)
    return False


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
        """Make and lock ``<base>/s-<token>``.

        ``binary`` and ``state_root`` (when not the private one) go into the
        owner file, so that a later sweeper deletes the containers through
        the same runtime and root.
        """
        parent = base or base_dir()
        token = token or new_token()
        # Made under another name and renamed once locked: the sweeper only
        # looks at s-* directories, so it never sees one that is not locked yet.
        making = parent / f"{_NEW}{token}"
        for _ in range(5):  # another run may remove the empty parent meanwhile
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                making.mkdir(mode=0o700)
                break
            except FileNotFoundError:
                continue
        fd = _try_lock(making)
        if fd is None:
            raise OSError(f"cannot lock the new directory {making}")
        owner: dict[str, Any] = {"pid": os.getpid(), "created": time.time(), "token": token}
        if binary:
            owner["binary"] = binary
        if state_root:
            owner["state_root"] = str(state_root)
        (making / OWNER_FILE).write_text(json.dumps(owner))
        path = parent / f"{_SESSION}{token}"
        making.rename(path)
        return cls(path, token, fd)

    @property
    def state_root(self) -> Path:
        return self.path / "state"

    @property
    def bundles(self) -> Path:
        return self.path / "bundles"

    def keep(self, note: str) -> None:
        """Mark the directory as kept (--runc-keep-failed): the sweeper spares it."""
        (self.path / KEEP_FILE).write_text(note)

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
            _remove_if_empty(self.path.parent)
        finally:
            self.release()


# -- cgroups ---------------------------------------------------------------


def run_cgroups(token: str, root: Path = CGROUP_ROOT) -> list[Path]:
    """Cgroup directories named for the run with ``token``: ``prt-<token>-*``
    at the top of each v1 controller or of the v2 tree, and the bundle check's
    ``prt-check-<token>``."""
    if not _TOKEN.fullmatch(token):
        return []
    names = (f"{run_prefix(token)}*", f"{ID_PREFIX}check-{token}")
    found: list[Path] = []
    for name in names:
        found += root.glob(name)
        found += root.glob(f"*/{name}")
    return sorted({p for p in found if p.is_dir()})


def remove_empty_cgroups(
    token: str,
    *,
    sudo: bool = False,
    spare: frozenset[str] = frozenset(),
    root: Path = CGROUP_ROOT,
) -> list[str]:
    """rmdir the cgroups of run ``token`` that hold no process, deepest first.

    Never recursive: the kernel refuses rmdir of a cgroup with a process or a
    child cgroup, so a busy one stays. Directories named in ``spare`` (kept
    containers) are left alone. Returns what was removed.
    """
    removed = []
    for top in run_cgroups(token, root):
        if top.name in spare:
            continue
        below = [Path(d) for d, _, _ in os.walk(top, topdown=False)]
        for directory in below:
            if _rmdir(directory, sudo):
                removed.append(str(directory))
    return removed


def _rmdir(directory: Path, sudo: bool) -> bool:
    if not sudo or os.geteuid() == 0:
        try:
            directory.rmdir()
            return True
        except OSError:
            return False
    done = subprocess.run(
        ["sudo", "-n", "rmdir", "--", str(directory)],
        capture_output=True,
        timeout=PROBE_TIMEOUT,
        check=False,
    )
    return done.returncode == 0


# -- the sweeper -------------------------------------------------------------


@dataclass
class SweepResult:
    """What one sweep removed, and what it had to leave (with the command that removes it)."""

    removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)


def _owner(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _token_of(path: Path, owner: dict[str, Any]) -> str:
    token = owner.get("token")
    if isinstance(token, str) and _TOKEN.fullmatch(token):
        return token
    # Older directories were named s-<pid>-<token>.
    return path.name[2:].rsplit("-", 1)[-1]


def _executable(binary: Any) -> str | None:
    if isinstance(binary, str) and os.path.isfile(binary) and os.access(binary, os.X_OK):
        return binary
    return None


class _Leftover:
    """A dead run's directory, locked by the sweeper while it works on it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.owner = _owner(path)
        self.token = _token_of(path, self.owner)
        recorded = self.owner.get("state_root")
        self.state_root = Path(recorded) if isinstance(recorded, str) else path / "state"
        self.private_root = self.state_root == path / "state"

    def container_ids(self, runtime: Runtime | None) -> list[str] | None:
        """The dead run's containers, or None when they cannot be known."""
        prefix = None if self.private_root else run_prefix(self.token)
        return container_ids(self.state_root, runtime, prefix=prefix, private=self.private_root)


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
            ids = [e.name for e in state_root.iterdir() if e.is_dir()]
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

    Touches only ``s-*`` directories under that base whose lock it can take
    (their owner is gone) and that were not kept on purpose. A directory goes
    only after all its containers were deleted, through the runtime the dead
    run used (from its owner file) or else ``binary``; otherwise it stays and
    the result says what is left and how to remove it.
    """
    parent = base or base_dir()
    result = SweepResult()
    if not parent.is_dir():
        return result
    for path in sorted(parent.iterdir()):
        if not path.name.startswith((_SESSION, _NEW)) or not path.is_dir():
            continue
        if (path / KEEP_FILE).exists():
            continue
        if path.name.startswith(_NEW) and _younger_than(path, _GRACE_SECONDS):
            continue
        if _legacy_owner_alive(path):
            continue
        fd = _try_lock(path)
        if fd is None:
            continue  # a live run holds it
        try:
            _sweep_one(_Leftover(path, fd), binary, sudo, timeout, result)
        finally:
            os.close(fd)
    _remove_if_empty(parent)
    return result


def _legacy_owner_alive(path: Path) -> bool:
    """Whether a directory of pytest-runc 0.1 (no lock; owner pid and start time)
    still has its owner. Such a run cannot hold a lock, so only its pid tells."""
    owner = _owner(path)
    pid, start = owner.get("pid"), owner.get("start")
    if "token" in owner or not isinstance(pid, int) or not isinstance(start, str):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[19] == start


def _younger_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return False


def _sweep_one(
    leftover: _Leftover, binary: str | None, sudo: bool, timeout: float, result: SweepResult
) -> None:
    runtimes = [
        Runtime(b, leftover.state_root, timeout=timeout, sudo=sudo)
        for b in dict.fromkeys(filter(None, (_executable(leftover.owner.get("binary")), binary)))
    ]
    first = runtimes[0] if runtimes else None
    ids = leftover.container_ids(first)
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
    result.removed += [f"cgroup {c}" for c in remove_empty_cgroups(leftover.token, sudo=sudo)]
    unmount_below(leftover.path, sudo=sudo)
    try:
        remove_tree(leftover.path, sudo=sudo)
    except HostAccessError as exc:
        result.left.append(f"{leftover.path}: kept; {exc}")
        return
    result.removed.append(f"directory {leftover.path}")


def _left_report(
    leftover: _Leftover, ids: list[str] | None, runtimes: list[Runtime], sudo: bool
) -> list[str]:
    runtime = runtimes[-1] if runtimes else Runtime("runc", leftover.state_root, sudo=sudo)
    why = "no working runtime deleted them" if runtimes else "no runtime binary to delete them"
    if ids is None:
        listing = shlex.join(runtime.argv("list"))
        return [
            f"{leftover.path}: kept; its containers in {leftover.state_root} could not be"
            f" listed ({why}). List them with `{listing}`, delete each with"
            f" `{shlex.join(runtime.argv('delete', '--force', 'ID'))}`, then remove the directory."
        ]
    lines = [f"{leftover.path}: kept, {len(ids)} container(s) left ({why}):"]
    lines += [f"  {shlex.join(runtime.argv('delete', '--force', i))}" for i in ids]
    return lines


def _remove_if_empty(directory: Path) -> None:
    """Remove our base directory once no run uses it (rmdir refuses otherwise)."""
    with contextlib.suppress(OSError):
        directory.rmdir()


# -- mounts ------------------------------------------------------------------


def mounts_below(path: Path) -> list[str]:
    """Mount points at or under ``path`` in this mount namespace."""
    prefix = str(path.resolve())
    return [
        entry.point
        for entry in mount_table()
        if entry.point == prefix or entry.point.startswith(prefix + "/")
    ]


def unmount_below(path: Path, *, sudo: bool = False) -> None:
    """Lazily unmount anything left mounted inside ``path``, deepest first."""
    prefix = ["sudo", "-n", "--"] if sudo else []
    for point in sorted(mounts_below(path), key=len, reverse=True):
        subprocess.run(
            [*prefix, "umount", "-l", point], capture_output=True, timeout=10, check=False
        )
