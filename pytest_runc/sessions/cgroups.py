"""The cgroups of our containers: recorded by name, emptied and removed.

runc names a container's cgroup after its id when the config has no
``cgroupsPath`` (``/sys/fs/cgroup/<controller>/<id>`` on v1 and hybrid hosts,
``/sys/fs/cgroup/<id>`` on v2); our checks that set ``cgroupsPath`` name it
after a container id of theirs. A run records every id prefix it hands out
(``prt-<token>-<n>``, see :meth:`pytest_runc.sessions.workdir.WorkDir.record`) before
any container uses it, and only cgroups named exactly so, or so plus ``-...``,
are ever removed: a bystander's cgroup that merely shares our token is not
ours. Removal is ``rmdir``, never recursive, deepest first; the kernel
refuses a cgroup that still holds a process.

A dead run can leave processes in its cgroups: a ``runc init`` whose
``create`` was killed half-way has no state, so no ``delete`` reaches it.
:func:`remove_cgroups` with ``kill`` ends those (they are ours by the
cgroup's recorded name) before it removes the cgroups.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from pytest_runc.oci.constants import CGROUP_ROOT, ID_PREFIX, PROBE_TIMEOUT

#: How long a kill may take to empty a cgroup before we give up on it.
_KILL_WAIT = 5.0
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def valid_prefix(prefix: str, token: str) -> bool:
    """Whether ``prefix`` is one a run with ``token`` may record: ``prt-<token>-...``
    or the bundle check's ``prt-check-<token>``."""
    if not _NAME.fullmatch(prefix):
        return False
    return prefix.startswith(f"{ID_PREFIX}{token}-") or prefix == f"{ID_PREFIX}check-{token}"


def _hierarchies(root: Path) -> list[Path]:
    """The cgroup v2 tree itself and each v1 controller directory (links such as
    ``cpu -> cpu,cpuacct`` are skipped: their target is listed on its own)."""
    found = [root]
    with contextlib.suppress(OSError), os.scandir(root) as listing:
        found += [Path(e.path) for e in listing if e.is_dir(follow_symlinks=False)]
    return found


def _named(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(f"{p}-") for p in prefixes)


def cgroups_of(prefixes: Iterable[str], root: Path = CGROUP_ROOT) -> list[Path]:
    """Top-level cgroup directories named after one of ``prefixes``, in every hierarchy."""
    wanted = tuple(prefixes)
    if not wanted:
        return []
    found: list[Path] = []
    for hierarchy in _hierarchies(root):
        with contextlib.suppress(OSError), os.scandir(hierarchy) as listing:
            found += [
                Path(e.path)
                for e in listing
                if e.is_dir(follow_symlinks=False) and _named(e.name, wanted)
            ]
    return sorted(set(found))


def _below(top: Path) -> list[Path]:
    """``top`` and every cgroup under it, deepest first (never through a link)."""
    return [Path(d) for d, _, _ in os.walk(top, topdown=False, followlinks=False)]


def _pids(cgroup: Path) -> list[int]:
    try:
        text = (cgroup / "cgroup.procs").read_text()
    except OSError:
        return []
    return [int(word) for word in text.split() if word.isdigit()]


def _write(path: Path, value: str, sudo: bool) -> None:
    if sudo and os.geteuid() != 0:
        subprocess.run(
            ["sudo", "-n", "sh", "-c", 'printf %s "$1" > "$2"', "sh", value, str(path)],
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
        return
    with contextlib.suppress(OSError):
        path.write_text(value)


def _signal_pid(pid: int, cgroup: Path, sudo: bool) -> None:
    """SIGKILL ``pid`` if it is still in ``cgroup``: the pidfd pins the process,
    so a pid reused after the read is never hit."""
    if sudo and os.geteuid() != 0:
        subprocess.run(
            ["sudo", "-n", "kill", "-KILL", str(pid)],
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
        return
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if pid in _pids(cgroup):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(pidfd)


def _kill_all(cgroup: Path, sudo: bool) -> None:
    """End every process in ``cgroup`` and below it, thawing it first (a frozen
    process does not die)."""
    for each in _below(cgroup):
        if (each / "cgroup.freeze").exists():
            _write(each / "cgroup.freeze", "0", sudo)
        if (each / "freezer.state").exists():
            _write(each / "freezer.state", "THAWED", sudo)
    if (cgroup / "cgroup.kill").exists():
        _write(cgroup / "cgroup.kill", "1", sudo)
    deadline = time.monotonic() + _KILL_WAIT
    while time.monotonic() < deadline:
        busy = [(each, pid) for each in _below(cgroup) for pid in _pids(each)]
        if not busy:
            return
        for each, pid in busy:
            _signal_pid(pid, each, sudo)
        time.sleep(0.05)


def _rmdir(directory: Path, sudo: bool) -> None:
    if not sudo or os.geteuid() == 0:
        with contextlib.suppress(OSError):
            directory.rmdir()
        return
    subprocess.run(
        ["sudo", "-n", "rmdir", "--", str(directory)],
        capture_output=True,
        timeout=PROBE_TIMEOUT,
        check=False,
    )


def _gone(path: Path) -> bool:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return not stat.S_ISDIR(info.st_mode)


def remove_cgroups(
    prefixes: Iterable[str],
    *,
    sudo: bool = False,
    kill: bool = False,
    spare: frozenset[str] = frozenset(),
    root: Path = CGROUP_ROOT,
) -> list[str]:
    """rmdir the cgroups named after ``prefixes``, deepest first; returns those
    that are gone afterwards (checked, not assumed).

    With ``kill``, processes still in them are killed first (a dead run's
    orphans). Top-level cgroups named in ``spare`` (kept containers) are left alone.
    """
    removed: list[str] = []
    for top in cgroups_of(prefixes, root):
        if top.name in spare or any(top.name.startswith(f"{s}-") for s in spare):
            continue
        if kill:
            _kill_all(top, sudo)
        for directory in _below(top):
            _rmdir(directory, sudo)
            if _gone(directory):
                removed.append(str(directory))
    return removed
