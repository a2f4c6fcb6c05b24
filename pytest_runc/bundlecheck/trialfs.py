"""The trial run's root filesystem: an overlay of the user's rootfs, or a bounded copy.

As root, the user's rootfs becomes the read-only lower layer of an overlay
mount whose upper layer lives on a private, size-limited tmpfs: nothing is
copied, whatever the image's size, and nothing the container writes reaches
the user's files. Where overlay cannot be mounted (not root, a lower
filesystem overlayfs refuses), the rootfs is copied with limits: one
filesystem, at most MAX_COPY_BYTES and MAX_COPY_ENTRIES, no device or special
files (runc makes /dev). Hitting a limit stops the copy with CopyCapped.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pytest_runc.constants import PROBE_TIMEOUT

MAX_COPY_BYTES = 256 * 1024 * 1024
MAX_COPY_ENTRIES = 50_000
#: The upper layer's tmpfs: what the trial container may write.
UPPER_SIZE = "128m"


class CopyCapped(Exception):
    """The rootfs is larger than the bounded copy allows."""


@dataclass
class TrialRootfs:
    """A prepared rootfs at ``path`` and the mounts to undo, innermost first."""

    path: Path
    how: str  # "overlay" or "copy"
    mounts: list[Path] = field(default_factory=list)
    note: str = ""
    sudo: bool = False

    def release(self) -> list[str]:
        """Unmount what was mounted; the problems (empty when all went)."""
        problems = []
        for point in self.mounts:
            done = _run(["umount", str(point)], self.sudo)
            if done is not None:
                lazy = _run(["umount", "-l", str(point)], self.sudo)
                if lazy is not None:
                    problems.append(f"cannot unmount {point}: {done}")
        self.mounts.clear()
        return problems


def _run(argv: list[str], sudo: bool) -> str | None:
    """Run a mount command; None on success, else its error text."""
    if sudo and os.geteuid() != 0:
        argv = ["sudo", "-n", *argv]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


def _escape_layer(path: str) -> str:
    # overlayfs splits lowerdir on ':' and mount options on ','
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def mount_overlay(source: Path, work: Path, *, sudo: bool = False) -> TrialRootfs | str:
    """Mount ``source`` read-only under a private tmpfs upper layer; the result or why not."""
    layers, merged = work / "layers", work / "rootfs"
    layers.mkdir(mode=0o700)
    merged.mkdir(mode=0o755)
    problem = _run(
        ["mount", "-t", "tmpfs", "-o", f"size={UPPER_SIZE},mode=0700", "tmpfs", str(layers)], sudo
    )
    if problem is not None:
        return f"cannot mount a tmpfs for the upper layer: {problem}"
    trial = TrialRootfs(merged, "overlay", [layers], sudo=sudo)
    (layers / "upper").mkdir()
    (layers / "work").mkdir()
    os.chmod(layers / "upper", stat.S_IMODE(os.stat(source).st_mode))
    options = (
        f"lowerdir={_escape_layer(os.path.realpath(source))},"
        f"upperdir={layers / 'upper'},workdir={layers / 'work'}"
    )
    problem = _run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], sudo)
    if problem is not None:
        trial.release()
        return f"overlay mount refused: {problem}"
    trial.mounts.insert(0, merged)
    return trial


def bounded_copy(
    source: Path,
    dest: Path,
    *,
    max_bytes: int = MAX_COPY_BYTES,
    max_entries: int = MAX_COPY_ENTRIES,
) -> TrialRootfs:
    """Copy ``source`` to ``dest`` within the limits; CopyCapped when one is hit.

    Symlinks stay symlinks (never followed), directories on another
    filesystem become empty directories, devices/fifos/sockets are skipped.
    """
    device = os.lstat(source).st_dev
    os.mkdir(dest, stat.S_IMODE(os.lstat(source).st_mode) | 0o700)
    copied_bytes = entries = 0
    pending = [(str(source), str(dest))]
    while pending:
        src_dir, dst_dir = pending.pop()
        with os.scandir(src_dir) as scan:
            for entry in scan:
                entries += 1
                if entries > max_entries:
                    raise CopyCapped(f"more than {max_entries} entries")
                target = os.path.join(dst_dir, entry.name)
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    os.symlink(os.readlink(entry.path), target)
                elif stat.S_ISDIR(info.st_mode):
                    os.mkdir(target, stat.S_IMODE(info.st_mode) | 0o700)
                    if info.st_dev == device:
                        pending.append((entry.path, target))
                elif stat.S_ISREG(info.st_mode):
                    copied_bytes += info.st_size
                    if copied_bytes > max_bytes:
                        raise CopyCapped(f"more than {max_bytes // (1024 * 1024)} MiB")
                    shutil.copyfile(entry.path, target, follow_symlinks=False)
                    os.chmod(target, stat.S_IMODE(info.st_mode))
    os.chmod(dest, stat.S_IMODE(os.lstat(source).st_mode))
    return TrialRootfs(dest, "copy")


def prepare(source: Path, work: Path, *, sudo: bool = False) -> TrialRootfs:
    """The trial rootfs under ``work``: overlay when possible, else a bounded copy.

    Raises CopyCapped (the rootfs is too large to copy) or OSError.
    """
    if os.geteuid() == 0 or sudo:
        mounted = mount_overlay(source, work, sudo=sudo)
        if isinstance(mounted, TrialRootfs):
            return mounted
        shutil.rmtree(work / "rootfs", ignore_errors=True)
        shutil.rmtree(work / "layers", ignore_errors=True)
        copy = bounded_copy(source, work / "rootfs")
        copy.note = f"{mounted}; used a bounded copy"
        return copy
    return bounded_copy(source, work / "rootfs")
