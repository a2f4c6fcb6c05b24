"""The trial run: runc runs a private stand-in of the bundle, and its answer decides.

The stand-in's config.json is the user's first JSON value as written (key
case, repeated keys and number literals kept, so runc decodes what the user
wrote), followed by a few keys of ours; Go's decoder lets later keys win and
merges objects, so only these change:

- ``root.path``: an overlay of the user's rootfs (see :mod:`.trialfs`),
- ``process.terminal``: false (the trial is detached),
- ``hooks``: null unless hooks are allowed (they run on the host as root),
- ``linux.cgroupsPath``: ``/prt-check-<token>``, a private cgroup that runc
  creates and deletes whole; the user's cgroupsPath (whose parents runc would
  leave behind) is reported statically instead.

A config that runc cannot load at all (not JSON, not an object) is handed to
runc byte for byte: it fails before it looks at a rootfs. The stand-in lives
in a locked work directory like a test's, swept by the next run if this
process is killed; the container, its cgroup and the mounts are removed
afterwards.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_runc.bundle import Bundle
from pytest_runc.bundlecheck.findings import ERROR, WARNING, Finding
from pytest_runc.bundlecheck.gojson import Obj, dump_raw
from pytest_runc.bundlecheck.loader import Loaded
from pytest_runc.bundlecheck.trialfs import CopyCapped, TrialRootfs, prepare
from pytest_runc.constants import ID_PREFIX
from pytest_runc.container import Container
from pytest_runc.errors import RuntimeTimeout, runtime_message
from pytest_runc.runtime import Runtime
from pytest_runc.workdir import WorkDir, remove_empty_cgroups

#: runc's words -> (code, what they mean, how to fix it). First match wins.
TRANSLATIONS: list[tuple[str, str, str, str]] = [
    (
        r"^exec [^:]+: no such file or directory",
        "runc-exec-missing",
        "args[0] exists but cannot be started: its ELF loader or its #! interpreter is"
        " missing from the rootfs",
        "install the loader/interpreter in the rootfs, or use a static binary",
    ),
    (
        r"open /proc/self/fd",
        "runc-no-proc-mount",
        "the bundle has no /proc mount",
        'add {"destination": "/proc", "type": "proc", "source": "proc"} to mounts',
    ),
    (
        r"executable file not found|exec: .*no such file",
        "runc-args0-not-found",
        "the program in process.args[0] is not in the rootfs (or PATH is missing)",
        "install it in the rootfs or fix args[0]/PATH (busybox links must be relative)",
    ),
    (
        r"cannot unmarshal",
        "runc-json-type",
        "a field has a value of the wrong JSON type",
        "use the type the runtime spec gives for it",
    ),
    (
        r"process property must not be empty",
        "runc-process-missing",
        "there is no process section",
        'add "process" with args, env and cwd',
    ),
    (r"[Cc]wd", "runc-cwd", "process.cwd is missing or relative", 'use an absolute cwd: "/"'),
    (
        r"hostname without a private uts|domainname without",
        "runc-hostname-without-uts",
        "a hostname needs a uts namespace",
        'add {"type": "uts"} to linux.namespaces',
    ),
    (
        r"set(host|domain)name: invalid argument",
        "runc-hostname-too-long",
        "the kernel refused the hostname (longer than 64 bytes?)",
        "use a hostname of at most 64 bytes",
    ),
    (
        r"invalid environment variable",
        "runc-env-invalid",
        "an env entry is not NAME=VALUE",
        "write every env entry as NAME=VALUE",
    ),
    (
        r"args must not be empty",
        "runc-args-empty",
        "process.args is empty",
        "name the program to run in args",
    ),
    (
        r"unable to set memory limit|memory.limit_in_bytes",
        "runc-memory-limit",
        "the kernel refused the memory limit (below what runc itself uses?)",
        "raise linux.resources.memory.limit to at least 4 MiB plus the program's needs",
    ),
    (
        r"memsw.limit_in_bytes",
        "runc-memory-swap",
        "the kernel refused memory.swap (memory plus swap must be >= the memory limit)",
        "set swap >= limit, or -1",
    ),
    (
        r"rlimit",
        "runc-rlimit",
        "an rlimit was refused (unknown name, or soft above hard)",
        "use RLIMIT_ names and soft <= hard",
    ),
    (
        r"seccomp",
        "runc-seccomp",
        "runc refused the seccomp profile",
        "use the SCMP_ACT_/SCMP_ARCH_/SCMP_CMP_ names libseccomp knows",
    ),
    (
        r"sysctl",
        "runc-sysctl",
        "a sysctl is not in a namespace the container owns",
        "remove it, or add the namespace it belongs to",
    ),
    (
        r"cannot use unified on cgroup v1",
        "runc-cgroup-unified-on-v1",
        "linux.resources.unified needs a cgroup v2 host",
        "use the v1 resource fields on this host",
    ),
    (
        r"invalid device type",
        "runc-device-type",
        "a linux.devices entry has an unknown type",
        'use "c", "b", "u" or "p"',
    ),
    (
        r"duplicated ns",
        "runc-namespace-duplicate",
        "a namespace type is listed twice",
        "keep one entry per type",
    ),
    (
        r"uid mappings|gid mappings",
        "runc-userns-mappings",
        "a user namespace needs uid and gid mappings",
        "add linux.uidMappings and linux.gidMappings",
    ),
    (
        r"error mounting",
        "runc-mount",
        "a mount failed (a missing bind source?)",
        "create the source or fix the mount",
    ),
    (
        r"namespace|setns",
        "runc-namespace",
        "a namespace cannot be created or joined (an unknown type, or a missing path)",
        "use known namespace types and existing paths",
    ),
    (
        r"invalid rootfs|rootfs.*(no such file|not a directory|symlink)",
        "runc-rootfs",
        "the rootfs is missing or unusable",
        "fix root.path or unpack the rootfs",
    ),
    (
        r"exec format error",
        "runc-args0-wrong-format",
        "args[0] is not an executable for this machine",
        "use a binary for this architecture (or add a #! line to a script)",
    ),
    (
        r"oom_score_adj",
        "runc-oom-score-adj",
        "the kernel refused process.oomScoreAdj (outside -1000..1000, or lower than the"
        " caller's own without CAP_SYS_RESOURCE)",
        "use a value from -1000 to 1000, not below the value of the process running runc",
    ),
    (
        r"permission denied",
        "runc-permission-denied",
        "runc was denied access",
        "check file modes in the rootfs and that the check runs as root",
    ),
    (
        r"can't get final child's PID from pipe: EOF",
        "runc-init-failed",
        "runc's init process died before the container started (an oomScoreAdj outside"
        " -1000..1000 does this)",
        "check process.oomScoreAdj and the other process settings",
    ),
]


def translate(message: str) -> Finding:
    """The finding that runc's error ``message`` means."""
    for pattern, code, meaning, fix in TRANSLATIONS:
        if re.search(pattern, message, re.IGNORECASE):
            return Finding(ERROR, code, f"{meaning} (runc: {message})", fix, "runc")
    return Finding(
        ERROR,
        "runc-refused",
        f"runc refused the bundle: {message}",
        "read runc's message; fix the config or rootfs it names",
        "runc",
    )


@dataclass
class TrialResult:
    """What the trial run showed: None for ``ran`` when no trial happened."""

    ran: bool | None
    message: str = ""
    findings: list[Finding] = field(default_factory=list)
    how: str = ""  # "overlay", "copy", "config only"


def _exec_failure(container_stderr: str) -> str | None:
    for line in container_stderr.splitlines():
        if re.match(r"^exec [^:]+: ", line):
            return line.strip()
    return None


def stand_in_config(
    loaded: Loaded, rootfs: Path | None, missing_rootfs: Path, container_id: str, allow_hooks: bool
) -> bytes:
    """The stand-in's config.json: the user's value as written, then our keys."""
    if not isinstance(loaded.raw, Obj):
        return loaded.raw_bytes
    config = loaded.config or {}
    ours: list[tuple[str, Any]] = []
    if isinstance(config.get("root"), dict):
        ours.append(("root", Obj([("path", str(rootfs or missing_rootfs))])))
    if isinstance(config.get("process"), dict):
        ours.append(("process", Obj([("terminal", False)])))
    if not allow_hooks:
        ours.append(("hooks", None))
    if isinstance(config.get("linux"), dict):
        ours.append(("linux", Obj([("cgroupsPath", f"/{container_id}")])))
    return (dump_raw(Obj([*loaded.raw, *ours]), indent=2) + "\n").encode()


def run_trial(
    loaded: Loaded,
    rootfs: Path | None,
    runtime_binary: str,
    *,
    sudo: bool = False,
    allow_hooks: bool = False,
    timeout: float = 30.0,
    settle: float = 0.2,
) -> TrialResult:
    """Let runc run a stand-in of the bundle whose config ``loaded`` holds.

    ``rootfs`` is the user's usable rootfs (None when the static check found
    none: runc then gets a path that does not exist, and says so itself).
    """
    workdir = WorkDir.create()
    container_id = f"{ID_PREFIX}check-{workdir.token}"
    trial_dir = workdir.path / "trial"
    trial_dir.mkdir()
    prepared: TrialRootfs | None = None
    notes: list[Finding] = []
    try:
        if rootfs is not None:
            try:
                prepared = prepare(rootfs, trial_dir, sudo=sudo)
            except CopyCapped as exc:
                return TrialResult(
                    None,
                    findings=[
                        Finding(
                            WARNING,
                            "rootfs-copy-capped",
                            f"no trial run: overlay is not available here and the rootfs"
                            f" has {exc}, the limit of the bounded copy",
                            "run the check as root on a host with overlayfs, or trust the"
                            " static verdict",
                            "rootfs",
                        )
                    ],
                )
            except OSError as exc:
                return TrialResult(
                    None,
                    findings=[
                        Finding(
                            WARNING,
                            "trial-rootfs-failed",
                            f"no trial run: cannot prepare the rootfs ({exc})",
                            "make the rootfs readable by the user running the check",
                            "rootfs",
                        )
                    ],
                )
            if prepared.note:
                notes.append(
                    Finding(WARNING, "trial-used-copy", prepared.note, "none needed", "rootfs")
                )
        config = stand_in_config(
            loaded,
            prepared.path if prepared else None,
            trial_dir / "no-rootfs",
            container_id,
            allow_hooks,
        )
        (trial_dir / "config.json").write_bytes(config)
        how = prepared.how if prepared else "config only"
        runtime = Runtime(runtime_binary, workdir.state_root, timeout=timeout, sudo=sudo)
        # Container.run rewrites config.json from .config: give it none to write.
        trial = Container(runtime, _Verbatim(trial_dir), container_id)
        try:
            done = trial.run(detach=True)
            if done.returncode != 0:
                message = runtime_message(done.stderr) or f"exit status {done.returncode}"
                return TrialResult(False, message, [translate(message), *notes], how)
            # Started; but runc 1.1 returns before the final execve, whose
            # failure the container's init writes to its stderr ("exec X: ...").
            time.sleep(settle)
            exec_error = _exec_failure(trial.stderr_path.read_text(errors="replace"))
            if exec_error:
                return TrialResult(False, exec_error, [translate(exec_error), *notes], how)
            return TrialResult(True, "started", notes, how)
        except RuntimeTimeout as exc:
            failure = Finding(
                ERROR, "runc-timeout", str(exc), "see what the process waits for", "runc"
            )
            return TrialResult(False, str(exc), [failure], how)
        finally:
            trial.remove()
            remove_empty_cgroups(workdir.token, sudo=sudo)
    finally:
        if prepared is not None:
            prepared.release()
        workdir.remove()


class _Verbatim(Bundle):
    """A bundle whose config.json is already written, byte for byte: never rewritten."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, {})

    def write(self) -> Path:
        return self.config_path
