"""Command-line options, ini keys and environment variables of the plugin.

Every setting has a command-line option, an ini key and an environment
variable; precedence is ini < environment < command line. A bad value is a
``pytest.UsageError`` that names where it came from and how to fix it.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.oci.constants import DEFAULT_TIMEOUT

#: The longest deadline ``--runc-timeout`` accepts: one day. Every runtime
#: call waits at most this long; far larger values overflow the C timeouts
#: underneath (``1e7`` seconds ended the run with an OverflowError), and a
#: deadline of days means none at all, which the option exists to prevent.
MAX_SECONDS = 86400.0

#: An explicit runtime label (``LABEL=PATH``): what may go in a test id.
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Setting:
    """One setting: its option, ini key, environment variable and help."""

    option: str
    ini: str
    env: str
    help: str
    kind: str  # "bool", "str", "binaries", "path", "seconds"


SETTINGS = (
    Setting("--runc", "runc", "PYTEST_RUNC", "run tests that need a container runtime", "bool"),
    Setting(
        "--runc-binary",
        "runc_binary",
        "PYTEST_RUNC_BINARY",
        "OCI runtime to test: a name on PATH or a path (default: runc); repeat the option"
        " or give a comma list to test several runtimes in one run; LABEL=PATH names"
        " a runtime's tests LABEL instead of its --version",
        "binaries",
    ),
    Setting(
        "--runc-root",
        "runc_root",
        "PYTEST_RUNC_ROOT",
        "the runtime's state root (--root); default: a fresh private directory"
        " per session and per xdist worker, never runc's own /run/runc",
        "path",
    ),
    Setting(
        "--runc-rootfs",
        "runc_rootfs",
        "PYTEST_RUNC_ROOTFS",
        "rootfs directory or tarball for test containers (default: built from a static busybox)",
        "path",
    ),
    Setting(
        "--runc-timeout",
        "runc_timeout",
        "PYTEST_RUNC_TIMEOUT",
        f"deadline in seconds for every runtime command (default: {DEFAULT_TIMEOUT:g})",
        "seconds",
    ),
    Setting(
        "--runc-rootless",
        "runc_rootless",
        "PYTEST_RUNC_ROOTLESS",
        "without root or sudo, run rootless containers in user namespaces"
        " (tests that need real root skip)",
        "bool",
    ),
    Setting(
        "--runc-keep-failed",
        "runc_keep_failed",
        "PYTEST_RUNC_KEEP_FAILED",
        "keep a failed test's bundle and container, and print where they are",
        "bool",
    ),
    Setting(
        "--runc-allow-unusable",
        "runc_allow_unusable",
        "PYTEST_RUNC_ALLOW_UNUSABLE",
        "for an optional runtime: if it cannot run a trivial container here, or a named"
        " one is not there, skip the container tests instead of failing (default: such a"
        " runtime fails the run, a missing one is a usage error)",
        "bool",
    ),
    Setting(
        "--runc-skip-runtime-check",
        "runc_skip_runtime_check",
        "PYTEST_RUNC_SKIP_RUNTIME_CHECK",
        "run no trial container (run and create of `true`) before the tests: a runtime"
        " that cannot run one then fails each of its tests instead of one 'runtime works'"
        " item (for harnesses that judge every test themselves)",
        "bool",
    ),
    Setting(
        "--runc-fail-beyond-level",
        "runc_fail_beyond_level",
        "PYTEST_RUNC_FAIL_BEYOND_LEVEL",
        "a failed check of a statement newer than the spec version the runtime claims"
        " (features ociVersionMax) fails the run; default: it is reported as"
        " 'beyond-level failed' and the run's exit status ignores it",
        "bool",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one pytest run."""

    enabled: bool = False
    binary: str = "runc"
    #: Every runtime under test, in the order given; ``binary`` is the first.
    binaries: tuple[str, ...] = ("runc",)
    #: Where the runtimes were named (``--runc-binary``, an environment
    #: variable, an ini key); None for the default ``runc``.
    binary_origin: str | None = None
    #: The label given to each of ``binaries`` (``LABEL=PATH``), "" where none was.
    labels: tuple[str, ...] = ()
    root: Path | None = None
    rootfs: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    keep_failed: bool = False
    rootless: bool = False
    allow_unusable: bool = False
    skip_runtime_check: bool = False
    fail_beyond_level: bool = False
    bundles: list[Path] = field(default_factory=list)


def register(parser: pytest.Parser) -> None:
    """Add the ``runc`` option group and the ini keys."""
    group = parser.getgroup("runc", "container runtime tests (pytest-runc)")
    for setting in SETTINGS:
        env_note = f" [env {setting.env}, ini {setting.ini}]"
        if setting.kind == "bool":
            group.addoption(
                setting.option, action="store_true", default=None, help=setting.help + env_note
            )
        elif setting.kind == "binaries":
            group.addoption(
                setting.option,
                action="append",
                default=None,
                metavar="PATH",
                help=setting.help + env_note,
            )
        else:
            metavar = {"seconds": "SECONDS", "path": "PATH", "str": "PATH"}[setting.kind]
            group.addoption(
                setting.option, default=None, metavar=metavar, help=setting.help + env_note
            )
        # Yes/no keys are pytest booleans (`--help` says so; pytest parses
        # them, _raw turns its ValueError into a usage error naming the key);
        # the rest are strings parsed here.
        if setting.kind == "bool":
            parser.addini(setting.ini, setting.help, type="bool", default=None)
        else:
            parser.addini(setting.ini, setting.help, type="string", default=None)
    group.addoption(
        "--runc-bundle",
        action="append",
        default=[],
        metavar="BUNDLE",
        help="check that the runtime can run this bundle (repeatable); adds one test per bundle",
    )


def _raw(config: pytest.Config, setting: Setting) -> tuple[Any, str] | None:
    """The winning raw value and where it came from, or None if unset."""
    cli = config.getoption(setting.option)
    if cli is not None:
        return cli, setting.option
    if setting.env in os.environ:
        return os.environ[setting.env], f"environment variable {setting.env}"
    try:
        ini = config.getini(setting.ini)
    except ValueError as exc:  # pytest's bool parsing: "invalid truth value 'x'"
        raise pytest.UsageError(f"ini key {setting.ini}: {exc}; use true or false") from None
    if ini is not None and ini != "" and ini != []:  # unset: None, "" or (pytest < 7.3) []
        return ini, f"ini key {setting.ini}"
    return None


def _as_bool(value: Any, origin: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise pytest.UsageError(f"{origin}: {value!r} is not a yes/no value; use 1 or 0")


def _as_seconds(value: Any, origin: str) -> float:
    """A deadline: a finite number of seconds above 0 and at most :data:`MAX_SECONDS`.

    ``float()`` takes ``nan``, ``inf`` and ``1e400`` (inf) too: each is a usage
    error here, so that no such value reaches a timeout deep in the run.
    """
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise pytest.UsageError(
            f"{origin}: {value!r} is not a positive number of seconds; use e.g. 30"
        )
    if seconds > MAX_SECONDS:
        raise pytest.UsageError(
            f"{origin}: {value!r} seconds is more than a day ({MAX_SECONDS:g});"
            " use e.g. 30, or at most 86400"
        )
    return seconds


def _as_binaries(value: Any, origin: str) -> tuple[str, ...]:
    """Runtimes from a repeated option and/or comma lists, in order."""
    given = value if isinstance(value, list) else [value]
    names = tuple(part.strip() for text in given for part in str(text).split(","))
    if not names or any(not name for name in names):
        raise pytest.UsageError(
            f"{origin}: {' '.join(map(str, given))!r} has an empty runtime name;"
            " give a name on PATH or a path,"
            " several separated by commas (runc,/opt/crun)"
        )
    return names


def _split_labels(names: tuple[str, ...], origin: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(paths, labels)`` from runtimes given as ``PATH`` or ``LABEL=PATH``.

    Text before the first ``=`` is a label only when it holds no ``/``: a
    path with ``=`` in it stays a path when written with a directory
    (``./a=b``).
    """
    paths: list[str] = []
    labels: list[str] = []
    for name in names:
        label, equals, path = name.partition("=")
        if not equals or "/" in label:
            paths.append(name)
            labels.append("")
            continue
        if not _LABEL.fullmatch(label) or not path.strip():
            raise pytest.UsageError(
                f"{origin}: {name!r} is not LABEL=PATH; a label is letters, digits, '.', '_'"
                " and '-' (e.g. patched=/opt/runc), and a path follows the '='"
            )
        paths.append(path.strip())
        labels.append(label)
    return tuple(paths), tuple(labels)


def resolve(config: pytest.Config) -> Settings:
    """Combine command line, environment and ini into validated Settings."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for setting in SETTINGS:
        found = _raw(config, setting)
        if found is None:
            continue
        value, origin = found
        origins[setting.ini] = origin
        if setting.kind == "bool":
            values[setting.ini] = _as_bool(value, origin)
        elif setting.kind == "seconds":
            values[setting.ini] = _as_seconds(value, origin)
        elif setting.kind == "binaries":
            values[setting.ini], values["runc_labels"] = _split_labels(
                _as_binaries(value, origin), origin
            )
        else:
            text = str(value).strip()
            if not text:
                raise pytest.UsageError(f"{origin}: empty value; give a path or leave it unset")
            values[setting.ini] = text
    rootfs = values.get("runc_rootfs")
    rootfs_path = Path(rootfs).expanduser().absolute() if rootfs else None
    if rootfs_path is not None and not rootfs_path.exists():
        raise pytest.UsageError(
            f"--runc-rootfs: {rootfs_path} does not exist; give a rootfs directory or tarball"
        )
    root = values.get("runc_root")
    root_path = Path(root).expanduser().absolute() if root else None
    if root_path is not None and root_path.exists() and not root_path.is_dir():
        raise pytest.UsageError(
            f"--runc-root: {root_path} exists and is not a directory; name a directory"
        )
    binaries = values.get("runc_binary", ("runc",))
    if len(binaries) > 1 and root_path is not None:
        raise pytest.UsageError(
            f"--runc-root: one state root cannot serve {len(binaries)} runtimes"
            f" ({', '.join(binaries)}); leave it unset so that each runtime gets a private one"
        )
    bundles = [Path(b).expanduser().absolute() for b in config.getoption("--runc-bundle") or []]
    return Settings(
        enabled=values.get("runc", False),
        binary=binaries[0],
        binaries=binaries,
        binary_origin=origins.get("runc_binary"),
        labels=values.get("runc_labels", ()),
        root=root_path,
        rootfs=rootfs_path,
        timeout=values.get("runc_timeout", DEFAULT_TIMEOUT),
        keep_failed=values.get("runc_keep_failed", False),
        rootless=values.get("runc_rootless", False),
        allow_unusable=values.get("runc_allow_unusable", False),
        skip_runtime_check=values.get("runc_skip_runtime_check", False),
        fail_beyond_level=values.get("runc_fail_beyond_level", False),
        bundles=bundles,
    )
