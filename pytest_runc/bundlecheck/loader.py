"""Reading config.json: file checks, then Go's decoding (see :mod:`.gojson`).

Every problem is a finding, never an exception or a hang: a FIFO named
config.json, a 5 GB file, bytes that are not JSON, a value nested 10001
deep, a value of the wrong type.

config.json is opened relative to the bundle directory with ``O_NOFOLLOW``
and ``O_NONBLOCK`` and must be a regular file: a bundle cannot make a check
that runs as root read (and echo in its findings) a file it links to, and a
FIFO cannot make it wait.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_runc.bundlecheck.findings import ERROR, WARNING, Finding
from pytest_runc.bundlecheck.gojson import (
    MAX_NESTING_DEPTH,
    Decoded,
    Obj,
    SyntaxProblem,
    TypeError_,
    decode_config,
    json_text,
    parse_first_value,
)

#: The check's own bound (runc has none): 64 MiB, ten times the largest real
#: config seen (5.6 MB). Reading is bounded by it, parsing by gojson.MAX_VALUES.
MAX_CONFIG_BYTES = 64 * 1024 * 1024
#: At most this many "ignored key" warnings (a config from another tool may have many).
MAX_KEY_NOTES = 5

_TYPE_FIX = {
    "uint32": "a whole number from 0 to 4294967295",
    "uint16": "a whole number from 0 to 65535",
    "uint64": "a whole number from 0 to 18446744073709551615",
    "uint": "a whole number from 0 to 18446744073709551615",
    "int": "a whole number (no fraction, no exponent)",
    "int32": "a whole number from -2147483648 to 2147483647",
    "int64": "a whole number from -9223372036854775808 to 9223372036854775807",
    "fs.FileMode": "a file mode as a decimal number (0644 octal is 420)",
    "string": "a JSON string",
    "bool": "true or false",
    "[]string": "a list of strings",
    "map[string]string": "an object of string values",
}


@dataclass
class Loaded:
    """config.json as runc reads it: ``config`` is None when runc cannot load it."""

    raw_bytes: bytes = b""
    raw: Any = None  # the first JSON value as written (an Obj for an object)
    config: dict[str, Any] | None = None
    decoded: Decoded | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return any(f.severity == ERROR for f in self.findings)

    @property
    def decodable(self) -> bool:
        """Whether runc would decode this config without error: only then is there
        a decoded config to rewrite into a stand-in for a trial run."""
        return self.config is not None and self.decoded is not None and not self.decoded.errors


def _error(code: str, message: str, fix: str, where: str = "config.json") -> Finding:
    return Finding(ERROR, code, message, fix, where)


def _bundle_problem(bundle: Path) -> Finding | None:
    """A finding when ``bundle`` is not a directory to look into."""
    if not bundle.exists():
        return _error(
            "bundle-missing",
            f"{bundle} does not exist",
            "give the path of a bundle directory",
            str(bundle),
        )
    if not bundle.is_dir():
        return _error(
            "not-a-bundle",
            f"{bundle} is not a directory",
            "give the bundle directory (the one holding config.json)",
            str(bundle),
        )
    return None


def _open_config(bundle: Path) -> int | Finding:
    """An open descriptor of the bundle's config.json, or the finding why not.

    Opened relative to the bundle directory, never through a symlink, without
    blocking on a FIFO; only a regular file is accepted.
    """
    try:
        directory = os.open(bundle, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        return _error("config-unreadable", f"cannot open the bundle: {exc.strerror}", "fix it")
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
        fd = os.open("config.json", flags, dir_fd=directory)
    except FileNotFoundError:
        return _error(
            "config-missing",
            "the bundle has no config.json (runc: JSON specification file config.json not found)",
            "write one (`runc spec` makes a default)",
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return _error(
                "config-symlink",
                "config.json is a symbolic link; the check does not follow it (a bundle"
                " could point it at any file the check, running as root, can read)",
                "replace the link with the file itself (cp --remove-destination)",
            )
        return _error(
            "config-unreadable",
            f"cannot open config.json: {exc.strerror}",
            "make config.json readable by the user running the check",
        )
    finally:
        os.close(directory)
    problem = _not_a_config_file(os.fstat(fd))
    if problem is not None:
        os.close(fd)
        return problem
    return fd


def _not_a_config_file(info: os.stat_result) -> Finding | None:
    """A finding when the opened config.json is not a regular file of sane size."""
    if not stat.S_ISREG(info.st_mode):
        return _error(
            "config-not-a-file",
            "config.json is not a regular file (a FIFO, device, socket or directory);"
            " the check does not read it",
            "replace it with a JSON file",
        )
    if info.st_size > MAX_CONFIG_BYTES:
        return _too_large(info.st_size)
    return None


def _too_large(size: int) -> Finding:
    """config.json is past the check's read bound (a check limit, not runc's)."""
    return _error(
        "config-too-large",
        f"config.json is {'more than ' if size > MAX_CONFIG_BYTES else ''}{size} bytes,"
        f" more than the check reads ({MAX_CONFIG_BYTES // (1024 * 1024)} MiB; runc itself"
        " has no limit)",
        "check that the right file was written as config.json",
    )


def _read_bounded(fd: int) -> bytes:
    """At most MAX_CONFIG_BYTES + 1 bytes from ``fd`` (the file may grow meanwhile)."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_CONFIG_BYTES:
        chunk = os.read(fd, min(1 << 20, MAX_CONFIG_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def type_finding(error: TypeError_) -> Finding:
    """A finding for one ``cannot unmarshal`` error, naming the field and the value."""
    wanted = _TYPE_FIX.get(error.go_type, f"a value of Go type {error.go_type}")
    if error.go_type.startswith("[]"):
        wanted = "a JSON list"
    elif error.go_type.startswith("specs.") and error.go_type[6:7].isupper():
        wanted = "a JSON object" if "Type" not in error.go_type else "a JSON string"
    if error.go_type.startswith("specs.Linux") and error.go_type.endswith(
        ("Type", "Action", "Operator", "Domain")
    ):
        wanted = "a JSON string"
    where = error.path or "(top level)"
    return _error(
        "json-type",
        f"{where} is {error.written}, which runc cannot read as {error.go_type}"
        f' (runc: "{error.runc_words}")',
        f"write {wanted} there",
        f"config.json {where}",
    )


def load_config(bundle: Path) -> Loaded:
    """Read and decode ``bundle``/config.json as runc 1.1 does."""
    loaded = Loaded()
    problem = _bundle_problem(bundle)
    if problem is not None:
        loaded.findings.append(problem)
        return loaded
    opened = _open_config(bundle)
    if isinstance(opened, Finding):
        loaded.findings.append(opened)
        return loaded
    try:
        data = _read_bounded(opened)
    except OSError as exc:
        loaded.findings.append(
            _error(
                "config-unreadable",
                f"cannot read config.json: {exc.strerror}",
                "make config.json readable by the user running the check",
            )
        )
        return loaded
    finally:
        with contextlib.suppress(OSError):
            os.close(opened)
    if len(data) > MAX_CONFIG_BYTES:
        loaded.findings.append(_too_large(len(data)))
        return loaded
    loaded.raw_bytes = data
    try:
        raw, rest = parse_first_value(data)
    except SyntaxProblem as exc:
        loaded.findings.append(_syntax_finding(data, exc))
        return loaded
    loaded.raw = raw
    if rest.strip(b" \t\r\n"):
        loaded.findings.append(
            Finding(
                WARNING,
                "trailing-data-ignored",
                f"{len(rest.strip())} byte(s) after the first JSON value: runc reads only"
                " the first value and ignores the rest",
                "remove what follows the closing brace (two configs written into one file?)",
                "config.json",
            )
        )
    if raw is None:
        loaded.findings.append(
            _error(
                "config-null",
                "config.json is null (runc refuses it)",
                "write the config as a JSON object {...}",
            )
        )
        return loaded
    decoded = decode_config(raw)
    loaded.decoded = decoded
    if not isinstance(raw, Obj):
        loaded.findings.append(
            _error(
                "config-not-object",
                f"config.json is {json_text(raw, 40)}, not a JSON object"
                f' (runc: "{decoded.errors[0].runc_words}")'
                if decoded.errors
                else "config.json is not a JSON object",
                "the top level must be {...}",
            )
        )
        return loaded
    loaded.config = decoded.config
    loaded.findings += [type_finding(e) for e in decoded.errors]
    loaded.findings += _key_notes(decoded)
    return loaded


def _syntax_finding(data: bytes, exc: SyntaxProblem) -> Finding:
    where = f"config.json:{exc.line}:{exc.column}"
    if exc.code == "too-deep":
        return _error(
            "config-too-deep",
            f"a value at line {exc.line}, column {exc.column} is nested more than"
            f' {MAX_NESTING_DEPTH} levels deep (runc: "{exc}")',
            "flatten it (a config is a few levels deep; an unknown key is still parsed)",
            where,
        )
    if exc.code == "too-many-values":
        return _error(
            "config-too-large",
            f"{exc} (runc itself has no limit)",
            "check that the right file was written as config.json",
            where,
        )
    if data.startswith(b"\xef\xbb\xbf"):
        return _error("config-bom", str(exc), "save config.json as UTF-8 without a BOM", where)
    if b"\0" in data:
        return _error(
            "config-binary",
            f"config.json is not JSON text (it contains NUL bytes): {exc}",
            "write config.json as UTF-8 JSON text",
            where,
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return _error(
            "config-not-utf8",
            f"config.json is not UTF-8 ({bad.reason} at byte {bad.start}) and not valid JSON",
            "write config.json as UTF-8 JSON text",
            where,
        )
    return _error(
        "config-invalid-json",
        f"invalid JSON at line {exc.line}, column {exc.column}: {exc}",
        "fix the JSON syntax there",
        where,
    )


def _key_notes(decoded: Decoded) -> list[Finding]:
    notes: list[Finding] = []
    for written, canonical in decoded.folded[:MAX_KEY_NOTES]:
        notes.append(
            Finding(
                WARNING,
                "key-case",
                f'key "{written.rsplit(".", 1)[-1]}" is read as "{canonical.rsplit(".", 1)[-1]}"'
                " (runc matches keys case-insensitively; the spec and other runtimes do not)",
                f"spell it {canonical}",
                f"config.json {written}",
            )
        )
    for path in sorted(set(decoded.repeated))[:MAX_KEY_NOTES]:
        notes.append(
            Finding(
                WARNING,
                "key-repeated",
                f"{path} is given more than once: runc merges objects and keeps the last"
                " value of everything else",
                "keep one entry",
                f"config.json {path}",
            )
        )
    unknown = decoded.ignored
    for path, value in unknown[:MAX_KEY_NOTES]:
        notes.append(
            Finding(
                WARNING,
                "key-unknown",
                f"runc 1.1 does not know the key {path} (value {value}) and ignores it",
                "check the spelling against the runtime spec, or remove it",
                f"config.json {path}",
            )
        )
    if len(unknown) > MAX_KEY_NOTES:
        notes.append(
            Finding(
                WARNING,
                "key-unknown",
                f"and {len(unknown) - MAX_KEY_NOTES} more unknown key(s), also ignored",
                "check the spelling against the runtime spec",
                "config.json",
            )
        )
    return notes
