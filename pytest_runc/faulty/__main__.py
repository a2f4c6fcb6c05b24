"""Entry point of a faulty runtime: ``python -m pytest_runc.faulty FAULT REAL ARGS...``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_runc.faulty import FAULTS, Fault

_GLOBAL_WITH_VALUE = {"--root", "--log", "--log-format", "--criu", "--rootless"}


def _split(args: list[str]) -> tuple[list[str], str, list[str]]:
    """(global options, subcommand, subcommand arguments)."""
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in _GLOBAL_WITH_VALUE else 1
    if index >= len(args):
        return args, "", []
    return args[:index], args[index], args[index + 1 :]


def _bundle(sub_args: list[str]) -> Path:
    for flag in ("--bundle", "-b"):
        if flag in sub_args:
            return Path(sub_args[sub_args.index(flag) + 1])
    return Path.cwd()


def _run(real: list[str], capture: bool = False) -> subprocess.CompletedProcess[Any]:
    """Run the real runtime; captured output goes through files, never pipes
    (a created container would hold a pipe open forever)."""
    if not capture:
        return subprocess.run(real, check=False)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        done = subprocess.run(real, stdout=out, stderr=err, text=True, check=False)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(real, done.returncode, out.read(), err.read())


def _exit_of(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _paused_marker(container_id: str) -> Path:
    directory = Path(os.environ.get("FAULTY_STATE_DIR", "/tmp/pytest-runc-faulty"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"paused-{container_id}"


def _rewrite_status(text: str, fix: Any) -> str:
    """Apply ``fix(obj)`` to the JSON of state/list output."""
    data = json.loads(text)
    if isinstance(data, list):
        for item in data:
            fix(item)
    elif isinstance(data, dict):
        fix(data)
    return json.dumps(data, indent=2)


def main(argv: list[str]) -> int:
    fault_name, real_binary, *args = argv
    fault: Fault = FAULTS[fault_name]
    global_opts, command, sub = _split(args)
    real = [real_binary, *args]
    container_id = sub[-1] if sub else ""

    if fault.mutate is not None and command in {"create", "run"}:
        config_path = _bundle(sub) / "config.json"
        try:
            original = config_path.read_bytes()
            config = json.loads(original)
        except (OSError, ValueError):
            return _exit_of(_run(real).returncode)
        fault.mutate(config)
        config_path.write_text(json.dumps(config, indent=2))
        try:
            return _exit_of(_run(real).returncode)
        finally:
            if not fault.tamper:
                config_path.write_bytes(original)

    if fault_name == "state-lies" and command == "state":
        done = _run(real, capture=True)
        if done.returncode == 0:
            done_out = _rewrite_status(done.stdout, lambda s: s.update(status="running"))
            sys.stdout.write(done_out)
        else:
            sys.stderr.write(done.stderr)
        return done.returncode

    if fault_name == "pause-does-not-freeze":
        if command == "pause":
            _paused_marker(container_id).touch()
            return 0
        if command == "resume":
            marker = _paused_marker(container_id)
            if marker.exists():
                marker.unlink()
                return 0
        if command in {"state", "list"}:
            done = _run(real, capture=True)
            if done.returncode != 0 or not done.stdout.strip().startswith(("{", "[")):
                sys.stdout.write(done.stdout)
                sys.stderr.write(done.stderr)
                return done.returncode

            def fake(item: dict[str, Any]) -> None:
                if _paused_marker(str(item.get("id"))).exists():
                    item["status"] = "paused"

            sys.stdout.write(_rewrite_status(done.stdout, fake))
            return 0

    if fault_name == "delete-does-nothing" and command == "delete" and "--force" not in sub:
        return 0

    if fault_name == "exit-status-lost" and command == "run":
        _run(real)
        return 0

    if fault_name == "run-keeps-container" and command == "run" and "--keep" not in sub:
        return _exit_of(_run([real_binary, *global_opts, "run", "--keep", *sub]).returncode)

    if fault_name == "list-hides" and command == "list":
        done = _run(real, capture=True)
        out = done.stdout
        if "json" in sub:
            data = json.loads(out) or []
            out = json.dumps(data[1:])
        elif "--quiet" in sub or "-q" in sub:
            out = "".join(out.splitlines(keepends=True)[1:])
        else:
            rows = out.splitlines(keepends=True)
            out = "".join(rows[:1] + rows[2:])
        sys.stdout.write(out)
        return done.returncode

    if fault_name == "start-hangs" and command == "start":
        _run(real)
        while True:
            time.sleep(60)

    if fault_name == "kill-ignored" and command == "kill":
        return 0

    if fault_name == "exec-status-lost" and command == "exec":
        _run(real)
        return 0

    if fault_name == "duplicate-id-accepted" and command == "create":
        done = _run(real, capture=True)
        if done.returncode != 0 and "exists" in done.stderr:
            return 0
        sys.stderr.write(done.stderr)
        return done.returncode

    if fault_name == "start-twice-accepted" and command == "start":
        _run(real, capture=True)
        return 0

    os.execv(real_binary, real)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
