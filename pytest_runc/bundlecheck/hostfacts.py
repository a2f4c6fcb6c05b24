"""Facts about this host that decide some of runc's answers (read once, cached)."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from pytest_runc.oci.constants import CGROUP_ROOT

_UNISTD = (
    Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    Path("/usr/include/asm/unistd_64.h"),
    Path("/usr/include/aarch64-linux-gnu/asm/unistd.h"),
    Path("/usr/include/asm-generic/unistd.h"),
)
#: CAP_CHECKPOINT_RESTORE, the last capability runc 1.1.5 knows by name.
_RUNC_LAST_CAP = 40


@functools.lru_cache(maxsize=1)
def cgroup_v2_unified() -> bool:
    """Whether /sys/fs/cgroup is the cgroup v2 tree itself (runc's "unified mode");
    a hybrid host (v1 controllers plus a v2 tree aside) counts as v1."""
    return os.path.exists(CGROUP_ROOT / "cgroup.controllers")


@functools.lru_cache(maxsize=1)
def last_capability() -> int:
    """The highest capability number both the kernel and runc know."""
    try:
        kernel = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        kernel = _RUNC_LAST_CAP
    return min(kernel, _RUNC_LAST_CAP)


@functools.lru_cache(maxsize=1)
def known_syscalls() -> frozenset[str]:
    """Syscall names of this architecture from the kernel headers; empty when no
    headers are installed (then unknown names are not reported)."""
    for header in _UNISTD:
        try:
            text = header.read_text()
        except OSError:
            continue
        names = frozenset(re.findall(r"#define __NR_([a-z0-9_]+)\s", text))
        if names:
            return names
    return frozenset()
