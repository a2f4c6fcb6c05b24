"""What a faulty runtime does instead of the real command, one function a fault.

Each ``intercept`` gets the parsed call and returns the exit status to
report, or None to let the real runtime run the command untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_GLOBAL_WITH_VALUE = {"--root", "--log", "--log-format", "--criu", "--rootless"}


@dataclass(frozen=True)
class Call:
    """One invocation of the wrapper: the real runtime and the arguments given."""

    real_binary: str
    args: list[str]
    global_opts: list[str]
    command: str
    sub: list[str]

    @classmethod
    def parse(cls, real_binary: str, args: list[str]) -> Call:
        index = 0
        while index < len(args) and args[index].startswith("-"):
            index += 2 if args[index] in _GLOBAL_WITH_VALUE else 1
        if index >= len(args):
            return cls(real_binary, args, args, "", [])
        return cls(real_binary, args, args[:index], args[index], args[index + 1 :])

    @property
    def real(self) -> list[str]:
        return [self.real_binary, *self.args]

    @property
    def container_id(self) -> str:
        return self.sub[-1] if self.sub else ""

    @property
    def bundle(self) -> Path:
        for flag in ("--bundle", "-b"):
            if flag in self.sub:
                return Path(self.sub[self.sub.index(flag) + 1])
        return Path.cwd()


Intercept = Callable[[Call], "int | None"]


def run(argv: list[str], capture: bool = False) -> subprocess.CompletedProcess[Any]:
    """Run the real runtime; captured output goes through files, never pipes
    (a created container would hold a pipe open forever)."""
    if not capture:
        return subprocess.run(argv, check=False)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        done = subprocess.run(argv, stdout=out, stderr=err, text=True, check=False)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, done.returncode, out.read(), err.read())


def exit_of(returncode: int) -> int:
    """A child's status as a shell reports it (128+N after signal N)."""
    return 128 - returncode if returncode < 0 else returncode


def _rewrite_states(text: str, fix: Callable[[dict[str, Any]], None]) -> str:
    """Apply ``fix`` to each state object in ``state``/``list`` JSON output."""
    data = json.loads(text)
    for item in data if isinstance(data, list) else [data] if isinstance(data, dict) else []:
        fix(item)
    return json.dumps(data, indent=2)


def _paused_marker(container_id: str) -> Path:
    directory = Path(os.environ.get("FAULTY_STATE_DIR", "/tmp/pytest-runc-faulty"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"paused-{container_id}"


def state_lies(call: Call) -> int | None:
    if call.command != "state":
        return None
    done = run(call.real, capture=True)
    if done.returncode == 0:
        sys.stdout.write(_rewrite_states(done.stdout, lambda s: s.update(status="running")))
    else:
        sys.stderr.write(done.stderr)
    return int(done.returncode)


def pause_does_not_freeze(call: Call) -> int | None:
    if call.command == "pause":
        _paused_marker(call.container_id).touch()
        return 0
    marker = _paused_marker(call.container_id)
    if call.command == "resume" and marker.exists():
        marker.unlink()
        return 0
    if call.command not in {"state", "list"}:
        return None
    done = run(call.real, capture=True)
    if done.returncode != 0 or not done.stdout.strip().startswith(("{", "[")):
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        return int(done.returncode)

    def fake(item: dict[str, Any]) -> None:
        if _paused_marker(str(item.get("id"))).exists():
            item["status"] = "paused"

    sys.stdout.write(_rewrite_states(done.stdout, fake))
    return 0


def delete_does_nothing(call: Call) -> int | None:
    return 0 if call.command == "delete" and "--force" not in call.sub else None


def exit_status_lost(call: Call) -> int | None:
    if call.command != "run":
        return None
    run(call.real)
    return 0


def run_keeps_container(call: Call) -> int | None:
    if call.command != "run" or "--keep" in call.sub:
        return None
    return exit_of(
        run([call.real_binary, *call.global_opts, "run", "--keep", *call.sub]).returncode
    )


def list_hides(call: Call) -> int | None:
    if call.command != "list":
        return None
    done = run(call.real, capture=True)
    rows = done.stdout.splitlines(keepends=True)
    if "json" in call.sub:
        out = json.dumps((json.loads(done.stdout) or [])[1:])
    elif "--quiet" in call.sub or "-q" in call.sub:
        out = "".join(rows[1:])
    else:
        out = "".join(rows[:1] + rows[2:])  # keep the table header
    sys.stdout.write(out)
    return int(done.returncode)


def start_hangs(call: Call) -> int | None:
    if call.command != "start":
        return None
    run(call.real)
    while True:
        time.sleep(60)


def kill_ignored(call: Call) -> int | None:
    return 0 if call.command == "kill" else None


def exec_status_lost(call: Call) -> int | None:
    if call.command != "exec":
        return None
    run(call.real)
    return 0


def duplicate_id_accepted(call: Call) -> int | None:
    if call.command != "create":
        return None
    done = run(call.real, capture=True)
    if done.returncode != 0 and "exists" in done.stderr:
        return 0
    sys.stderr.write(done.stderr)
    return int(done.returncode)


def refused_start_accepted(call: Call) -> int | None:
    if call.command != "start":
        return None
    run(call.real, capture=True)
    return 0
