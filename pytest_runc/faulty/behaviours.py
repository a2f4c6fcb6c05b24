"""What a faulty runtime does instead of the real command, one function a fault.

Each ``intercept`` gets the parsed call and returns the exit status to
report, or None to let the real runtime run the command untouched.
``acts_on`` names the commands it can act on: the wrapper starts Python for
those alone (an intercept without it may act on any command).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable

# Every call of a faulty runtime is a new Python that imports this module: what
# only some intercepts need (pathlib, tempfile, signal, socket) is imported where
# used, and neither typing nor dataclasses (see ``record``) at all.
TYPE_CHECKING = False  # as typing's: false at run time, true for type checkers
if TYPE_CHECKING:
    from dataclasses import dataclass
    from pathlib import Path
    from typing import Any, TypeVar
else:
    from pytest_runc.faulty.record import dataclass

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
        from pathlib import Path

        for flag in ("--bundle", "-b"):
            if flag in self.sub:
                return Path(self.sub[self.sub.index(flag) + 1])
        return Path.cwd()


Intercept = Callable[[Call], "int | None"]

if TYPE_CHECKING:
    _Declared = TypeVar("_Declared", bound=Intercept)

#: The attribute ``acts_on`` sets on an intercept.
_ACTS_ON = "faulty_acts_on"


def acts_on(*commands: str) -> Callable[[_Declared], _Declared]:
    """Declare the only commands on which an intercept can do anything: run a
    process, write a file (a marker a later command reads included) or answer
    other than None. Its wrapper hands every other command to the real runtime
    without starting Python (tests/test_fault_commands.py holds it to that)."""

    def declare(intercept: _Declared) -> _Declared:
        setattr(intercept, _ACTS_ON, frozenset(commands))
        return intercept

    return declare


def declared_commands(intercept: Intercept) -> frozenset[str] | None:
    """The commands ``acts_on`` declared for ``intercept``; None: it may act on any."""
    found = getattr(intercept, _ACTS_ON, None)
    return found if isinstance(found, frozenset) else None


def run(argv: list[str], capture: bool = False) -> subprocess.CompletedProcess[Any]:
    """Run the real runtime; captured output goes through files, never pipes
    (a created container would hold a pipe open forever)."""
    if not capture:
        return subprocess.run(argv, check=False)
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        done = subprocess.run(argv, stdout=out, stderr=err, text=True, check=False)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, done.returncode, out.read(), err.read())


def exit_of(returncode: int) -> int:
    """A child's status as a shell reports it (128+N after signal N)."""
    return 128 - returncode if returncode < 0 else returncode


def read_config(call: Call) -> tuple[bytes, dict[str, Any]] | None:
    """For create/run: the bundle's config.json as written and as decoded; None
    for other commands or a config that is not a JSON object."""
    if call.command not in {"create", "run"}:
        return None
    try:
        original = (call.bundle / "config.json").read_bytes()
        config = json.loads(original)
    except (OSError, ValueError):
        return None
    return (original, config) if isinstance(config, dict) else None


def run_with_config(call: Call, edit: Callable[[dict[str, Any]], bool]) -> int | None:
    """create/run with config.json changed by ``edit`` (True: it changed something),
    put back the moment the command returns; None when nothing was changed."""
    read = read_config(call)
    if read is None or not edit(read[1]):
        return None
    path = call.bundle / "config.json"
    path.write_text(json.dumps(read[1], indent=2))
    try:
        return exit_of(run(call.real).returncode)
    finally:
        path.write_bytes(read[0])


def _rewrite_states(text: str, fix: Callable[[dict[str, Any]], None]) -> str:
    """Apply ``fix`` to each state object in ``state``/``list`` JSON output."""
    data = json.loads(text)
    for item in data if isinstance(data, list) else [data] if isinstance(data, dict) else []:
        fix(item)
    return json.dumps(data, indent=2)


#: Names the directory where a faulty runtime keeps what it must remember
#: between calls (which containers it pretends to have paused). Set by the
#: wrapper script of ``write_wrapper``: one directory per fault, in the
#: harness's own temporary directory.
STATE_DIR_ENV = "FAULTY_STATE_DIR"


def _not_ours(found: os.stat_result) -> str | None:
    """Why a directory (its ``lstat``) is not one only we can change, or None."""
    if stat.S_ISLNK(found.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(found.st_mode):
        return "is not a directory"
    if found.st_uid != os.geteuid():
        return f"belongs to uid {found.st_uid}, not to us ({os.geteuid()})"
    if found.st_mode & 0o022:
        return f"may be written by group or others (mode {stat.S_IMODE(found.st_mode):o})"
    return None


def state_dir() -> Path:
    """The faulty runtime's state directory, made (0700) or checked to be ours.

    A faulty runtime runs as root. There is no default: a fixed one such as
    ``/tmp/pytest-runc-faulty`` lets any local user plant that name first (a
    link to ``/etc``, or a directory of their own holding links) and make
    root create or remove files where they choose. So the directory must be
    named, its parent must exist, and it must be a real directory (not a
    link) owned by our effective uid that nobody else may write: then nobody
    else can put a name in it either. Anything else ends the call with an error.
    """
    named = os.environ.get(STATE_DIR_ENV, "")
    if not named or not os.path.isabs(named):
        sys.exit(
            f"pytest_runc.faulty: {STATE_DIR_ENV} is {named or 'not set'}; it must name an"
            " absolute directory for this runtime's state (write_wrapper sets it)"
        )
    from pathlib import Path

    directory = Path(named)
    try:
        os.mkdir(directory, 0o700)  # the parent must exist: no parents made as root
    except FileExistsError:
        pass
    except OSError as exc:
        sys.exit(f"pytest_runc.faulty: cannot make {STATE_DIR_ENV} {directory}: {exc}")
    problem = _not_ours(os.lstat(directory))
    if problem:
        sys.exit(f"pytest_runc.faulty: {STATE_DIR_ENV} {directory} {problem}; refusing to use it")
    return directory


def _marker(name: str) -> Path:
    """A file in the state directory; ``name`` (made from a container id) stays one component."""
    if "/" in name or name in {"", ".", ".."} or "\0" in name:
        sys.exit(f"pytest_runc.faulty: {name!r} cannot name a state file")
    return state_dir() / name


def _paused_marker(container_id: str) -> Path:
    return _marker(f"paused-{container_id}")


@acts_on("state")
def state_lies(call: Call) -> int | None:
    if call.command != "state":
        return None
    done = run(call.real, capture=True)
    if done.returncode == 0:
        sys.stdout.write(_rewrite_states(done.stdout, lambda s: s.update(status="running")))
    else:
        sys.stderr.write(done.stderr)
    return int(done.returncode)


@acts_on("pause", "resume", "state", "list")
def pause_does_not_freeze(call: Call) -> int | None:
    if call.command == "pause":
        _paused_marker(call.container_id).touch()
        return 0
    if call.command == "resume":
        marker = _paused_marker(call.container_id)
        if marker.exists():
            marker.unlink()
            return 0
        return None
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


@acts_on("delete")
def delete_does_nothing(call: Call) -> int | None:
    return 0 if call.command == "delete" and "--force" not in call.sub else None


@acts_on("run")
def exit_status_lost(call: Call) -> int | None:
    if call.command != "run":
        return None
    run(call.real)
    return 0


@acts_on("run")
def run_keeps_container(call: Call) -> int | None:
    if call.command != "run" or "--keep" in call.sub:
        return None
    return exit_of(
        run([call.real_binary, *call.global_opts, "run", "--keep", *call.sub]).returncode
    )


@acts_on("list")
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


@acts_on("start")
def start_hangs(call: Call) -> int | None:
    if call.command != "start":
        return None
    run(call.real)
    while True:
        time.sleep(60)


@acts_on("kill")
def kill_ignored(call: Call) -> int | None:
    return 0 if call.command == "kill" else None


@acts_on("exec")
def exec_status_lost(call: Call) -> int | None:
    if call.command != "exec":
        return None
    run(call.real)
    return 0


@acts_on("create")
def duplicate_id_accepted(call: Call) -> int | None:
    if call.command != "create":
        return None
    done = run(call.real, capture=True)
    if done.returncode != 0 and "exists" in done.stderr:
        return 0
    sys.stderr.write(done.stderr)
    return int(done.returncode)


@acts_on("start")
def refused_start_accepted(call: Call) -> int | None:
    if call.command != "start":
        return None
    run(call.real, capture=True)
    return 0


@acts_on("delete")
def delete_leaves_cgroups(call: Call) -> int | None:
    """``delete`` removes the container but then puts its cgroup directories back
    (empty), as a runtime that forgets to remove them would leave them."""
    if call.command != "delete":
        return None
    from pytest_runc.oci.linux import cgroup_dirs  # only this fault needs it

    state = run([call.real_binary, *call.global_opts, "state", call.container_id], capture=True)
    pid = json.loads(state.stdout).get("pid", 0) if state.returncode == 0 else 0
    try:
        dirs = cgroup_dirs(pid) if pid else []
    except OSError:
        dirs = []
    done = run(call.real)
    for directory in dirs:
        if directory.exists():
            continue
        try:
            directory.mkdir()
        except OSError:
            continue  # best effort: the fault is that they are left, not that all are
    return exit_of(done.returncode)


# -- lifecycle, state, session and error faults (faults/lifecycle.py) -------

_EXEC_WITH_VALUE = {
    "--console-socket", "--pid-file", "--process", "-p", "--cwd", "--env", "-e", "--user",
    "-u", "--additional-gids", "-g", "--process-label", "--apparmor", "--cap", "-c",
    "--preserve-fds", "--cgroup",
}  # fmt: skip


def _sibling(call: Call, *args: str) -> list[str]:
    """Another command of the real runtime, with the same global options (--root)."""
    return [call.real_binary, *call.global_opts, *args]


def _once(call: Call, what: str) -> bool:
    """True the first time ``what`` happens to this container, False afterwards.

    Faults that break a rule once per container: the suite's teardown (resume,
    state, delete) then meets the real runtime and leaves nothing behind.
    """
    marker = _marker(f"{what}-{call.container_id}")
    if marker.exists():
        return False
    marker.touch()
    return True


def _rewrite_state(call: Call, fix: Callable[[dict[str, Any]], None]) -> int:
    """Run ``state`` for real and print its JSON passed through ``fix``."""
    done = run(call.real, capture=True)
    if done.returncode == 0:
        sys.stdout.write(_rewrite_states(done.stdout, fix))
    else:
        sys.stderr.write(done.stderr)
    return int(done.returncode)


def state_rewritten(fix: Callable[[dict[str, Any]], None]) -> Intercept:
    """``state`` runs for real and prints its JSON passed through ``fix``."""

    @acts_on("state")
    def intercept(call: Call) -> int | None:
        return _rewrite_state(call, fix) if call.command == "state" else None

    return intercept


def features_rewritten(fix: Callable[[dict[str, Any]], object]) -> Intercept:
    """``features`` runs for real and prints its JSON after ``fix`` changed it in
    place (what ``fix`` returns is ignored)."""

    @acts_on("features")
    def intercept(call: Call) -> int | None:
        if call.command != "features":
            return None
        done = run(call.real, capture=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return exit_of(done.returncode)
        document = json.loads(done.stdout)
        fix(document)
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return 0

    return intercept


def _status_swap(was: str, reported: str, *, once: bool = False) -> Intercept:
    @acts_on("state")
    def intercept(call: Call) -> int | None:
        if call.command != "state":
            return None

        def fix(item: dict[str, Any]) -> None:
            if item.get("status") == was and (not once or _once(call, f"state-{was}")):
                item["status"] = reported

        return _rewrite_state(call, fix)

    return intercept


#: ``state`` says created for a running container.
state_hides_running = _status_swap("running", "created")
#: ``state`` says running for a stopped container.
state_never_stopped = _status_swap("stopped", "running")
#: The first ``state`` of a paused container says running (teardown then
#: sees paused, thaws and deletes it).
state_hides_paused = _status_swap("paused", "running", once=True)


def _state_field(key: str, value: Callable[[dict[str, Any]], Any]) -> Intercept:
    @acts_on("state")
    def intercept(call: Call) -> int | None:
        if call.command != "state":
            return None

        def fix(item: dict[str, Any]) -> None:
            if key in item:
                item[key] = value(item)

        return _rewrite_state(call, fix)

    return intercept


state_wrong_id = _state_field("id", lambda item: f"{item['id']}-other")


def _bundle_parent(item: dict[str, Any]) -> str:
    from pathlib import Path

    return str(Path(item["bundle"]).parent)


state_wrong_bundle = _state_field("bundle", _bundle_parent)
#: Reports the test runner's pid (the wrapper's parent) as the container's.
state_wrong_pid = _state_field("pid", lambda item: os.getppid() if item.get("pid") else 0)


@acts_on("state")
def state_without_oci_version(call: Call) -> int | None:
    """``state`` leaves out ociVersion."""
    if call.command != "state":
        return None
    return _rewrite_state(call, lambda item: item.pop("ociVersion", None))


@acts_on("create")
def create_starts(call: Call) -> int | None:
    """``create`` starts the user program right away."""
    if call.command != "create":
        return None
    status = exit_of(run(call.real).returncode)
    if status == 0:
        run(_sibling(call, "start", call.container_id))
    return status


@acts_on("create", "run")
def pid_file_wrong(call: Call) -> int | None:
    """``--pid-file`` receives a pid one above init's."""
    if call.command not in {"create", "run"} or "--pid-file" not in call.sub:
        return None
    status = exit_of(run(call.real).returncode)
    from pathlib import Path

    path = Path(call.sub[call.sub.index("--pid-file") + 1])
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return status
    path.write_text(str(pid + 1))
    return status


@acts_on("start")
def start_does_nothing(call: Call) -> int | None:
    return 0 if call.command == "start" else None


@acts_on("resume")
def resume_does_nothing(call: Call) -> int | None:
    """The first ``resume`` of each container exits 0 and thaws nothing."""
    return 0 if call.command == "resume" and _once(call, "resume") else None


@acts_on("run")
def detach_ignored(call: Call) -> int | None:
    """``run --detach`` runs in the foreground, waiting for the process."""
    if call.command != "run" or not {"--detach", "-d"} & set(call.sub):
        return None
    sub = [arg for arg in call.sub if arg not in {"--detach", "-d"}]
    return exit_of(run(_sibling(call, "run", *sub)).returncode)


@acts_on("run")
def keep_ignored(call: Call) -> int | None:
    """``run --keep`` deletes the container anyway."""
    if call.command != "run" or "--keep" not in call.sub:
        return None
    sub = [arg for arg in call.sub if arg != "--keep"]
    return exit_of(run(_sibling(call, "run", *sub)).returncode)


def _exec_command(call: Call) -> list[str]:
    """The process argv of an ``exec`` call (after the options and the id)."""
    index = 0
    while index < len(call.sub) and call.sub[index].startswith("-"):
        index += 2 if call.sub[index] in _EXEC_WITH_VALUE else 1
    return call.sub[index + 1 :]


@acts_on("exec")
def exec_on_host(call: Call) -> int | None:
    """``exec`` runs the process on the host, outside the container."""
    if call.command != "exec":
        return None
    return exit_of(subprocess.run(_exec_command(call), check=False).returncode)


def _status_plus_one(command: str) -> Intercept:
    @acts_on(command)
    def intercept(call: Call) -> int | None:
        if call.command != command:
            return None
        return (exit_of(run(call.real).returncode) + 1) % 256

    return intercept


exec_status_off_by_one = _status_plus_one("exec")


@acts_on("run")
def terminal_run_status_off_by_one(call: Call) -> int | None:
    """``run`` of a process with a terminal exits with the process's status plus one
    (the terminal path's bug; a plain ``run`` reports the status right)."""
    if call.command != "run":
        return None
    try:
        terminal = json.loads((call.bundle / "config.json").read_text())["process"]["terminal"]
    except (OSError, ValueError, KeyError, TypeError):
        terminal = False
    return (exit_of(run(call.real).returncode) + 1) % 256 if terminal else None


@acts_on("ps")
def ps_empty(call: Call) -> int | None:
    if call.command != "ps":
        return None
    sys.stdout.write("[]\n" if "json" in call.sub else "UID PID PPID C STIME TTY TIME CMD\n")
    return 0


def _rewrite_event(call: Call, fix: Callable[[dict[str, Any]], None]) -> int | None:
    if call.command != "events" or "--stats" not in call.sub:
        return None
    done = run(call.real, capture=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        return int(done.returncode)
    for line in done.stdout.splitlines():
        event = json.loads(line)
        fix(event)
        sys.stdout.write(json.dumps(event) + "\n")
    return 0


@acts_on("events")
def events_wrong_id(call: Call) -> int | None:
    return _rewrite_event(call, lambda event: event.update(id=f"{event.get('id')}-other"))


def _zero_usage(event: dict[str, Any]) -> None:
    data = event.get("data") or {}
    data.get("pids", {})["current"] = 0
    data.get("memory", {}).get("usage", {})["usage"] = 0


@acts_on("events")
def events_stats_zeroed(call: Call) -> int | None:
    return _rewrite_event(call, _zero_usage)


def _run_stderr_captured(call: Call) -> tuple[int, str]:
    """Run the real command with stdout untouched and stderr read back."""
    import tempfile

    with tempfile.TemporaryFile("w+") as err:
        done = subprocess.run(call.real, stderr=err, text=True, check=False)
        err.seek(0)
        return exit_of(done.returncode), err.read()


def errors_swallowed(call: Call) -> int | None:
    """Every refused command reports success, silently (no ``acts_on``: any command)."""
    if not call.command:
        return None
    status, _ = _run_stderr_captured(call)
    return 0 if status != 0 else status


def errors_reworded(call: Call) -> int | None:
    """Every refusal keeps its exit status but names no cause (no ``acts_on``: any command)."""
    if not call.command:
        return None
    status, stderr = _run_stderr_captured(call)
    if status != 0:
        sys.stderr.write('time="2000-01-01T00:00:00Z" level=error msg="operation failed"\n')
    else:
        sys.stderr.write(stderr)
    return status


# -- inputs ignored (faults/inputs.py) -------------------------------------------


def _exec_split(sub: list[str]) -> tuple[list[str], list[str]]:
    """(options with their values, the id and command) of an ``exec`` call."""
    index = 0
    while index < len(sub) and sub[index].startswith("-"):
        index += 2 if sub[index] in _EXEC_WITH_VALUE else 1
    return sub[:index], sub[index:]


def exec_options_dropped(*names: str) -> Intercept:
    """``exec`` runs as if the options ``names`` (and their values) were not given:
    a runtime that parses them and never applies them."""

    @acts_on("exec")
    def intercept(call: Call) -> int | None:
        options, rest = _exec_split(call.sub)
        if call.command != "exec" or not set(names) & set(options):
            return None
        kept: list[str] = []
        index = 0
        while index < len(options):
            width = 2 if options[index] in _EXEC_WITH_VALUE else 1
            if options[index] not in names:
                kept += options[index : index + width]
            index += width
        return exit_of(run(_sibling(call, "exec", *kept, *rest)).returncode)

    return intercept


def exec_process_edited(edit: Callable[[dict[str, Any]], bool]) -> Intercept:
    """``exec --process FILE`` runs a copy of FILE changed by ``edit`` (True: it
    changed something): a runtime that reads a field of process.json wrongly."""

    @acts_on("exec")
    def intercept(call: Call) -> int | None:
        options, rest = _exec_split(call.sub)
        flag = next((name for name in ("--process", "-p") if name in options), None)
        if call.command != "exec" or flag is None:
            return None
        position = options.index(flag) + 1
        try:
            from pathlib import Path

            process = json.loads(Path(options[position]).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(process, dict) or not edit(process):
            return None
        copy = _marker(f"process-{os.getpid()}.json")
        copy.write_text(json.dumps(process))
        try:
            options = [*options[:position], str(copy), *options[position + 1 :]]
            return exit_of(run(_sibling(call, "exec", *options, *rest)).returncode)
        finally:
            copy.unlink(missing_ok=True)

    return intercept


@acts_on("run")
def run_keeps_signals(call: Call) -> int | None:
    """A foreground ``run`` that catches the signals sent to it and passes none on:
    the container's process never sees them."""
    if call.command != "run" or {"--detach", "-d"} & set(call.sub):
        return None
    import signal  # only this fault handles signals

    for number in (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGINT):
        # A handler, not SIG_IGN: an ignored signal would stay ignored in runc.
        signal.signal(number, lambda *_: None)
    return exit_of(run(call.real).returncode)


def succeeds_when_stopped(command: str) -> Intercept:
    """``command`` on a stopped container does nothing and exits 0, as a runtime
    that forgets to check the status would."""

    @acts_on(command)
    def intercept(call: Call) -> int | None:
        if call.command != command:
            return None
        # exec's id comes before the command, the others' last
        rest = _exec_split(call.sub)[1] if command == "exec" else [call.container_id]
        if not rest:
            return None
        state = run(_sibling(call, "state", rest[0]), capture=True)
        try:
            status = json.loads(state.stdout).get("status") if state.returncode == 0 else None
        except ValueError:
            status = None
        return 0 if status == "stopped" else None

    return intercept


def _known_signal(name: str) -> bool:
    import signal  # only this fault names signals

    if name.isdigit():
        return 0 < int(name) < signal.NSIG
    wanted = name.upper() if name.upper().startswith("SIG") else f"SIG{name.upper()}"
    return wanted in signal.Signals.__members__


@acts_on("kill")
def kill_unknown_signal_sends_term(call: Call) -> int | None:
    """``kill`` with a signal it cannot parse sends SIGTERM instead of refusing."""
    if call.command != "kill":
        return None
    index = 0
    while index < len(call.sub) and call.sub[index].startswith("-"):
        index += 1
    positional = call.sub[index:]
    if len(positional) < 2 or _known_signal(positional[1]):
        return None
    return exit_of(run(_sibling(call, "kill", *call.sub[:index], positional[0], "TERM")).returncode)


def update_options_dropped(*names: str) -> Intercept:
    """``update`` runs without the options ``names`` (each takes a value): a
    runtime that parses them and changes nothing."""

    @acts_on("update")
    def intercept(call: Call) -> int | None:
        if call.command != "update" or not set(names) & set(call.sub):
            return None
        kept: list[str] = []
        index = 0
        while index < len(call.sub):
            if call.sub[index] in names:
                index += 2
                continue
            kept.append(call.sub[index])
            index += 1
        return exit_of(run(_sibling(call, "update", *kept)).returncode)

    return intercept


_CREATE_RUN_WITH_VALUE = {"--bundle", "-b", "--console-socket", "--pid-file", "--preserve-fds",
                          "--pidfd-socket"}  # fmt: skip


def create_run_options_dropped(*names: str) -> Intercept:
    """``create`` and ``run`` run without the options ``names`` (and their
    values): a runtime that parses them and never applies them."""

    @acts_on("create", "run")
    def intercept(call: Call) -> int | None:
        if call.command not in {"create", "run"} or not set(names) & set(call.sub):
            return None
        kept: list[str] = []
        index = 0
        while index < len(call.sub):
            width = 2 if call.sub[index] in _CREATE_RUN_WITH_VALUE else 1
            if call.sub[index] not in names:
                kept += call.sub[index : index + width]
            index += width
        return exit_of(run(_sibling(call, call.command, *kept)).returncode)

    return intercept


@acts_on("create", "run", "exec")
def pidfd_of_the_runtime(call: Call) -> int | None:
    """create/run/exec with ``--pidfd-socket`` send a pidfd of the runtime's own
    process instead of the container's."""
    if call.command not in {"create", "run", "exec"} or "--pidfd-socket" not in call.sub:
        return None
    import socket  # only this fault sends fds

    at = call.sub.index("--pidfd-socket")
    path, sub = call.sub[at + 1], call.sub[:at] + call.sub[at + 2 :]
    status = exit_of(run(_sibling(call, call.command, *sub)).returncode)
    pidfd = os.pidfd_open(os.getpid())
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(path)
            socket.send_fds(conn, [b"pidfd"], [pidfd])
    finally:
        os.close(pidfd)
    return status


@acts_on("create", "run", "state")
def bundle_echoed_as_given(call: Call) -> int | None:
    """``state`` reports the bundle exactly as ``create``/``run`` was given it
    (a relative path stays relative): the runtime never resolves it."""
    if call.command in {"create", "run"}:
        given = next(
            (call.sub[i + 1] for i, a in enumerate(call.sub[:-1]) if a in {"--bundle", "-b"}), ""
        )
        if given and not os.path.isabs(given):
            _marker(f"bundle-{call.container_id}").write_text(given)
        return None
    if call.command != "state":
        return None
    recorded = _marker(f"bundle-{call.container_id}")
    if not recorded.exists():
        return None
    return _rewrite_state(call, lambda item: item.update(bundle=recorded.read_text()))


def global_options_dropped(*names: str) -> Intercept:
    """Every command runs without the global options ``names`` (each takes a
    value): a runtime that parses them and never uses them. No ``acts_on``: the
    options come before any command."""

    def intercept(call: Call) -> int | None:
        if not set(names) & set(call.global_opts):
            return None
        kept: list[str] = []
        index = 0
        while index < len(call.global_opts):
            option = call.global_opts[index]
            width = 2 if option in _GLOBAL_WITH_VALUE else 1
            if option not in names:
                kept += call.global_opts[index : index + width]
            index += width
        return exit_of(run([call.real_binary, *kept, call.command, *call.sub]).returncode)

    return intercept


@acts_on("list")
def list_quiet_ignored(call: Call) -> int | None:
    """``list --quiet`` prints the whole table."""
    if call.command != "list" or not {"--quiet", "-q"} & set(call.sub):
        return None
    sub = [arg for arg in call.sub if arg not in {"--quiet", "-q"}]
    return exit_of(run(_sibling(call, "list", *sub)).returncode)
