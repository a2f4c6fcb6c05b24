"""What a container holds beyond its config.json: the spec's defaults and what
each runtime documents adding, declared once.

The exact checks of the conformance suite (mount table, /dev, processes)
allow these and nothing else. A runtime not declared here gets the spec's
defaults only, so anything it adds shows in the failure message: declare it
here if the runtime documents it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: config-linux.md "Default Devices": name under /dev -> (type, major, minor).
DEFAULT_DEVICES: dict[str, tuple[str, int, int]] = {
    "null": ("c", 1, 3),
    "zero": ("c", 1, 5),
    "full": ("c", 1, 7),
    "random": ("c", 1, 8),
    "urandom": ("c", 1, 9),
    "tty": ("c", 5, 0),
}

#: config-linux.md "Default Devices": /dev/ptmx, a bind mount or symlink of
#: /dev/pts/ptmx; /dev/console only when the process has a terminal.
PTMX = "ptmx"
CONSOLE = "console"


@dataclass(frozen=True)
class RuntimeAdditions:
    """What one runtime documents adding to every container."""

    name: str
    #: Entries the runtime creates in /dev besides the spec's devices.
    dev_entries: frozenset[str] = frozenset()
    #: cgroup v1: a ``cgroup`` mount becomes a tmpfs with one cgroup mount per
    #: hierarchy below it; the configured options then hold for those, and the
    #: tmpfs itself is writable (the per-hierarchy mounts are not).
    cgroup_v1_tmpfs: bool = False

    def dev_names(self, configured: set[str], terminal: bool) -> set[str]:
        """Every name /dev may hold: spec defaults, the runtime's, ``configured``."""
        names = set(DEFAULT_DEVICES) | {PTMX} | set(self.dev_entries) | configured
        if terminal:
            names.add(CONSOLE)
        return names


def _runc_dev_entries() -> frozenset[str]:
    # runc (libcontainer/rootfs_linux.go, setupDevSymlinks): fd, stdin, stdout
    # and stderr link to /proc/self/fd; core links to /proc/kcore where the
    # kernel has one.
    entries = {"fd", "stdin", "stdout", "stderr"}
    if os.path.exists("/proc/kcore"):
        entries.add("core")
    return frozenset(entries)


#: By the first word of ``runtime --version`` ("runc version 1.1.5" -> runc).
RUNTIMES: dict[str, RuntimeAdditions] = {
    "runc": RuntimeAdditions("runc", dev_entries=_runc_dev_entries(), cgroup_v1_tmpfs=True),
}

#: An undeclared runtime: the spec's defaults only.
SPEC_ONLY = RuntimeAdditions("(spec defaults only)")


def additions_for(version_line: str) -> RuntimeAdditions:
    """The declared additions of the runtime whose ``--version`` line this is."""
    words = version_line.split()
    return RUNTIMES.get(words[0].lower() if words else "", SPEC_ONLY)
