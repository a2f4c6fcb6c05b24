"""Small helpers for the plugin's own tests: fake runtimes and leftover checks."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_runc.oci.linux import mount_table
from pytest_runc.sessions.workdir import mounts_below


def write_script(path: Path, body: str) -> Path:
    """An executable shell script at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def fake_runtime(
    directory: Path,
    *,
    version_ok: bool = True,
    run_error: str | None = None,
    create_error: str | None = None,
    hang: tuple[str, ...] = (),
) -> Path:
    """A runtime that answers --version; ``run``/``create`` fail with the given
    error, or never return when named in ``hang``; everything else exits 0."""
    version = (
        'echo "fake-runtime version 0.0"; exit 0'
        if version_ok
        else ('echo "cannot load libseccomp" >&2; exit 1')
    )

    def action(command: str, error: str | None) -> str:
        if command in hang:
            return "sleep 600; exit 0"
        return f'echo "{error}" >&2; exit 1' if error else "exit 0"

    return write_script(
        directory / "fake-runtime",
        f"""for a in "$@"; do
  case "$a" in
    --version) {version};;
    run) {action("run", run_error)};;
    create) {action("create", create_error)};;
  esac
done
exit 0
""",
    )


def token_of(output: str) -> str:
    """The run's token, from its report header (``container ids prt-<token>-*``)."""
    found = re.search(r"container ids prt-([0-9a-f]+)-\*", output)
    assert found, "no token in the run's header"
    return found.group(1)


def cgroups_of(*tokens: str) -> list[str]:
    """Cgroup directories named for these runs' containers, in every hierarchy."""
    root = Path("/sys/fs/cgroup")
    return sorted(
        str(p)
        for token in tokens
        for pattern in (f"prt-{token}-*", f"*/prt-{token}-*")
        for p in root.glob(pattern)
    )


def session_dirs(base: Path) -> list[Path]:
    """pytest-runc directories under a PYTEST_RUNC_TMPDIR: the sessions', or the
    base directory itself when it is left behind empty."""
    ours = base / f"pytest-runc-{os.getuid()}"
    if not ours.is_dir():
        return []
    return sorted(ours.glob("s-*")) or [ours]


def _in_filesystem(path: Path) -> str:
    """``path`` as seen from the root of the filesystem that holds it."""
    target = str(path.resolve())
    best = ("", "/")
    for entry in mount_table():
        point = entry.point
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(
            best[0]
        ):
            best = (point, entry.root)
    point, root = best
    rest = target[len(point.rstrip("/")) :]
    return (root.rstrip("/") + rest) or "/"


def processes_rooted_under(path: Path) -> list[int]:
    """Pids whose root filesystem (a container's rootfs) lies under ``path``.

    From the host, /proc/PID/root of a pivoted container reads "/"; its
    mountinfo's "/" entry still names the directory it was bound from.
    """
    found = []
    prefix = _in_filesystem(path)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        roots = [m.root for m in mount_table(entry / "mountinfo") if m.point == "/"]
        if any(root.startswith(prefix + "/") for root in roots):
            found.append(int(entry.name))
    return found


def leftovers(base: Path, *tokens: str) -> dict[str, list[str]]:
    """Everything of ours still there under ``base``: dirs, containers' processes,
    mounts; and the cgroups of the runs with these tokens."""
    return {
        "session dirs": [str(p) for p in session_dirs(base)],
        "processes": [str(p) for p in processes_rooted_under(base)],
        "mounts": mounts_below(base),
        "cgroups": cgroups_of(*tokens),
    }


NOTHING_LEFT: dict[str, list[str]] = {
    "session dirs": [],
    "processes": [],
    "mounts": [],
    "cgroups": [],
}


#: The unprivileged local user the attacker tests act as (``nobody``).
ATTACKER = 65534


def needs_root_and_setpriv() -> None:
    """Skip unless this process can act both as root and as the attacker."""
    if os.geteuid() != 0:
        pytest.skip("environment: the attacker tests need root (to act as uid 65534 and root)")
    if shutil.which("setpriv") is None:
        pytest.skip("environment: the attacker tests need setpriv (util-linux)")


def as_attacker(cwd: Path, *argv: str) -> None:
    """Run ``argv`` as uid and gid 65534 without groups, in ``cwd``.

    The working directory is entered as root before the uid changes, so the
    attacker acts in a world-writable directory of the test without being
    able to reach (or touch) anything else of pytest's.
    """
    subprocess.run(
        ["setpriv", f"--reuid={ATTACKER}", f"--regid={ATTACKER}", "--clear-groups", *argv],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=30,
    )


def sticky_dir(path: Path) -> Path:
    """A world-writable sticky directory (mode 1777) at ``path``, like /tmp."""
    path.mkdir()
    path.chmod(0o1777)
    return path
