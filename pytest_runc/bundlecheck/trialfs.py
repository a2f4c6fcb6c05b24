"""The trial run's root filesystem: an overlay of the user's rootfs, or a bounded copy.

As root, the user's rootfs becomes the read-only lower layer of an overlay
mount whose upper layer lives on a private, size-limited tmpfs: nothing is
copied, whatever the image's size, and nothing the container writes reaches
the user's files. Where overlay cannot be mounted (not root, a lower
filesystem overlayfs refuses), the rootfs is copied with limits: one
filesystem, at most MAX_COPY_BYTES and MAX_COPY_ENTRIES, no device or special
files (runc makes /dev). Hitting a limit stops the copy with CopyCapped.

The lower layer is pinned: the directory is opened component by component
without following a symlink, and the overlay gets ``/proc/<pid>/fd/<n>`` of
that descriptor, so a bundle that swaps its rootfs for a link to a host
directory after the check looked cannot make the mount use the host's. The
overlay is ``nodev`` (a device node in the image reaches no host device) and
private (nothing mounted on it propagates to other mount namespaces).
Bind-mount sources inside the bundle get the same treatment (:meth:`TrialRootfs.overlay`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pytest_runc.oci.constants import PROBE_TIMEOUT

MAX_COPY_BYTES = 256 * 1024 * 1024
MAX_COPY_ENTRIES = 50_000
#: The upper layer's tmpfs: what the trial container may write.
UPPER_SIZE = "128m"
#: A bind-mounted file from the bundle is copied into the trial up to this size.
MAX_BIND_FILE = 16 * 1024 * 1024


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
    #: The tmpfs holding upper layers (overlay only).
    layers: Path | None = None
    #: What a copy left out, one line each (special files, other filesystems).
    skipped: list[str] = field(default_factory=list)

    def overlay(self, source: Path, name: str) -> Path | str:
        """A private overlay of the directory ``source`` (pinned, read-only lower layer,
        upper on our tmpfs) at ``layers/<name>``; the mount point, or why not."""
        if self.layers is None:
            return "no overlay here (the rootfs is a copy)"
        try:
            pinned = open_pinned(source, directory=True)
        except OSError as exc:
            return f"cannot open {source}: {exc.strerror}"
        try:
            merged = self.layers / f"{name}.merged"
            for part in ("upper", "work", "merged"):
                (self.layers / f"{name}.{part}").mkdir()
            problem = _mount_overlay_at(pinned, self.layers / name, merged, self.sudo)
        finally:
            os.close(pinned)
        if problem is not None:
            return problem
        self.mounts.insert(0, merged)
        return merged

    def copy_file(self, source: Path, name: str) -> Path | str:
        """A copy of the regular file ``source`` (never through a symlink) at
        ``layers/<name>``; the copy, or why not."""
        target = (self.layers or self.path.parent) / name
        try:
            fd = open_pinned(source, directory=False)
        except OSError as exc:
            return f"cannot open {source}: {exc.strerror}"
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return f"{source} is not a regular file"
            if info.st_size > MAX_BIND_FILE:
                return f"{source} is larger than {MAX_BIND_FILE // (1024 * 1024)} MiB"
            with open(target, "wb") as out:
                out.write(os.read(fd, MAX_BIND_FILE))
            os.chmod(target, stat.S_IMODE(info.st_mode))
        finally:
            os.close(fd)
        return target

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


def open_pinned(path: Path, *, directory: bool) -> int:
    """Open the absolute ``path`` walking from / one component at a time, following
    no symlink on the way (OSError ELOOP/ENOTDIR if one is there now).

    Directories come as ``O_PATH`` descriptors (for ``/proc/<pid>/fd/<n>``),
    files read-only and non-blocking (a FIFO cannot hang the check).
    """
    parts = [p for p in PurePosixPath(os.path.abspath(path)).parts[1:] if p]
    current = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if last and not directory:
                flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY
            else:
                flags = os.O_PATH | (os.O_DIRECTORY if not last or directory else 0)
            following = os.open(part, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
            os.close(current)
            current = following
        return current
    except BaseException:
        os.close(current)
        raise


def _mount_overlay_at(pinned: int, stem: Path, merged: Path, sudo: bool) -> str | None:
    """Mount an overlay of the pinned directory at ``merged``, upper and work dirs
    beside ``stem``; None on success, else why not."""
    options = (
        f"lowerdir=/proc/{os.getpid()}/fd/{pinned},"
        f"upperdir={_escape_layer(f'{stem}.upper')},workdir={_escape_layer(f'{stem}.work')}"
    )
    problem = _run(
        ["mount", "-t", "overlay", "overlay", "-o", f"nodev,{options}", str(merged)], sudo
    )
    if problem is not None:
        return f"overlay mount refused: {problem}"
    # A new mount under a shared parent would propagate to other namespaces.
    private = _run(["mount", "--make-private", str(merged)], sudo)
    if private is not None:
        _run(["umount", "-l", str(merged)], sudo)
        return f"cannot make the overlay private: {private}"
    return None


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
        [
            "mount", "-t", "tmpfs", "-o", f"size={UPPER_SIZE},mode=0700,nodev,nosuid",
            "tmpfs", str(layers),
        ],
        sudo,
    )  # fmt: skip
    if problem is not None:
        return f"cannot mount a tmpfs for the upper layer: {problem}"
    with contextlib.suppress(OSError):
        _run(["mount", "--make-private", str(layers)], sudo)
    trial = TrialRootfs(merged, "overlay", [layers], sudo=sudo, layers=layers)
    try:
        pinned = open_pinned(source, directory=True)
    except OSError as exc:
        trial.release()
        return f"cannot open the rootfs {source}: {exc.strerror}"
    try:
        (layers / "rootfs.upper").mkdir()
        (layers / "rootfs.work").mkdir()
        os.chmod(layers / "rootfs.upper", stat.S_IMODE(os.fstat(pinned).st_mode))
        problem = _mount_overlay_at(pinned, layers / "rootfs", merged, sudo)
    finally:
        os.close(pinned)
    if problem is not None:
        trial.release()
        return problem
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
    filesystem become empty directories, devices/fifos/sockets are skipped:
    each thing not copied is listed in the result's ``skipped``. Sparse files
    stay sparse and count by the blocks they use, not their apparent size.
    """
    device = os.lstat(source).st_dev
    os.mkdir(dest, stat.S_IMODE(os.lstat(source).st_mode) | 0o700)
    result = TrialRootfs(dest, "copy")
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
                inside = "/" + os.path.relpath(entry.path, source)
                if stat.S_ISLNK(info.st_mode):
                    os.symlink(os.readlink(entry.path), target)
                elif stat.S_ISDIR(info.st_mode):
                    os.mkdir(target, stat.S_IMODE(info.st_mode) | 0o700)
                    if info.st_dev == device:
                        pending.append((entry.path, target))
                    else:
                        result.skipped.append(f"{inside} (another filesystem: left empty)")
                elif stat.S_ISREG(info.st_mode):
                    copied_bytes += min(info.st_size, info.st_blocks * 512)
                    if copied_bytes > max_bytes:
                        raise CopyCapped(f"more than {max_bytes // (1024 * 1024)} MiB")
                    _copy_regular(entry.path, target)
                    os.chmod(target, stat.S_IMODE(info.st_mode))
                else:
                    result.skipped.append(f"{inside} ({_kind(info.st_mode)}: not copied)")
    os.chmod(dest, stat.S_IMODE(os.lstat(source).st_mode))
    return result


def _kind(mode: int) -> str:
    """What a special file is, in words."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "a special file"


def _copy_regular(source: str, target: str) -> None:
    """Copy one regular file without following a symlink, keeping holes: only the
    data regions are read and written (SEEK_DATA/SEEK_HOLE)."""
    src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(src)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{source} changed while being copied")
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            offset = 0
            while offset < info.st_size:
                try:
                    offset = os.lseek(src, offset, os.SEEK_DATA)
                except OSError:
                    break  # no data after offset: the rest is a hole
                hole = os.lseek(src, offset, os.SEEK_HOLE)
                os.lseek(dst, offset, os.SEEK_SET)
                while offset < hole:
                    chunk = os.pread(src, min(1 << 20, hole - offset), offset)
                    if not chunk:
                        break
                    os.write(dst, chunk)
                    offset += len(chunk)
            os.ftruncate(dst, info.st_size)
        finally:
            os.close(dst)
    finally:
        os.close(src)


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
