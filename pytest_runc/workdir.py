"""Private working directories of one pytest process, and the sweeper.

Each pytest process that runs containers (the session, or each xdist worker)
owns one directory ``<tmp>/pytest-runc-<uid>/s-<pid>-<token>`` holding the
runtime's state root, the rootfs template and the bundles. An ``owner.json``
records the owning process; a run killed with SIGKILL leaves its directory
behind, and the next run's sweeper deletes its containers and removes it.
Only directories with our owner file, under our base directory, are swept.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pytest_runc.runtime import Runtime

OWNER_FILE = "owner.json"
KEEP_FILE = "kept"
#: A directory younger than this without an owner file is still being made.
_GRACE_SECONDS = 60.0


SHM = Path("/dev/shm")


def _usable_tmpfs(path: Path) -> bool:
    """A writable tmpfs that allows exec (containers run binaries from it)."""
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 4 and fields[1] == str(path):
                    options = fields[3].split(",")
                    return fields[2] == "tmpfs" and "noexec" not in options and "ro" not in options
    except OSError:
        pass
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


def sweep_bases() -> list[Path]:
    """Every base a run in this environment may have used (the sweeper visits all)."""
    bases = [
        base_dir(),
        SHM / f"pytest-runc-{os.getuid()}",
        Path(tempfile.gettempdir()) / f"pytest-runc-{os.getuid()}",
    ]
    return list(dict.fromkeys(bases))


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells pid reuse apart)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass
class WorkDir:
    """The private directory of this process."""

    path: Path

    @classmethod
    def create(cls, base: Path | None = None) -> WorkDir:
        parent = base or base_dir()
        path = parent / f"s-{os.getpid()}-{secrets.token_hex(3)}"
        for _ in range(5):  # another run may remove the empty parent meanwhile
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                path.mkdir(mode=0o700)
                break
            except FileNotFoundError:
                continue
        owner = {"pid": os.getpid(), "start": _start_time(os.getpid()), "created": time.time()}
        (path / OWNER_FILE).write_text(json.dumps(owner))
        return cls(path)

    @property
    def state_root(self) -> Path:
        return self.path / "state"

    @property
    def bundles(self) -> Path:
        return self.path / "bundles"

    def keep(self, note: str) -> None:
        """Mark the directory as kept (--runc-keep-failed): the sweeper spares it."""
        (self.path / KEEP_FILE).write_text(note)

    def remove(self) -> None:
        unmount_below(self.path)
        shutil.rmtree(self.path, ignore_errors=True)
        _remove_if_empty(self.path.parent)


def owner_alive(path: Path) -> bool:
    """Whether the process that made ``path`` still runs (or may still be making it)."""
    try:
        owner = json.loads((path / OWNER_FILE).read_text())
    except (OSError, ValueError):
        try:
            return time.time() - path.stat().st_mtime < _GRACE_SECONDS
        except OSError:
            return False
    pid = owner.get("pid")
    return isinstance(pid, int) and _start_time(pid) == owner.get("start")


def sweep(binary: str | None, *, sudo: bool = False, base: Path | None = None) -> list[str]:
    """Remove what dead pytest-runc runs left; returns what was removed.

    Touches only ``s-*`` directories under our base whose owner is gone and
    that were not kept on purpose; containers are deleted through their own
    state root, so containers anywhere else are never seen.
    """
    parents = [base] if base else sweep_bases()
    removed: list[str] = []
    for path in sorted(p for parent in parents if parent.is_dir() for p in parent.glob("s-*")):
        if not path.is_dir() or (path / KEEP_FILE).exists() or owner_alive(path):
            continue
        state_root = path / "state"
        if binary and state_root.is_dir():
            runtime = Runtime(binary, state_root, timeout=15.0, sudo=sudo)
            # The state root's subdirectories are the container ids; asking
            # `list` would fail on a half-written state, deleting by id won't.
            for entry in sorted(state_root.iterdir()):
                if entry.is_dir():
                    try:
                        runtime.delete(entry.name, force=True, check=False)
                    except Exception:  # a sweep must never break a run
                        continue
                    removed.append(f"container {entry.name} (state root {state_root})")
        unmount_below(path)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(f"directory {path}")
    for parent in parents:
        _remove_if_empty(parent)
    return removed


def _remove_if_empty(directory: Path) -> None:
    """Remove our base directory once no run uses it (rmdir refuses otherwise)."""
    with contextlib.suppress(OSError):
        directory.rmdir()


def mounts_below(path: Path) -> list[str]:
    """Mount points at or under ``path`` in this mount namespace."""
    prefix = str(path.resolve())
    found = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4].replace("\\040", " ")
                if point == prefix or point.startswith(prefix + "/"):
                    found.append(point)
    except OSError:
        pass
    return found


def unmount_below(path: Path) -> None:
    """Lazily unmount anything left mounted inside ``path``, deepest first."""
    for point in sorted(mounts_below(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=10, check=False)
