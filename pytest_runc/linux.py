"""Reading Linux facts about a process: capabilities, cgroups, namespaces."""

from __future__ import annotations

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
    """The host directory of ``pid``'s cgroup for ``controller`` (v1) or unified (v2)."""
    with open(f"/proc/{pid}/cgroup") as f:
        entries = [line.strip().split(":", 2) for line in f if line.strip()]
    if mode == "v2":
        path = next(p for hid, _, p in entries if hid == "0")
        return Path("/sys/fs/cgroup") / path.lstrip("/")
    for _, controllers, path in entries:
        if controller in controllers.split(","):
            return Path("/sys/fs/cgroup") / controller / path.lstrip("/")
    raise LookupError(f"process {pid} has no {controller} cgroup")
