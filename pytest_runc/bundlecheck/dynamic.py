"""Dynamic bundle check: let runc run a copy of the bundle, and translate its answer.

The user's bundle is copied (config.json and the rootfs, symlinks kept as
symlinks) into a private directory; runc runs the copy detached, with
terminal off and, unless explicitly allowed, without hooks — hooks run on
the host as root. The copy and the container are removed afterwards.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from pytest_runc.bundle import load_bundle
from pytest_runc.compat.findings import ERROR, Finding
from pytest_runc.container import Container
from pytest_runc.errors import RuntimeTimeout, runtime_message
from pytest_runc.rootfs import copy_tree
from pytest_runc.runtime import Runtime
from pytest_runc.workdir import WorkDir

#: runc's own error text -> (code, what it means, how to fix it)
TRANSLATIONS: list[tuple[str, str, str, str]] = [
    (
        r"^exec [^:]+: no such file or directory",
        "runc-elf-interpreter-missing",
        "args[0] exists but cannot be executed: its ELF interpreter (loader) is missing",
        "copy the loader and libraries into the rootfs, or use a static binary",
    ),
    (
        r"open /proc/self/fd",
        "runc-no-proc-mount",
        "the bundle has no /proc mount",
        'add {"destination": "/proc", "type": "proc", "source": "proc"} to mounts',
    ),
    (
        r"executable file not found|no such file or directory.*exec|exec: .*no such file",
        "runc-args0-not-found",
        "the program in process.args[0] is not in the rootfs",
        "install it in the rootfs or fix args[0]/PATH (busybox links must be relative)",
    ),
    (
        r"cwd must be an absolute path",
        "runc-cwd-relative",
        "process.cwd is relative",
        'use an absolute cwd, e.g. "/"',
    ),
    (
        r"hostname without a private uts",
        "runc-hostname-without-uts",
        "a hostname needs a uts namespace",
        'add {"type": "uts"} to linux.namespaces',
    ),
    (
        r"invalid environment variable",
        "runc-env-invalid",
        "an env entry is not KEY=VALUE",
        "write every env entry as KEY=VALUE",
    ),
    (
        r"namespace .* does not exist",
        "runc-namespace-unknown",
        "an unknown namespace type",
        "use pid, network, mount, ipc, uts, user, cgroup or time",
    ),
    (
        r"cannot unmarshal",
        "runc-type-error",
        "a field has the wrong JSON type",
        "use the type the runtime spec gives for it (numbers for uid/gid)",
    ),
    (
        r"args must not be empty",
        "runc-args-empty",
        "process.args is empty",
        "name the program to run in args",
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
        "use a binary for this architecture",
    ),
    (
        r"permission denied",
        "runc-permission-denied",
        "runc was denied access",
        "check file modes in the rootfs and that the check runs as root",
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


def _exec_failure(container_stderr: str) -> str | None:
    for line in container_stderr.splitlines():
        if re.match(r"^exec [^:]+: ", line):
            return line.strip()
    return None


def _private_copy(bundle: Path, config: dict[str, Any], workdir: Path, allow_hooks: bool) -> Path:
    copy = workdir / "bundle"
    copy.mkdir(parents=True)
    root = Path(config["root"]["path"])
    source_rootfs = root if root.is_absolute() else bundle / root
    copy_tree(source_rootfs, copy / "rootfs")
    config = json.loads(json.dumps(config))
    config["root"]["path"] = "rootfs"
    config.setdefault("process", {})["terminal"] = False
    if not allow_hooks:
        config.pop("hooks", None)
    (copy / "config.json").write_text(json.dumps(config, indent=2))
    return copy


def check_dynamic(
    bundle: Path,
    config: dict[str, Any],
    runtime_binary: str,
    *,
    sudo: bool = False,
    allow_hooks: bool = False,
    timeout: float = 30.0,
    settle: float = 0.2,
) -> tuple[bool, str, list[Finding]]:
    """Run a copy of the bundle; (runc ran it, runc's message, findings).

    The copy lives in a private work directory like a test's (swept by the
    next run if this process is killed), and the container goes through
    the container layer, which removes it whatever happens.
    """
    workdir = WorkDir.create()
    try:
        try:
            copy = load_bundle(_private_copy(bundle, config, workdir.path, allow_hooks))
        except OSError as exc:
            failure = Finding(
                ERROR,
                "copy-failed",
                f"cannot copy the bundle for a trial run: {exc}",
                "make the rootfs readable",
                "rootfs",
            )
            return False, str(exc), [failure]
        runtime = Runtime(runtime_binary, workdir.state_root, timeout=timeout, sudo=sudo)
        trial = Container(runtime, copy, f"prt-check-{workdir.path.name[2:]}")
        try:
            done = trial.run(detach=True)
            if done.returncode != 0:
                message = runtime_message(done.stderr) or f"exit status {done.returncode}"
                return False, message, [translate(message)]
            # Started; but runc 1.1 returns before the final execve, whose
            # failure the container's init writes to its stderr ("exec X: ...").
            time.sleep(settle)
            exec_error = _exec_failure(trial.stderr_path.read_text(errors="replace"))
            if exec_error:
                return False, exec_error, [translate(exec_error)]
            return True, "started", []
        except RuntimeTimeout as exc:
            failure = Finding(
                ERROR, "runc-timeout", str(exc), "see what the process waits for", "runc"
            )
            return False, str(exc), [failure]
        finally:
            trial.remove()
    finally:
        workdir.remove()
