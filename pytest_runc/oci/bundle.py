"""OCI bundles: a config.json model with a ``runc spec`` default, and a builder."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from pytest_runc.oci.errors import BundleError

_DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
_DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: What ``runc spec`` (runc 1.1) writes; a test changes only what it checks.
RUNC_SPEC_DEFAULT: dict[str, Any] = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": True,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": [_DEFAULT_PATH, "TERM=xterm"],
        "cwd": "/",
        "capabilities": {
            key: list(_DEFAULT_CAPS) for key in ("bounding", "effective", "permitted", "ambient")
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "runc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [
            {"type": "pid"},
            {"type": "network"},
            {"type": "ipc"},
            {"type": "uts"},
            {"type": "mount"},
        ],
        "maskedPaths": [
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
        ],
        "readonlyPaths": [
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger",
        ],
    },
}


def default_config() -> dict[str, Any]:
    """A fresh copy of the ``runc spec`` default config."""
    return copy.deepcopy(RUNC_SPEC_DEFAULT)


def rootless_config(uid: int, gid: int) -> dict[str, Any]:
    """What ``runc spec --rootless`` writes for a user ``uid``:``gid``.

    A user namespace mapping container root to that user, no network
    namespace, no cgroup resources, /sys bound from the host (sysfs cannot
    be mounted without a network namespace), devpts without gid=5.
    """
    config = default_config()
    linux = config["linux"]
    linux["namespaces"] = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "user")]
    linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
    del linux["resources"]
    for mount in config["mounts"]:
        if mount["destination"] == "/dev/pts":
            mount["options"] = [o for o in mount["options"] if o != "gid=5"]
        elif mount["destination"] == "/sys":
            mount.update(
                type="none", source="/sys", options=["rbind", "nosuid", "noexec", "nodev", "ro"]
            )
    return config


class Bundle:
    """A bundle directory: ``config.json`` plus a rootfs, built step by step.

    Builder methods change the in-memory config and return the bundle, so
    calls chain; :meth:`write` puts config.json on disk (the container layer
    writes it before every create/run, so tests rarely call it).
    """

    def __init__(self, path: Path, config: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.config: dict[str, Any] = default_config() if config is None else config

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r})"

    # -- where things are ----------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def rootfs(self) -> Path:
        """The rootfs directory that config.json's ``root.path`` names."""
        root = Path(self.config.get("root", {}).get("path", "rootfs"))
        return root if root.is_absolute() else self.path / root

    def write(self) -> Path:
        """Write config.json (2-space JSON) and return its path."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config, indent=2) + "\n")
        return self.config_path

    def config_text(self) -> str:
        """config.json as written on disk, or the in-memory config if not written."""
        try:
            return self.config_path.read_text()
        except OSError:
            return json.dumps(self.config, indent=2)

    # -- process -------------------------------------------------------
    @property
    def process(self) -> dict[str, Any]:
        proc: dict[str, Any] = self.config.setdefault("process", {"cwd": "/"})
        return proc

    @property
    def linux(self) -> dict[str, Any]:
        section: dict[str, Any] = self.config.setdefault("linux", {})
        return section

    def args(self, *argv: str) -> Bundle:
        """Set the program and its arguments (``process.args``)."""
        self.process["args"] = list(argv)
        return self

    def command(self, *argv: str) -> Bundle:
        """A non-interactive program: set ``args`` and ``terminal: false``."""
        return self.args(*argv).terminal(False)

    def shell(self, script: str) -> Bundle:
        """A non-interactive ``sh -c SCRIPT``."""
        return self.command("sh", "-c", script)

    def terminal(self, enabled: bool = True) -> Bundle:
        self.process["terminal"] = enabled
        return self

    def hostname(self, name: str | None) -> Bundle:
        """Set the hostname; None removes the field."""
        if name is None:
            self.config.pop("hostname", None)
        else:
            self.config["hostname"] = name
        return self

    def env(self, **values: str) -> Bundle:
        """Set environment variables, replacing earlier values of the same key."""
        entries = [e for e in self.process.get("env", []) if e.split("=", 1)[0] not in values]
        entries += [f"{key}={value}" for key, value in values.items()]
        self.process["env"] = entries
        return self

    def cwd(self, path: str) -> Bundle:
        self.process["cwd"] = path
        return self

    def user(self, uid: int, gid: int, additional_gids: list[int] | None = None) -> Bundle:
        user: dict[str, Any] = {"uid": uid, "gid": gid}
        if additional_gids:
            user["additionalGids"] = list(additional_gids)
        self.process["user"] = user
        return self

    def readonly(self, enabled: bool = True) -> Bundle:
        """Make the root filesystem read-only (``root.readonly``)."""
        self.config.setdefault("root", {"path": "rootfs"})["readonly"] = enabled
        return self

    def capabilities(self, *names: str) -> Bundle:
        """Give the process exactly these capabilities in every set."""
        caps = list(names)
        self.process["capabilities"] = {
            key: list(caps) for key in ("bounding", "effective", "permitted", "ambient")
        }
        return self

    def rlimit(self, kind: str, soft: int, hard: int) -> Bundle:
        """Set one rlimit, e.g. ``rlimit("RLIMIT_NOFILE", 64, 64)``."""
        limits = [r for r in self.process.get("rlimits", []) if r.get("type") != kind]
        limits.append({"type": kind, "soft": soft, "hard": hard})
        self.process["rlimits"] = limits
        return self

    # -- mounts and namespaces ----------------------------------------
    def mount(
        self, destination: str, type: str, source: str, options: list[str] | None = None
    ) -> Bundle:
        """Add a mount (replacing one with the same destination)."""
        self.remove_mount(destination)
        entry: dict[str, Any] = {"destination": destination, "type": type, "source": source}
        if options:
            entry["options"] = list(options)
        self.config.setdefault("mounts", []).append(entry)
        return self

    def remove_mount(self, destination: str) -> Bundle:
        mounts = self.config.get("mounts", [])
        self.config["mounts"] = [m for m in mounts if m.get("destination") != destination]
        return self

    def namespaces(self, *types: str) -> Bundle:
        """Use exactly these namespace types (fresh ones, no paths)."""
        self.linux["namespaces"] = [{"type": t} for t in types]
        return self

    def add_namespace(self, type: str, path: str | None = None) -> Bundle:
        """Add or replace one namespace; ``path`` joins an existing one."""
        self.remove_namespace(type)
        entry = {"type": type} if path is None else {"type": type, "path": path}
        self.linux.setdefault("namespaces", []).append(entry)
        return self

    def remove_namespace(self, type: str) -> Bundle:
        self.linux["namespaces"] = [
            ns for ns in self.linux.get("namespaces", []) if ns.get("type") != type
        ]
        return self

    def namespace_types(self) -> list[str]:
        return [str(ns.get("type")) for ns in self.linux.get("namespaces", [])]

    # -- resources -----------------------------------------------------
    def resources(self, **sections: dict[str, Any]) -> Bundle:
        """Merge cgroup resource sections, e.g. ``resources(pids={"limit": 16})``."""
        res = self.linux.setdefault("resources", {})
        for key, value in sections.items():
            res.setdefault(key, {}).update(value)
        return self

    def hook(self, stage: str, path: str, *args: str, timeout: int | None = None) -> Bundle:
        """Append a hook at ``stage`` (prestart, createRuntime, poststart, ...)."""
        entry: dict[str, Any] = {"path": path}
        if args:
            entry["args"] = list(args)
        if timeout is not None:
            entry["timeout"] = timeout
        self.config.setdefault("hooks", {}).setdefault(stage, []).append(entry)
        return self


def load_bundle(path: Path) -> Bundle:
    """Read an existing bundle's config.json (the bundle is not changed)."""
    try:
        config = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read {path}/config.json: {exc}") from exc
    if not isinstance(config, dict):
        raise BundleError(f"{path}/config.json is not a JSON object")
    return Bundle(Path(path), config)
