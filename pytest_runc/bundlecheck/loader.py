"""Reading config.json: file checks, then Go's decoding (see :mod:`.gojson`).

Every problem is a finding, never an exception or a hang: a FIFO named
config.json, a 5 GB file, bytes that are not JSON, a value of the wrong type.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_runc.bundlecheck.findings import ERROR, WARNING, Finding
from pytest_runc.bundlecheck.gojson import (
    Decoded,
    Obj,
    SyntaxProblem,
    TypeError_,
    decode_config,
    json_text,
    parse_first_value,
)

MAX_CONFIG_BYTES = 4 * 1024 * 1024
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


def _error(code: str, message: str, fix: str, where: str = "config.json") -> Finding:
    return Finding(ERROR, code, message, fix, where)


def _file_problem(bundle: Path) -> Finding | None:
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
    path = bundle / "config.json"
    try:
        info = path.stat()
    except FileNotFoundError:
        return _error(
            "config-missing",
            "the bundle has no config.json (runc: JSON specification file config.json not found)",
            "write one (`runc spec` makes a default)",
        )
    except OSError as exc:
        return _error(
            "config-unreadable",
            f"cannot stat config.json: {exc.strerror}",
            "make config.json readable",
        )
    if not stat.S_ISREG(info.st_mode):
        return _error(
            "config-not-a-file", "config.json is not a regular file", "replace it with a JSON file"
        )
    if info.st_size > MAX_CONFIG_BYTES:
        return _error(
            "config-too-large",
            f"config.json is {info.st_size} bytes; a config is a few KiB",
            "check that the right file was written as config.json",
        )
    return None


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
    problem = _file_problem(bundle)
    if problem is not None:
        loaded.findings.append(problem)
        return loaded
    path = bundle / "config.json"
    try:
        loaded.raw_bytes = path.read_bytes()
    except OSError as exc:
        loaded.findings.append(
            _error(
                "config-unreadable",
                f"cannot read config.json: {exc.strerror}",
                "make config.json readable by the user running the check",
            )
        )
        return loaded
    data = loaded.raw_bytes
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
