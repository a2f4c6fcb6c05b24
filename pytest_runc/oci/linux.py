"""Reading Linux facts about a process: capabilities, cgroups, namespaces, mounts."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Capability names by bit number (linux/capability.h).
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip

#: config.json namespace type -> name under /proc/PID/ns.
NS_FILES = {
    "pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
    "cgroup": "cgroup", "user": "user", "time": "time",
}  # fmt: skip


def decode_capabilities(mask: str) -> set[str]:
    """Names of the capabilities set in a /proc/PID/status hex mask."""
    bits = int(mask, 16)
    return {
        CAPABILITIES[n] if n < len(CAPABILITIES) else f"CAP_{n}" for n in range(64) if bits >> n & 1
    }


def status_fields(text: str) -> dict[str, str]:
    """/proc/PID/status as a dict of field -> value."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def cgroup_dir(pid: int, controller: str, mode: str) -> Path:
    """The host directory that holds ``pid``'s ``controller`` files: on cgroup v2
    its unified cgroup, on v1 and hybrid (whose controllers are all v1) the v1
    hierarchy that has the controller. Found from /proc/PID/cgroup and the
    host's cgroup mounts, so no mount point or layout is assumed."""
    for hierarchy, controllers, where in cgroup_dirs_by_hierarchy(pid):
        if mode == "v2" and hierarchy == "0":
            return where
        if mode != "v2" and controller in controllers.split(","):
            return where
    raise LookupError(f"process {pid} has no {controller} cgroup on this {mode} host")


def cgroup_fstype(mode: str) -> str:
    """The filesystem a config's ``cgroup`` mount shows as, by cgroup mode: on v2
    the one unified hierarchy (``cgroup2``); on v1 and hybrid ``cgroup`` (one
    mount per v1 hierarchy, under a tmpfs where the runtime makes one)."""
    return "cgroup2" if mode == "v2" else "cgroup"


def controller_cgroups(text: str, mode: str) -> dict[str, str]:
    """The cgroups of a /proc/PID/cgroup text that hold resource controllers, by
    cgroup mode: on v2 the one unified line (``0::path``); on v1 and hybrid the v1
    hierarchies with controllers (not hybrid's controller-less ``0::`` line, nor
    named ones such as ``name=systemd``). controllers (``""`` for v2) -> path."""
    found = {}
    for line in text.splitlines():
        hierarchy, sep, rest = line.strip().partition(":")
        controllers, sep2, path = rest.partition(":")
        if not (sep and sep2):
            continue
        v1_controllers = bool(controllers) and not controllers.startswith("name=")
        if (hierarchy == "0") if mode == "v2" else v1_controllers:
            found[controllers] = path
    return found


@dataclass(frozen=True)
class MountEntry:
    """One line of a ``/proc/PID/mountinfo`` table."""

    root: str  # the directory of the filesystem that is mounted here ("/" for a whole one)
    point: str  # where it is mounted, as seen by the process
    fstype: str
    options: tuple[str, ...]  # per-mount options (ro, noexec, ...) then the superblock's
    source: str = ""
    #: The per-mount flags alone (ro/rw, nosuid, nodev, noexec, relatime ...).
    flags: frozenset[str] = frozenset()
    #: The superblock's options alone (size=, mode=, gid= ...): name -> value ("" if bare).
    fs_options: dict[str, str] = field(default_factory=dict)

    def has(self, option: str) -> bool:
        return option in self.options


def _unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash as \ooo octal.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_table(path: str | Path = "/proc/self/mountinfo") -> list[MountEntry]:
    """The mount table of a process (default: this one); empty if unreadable.

    The one parser of mount tables in pytest-runc: the work directory's tmpfs
    check, the cgroup mode, the unmounting of leftovers and the tests' leftover
    counts all read it through here.
    """
    try:
        with open(path) as f:
            return parse_mountinfo(f.read())
    except OSError:
        return []


def parse_mountinfo(text: str) -> list[MountEntry]:
    """The mounts of a ``/proc/PID/mountinfo`` text (one read inside a container, say)."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        dash = fields.index("-", 6)
        if len(fields) < dash + 3:
            continue
        flags = fields[5].split(",")
        superblock = fields[dash + 3].split(",") if len(fields) > dash + 3 else []
        entries.append(
            MountEntry(
                root=_unescape(fields[3]),
                point=_unescape(fields[4]),
                fstype=fields[dash + 1],
                options=tuple(flags + superblock),
                source=_unescape(fields[dash + 2]),
                flags=frozenset(flags),
                fs_options={k: v for k, _, v in (o.partition("=") for o in superblock)},
            )
        )
    return entries


def mount_of(path: str, mounts: list[MountEntry]) -> MountEntry:
    """The mount that ``path`` is on: the deepest mount point containing it (the
    top one when several are stacked there)."""
    found = [
        (len(m.point), index, m)
        for index, m in enumerate(mounts)
        if path == m.point or path.startswith(m.point.rstrip("/") + "/")
    ]
    if not found:
        raise LookupError(f"{path} is on no mount")
    return max(found, key=lambda entry: entry[:2])[2]


def cgroup_dirs(pid: int) -> list[Path]:
    """The host directories of every cgroup ``pid`` is in (each v1 hierarchy, and
    the unified one), found through the host's cgroup mounts."""
    return [where for _, _, where in cgroup_dirs_by_hierarchy(pid)]


def cgroup_dirs_by_hierarchy(pid: int) -> list[tuple[str, str, Path]]:
    """(hierarchy id, controllers, host directory) of each cgroup ``pid`` is in,
    from /proc/PID/cgroup and the host's cgroup mounts (``0``, ``""`` for v2)."""
    with open(f"/proc/{pid}/cgroup") as f:
        entries = [line.strip().split(":", 2) for line in f if line.strip()]
    mounts = [m for m in mount_table() if m.fstype in ("cgroup", "cgroup2")]
    found = []
    for hierarchy, controllers, path in entries:
        for base in mounts:
            named = {f"{k}={v}" if v else k for k, v in base.fs_options.items()}
            v2 = hierarchy == "0" and base.fstype == "cgroup2"
            if not v2 and not (base.fstype == "cgroup" and set(controllers.split(",")) <= named):
                continue
            # A mount of a sub-cgroup (mount.root) shows the paths below it.
            relative = posixpath.relpath(path, base.root) if base.root != "/" else path.lstrip("/")
            found.append((hierarchy, controllers, Path(base.point) / relative))
            break
    return found
