"""Small helpers for the plugin's own tests: fake runtimes and leftover checks."""

from __future__ import annotations

import os
from pathlib import Path


def write_script(path: Path, body: str) -> Path:
    """An executable shell script at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def fake_runtime(directory: Path, *, version_ok: bool = True, run_error: str | None = None) -> Path:
    """A runtime that answers --version, and fails ``run`` with ``run_error`` if given."""
    version = (
        'echo "fake-runtime version 0.0"; exit 0'
        if version_ok
        else ('echo "cannot load libseccomp" >&2; exit 1')
    )
    run = f'echo "{run_error}" >&2; exit 1' if run_error else "exit 0"
    return write_script(
        directory / "fake-runtime",
        f"""for a in "$@"; do
  case "$a" in
    --version) {version};;
    run) {run};;
  esac
done
exit 0
""",
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
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            root, point = fields[3], fields[4]
            if (target == point or target.startswith(point.rstrip("/") + "/")) and len(
                point
            ) >= len(best[0]):
                best = (point, root)
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
        try:
            with open(entry / "mountinfo") as f:
                roots = [line.split()[3] for line in f if line.split()[4] == "/"]
        except (OSError, IndexError):
            continue
        if any(root.startswith(prefix + "/") for root in roots):
            found.append(int(entry.name))
    return found


def leftovers(base: Path) -> dict[str, list[str]]:
    """Everything of ours still there under ``base``: dirs, containers' processes, mounts."""
    from pytest_runc.workdir import mounts_below

    return {
        "session dirs": [str(p) for p in session_dirs(base)],
        "processes": [str(p) for p in processes_rooted_under(base)],
        "mounts": mounts_below(base),
    }


NOTHING_LEFT = {"session dirs": [], "processes": [], "mounts": []}
