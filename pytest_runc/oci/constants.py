"""Facts that several layers share, written once.

Each value here used to be spelled out in two or more modules; a change to
one of them now changes every place that depends on it.
"""

from __future__ import annotations

from pathlib import Path

#: Deadline in seconds for every runtime command (``--runc-timeout`` overrides it).
DEFAULT_TIMEOUT = 30.0

#: Deadline for housekeeping calls that no test waits on: ``--version`` and
#: the sweeper's deletes. Shorter, so a hung runtime cannot stall a run's start.
PROBE_TIMEOUT = 15.0

#: Every container id pytest-runc makes starts with this; with the run's token
#: after it, the cgroups runc names after the ids can be told apart per run.
ID_PREFIX = "prt-"

#: Where the cgroup filesystems are mounted (v2: the unified tree itself; v1
#: and hybrid: one directory per controller).
CGROUP_ROOT = Path("/sys/fs/cgroup")


def run_prefix(token: str) -> str:
    """The id prefix of every container of the run with ``token``: ``prt-<token>-``."""
    return f"{ID_PREFIX}{token}-"
