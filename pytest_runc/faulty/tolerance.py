"""Tolerant runtimes: the mirror of the faulty ones.

A faulty runtime breaks one rule and must make checks fail. A *tolerant*
runtime is real runc changed only where the OCI runtime spec (v1.3.0) leaves
the choice to the runtime — other error words, other exit codes, no
``paused`` status, an extra device, a sparser ``features`` document ... —
and every ``oci_rule`` check must PASS against it: a check that fails is
stricter than the spec (it checks runc, not the rule).

Each variant quotes, verbatim, the sentence of the spec that grants its
freedom (``freedom``) and links the section (``source``). They run through
the faulty runtimes' wrapper (``write_wrapper(name, real, dir)`` accepts a
tolerance's name as well as a fault's); ``tests/test_tolerance.py`` runs the
spec part of the conformance suite (``-m "not runc_cli"``) against each one.

Only what the wrapper can do from outside runc is varied. What a variant
must leave alone, it says (``description``): for ``create``, ``run`` and
``exec`` runc's stderr *is* the container's stderr, so those commands'
output is never captured through a pipe or a file of the wrapper's own (the
container would write there for ever after); a refusal's words are
rewritten in place only when the caller's stderr is a regular file.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable

from pytest_runc.faulty.behaviours import (
    Call,
    Intercept,
    exit_of,
    features_rewritten,
    run,
    run_with_config,
)

SPEC = "https://github.com/opencontainers/runtime-spec/blob/v1.3.0/"
#: What the variants call themselves in their own messages.
NAME = "myrt"

TYPE_CHECKING = False  # as typing's, which a wrapper call need not import
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import Any
else:  # the same records without importing dataclasses (see ``record``)
    from pytest_runc.faulty.record import dataclass

Config = dict[str, "Any"]


@dataclass(frozen=True)
class Tolerance:
    """One freedom of the spec, taken: runc differing from itself only there."""

    name: str
    description: str
    #: The spec's own sentence(s) granting the freedom, quoted verbatim.
    freedom: str
    #: The section those sentences are in (a v1.3.0 link with its anchor).
    source: str
    #: What the wrapper does instead of the real command (None: run it as is).
    intercept: Intercept
    #: The commands ``intercept`` may change; the wrapper script execs the real
    #: runtime directly for any other (no Python start-up: the suite makes
    #: thousands of calls). None: every command goes through ``intercept``.
    commands: frozenset[str] | None = None
    #: When all ``intercept`` does is write this line to stderr before the real
    #: command: the wrapper script writes it itself and starts no Python.
    warning: str | None = None


# -- running the real runtime --------------------------------------------------

#: Commands whose stdio runc hands to the container process.
_CONTAINER_STDIO = {"create", "run", "exec"}
#: The commands the ``warnings`` variant warns at: runc 1.1's others.
_WARNED = {
    "state", "start", "kill", "delete", "pause", "resume", "list", "ps", "events", "update",
    "features", "spec", "checkpoint", "restore",
}  # fmt: skip
#: A line of runc's own error log (logrus text format, or its terse form).
_RUNC_ERROR = re.compile(r"(^|\s)level=(error|fatal)\s|^(ERRO|FATA)\[")

#: Options of create/run/exec/kill that take a value (the rest are flags).
_WITH_VALUE = {
    "--bundle", "-b", "--pid-file", "--console-socket", "--process", "-p", "--cwd", "--env",
    "-e", "--user", "-u", "--additional-gids", "-g", "--preserve-fds", "--process-label",
    "--apparmor", "--cap", "-c", "--cgroup", "--format", "-f",
}  # fmt: skip


def _positional(sub: list[str]) -> list[str]:
    """The positional arguments of a command (its options and their values left out)."""
    index = 0
    while index < len(sub) and sub[index].startswith("-"):
        index += 2 if sub[index] in _WITH_VALUE and "=" not in sub[index] else 1
    return sub[index:]


def _again(call: Call, sub: list[str]) -> list[str]:
    """The real runtime's argv for the same command with other arguments."""
    return [call.real_binary, *call.global_opts, call.command, *sub]


def _stderr_is_a_file() -> bool:
    try:
        return (os.fstat(2).st_mode & 0o170000) == 0o100000
    except OSError:
        return False


def _run_watching_stderr(argv: list[str]) -> tuple[int, str | None, int]:
    """Run ``argv`` on our own stdio; (status, what it added to stderr, where that began).

    The added text is known only when stderr is a regular file (the plugin's
    sinks are): it is read back through ``/proc/self/fd/2`` without taking
    the stream from the container that may share it. Otherwise it is None.
    """
    if not _stderr_is_a_file():
        return exit_of(run(argv).returncode), None, 0
    start = os.fstat(2).st_size
    status = exit_of(run(argv).returncode)
    try:
        with open("/proc/self/fd/2", "rb") as again:
            again.seek(start)
            added = again.read().decode(errors="replace")
    except OSError:
        return status, None, start
    return status, added, start


def _replace_stderr_from(start: int, text: str) -> None:
    """Take back what was written to stderr (a regular file) after ``start``; write ``text``."""
    sys.stderr.flush()
    os.ftruncate(2, start)
    os.lseek(2, start, os.SEEK_SET)
    os.write(2, text.encode())


def _runtime_failed(call: Call, status: int, added: str | None) -> bool:
    """Did the runtime itself refuse (not the container's program exit non-zero)?"""
    if status == 0:
        return False
    if call.command not in {"run", "exec"}:
        return True
    return added is not None and any(_RUNC_ERROR.search(line) for line in added.splitlines())


def _rephrased(call: Call) -> str:
    """The variant's own words for any refusal: no word of runc's message."""
    what = call.command or "the request"
    target = _positional(call.sub)[:1]
    about = f" {target[0]!r}" if target and target[0] else ""
    return f"{NAME}: operation failed: could not carry out {what}{about} as asked\n"


def _refusals(*, reword: bool, status: int | None) -> Intercept:
    """Every refusal reworded (``reword``) and/or given exit ``status`` instead of runc's."""

    def intercept(call: Call) -> int | None:
        if not call.command:
            return None
        if call.command in _CONTAINER_STDIO:
            code, added, start = _run_watching_stderr(call.real)
            if not _runtime_failed(call, code, added):
                return code
            if reword and added is not None:
                kept = [
                    line
                    for line in added.splitlines(keepends=True)
                    if call.command in {"run", "exec"} and not _RUNC_ERROR.search(line)
                ]  # create: nothing but runc wrote there; run/exec: keep the program's lines
                _replace_stderr_from(start, "".join(kept) + _rephrased(call))
            return code if status is None else status
        done = run(call.real, capture=True)
        sys.stdout.write(done.stdout)
        code = exit_of(done.returncode)
        if code == 0:
            sys.stderr.write(done.stderr)
            return 0
        sys.stderr.write(_rephrased(call) if reword else done.stderr)
        return code if status is None else status

    return intercept


# -- config.json edits (create/run), restored afterwards -----------------------


def _with_config(edit: Callable[[Config], bool]) -> Intercept:
    """create/run with config.json edited by ``edit`` (True: it changed something).

    The runtime adds what the edit adds, as if it did so itself; the file is
    put back the moment the command returns (later edits of config.json may
    not affect the container anyway: runtime.md, Lifecycle step 2).
    """

    def intercept(call: Call) -> int | None:
        return run_with_config(call, edit)

    return intercept


#: The extra device: the TUN/TAP clone device, which runc's default device
#: cgroup rules already allow (c 10:200) but runc does not create.
EXTRA_DEVICE: dict[str, Any] = {
    "path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200,
    "fileMode": 0o666, "uid": 0, "gid": 0,
}  # fmt: skip


def _add_device(config: Config) -> bool:
    linux = config.setdefault("linux", {})
    if not isinstance(linux, dict):
        return False
    devices = linux.get("devices") or []
    if any(isinstance(d, dict) and d.get("path") == EXTRA_DEVICE["path"] for d in devices):
        return False
    linux["devices"] = [*devices, dict(EXTRA_DEVICE)]
    return True


#: The default devices runc makes with mknod; this variant bind-mounts them from the host.
BOUND_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")


def _bind_default_devices(config: Config) -> bool:
    namespaces = (config.get("linux") or {}).get("namespaces") or []
    if any(isinstance(ns, dict) and ns.get("type") == "user" for ns in namespaces):
        return False  # runc bind-mounts them itself in a user namespace
    mounts = config.get("mounts")
    if not isinstance(mounts, list) or not any(
        isinstance(m, dict) and m.get("destination") == "/dev" for m in mounts
    ):
        return False  # no /dev of the runtime's to put them in
    taken = {m.get("destination") for m in mounts if isinstance(m, dict)}
    added = [
        {"destination": path, "type": "bind", "source": path, "options": ["bind"]}
        for path in BOUND_DEVICES
        if path not in taken and os.path.exists(path)
    ]
    config["mounts"] = [*mounts, *added]
    return bool(added)


# -- file descriptors ------------------------------------------------------------


def extra_descriptor(call: Call) -> int | None:
    """create/run pass the container's process one more descriptor: fd 3, open on /dev/null."""
    if call.command not in {"create", "run"} or "--preserve-fds" in call.sub:
        return None
    if any(arg.startswith("--preserve-fds=") for arg in call.sub):
        return None
    fd = os.open("/dev/null", os.O_RDWR)
    if fd != 3:
        os.dup2(fd, 3, inheritable=True)
        os.close(fd)
    else:
        os.set_inheritable(3, True)
    argv = _again(call, ["--preserve-fds", "1", *call.sub])
    os.execv(call.real_binary, argv)
    return 127  # not reached


# -- state -----------------------------------------------------------------------


def _rewrite_state_output(call: Call, fix: Callable[[dict[str, Any]], None], compact: bool) -> int:
    done = run(call.real, capture=True)
    code = exit_of(done.returncode)
    if code != 0 or not done.stdout.strip().startswith(("{", "[")):
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        return code
    data = json.loads(done.stdout)
    items = data if isinstance(data, list) else [data]
    fixed = []
    for item in items:
        if isinstance(item, dict):
            fix(item)
        fixed.append(item)
    out = fixed if isinstance(data, list) else fixed[0]
    text = json.dumps(out, separators=(",", ":")) if compact else json.dumps(out, indent=4)
    sys.stdout.write(text + "\n")
    sys.stderr.write(done.stderr)
    return 0


def _states(fix: Callable[[dict[str, Any]], None], *, compact: bool = False) -> Intercept:
    """``state`` (and ``list --format json``) output passed through ``fix``."""

    def intercept(call: Call) -> int | None:
        if call.command == "state" or (call.command == "list" and "json" in call.sub):
            return _rewrite_state_output(call, fix, compact)
        return None

    return intercept


def _created_reformatted(value: Any) -> Any:
    """runc's RFC 3339 with nanoseconds, as whole seconds with a numeric offset."""
    if not isinstance(value, str):
        return value
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", value)
    if match is None:
        return value
    from datetime import datetime, timezone  # state-format alone needs it

    when = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return when.isoformat()


def state_format(item: dict[str, Any]) -> None:
    """Other key order, an extra property, no ``owner``, ``created`` in another
    format, ``annotations`` always present, no ``pid`` once stopped."""
    item.pop("owner", None)
    if "created" in item:
        item["created"] = _created_reformatted(item["created"])
    item.setdefault("annotations", {})
    if item.get("status") == "stopped":
        item.pop("pid", None)
    item[f"org.example.{NAME}.sandbox"] = {"kind": "namespaces", "generation": 1}
    reordered = dict(reversed(list(item.items())))
    item.clear()
    item.update(reordered)


def _paused_reported_running(item: dict[str, Any]) -> None:
    if item.get("status") == "paused":
        item["status"] = "running"


# -- commands the runtime does not have ------------------------------------------


def _without_commands(*commands: str) -> Intercept:
    def intercept(call: Call) -> int | None:
        if call.command not in commands:
            return None
        sys.stderr.write(f"{NAME}: {call.command!r} is not a command of this runtime\n")
        return 1

    return intercept


# -- kill ---------------------------------------------------------------------------


def kill_default_kill(call: Call) -> int | None:
    """``kill ID`` without a signal sends SIGKILL (runc's default is SIGTERM)."""
    if call.command != "kill" or len(_positional(call.sub)) != 1:
        return None
    os.execv(call.real_binary, _again(call, [*call.sub, "KILL"]))
    return 127  # not reached


# -- features -------------------------------------------------------------------


_VERSIONS = ("ociVersionMin", "ociVersionMax")


def _nulled(document: dict[str, Any], top: bool = True) -> dict[str, Any]:
    """Every property null, except the versions; objects kept with their members nulled."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        if top and key in _VERSIONS:
            out[key] = value
        elif isinstance(value, dict) and key != "annotations":
            out[key] = _nulled(value, top=False)
        else:
            out[key] = None
    return out


def features_null(document: dict[str, Any]) -> None:
    """Every property but the two versions is null."""
    nulled = _nulled(document)
    document.clear()
    document.update(nulled)


def features_absent(document: dict[str, Any]) -> None:
    """Only what is REQUIRED: the two versions."""
    for key in [k for k in document if k not in _VERSIONS]:
        del document[key]


# -- warnings ---------------------------------------------------------------------


#: The ``warnings`` variant's line, in runc's log format.
WARNING_LINE = (
    f'time="2000-01-01T00:00:00Z" level=warning msg="{NAME}: this host\'s kernel is'
    ' older than the one this runtime was tested on"'
)


def warns(call: Call) -> int | None:
    """A warning on stderr before every command that does not hand stderr to a container."""
    if call.command in _CONTAINER_STDIO or not call.command:
        return None
    sys.stderr.write(WARNING_LINE + "\n")
    sys.stderr.flush()
    return None


# -- the variants -----------------------------------------------------------------

_ERRORS = (
    "In cases where the specified operation generates an error, this specification does not"
    " mandate how, or even if, that error is returned or exposed to the user of an"
    " implementation."
)
_NO_CLI = (
    "Note: these operations are not specifying any command-line APIs, and the parameters are"
    " inputs for general operations."
)

TOLERANCE_LIST: tuple[Tolerance, ...] = (
    Tolerance(
        "error-words",
        "every refusal is reported in the runtime's own words (no word of runc's message),"
        " with runc's exit status; for run/exec only runc's own error lines are replaced",
        _ERRORS,
        SPEC + "runtime.md#errors",
        _refusals(reword=True, status=None),
    ),
    Tolerance(
        "exit-codes",
        "every refusal exits 125 instead of runc's 1 (or 255); runc's words are kept;"
        " run/exec keep the program's own exit status",
        _ERRORS,
        SPEC + "runtime.md#errors",
        _refusals(reword=False, status=125),
    ),
    Tolerance(
        "warnings",
        "a warning line on stderr at every command that does not share its stderr with a"
        " container (state, start, kill, delete, features, ...), success or not",
        "In cases where the specified operation logs a warning, this specification does not"
        " mandate how, or even if, that warning is returned or exposed to the user of an"
        f" implementation. {_NO_CLI}",
        SPEC + "runtime.md#warnings",
        warns,
        frozenset(_WARNED),
        warning=WARNING_LINE,
    ),
    Tolerance(
        "no-paused-status",
        "`pause` freezes the container as runc does, but `state` reports a frozen container"
        " as `running` (it has executed the program and has not exited): no status beyond"
        " the spec's four",
        "The value MAY be one of: ... `running`: the container process has executed the"
        " user-specified program but has not exited (after step 8 in the lifecycle) ..."
        " Additional values MAY be defined by the runtime, however, they MUST be used to"
        " represent new runtime states not defined above.",
        SPEC + "runtime.md#state",
        _states(_paused_reported_running),
        frozenset({"state", "list"}),
    ),
    Tolerance(
        "no-pause",
        "no `pause`/`resume` commands (refused, exit 1): pause is not an operation of the"
        " spec, so no container is ever `paused`",
        "Unless otherwise stated, runtimes MUST support the following operations."
        " [Query State, Create, Start, Kill, Delete: no pause or resume] " + _NO_CLI,
        SPEC + "runtime.md#operations",
        _without_commands("pause", "resume"),
        frozenset({"pause", "resume"}),
    ),
    Tolerance(
        "no-list",
        "no `list`, `ps` or `events` commands (refused, exit 1): a container is known only"
        " through `state`",
        "Whether other entities using the same, or other, instance of the runtime can see that"
        " container is out of scope of this specification. ... Unless otherwise stated,"
        " runtimes MUST support the following operations. [Query State, Create, Start, Kill,"
        " Delete]",
        SPEC + "runtime.md#scope-of-a-container",
        _without_commands("list", "ps", "events"),
        frozenset({"list", "ps", "events"}),
    ),
    Tolerance(
        "kill-default-signal",
        "`kill ID` without a signal sends SIGKILL (runc: SIGTERM); a named signal is sent as is",
        "`kill <container-id> <signal>` ... This operation MUST send the specified signal to"
        f" the container process. {_NO_CLI}",
        SPEC + "runtime.md#kill",
        kill_default_kill,
        frozenset({"kill"}),
    ),
    Tolerance(
        "state-format",
        "`state` JSON on one line with its keys in another order, an extra property"
        f" (org.example.{NAME}.sandbox), no `owner`, `created` in whole seconds with a"
        " +00:00 offset, `annotations` {} when there are none, no `pid` once stopped",
        "The state MAY include additional properties. ... If no annotations were provided"
        " then this property MAY either be absent or an empty map. ... **`pid`** (int,"
        " REQUIRED when `status` is `created` or `running` on Linux, OPTIONAL on other"
        " platforms)",
        SPEC + "runtime.md#state",
        _states(state_format, compact=True),
        frozenset({"state", "list"}),
    ),
    Tolerance(
        "features-null",
        "`features` gives every property but the two versions as null (objects keep their"
        " members, nulled)",
        "All properties in the Features structure except `ociVersionMin` and `ociVersionMax`"
        " MAY either be absent or have the `null` value.",
        SPEC + "features.md#features-structure",
        features_rewritten(features_null),
        frozenset({"features"}),
    ),
    Tolerance(
        "features-absent",
        "`features` gives only ociVersionMin and ociVersionMax",
        "All properties in the Features structure except `ociVersionMin` and `ociVersionMax`"
        " MAY either be absent or have the `null` value.",
        SPEC + "features.md#features-structure",
        features_rewritten(features_absent),
        frozenset({"features"}),
    ),
    Tolerance(
        "no-features",
        "no `features` command (refused, exit 1)",
        "A runtime MAY provide a JSON structure about its implemented features to runtime callers.",
        SPEC + "features.md#features-structure",
        _without_commands("features"),
        frozenset({"features"}),
    ),
    Tolerance(
        "extra-dev",
        "every container also gets /dev/net/tun (c 10:200, 0666), a device the config did"
        " not ask for and runc's default device rules allow",
        "In addition to any devices configured with this setting, the runtime MUST also"
        " supply: [the default devices] ... Containers MAY NOT access any device node that is"
        " not either explicitly referenced in the **`devices`** array or listed as being part"
        " of the default devices. Rationale: runtimes based on virtual machines need to be"
        " able to adjust the node devices, and accessing device nodes that were not adjusted"
        " could have undefined behaviour.",
        SPEC + "config-linux.md#default-devices",
        _with_config(_add_device),
        frozenset({"create", "run"}),
    ),
    Tolerance(
        "dev-bind",
        "the default devices /dev/null, zero, full, random, urandom and tty are bind mounts"
        " of the host's nodes (as runc itself does in a user namespace), not mknod'ed nodes",
        "The runtime MAY supply them however it likes (with [`mknod`][mknod.2], by bind"
        " mounting from the runtime mount namespace, using symlinks, etc.).",
        SPEC + "config-linux.md#devices",
        _with_config(_bind_default_devices),
        frozenset({"create", "run"}),
    ),
    Tolerance(
        "extra-fd",
        "the container's process gets one more open descriptor, fd 3 on /dev/null"
        " (create/run without --preserve-fds)",
        "By default, only the `stdin`, `stdout` and `stderr` file descriptors are kept open"
        " for the application by the runtime. The runtime MAY pass additional file"
        " descriptors to the application to support features such as socket activation.",
        SPEC + "runtime-linux.md#file-descriptors",
        extra_descriptor,
        frozenset({"create", "run"}),
    ),
)

TOLERANCES: dict[str, Tolerance] = {t.name: t for t in TOLERANCE_LIST}
if len(TOLERANCES) != len(TOLERANCE_LIST):
    raise ValueError("a tolerance name is defined twice")


def main(name: str, call: Call) -> int:
    """Run ``call`` as the tolerant runtime ``name``."""
    status = TOLERANCES[name].intercept(call)
    if status is not None:
        return status
    os.execv(call.real_binary, call.real)
    return 127  # not reached


__all__ = ["TOLERANCES", "TOLERANCE_LIST", "Tolerance", "main"]
