"""What this host offers a container test: privilege, a runtime, cgroups.

Each problem becomes a skip reason a person can act on (the session adds the
``environment:`` class). A runtime that is present but broken is not the
environment's problem: the session's runtime check makes it a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pytest_runc.oci.constants import CGROUP_ROOT
from pytest_runc.oci.linux import mount_table

ROOT_FIX = (
    "container tests need root: run pytest as root"
    ' (e.g. `sudo -E env "PATH=$PATH" python -m pytest --runc`)'
    " or allow passwordless sudo so that `sudo -n true` succeeds"
)


@dataclass(frozen=True)
class Privilege:
    """How runtime commands get root: directly, through ``sudo -n``, rootless
    (user namespaces, opted in with --runc-rootless), or not at all."""

    is_root: bool
    sudo: bool
    problem: str | None
    rootless: bool = False

    def describe(self) -> str:
        if self.is_root:
            return "as root"
        if self.sudo:
            return "through sudo -n"
        if self.rootless:
            return f"rootless (uid {effective_uid()}, user namespaces)"
        return "not root, no passwordless sudo"


def effective_uid() -> int:
    """Our effective uid; one name, so that tests can pretend to be another user
    here without changing ``os.geteuid`` for every module."""
    return os.geteuid()


def user_namespaces_available() -> bool:
    """Whether an unprivileged process may create user namespaces here."""
    try:
        if int(Path("/proc/sys/user/max_user_namespaces").read_text()) <= 0:
            return False
    except (OSError, ValueError):
        return False
    clone = Path("/proc/sys/kernel/unprivileged_userns_clone")  # Debian's switch
    try:
        return not clone.exists() or clone.read_text().strip() == "1"
    except OSError:
        return False


def probe_privilege(rootless: bool = False) -> Privilege:
    """Root; else rootless when asked (never sudo then); else passwordless sudo;
    else a skip reason naming the ways to get there."""
    if effective_uid() == 0:
        return Privilege(True, False, None)
    userns = user_namespaces_available()
    # Asked for rootless, rootless it is: a CI runner's user has passwordless
    # sudo, and choosing sudo would run a "rootless" job as root.
    if rootless and userns:
        return Privilege(False, False, None, rootless=True)
    if rootless:
        return Privilege(
            False,
            False,
            f"not root (uid {effective_uid()}) and --runc-rootless needs unprivileged user"
            f" namespaces, which this host does not allow: {ROOT_FIX}",
        )
    if shutil.which("sudo"):
        try:
            done = subprocess.run(
                ["sudo", "-n", "true"], capture_output=True, timeout=10, stdin=subprocess.DEVNULL
            )
            if done.returncode == 0:
                return Privilege(False, True, None)
        except (OSError, subprocess.SubprocessError):
            pass
    hint = " (or pass --runc-rootless: user namespaces are available here)" if userns else ""
    return Privilege(False, False, f"not root (uid {effective_uid()}): {ROOT_FIX}{hint}")


def resolve_binary(name: str) -> tuple[str | None, str | None]:
    """The runtime's absolute path, or None and a skip reason naming the fix."""
    if "/" in name:
        path = Path(name).expanduser().absolute()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path), None
        what = "is not executable" if path.exists() else "does not exist"
        return None, f"runtime binary {path} {what}: fix the path given to --runc-binary"
    found = shutil.which(name)
    if found:
        return found, None
    hint = "`apt-get install runc`" if name == "runc" else f"install {name}"
    return None, (f"runtime binary {name!r} not found on PATH: {hint} or pass --runc-binary PATH")


def cgroup_mode(root: Path = CGROUP_ROOT) -> str:
    """``v2`` (unified), ``hybrid`` (v1 plus a v2 mount) or ``v1``; ``none`` if absent."""
    mounts = {entry.point: entry.fstype for entry in mount_table()}
    if mounts.get(str(root)) == "cgroup2":
        return "v2"
    if str(root) not in mounts:
        return "none"
    if any(t == "cgroup2" for p, t in mounts.items() if p.startswith(str(root) + "/")):
        return "hybrid"
    return "v1"
