"""What this host's kernel can do, probed for real, once per session.

A check whose feature the kernel lacks must skip (``host:``), not fail the
runtime; a check whose feature the kernel has must still run, so that a
runtime ignoring it fails. Reading the kernel version would guess (features
are backported, and a filesystem's support differs from the syscall's): each
probe here asks the kernel itself, with nothing left behind, and says what is
missing in words a reader can act on. A probe that cannot tell (not root,
an architecture whose syscall numbers it does not know) answers "nothing
missing" so the check runs as before.

Each answer is cached for the process (a pytest session asks once).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import subprocess
import sys
import threading
from functools import cache

#: linux/mempolicy.h mode numbers, by the spec's names.
MEMPOLICY_MODES = {
    "MPOL_DEFAULT": 0,
    "MPOL_PREFERRED": 1,
    "MPOL_BIND": 2,
    "MPOL_INTERLEAVE": 3,
    "MPOL_LOCAL": 4,
    "MPOL_PREFERRED_MANY": 5,
    "MPOL_WEIGHTED_INTERLEAVE": 6,
}

#: The first release with a mode, for the reason text.
_MEMPOLICY_SINCE = {"MPOL_PREFERRED_MANY": "5.15", "MPOL_WEIGHTED_INTERLEAVE": "6.9"}

#: set_mempolicy(2) differs by architecture; the mount API syscalls share one number.
_SET_MEMPOLICY = {"x86_64": 238, "aarch64": 237, "ppc64le": 261, "s390x": 270}
_FSOPEN, _FSCONFIG, _FSMOUNT, _MOUNT_SETATTR = 430, 431, 432, 442
_FSCONFIG_CMD_CREATE = 6
_FSMOUNT_CLOEXEC = 1
_AT_EMPTY_PATH = 0x1000
_MOUNT_ATTR_IDMAP = 0x00100000
_CLONE_NEWUSER = 0x10000000

#: The first release whose filesystem supports id-mapped mounts, for the reason text.
_IDMAP_SINCE = {"tmpfs": "6.3", "ext4": "5.12", "xfs": "5.12", "btrfs": "5.15", "overlay": "5.19"}


class _MountAttr(ctypes.Structure):
    """struct mount_attr of mount_setattr(2)."""

    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _syscall(number: int, *args: object) -> tuple[int, int]:
    """``syscall(number, *args)``: (result, errno)."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    # Every argument register is a long: a bare int would leave its upper half unset.
    wide = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    result = libc.syscall(ctypes.c_long(number), *wide)
    return int(result), ctypes.get_errno()


def _release() -> str:
    return platform.release()


@cache
def memory_policy_mode_missing(mode: str, with_nodes: bool) -> str | None:
    """Why this kernel refuses memory policy ``mode`` (a spec name), or None.

    Sets the mode, on node 0 when ``with_nodes``, in a short-lived thread of
    this process (a memory policy belongs to its thread and ends with it).
    """
    number = MEMPOLICY_MODES.get(mode)
    syscall = _SET_MEMPOLICY.get(platform.machine())
    if number is None or syscall is None:
        return None
    outcome: list[tuple[int, int]] = []

    def attempt() -> None:
        mask = ctypes.c_ulong(1)
        nodes = ctypes.byref(mask) if with_nodes else None
        outcome.append(_syscall(syscall, number, nodes, 64))

    thread = threading.Thread(target=attempt, name="prt-mempolicy-probe")
    thread.start()
    thread.join()
    result, error = outcome[0] if outcome else (0, 0)
    if result == 0 or error != errno.EINVAL:
        return None  # accepted, or refused for a reason that is not the mode
    since = _MEMPOLICY_SINCE.get(mode)
    return (
        f"the kernel ({_release()}) refuses memory policy mode {mode}:"
        " set_mempolicy(2) says EINVAL" + (f" (it came with Linux {since})" if since else "")
    )


def _mapped_user_namespace() -> tuple[subprocess.Popen[bytes], int] | None:
    """A child in a new user namespace whose root is host 100000: (child, ns fd)."""
    code = (
        "import ctypes,sys\n"
        f"ok = ctypes.CDLL(None, use_errno=True).unshare({_CLONE_NEWUSER}) == 0\n"
        "sys.stdout.write('y' if ok else 'n'); sys.stdout.flush(); sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    try:
        if child.stdout.read(1) != b"y":
            raise OSError("unshare(CLONE_NEWUSER) failed")
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{child.pid}/{name}", "w") as handle:
                handle.write("0 100000 65536\n")
        return child, os.open(f"/proc/{child.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        _end(child)
        return None


def _end(child: subprocess.Popen[bytes]) -> None:
    if child.stdin is not None:
        child.stdin.close()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@cache
def idmapped_mount_missing(fstype: str) -> str | None:
    """Why this kernel cannot make an id-mapped mount of a ``fstype`` filesystem, or None.

    Makes a detached ``fstype`` mount (fsopen/fsmount: attached nowhere, gone
    when its descriptor closes) and asks mount_setattr(2) to id-map it with a
    throwaway user namespace. Needs root; without it nothing is ruled out.
    """
    if os.geteuid() != 0:
        return None
    fs_fd, error = _syscall(_FSOPEN, fstype.encode(), 0)
    if fs_fd < 0:
        if error == errno.ENOSYS:
            return f"the kernel ({_release()}) has no new mount API (fsopen(2), Linux 5.2)"
        return None
    mount_fd = -1
    try:
        done, _ = _syscall(_FSCONFIG, fs_fd, _FSCONFIG_CMD_CREATE, None, None, 0)
        if done < 0:
            return None
        mount_fd, _ = _syscall(_FSMOUNT, fs_fd, _FSMOUNT_CLOEXEC, 0)
        if mount_fd < 0:
            return None
        namespace = _mapped_user_namespace()
        if namespace is None:
            return None
        child, userns_fd = namespace
        try:
            attr = _MountAttr(attr_set=_MOUNT_ATTR_IDMAP, userns_fd=userns_fd)
            done, error = _syscall(
                _MOUNT_SETATTR, mount_fd, b"", _AT_EMPTY_PATH, ctypes.byref(attr),
                ctypes.sizeof(attr),
            )  # fmt: skip
        finally:
            os.close(userns_fd)
            _end(child)
    finally:
        for fd in (mount_fd, fs_fd):
            if fd >= 0:
                os.close(fd)
    if done == 0:
        return None
    if error == errno.ENOSYS:
        return f"the kernel ({_release()}) has no mount_setattr(2) (Linux 5.12)"
    if error == errno.EINVAL:
        since = _IDMAP_SINCE.get(fstype)
        return (
            f"the kernel ({_release()}) cannot id-map a {fstype} mount:"
            " mount_setattr(2) MOUNT_ATTR_IDMAP says EINVAL"
            + (f" ({fstype} has it from Linux {since})" if since else "")
        )
    return None
