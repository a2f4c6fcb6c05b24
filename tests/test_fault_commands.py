"""A fault's declared commands (``Fault.commands``) are all its intercept acts on.

A faulty runtime's wrapper starts Python only for the commands its fault
declares (``behaviours.acts_on``) and execs the real runtime for every other
one. Here each declaring intercept meets every other runc command, in the
forms the suite uses, with everything that runs a process (or changes an
owner, a signal handler) replaced by a recorder that stops the call: for each
of them it must answer None, run nothing, print nothing and write no file,
in its state directory or elsewhere. No root needed: no runtime ever runs.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.faulty import FAULTS, behaviours
from pytest_runc.faulty.behaviours import Call, Intercept

#: Every command of runc (``runc --help``) but ``init``, which runc runs itself,
#: never through the wrapper.
RUNC_COMMANDS = frozenset({
    "checkpoint", "create", "delete", "events", "exec", "features", "kill", "list",
    "pause", "ps", "restore", "resume", "run", "spec", "start", "state", "update",
})  # fmt: skip

#: Faults that may act on any command (their wrapper starts Python for every call).
ANY_COMMAND = {
    "errors-swallowed": "rewrites the outcome of whatever command fails",
    "errors-reworded": "rewrites the error message of whatever command fails",
    "log-option-ignored": "drops the global --log option, given before any command",
    "log-format-ignored": "drops the global --log-format option, given before any command",
}

ID = "prt-c"
REAL = "/nonexistent/runc"

#: The global options before each command line: plain, and with the log options.
GLOBALS = (
    ["--root", "/nonexistent"],
    ["--root", "/nonexistent", "--log", "/nonexistent/log", "--log-format", "json", "--debug"],
)


#: Each runc command in the forms an intercept may look for: its options, a
#: missing id, a relative bundle, a signal by name, number or unknown.
COMMAND_LINES = {
    "create": ("create {id}", "create --bundle {bundle} {id}", "create --bundle {bundle}",
               "create -b . {options} {id}", "create --bundle {tmp}/other-bundle {id}"),
    "run": ("run --bundle {bundle} {id}", "run --detach --bundle {bundle} {id}",
            "run --keep -b . {options} {id}", "run --bundle {tmp}/other-bundle {id}"),
    "start": ("start {id}", "start"),
    "state": ("state {id}", "state"),
    "kill": ("kill {id}", "kill {id} KILL", "kill {id} HUP", "kill {id} 9", "kill {id} NOSUCHSIG",
             "kill --all {id} TERM", "kill"),
    "delete": ("delete {id}", "delete --force {id}", "delete bad/id", "delete"),
    "pause": ("pause {id}",),
    "resume": ("resume {id}",),
    "exec": ("exec {id} true",
             "exec --process {tmp}/process.json --pid-file {tmp}/pid --pidfd-socket {tmp}/s {id}",
             "exec --detach --tty --console-socket {tmp}/s --env A=1 --cwd / --user 0:0"
             " --additional-gids 1 --cap CAP_KILL --cgroup x --no-new-privs --preserve-fds 1"
             " {id} sh -c true"),
    "list": ("list", "list --format json", "list --quiet"),
    "ps": ("ps {id}", "ps --format json {id}"),
    "events": ("events {id}", "events --stats {id}"),
    "update": ("update --memory 1M {id}", "update -r {tmp}/resources.json {id}",
               "update --cpu-period 100000 --cpu-share 2 {id}"),
    "features": ("features",),
    "spec": ("spec --bundle {bundle}",),
    "checkpoint": ("checkpoint {id}",),
    "restore": ("restore --bundle {bundle} {id}",),
}  # fmt: skip
#: The create/run options that name files or take values.
CREATE_OPTIONS = ("--pid-file {tmp}/pid --console-socket {tmp}/s --pidfd-socket {tmp}/s"
                  " --preserve-fds 1 --no-new-keyring")  # fmt: skip


def command_line(form: str, tmp: Path) -> list[str]:
    """A form of ``COMMAND_LINES`` with the paths of ``tmp`` (which has no spaces)."""
    options = CREATE_OPTIONS.format(tmp=tmp)
    return form.format(id=ID, tmp=tmp, bundle=tmp / "bundle", options=options).split()


#: Markers a faulty runtime leaves for a later command to read (a pause, a
#: relative bundle, both read by ``state``): with them, the readers act.
MARKERS = {f"paused-{ID}": "", f"bundle-{ID}": "."}


def write_inputs(tmp: Path) -> None:
    """A bundle whose config.json gives the create/run intercepts something to act
    on (a terminal, a missing program, user namespace, listener, net device ...),
    another with what the first cannot have too (memory policy flags), a
    process.json and a resources file."""
    bundle, other = tmp / "bundle", tmp / "other-bundle"
    (bundle / "rootfs").mkdir(parents=True)
    (other / "rootfs").mkdir(parents=True)
    (tmp / "foreign-data").mkdir()
    config = {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": True, "args": ["no-such-program"], "cwd": "/", "env": ["PATH=/bin"],
            "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_SYSLOG", "CAP_NO_SUCH_THING"]},
        },
        "root": {"path": "rootfs"},
        "mounts": [{"destination": "/d", "source": str(tmp / "foreign-data"), "type": "bind"}],
        "linux": {
            "namespaces": [{"type": "cgroup"}, {"type": "network", "path": "/nonexistent/ns"}],
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "cgroupsPath": "/prt-nonexistent",
            "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": str(tmp / "listener")},
            "netDevices": {"prt-nonexistent": {}},
            "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0"},
        },
    }  # fmt: skip
    (bundle / "config.json").write_text(json.dumps(config))
    config["linux"]["memoryPolicy"]["flags"] = ["MPOL_F_STATIC_NODES"]
    (other / "config.json").write_text(json.dumps(config))
    process = {"args": ["true"], "cwd": "/", "execCPUAffinity": {"final": "0"}}
    (tmp / "process.json").write_text(json.dumps(process))
    (tmp / "resources.json").write_text(json.dumps({"memory": {"checkBeforeUpdate": True}}))


class Acted(Exception):
    """An intercept tried to run something or change the host."""


def snapshot(root: Path) -> list[tuple[str, int, int, bytes | None]]:
    """Every name under ``root``: (path, mode, owner, content of a file)."""
    found = []
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        found.append((str(path.relative_to(root)), st.st_mode, st.st_uid, content))
    return found


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` with the inputs, the cwd (the default bundle), temporary files
    and the faulty state directory; running a process, changing an owner or a
    signal handler raise ``Acted`` (a stray intercept never reaches the host)."""
    write_inputs(tmp_path)
    state, scratch = tmp_path / "state", tmp_path / "scratch"
    state.mkdir(mode=0o700)
    scratch.mkdir()
    monkeypatch.setenv(behaviours.STATE_DIR_ENV, str(state))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(tmp_path / "bundle")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def refuse(what: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise Acted(f"{what}{args!r}")

        return refused

    for module, names in (
        (subprocess, ("run", "Popen", "call", "check_call", "check_output")),
        (os, ("execv", "execve", "execvp", "system", "kill", "chown", "lchown", "pidfd_open")),
        (signal, ("signal",)),
        (behaviours, ("run",)),
    ):
        for name in names:
            monkeypatch.setattr(module, name, refuse(f"{module.__name__}.{name}"))
    # Fault modules that imported behaviours.run by name.
    for name in {FAULTS.module_of(fault) for fault in FAULTS}:
        module = sys.modules[name]
        if "run" in vars(module):
            monkeypatch.setattr(module, "run", refuse(f"{name}.run"))
    return tmp_path


def what_it_did(intercept: Intercept, call: Call) -> str | None:
    """How ``intercept`` acted on ``call`` (ran, raised, answered); None: it did nothing."""
    try:
        status = intercept(call)
    except Acted as acted:
        return f"ran {acted}"
    except (Exception, SystemExit) as exc:
        return f"raised {exc!r}"
    return None if status is None else f"answered {status}"


def acts_outside(intercept: Intercept, commands: frozenset[str], sandbox: Path) -> list[str]:
    """What ``intercept`` did to the command lines of the commands not in
    ``commands``: what it ran, raised or answered, and the files it changed."""
    before = snapshot(sandbox)
    problems = []
    for command, forms in COMMAND_LINES.items():
        if command in commands:
            continue
        for options in GLOBALS:
            for form in forms:
                call = Call.parse(REAL, [*options, *command_line(form, sandbox)])
                assert call.command == command, call
                did = what_it_did(intercept, call)
                if did:
                    problems.append(f"{' '.join(call.args)}: {did}")
    changed = {entry[0] for entry in set(snapshot(sandbox)) ^ set(before)}
    return problems + [f"changed {path}" for path in sorted(changed)]


DECLARING = sorted(
    name for name, fault in FAULTS.items() if fault.intercept and fault.commands is not None
)


@pytest.mark.parametrize("marked", [False, True], ids=["empty-state", "markers"])
@pytest.mark.parametrize("name", DECLARING)
def test_intercept_leaves_undeclared_commands_alone(
    name: str, marked: bool, sandbox: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Every other command: no answer, nothing run, printed or written (the
    state directory empty, or its ``MARKERS`` as they were)."""
    fault = FAULTS[name]
    assert fault.intercept is not None and fault.commands is not None
    for marker, text in MARKERS.items() if marked else ():
        (sandbox / "state" / marker).write_text(text)
    problems = acts_outside(fault.intercept, fault.commands, sandbox)
    out, err = capfd.readouterr()
    assert not problems, (
        f"{name} declares {sorted(fault.commands)} but acts on other commands"
        " (add them to its acts_on):\n" + "\n".join(problems)
    )
    assert not out and not err, f"{name} printed on undeclared commands: {out!r} {err!r}"


def test_declared_commands_are_runc_commands() -> None:
    unknown = {
        name: sorted(fault.commands - RUNC_COMMANDS)
        for name, fault in FAULTS.items()
        if fault.commands is not None and fault.commands - RUNC_COMMANDS
    }
    assert not unknown, f"commands runc does not have: {unknown}"


def test_only_faults_that_act_on_any_command_go_through_python_for_all() -> None:
    """An intercept without ``acts_on`` makes its wrapper start Python for every
    call: declare the commands, or name the fault here with the reason."""
    undeclared = {name for name, fault in FAULTS.items() if fault.commands is None}
    assert undeclared == set(ANY_COMMAND), (
        f"undeclared, not listed: {sorted(undeclared - set(ANY_COMMAND))};"
        f" listed, declared: {sorted(set(ANY_COMMAND) - undeclared)}"
    )
