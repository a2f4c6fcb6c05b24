"""The base directory that holds every run's private directory, made safe to use as root.

Runs keep their directories under one base per user, ``<tmp>/pytest-runc-<uid>``
(see :func:`base_dir`). Its name is predictable, and its parent (/dev/shm,
/tmp) is writable by every local user: another user can make it first, as a
symlink, a file, or a directory full of forged leftovers. A run (as root, or
through sudo) then acts on whatever it finds there. So the base is trusted
only when:

- every directory above it is owned by root or by us, and is either not
  writable by group and others or is sticky (as /tmp and /dev/shm are), and
  every symlink on the way is owned by root or by us;
- the base itself is a real directory (not a symlink), owned by our
  effective uid, with no group or other write permission (we make it 0700).

Anything else is :class:`UnsafeBaseDir`, whose message names the path, what
is wrong and the fix. Once trusted, the base is held open
(``O_NOFOLLOW|O_DIRECTORY``) and entries are created, listed and opened
relative to that descriptor, so a later rename of the path cannot redirect
what we do.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pytest_runc.oci.errors import RuncError
from pytest_runc.oci.linux import mount_table

SHM = Path("/dev/shm")

#: Open a directory without following a symlink in its last component.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeBaseDir(RuncError):
    """The base directory (or a directory above it) could be controlled by another user."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"pytest-runc: refusing to use {path} as its working directory: {problem}."
            " Another local user may have made it to take over this run. Check who made it"
            f" and remove it (`rm -rf -- {path}`), or set PYTEST_RUNC_TMPDIR to a directory"
            " that only you can write."
        )


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


def _trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def _describe_owner(info: os.stat_result) -> str:
    return f"owned by uid {info.st_uid}, mode {stat.filemode(info.st_mode)}"


def _check_component(path: str, info: os.stat_result) -> str | None:
    """What makes one directory or symlink on the way to the base unsafe, or None."""
    if stat.S_ISLNK(info.st_mode):
        if not _trusted_owner(info.st_uid):
            return f"{path} is a symlink owned by uid {info.st_uid}"
        return None
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    if not _trusted_owner(info.st_uid):
        return f"{path} is {_describe_owner(info)}"
    # Writable by others is fine only when sticky: others cannot then rename
    # or remove what we made inside it.
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        return f"{path} is writable by others and not sticky ({_describe_owner(info)})"
    return None


def check_ancestors(path: Path) -> None:
    """Raise UnsafeBaseDir unless every directory above ``path`` is safe (see module doc).

    Both the path as written and its resolved form are checked: a trusted
    symlink (``/var/run`` -> ``/run``) may lead to a directory that is not.
    """
    absolute = Path(os.path.abspath(path))
    for spelled in dict.fromkeys((absolute.parent, Path(os.path.realpath(absolute.parent)))):
        for ancestor in (*reversed(spelled.parents), spelled):
            try:
                info = os.lstat(ancestor)
            except FileNotFoundError:
                break  # made below by us, 0700
            except OSError as exc:
                raise UnsafeBaseDir(absolute, f"{ancestor} cannot be examined: {exc}") from None
            problem = _check_component(str(ancestor), info)
            if problem:
                raise UnsafeBaseDir(absolute, problem)


def _check_base(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeBaseDir(path, "it is not a directory")
    if info.st_uid != os.geteuid():
        raise UnsafeBaseDir(
            path, f"it is {_describe_owner(info)}, not owned by this user (uid {os.geteuid()})"
        )
    if info.st_mode & 0o022:
        raise UnsafeBaseDir(path, f"others can write to it ({_describe_owner(info)})")


@dataclass
class Base:
    """A trusted base directory, held open: entries are reached relative to ``fd``.

    ``path`` is the resolved path (as the mount table and the runtime see it);
    paths handed to other programs are built from it.
    """

    path: Path
    fd: int

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def __enter__(self) -> Base:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def entries(self) -> Iterator[str]:
        """Names of the real directories in the base owned by us: symlinks, files
        and other users' entries are skipped, never followed."""
        with os.scandir(self.fd) as listing:
            names = sorted(entry.name for entry in listing)
        for name in names:
            try:
                info = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
                yield name

    def open_dir(self, name: str) -> int | None:
        """A descriptor of our own directory ``name`` in the base (never through a
        symlink), or None when it is gone, not a directory or not ours."""
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=self.fd)
        except OSError:
            return None
        if os.fstat(fd).st_uid != os.geteuid():
            os.close(fd)
            return None
        return fd

    def remove_if_empty(self) -> None:
        """Remove the base once no run uses it (rmdir refuses otherwise)."""
        with contextlib.suppress(OSError):
            os.rmdir(self.path)


def open_base(path: Path, *, create: bool) -> Base | None:
    """Open the base at ``path``, making it (0700) when ``create``; None when it does
    not exist and ``create`` is false. Raises UnsafeBaseDir (see module doc)."""
    absolute = Path(os.path.abspath(path))
    check_ancestors(absolute)
    if create:
        os.makedirs(absolute.parent, mode=0o700, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(absolute, 0o700)
    try:
        fd = os.open(absolute, DIR_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        try:
            info = os.lstat(absolute)
        except OSError:
            raise UnsafeBaseDir(absolute, f"it cannot be opened: {exc}") from None
        kind = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a directory"
        raise UnsafeBaseDir(absolute, f"it is {kind} ({_describe_owner(info)})") from None
    try:
        _check_base(absolute, os.fstat(fd))
    except UnsafeBaseDir:
        os.close(fd)
        raise
    real = Path(os.path.realpath(absolute.parent)) / absolute.name
    return Base(real, fd)


def read_small_file(dir_fd: int, name: str, limit: int = 1 << 16) -> bytes | None:
    """The bytes of the regular file ``name`` in the directory ``dir_fd``, never
    through a symlink, at most ``limit``; None when it is missing, not a regular
    file, not ours or larger."""
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd
        )
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_size > limit:
            return None
        return os.read(fd, limit + 1)[:limit]
    finally:
        os.close(fd)


def write_new_file(dir_fd: int, name: str, data: bytes, *, append: bool = False) -> None:
    """Write ``data`` to ``name`` in the directory ``dir_fd``: a new file (0600), or
    appended to our existing one; never through a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_APPEND if append else os.O_EXCL
    fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
