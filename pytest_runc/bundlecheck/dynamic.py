"""The trial run: runc runs a private stand-in of the bundle, and its answer decides.

runc only ever sees a config this check parsed, decoded as Go does and wrote
again (:func:`build_stand_in`): never the user's bytes. A config runc would
not decode (not JSON, nested past Go's limit, a value of the wrong type) gets
no trial at all: runc refuses it before it runs anything, and the static
finding says so in runc's words.

The stand-in is the decoded config with these changes, each reported as a
warning when it changes what the user wrote. They keep the trial from
granting the bundle anything on the host that runc in a user namespace
would not (docs/bundle-check.md, "Safety"):

- ``root.path``: a private overlay of the user's rootfs (:mod:`.trialfs`);
- ``process.terminal`` false; ``linux.cgroupsPath`` ``/prt-check-<token>``;
- ``hooks`` removed unless hooks are allowed (they run on the host as root);
- bind mounts: a relative source is made absolute against the *user's*
  bundle (runc resolves it there); a source inside the bundle becomes a
  private overlay (a file: a copy), one outside the bundle (a host path)
  an empty stand-in of the same kind, unless host mounts are allowed;
- mounts of other filesystem types than proc, sysfs, tmpfs, devpts, mqueue
  and cgroup become tmpfs; sysfs and cgroup are read-only; proc only at /proc;
- namespaces: paths are never joined (a new namespace instead), and pid,
  mount, ipc and network namespaces are always new (sharing the host's gives
  a root process the host's processes, mounts, IPC and abstract sockets);
- ``maskedPaths``/``readonlyPaths`` include runc spec's (a writable
  /proc/sys lets root on the host run code through core_pattern);
- capabilities limited to Docker's default set without CAP_MKNOD;
- ``linux.devices`` become /dev/null-like nodes (c 1:3) at the same paths;
  device-cgroup allow rules are dropped; a seccomp ``listenerPath`` is a
  socket of ours.

The stand-in lives in a locked work directory like a test's, swept by the
next run if this process is killed; the container, its cgroup and the mounts
are removed afterwards.
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pytest_runc.bundlecheck.findings import ERROR, WARNING, Finding
from pytest_runc.bundlecheck.gojson import deep_copy, dump_raw
from pytest_runc.bundlecheck.loader import Loaded
from pytest_runc.bundlecheck.trialfs import CopyCapped, TrialRootfs, prepare
from pytest_runc.oci.bundle import RUNC_SPEC_DEFAULT, Bundle
from pytest_runc.oci.constants import ID_PREFIX
from pytest_runc.oci.container import Container
from pytest_runc.oci.errors import RuntimeTimeout, runtime_message
from pytest_runc.oci.linux import CAPABILITIES as LINUX_CAPABILITIES
from pytest_runc.oci.runtime import Runtime
from pytest_runc.sessions.cgroups import remove_cgroups
from pytest_runc.sessions.workdir import WorkDir

#: Docker's default capabilities without CAP_MKNOD: inside private pid, mount,
#: ipc and network namespaces none of them reaches the host. Everything else
#: (CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_DAC_READ_SEARCH, ...) would, as root.
TRIAL_CAPABILITIES = frozenset(
    "CAP_" + name
    for name in (
        "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "NET_RAW", "SETGID", "SETUID",
        "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
    )
)  # fmt: skip
#: Always new in the trial: sharing the host's is host access for a root process.
TRIAL_NAMESPACES = ("pid", "mount", "ipc", "network")
#: Static errors a new namespace of this type hides from runc (so the trial cannot
#: overrule them).
HIDDEN_BY_NAMESPACE = {"network": "sysctl-needs-netns", "ipc": "sysctl-needs-ipc-ns"}
#: Filesystem types the trial mounts as written (no host data behind them).
TRIAL_MOUNT_TYPES = frozenset({"proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"})
#: Mounted read-only in the trial (uevent_helper, release_agent).
READ_ONLY_TYPES = frozenset({"sysfs", "cgroup", "cgroup2"})
#: At most this many bind sources from the bundle get an overlay each.
MAX_BIND_OVERLAYS = 32


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
    #: runc gave no answer within the deadline (``ran`` is None then).
    timed_out: bool = False
    #: Static error codes the stand-in changed the subject of (see StandIn).
    undecided: set[str] = field(default_factory=set)


def _exec_failure(container_stderr: str) -> str | None:
    for line in container_stderr.splitlines():
        if re.match(r"^exec [^:]+: ", line):
            return line.strip()
    return None


def _note(code: str, message: str, fix: str, where: str) -> Finding:
    return Finding(WARNING, code, message, fix, f"config.json {where}")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass
class BindPlan:
    """A bind source inside the bundle, to give the trial as an overlay or a copy."""

    index: int  # in the stand-in's mounts
    source: Path  # its real path (inside the bundle)
    directory: bool


@dataclass
class StandIn:
    """The stand-in's config and what building it changed."""

    config: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    #: Static error codes the trial cannot overrule: it changed what they are about.
    undecided: set[str] = field(default_factory=set)
    binds: list[BindPlan] = field(default_factory=list)
    #: Where the seccomp agent socket must listen, if the bundle names one.
    listener: Path | None = None

    def text(self) -> bytes:
        """config.json of the stand-in: written by us, from the decoded config."""
        return (dump_raw(self.config, indent=2) + "\n").encode()


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def build_stand_in(
    config: dict[str, Any],
    bundle: Path,
    trial_dir: Path,
    container_id: str,
    *,
    allow_hooks: bool = False,
    allow_host_mounts: bool = False,
) -> StandIn:
    """The stand-in for the decoded ``config`` of ``bundle`` (see the module doc).

    ``root.path`` is left to the caller, who knows where the overlay is.
    """
    stand_in = StandIn(deep_copy(config))
    new = stand_in.config
    if isinstance(new.get("process"), dict):
        new["process"]["terminal"] = False
        _capabilities(stand_in)
    if new.get("hooks") and not allow_hooks:
        del new["hooks"]
        stand_in.undecided.add("hook-path-missing")
    elif "hooks" in new and not allow_hooks:
        del new["hooks"]
    linux = new.setdefault("linux", {})
    linux["cgroupsPath"] = f"/{container_id}"
    _namespaces(stand_in, linux)
    _masks(stand_in, linux)
    _devices(stand_in, linux)
    _listener(stand_in, linux, trial_dir)
    _mounts(stand_in, bundle, trial_dir, allow_host_mounts)
    return stand_in


def _capabilities(stand_in: StandIn) -> None:
    """Keep only TRIAL_CAPABILITIES in every set; name what was left out."""
    caps = _dict(stand_in.config["process"].get("capabilities"))
    dropped: set[str] = set()
    for kind, names in caps.items():
        if isinstance(names, list):
            dropped |= {n for n in names if n not in TRIAL_CAPABILITIES}
            caps[kind] = [n for n in names if n in TRIAL_CAPABILITIES]
    known = sorted(n for n in dropped if n in LINUX_CAPABILITIES)
    if known:
        stand_in.findings.append(
            _note(
                "capability-not-tried",
                f"the trial ran without {', '.join(known)}: as root outside a user namespace"
                " they reach the host (load modules, mount, read any file by handle...)",
                "drop them unless the program needs them; runc itself grants them",
                "process.capabilities",
            )
        )


def _namespaces(stand_in: StandIn, linux: dict[str, Any]) -> None:
    """No namespace path is joined; pid, mount, ipc and network are always new."""
    kept: list[dict[str, Any]] = []
    for index, ns in enumerate(_list(linux.get("namespaces"))):
        ns = _dict(ns)
        if ns.get("path"):
            stand_in.findings.append(
                _note(
                    "namespace-path-not-joined",
                    f"the trial made a new {ns.get('type')} namespace instead of joining"
                    f" {ns['path']} (joining a host namespace as root is host access)",
                    "none needed for the check; runc itself joins the path",
                    f"linux.namespaces[{index}].path",
                )
            )
            stand_in.undecided.add("namespace-path-missing")
            ns = {k: v for k, v in ns.items() if k != "path"}
        kept.append(ns)
    have = {ns.get("type") for ns in kept}
    added = [kind for kind in TRIAL_NAMESPACES if kind not in have]
    kept += [{"type": kind} for kind in added]
    linux["namespaces"] = kept
    if added:
        stand_in.undecided |= {HIDDEN_BY_NAMESPACE[k] for k in added if k in HIDDEN_BY_NAMESPACE}
        stand_in.findings.append(
            _note(
                "trial-namespaces-added",
                f"the trial ran in new {', '.join(added)} namespace(s) the config does not"
                " ask for: without them the bundle's root shares the host's processes,"
                " mounts (runc then uses chroot), IPC and network",
                "add them to linux.namespaces unless the container must share the host's",
                "linux.namespaces",
            )
        )


def _masks(stand_in: StandIn, linux: dict[str, Any]) -> None:
    """runc spec's maskedPaths and readonlyPaths, plus the bundle's own."""
    defaults = RUNC_SPEC_DEFAULT["linux"]
    added: list[str] = []
    for key in ("maskedPaths", "readonlyPaths"):
        have = [p for p in _list(linux.get(key)) if isinstance(p, str)]
        missing = [p for p in defaults[key] if p not in have]
        linux[key] = have + missing
        added += missing
    if added:
        stand_in.findings.append(
            _note(
                "trial-paths-masked",
                f"the trial masked or made read-only {', '.join(added)} as `runc spec` does"
                " (a writable /proc/sys lets root in the container run code on the host)",
                "add them to linux.maskedPaths / linux.readonlyPaths",
                "linux.maskedPaths",
            )
        )


def _devices(stand_in: StandIn, linux: dict[str, Any]) -> None:
    """Device nodes become /dev/null-like; device-cgroup allow rules go."""
    changed: list[str] = []
    for device in _list(linux.get("devices")):
        if isinstance(device, dict) and device.get("type") in ("b", "c", "u"):
            if (device.get("type"), device.get("major"), device.get("minor")) != ("c", 1, 3):
                changed.append(str(device.get("path", "")))
            device.update(type="c", major=1, minor=3)
    resources = _dict(linux.get("resources"))
    rules = _list(resources.get("devices"))
    allowed = [r for r in rules if _dict(r).get("allow") is True]
    if allowed:
        resources["devices"] = [r for r in rules if r not in allowed]
        changed.append(f"{len(allowed)} device-cgroup allow rule(s)")
    if changed:
        stand_in.findings.append(
            _note(
                "device-not-tried",
                f"the trial did not give the container host devices: {', '.join(changed)}"
                " (a block device of the host is the host's disk)",
                "none needed for the check; runc itself creates them",
                "linux.devices",
            )
        )


def _listener(stand_in: StandIn, linux: dict[str, Any], trial_dir: Path) -> None:
    """A seccomp agent socket of ours instead of a host path runc would connect to."""
    seccomp = _dict(linux.get("seccomp"))
    if seccomp.get("listenerPath"):
        stand_in.listener = trial_dir / "seccomp-agent.sock"
        seccomp["listenerPath"] = str(stand_in.listener)


def _mounts(stand_in: StandIn, bundle: Path, trial_dir: Path, allow_host: bool) -> None:
    """Each mount as the trial may make it (see the module doc)."""
    real_bundle = os.path.realpath(bundle)
    mounts = _list(stand_in.config.get("mounts"))
    for index, mount in enumerate(mounts):
        if not isinstance(mount, dict):
            continue
        options = [o for o in _list(mount.get("options")) if isinstance(o, str)]
        kind = mount.get("type", "")
        where = f"mounts[{index}]"
        if kind == "bind" or "bind" in options or "rbind" in options:
            _bind(stand_in, mount, index, bundle, real_bundle, trial_dir, allow_host)
        elif kind not in TRIAL_MOUNT_TYPES or (
            kind == "proc" and str(PurePosixPath("/", mount.get("destination", ""))) != "/proc"
        ):
            mounts[index] = {
                "destination": mount.get("destination", ""),
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "nodev", "noexec"],
            }
            stand_in.findings.append(
                _note(
                    "mount-not-tried",
                    f"the trial mounted a tmpfs at {mount.get('destination')!s} instead of"
                    f" this {kind or 'untyped'} mount (its source would be the host's)",
                    "none needed for the check; runc itself mounts it",
                    where,
                )
            )
        elif kind in READ_ONLY_TYPES and "ro" not in options:
            mount["options"] = [o for o in options if o != "rw"] + ["ro"]


def _bind(
    stand_in: StandIn,
    mount: dict[str, Any],
    index: int,
    bundle: Path,
    real_bundle: str,
    trial_dir: Path,
    allow_host: bool,
) -> None:
    """A bind mount's source for the trial: absolute against the user's bundle, then
    an overlay (inside the bundle), an empty stand-in (outside) or as written."""
    source = str(mount.get("source", ""))
    absolute = source if source.startswith("/") else os.path.join(bundle, source)
    mount["source"] = absolute
    if allow_host:
        return
    real = os.path.realpath(absolute)
    where = f"mounts[{index}].source"
    if not os.path.exists(real):
        # runc would fail on the missing source; so does the trial, on one of ours.
        mount["source"] = str(trial_dir / "missing" / f"mount-{index}")
        return
    is_dir = os.path.isdir(real)
    if _inside(real, real_bundle) and len(stand_in.binds) < MAX_BIND_OVERLAYS:
        stand_in.binds.append(BindPlan(index, Path(real), is_dir))
        return
    empty = trial_dir / "empty" / f"mount-{index}"
    empty.parent.mkdir(exist_ok=True)
    if is_dir:
        empty.mkdir()
    else:
        empty.touch()
    mount["source"] = str(empty)
    stand_in.findings.append(
        _note(
            "host-mount-not-tried",
            f"the trial bound an empty {'directory' if is_dir else 'file'} instead of the"
            f" host path {json_path(absolute)}: the bundle's process would run as root with"
            " it mounted (pass --allow-host-mounts to try it as written)",
            "none needed for the check; mind what the bundle can read and write there",
            where,
        )
    )


def json_path(path: str) -> str:
    """A host path for a message, quoted as JSON."""
    return dump_raw(path)


def place_binds(stand_in: StandIn, prepared: TrialRootfs, trial_dir: Path) -> None:
    """Give each bind source from the bundle its overlay (or copy) in ``prepared``."""
    mounts = _list(stand_in.config.get("mounts"))
    for plan in stand_in.binds:
        name = f"bind-{plan.index}"
        made = (
            prepared.overlay(plan.source, name)
            if plan.directory
            else prepared.copy_file(plan.source, name)
        )
        if isinstance(made, Path):
            mounts[plan.index]["source"] = str(made)
            continue
        empty = trial_dir / "empty" / name
        empty.parent.mkdir(exist_ok=True)
        if plan.directory:
            empty.mkdir()
        else:
            empty.touch()
        mounts[plan.index]["source"] = str(empty)
        stand_in.findings.append(
            _note(
                "bind-source-not-tried",
                f"the trial bound an empty stand-in instead of {plan.source}: {made}",
                "none needed for the check",
                f"mounts[{plan.index}].source",
            )
        )


def timeout_finding(exc: RuntimeTimeout, flag: str) -> Finding:
    """runc did not answer in time: an error that says so, naming the caller's flag."""
    command = " ".join(exc.argv[-4:]) if exc.argv else "runc"
    return Finding(
        ERROR,
        "runc-timeout",
        f"runc did not finish within {exc.timeout:g}s and was killed (`... {command}`):"
        " no verdict from runc. It waits on something: a FIFO or device at a file it"
        " opens in the rootfs (/etc/passwd, /etc/group), a hook, or a slow host",
        f"see what it waits for; raise {flag} only if the host is just slow",
        "runc",
    )


def run_trial(
    loaded: Loaded,
    bundle: Path,
    rootfs: Path | None,
    runtime_binary: str,
    *,
    sudo: bool = False,
    allow_hooks: bool = False,
    allow_host_mounts: bool = False,
    timeout: float = 30.0,
    timeout_flag: str = "--timeout",
    settle: float = 0.2,
) -> TrialResult:
    """Let runc run a stand-in of ``bundle``, whose decoded config ``loaded`` holds.

    ``rootfs`` is the user's usable rootfs (None when the static check found
    none: runc then gets a path that does not exist, and says so itself).
    No trial (``ran`` None) for a config runc cannot decode.
    """
    if not loaded.decodable or loaded.config is None:
        return TrialResult(None, findings=[_undecodable()])
    workdir = WorkDir.create()
    container_id = f"{ID_PREFIX}check-{workdir.token}"
    trial_dir = workdir.path / "trial"
    prepared: TrialRootfs | None = None
    listener: socket.socket | None = None
    # From here on a signal (KeyboardInterrupt) leaves nothing: the finally below
    # removes the directory, whatever step was reached.
    try:
        workdir.record(container_id)
        trial_dir.mkdir()
        stand_in = build_stand_in(
            loaded.config,
            bundle,
            trial_dir,
            container_id,
            allow_hooks=allow_hooks,
            allow_host_mounts=allow_host_mounts,
        )
        if rootfs is not None:
            made = _prepare(rootfs, trial_dir, sudo)
            if isinstance(made, TrialResult):
                return made
            prepared = made
            place_binds(stand_in, prepared, trial_dir)
        _set_root(stand_in, prepared.path if prepared else trial_dir / "no-rootfs")
        if stand_in.listener is not None:
            listener = _listen(stand_in.listener)
        (trial_dir / "config.json").write_bytes(stand_in.text())
        notes = stand_in.findings + (
            [Finding(WARNING, "trial-used-copy", prepared.note, "none needed", "rootfs")]
            if prepared and prepared.note
            else []
        )
        result = _run(
            Runtime(runtime_binary, workdir.state_root, timeout=timeout, sudo=sudo),
            trial_dir,
            container_id,
            notes,
            prepared.how if prepared else "config only",
            settle,
            timeout_flag,
        )
        result.undecided = stand_in.undecided
        return result
    finally:
        if listener is not None:
            listener.close()
        if prepared is not None:
            prepared.release()
        workdir.remove(sudo=sudo)


def _undecodable() -> Finding:
    return Finding(
        WARNING,
        "trial-skipped-undecodable",
        "no trial run: runc refuses a config.json it cannot decode before it runs"
        " anything, and the check gives runc only configs it decoded and wrote itself",
        "fix the errors above; the trial runs once the config decodes",
        "runc",
    )


def _set_root(stand_in: StandIn, path: Path) -> None:
    root = stand_in.config.get("root")
    if isinstance(root, dict):
        root["path"] = str(path)


def _listen(path: Path) -> socket.socket:
    """A unix socket runc can connect to and send the seccomp fd to (never read)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    return server


def _prepare(rootfs: Path, trial_dir: Path, sudo: bool) -> TrialRootfs | TrialResult:
    """The trial rootfs, or the result that says why there is no trial."""
    try:
        return prepare(rootfs, trial_dir, sudo=sudo)
    except CopyCapped as exc:
        return TrialResult(
            None,
            findings=[
                Finding(
                    WARNING,
                    "rootfs-copy-capped",
                    f"no trial run: overlay is not available here and the rootfs"
                    f" has {exc}, the limit of the bounded copy",
                    "run the check as root on a host with overlayfs, or trust the static verdict",
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


def _run(
    runtime: Runtime,
    trial_dir: Path,
    container_id: str,
    notes: list[Finding],
    how: str,
    settle: float,
    timeout_flag: str,
) -> TrialResult:
    """``runc run -d`` the stand-in in ``trial_dir``; what happened."""
    # Container.run rewrites config.json from .config: give it none to write.
    trial = Container(runtime, _Written(trial_dir), container_id)
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
        # Not a refusal: runc gave no answer. The verdict is the timeout itself.
        failure = timeout_finding(exc, timeout_flag)
        return TrialResult(None, failure.message, [failure, *notes], how, timed_out=True)
    finally:
        trial.remove()
        remove_cgroups([container_id], sudo=runtime.sudo, kill=True)


class _Written(Bundle):
    """A bundle whose config.json the trial already wrote: never rewritten."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, {})

    def write(self) -> Path:
        return self.config_path
