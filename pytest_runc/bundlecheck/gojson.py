"""config.json read the way runc reads it: Go's ``encoding/json`` into runc's spec types.

runc 1.1 loads a bundle with ``json.NewDecoder(file).Decode(&spec)`` into the
Go types of the runtime-spec (``specs.Spec``). A Python ``json.loads`` agrees
with that on ordinary files and disagrees on the edges, which is where users
get surprised. This module follows Go's rules (Go 1.19, the compiler of the
runc 1.1.5 measured here), each checked against runc in
``tests/test_bundlecheck_gojson.py``:

1. **First value only.** The decoder reads one JSON value; whatever follows it
   (a second object, garbage, NUL bytes) is never read. Leading whitespace is
   space, tab, CR and LF only.
2. **No BOM.** A UTF-8 byte order mark is not whitespace: ``invalid character
   'ï' looking for beginning of value``.
3. **Bytes, not text.** Invalid UTF-8 inside a string becomes U+FFFD; it is
   not an error.
4. **Keys match fields case-insensitively.** An exact match wins; otherwise
   the first field whose name equals the key under ASCII case folding (plus
   the Kelvin sign U+212A = k and the long s U+017F = s) takes the value. ``"Process"`` is
   ``process``. Keys that match no field are ignored.
5. **Later keys win, and merge.** A repeated key (or two spellings of one
   field) decodes again into the same field: into a struct or a non-nil
   pointer to one it merges field by field, into a map it adds entries, a
   slice is replaced.
6. **null depends on the Go type.** For a pointer, slice, map or interface it
   sets nil (``"process": null`` removes the process); for a string, number,
   bool or non-pointer struct it does nothing at all.
7. **Numbers must fit the field's Go kind.** An integer field takes only an
   integer literal within its range (uid/gid uint32, oomScoreAdj int,
   rlimits uint64, device major/minor int64, blkio weight uint16, ...):
   ``0.5``, ``1e3``, ``-1`` (for unsigned) and ``4294967296`` (for uint32)
   are refused: ``cannot unmarshal number 0.5 into Go struct field
   User.process.user.uid of type uint32``.
8. **Type mismatches are remembered, not fatal.** A value of the wrong JSON
   type is skipped, decoding goes on, and the first such error is the
   result; runc refuses the bundle with it.

:func:`decode_config` returns the decoded config as Python data (only the
fields that were set, under their canonical names), every type error with
runc's own words, and notes on what runc silently ignores (trailing data,
unknown keys, keys matched by case folding, repeated keys).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Union

from pytest_runc.bundlecheck.spectypes import (
    SPEC,
    Any_,
    Bool,
    Float,
    GoType,
    Int,
    Map,
    Ptr,
    Slice,
    String,
    Struct,
)

GO_WHITESPACE = " \t\r\n"
UTF8_BOM = b"\xef\xbb\xbf"


class Number(str):
    """A JSON number as written: Go converts the literal itself, per field."""

    __slots__ = ()


class Obj(list):  # type: ignore[type-arg]
    """A JSON object as written: its (key, value) pairs in order, repeats kept."""

    __slots__ = ()


Raw = Union[None, bool, str, Number, Obj, list]  # type: ignore[type-arg]


class SyntaxProblem(Exception):
    """The first JSON value is not valid JSON (runc: a Go syntax error)."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def _no_constant(name: str) -> Any:
    # Python accepts NaN and Infinity; JSON (and Go) do not.
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=Obj,
    parse_int=Number,
    parse_float=Number,
    parse_constant=_no_constant,
)


def parse_first_value(data: bytes) -> tuple[Raw, bytes]:
    """The first JSON value of ``data`` (as written) and the bytes after it.

    Raises SyntaxProblem as Go's decoder would refuse it (rules 1-3).
    """
    if data.startswith(UTF8_BOM):
        raise SyntaxProblem(
            "a UTF-8 byte order mark (BOM) starts the file; runc: invalid character 'ï'"
            " looking for beginning of value",
            1,
            1,
        )
    text = data.decode("utf-8", errors="surrogateescape")
    start = len(text) - len(text.lstrip(GO_WHITESPACE))
    if start == len(text):
        raise SyntaxProblem("the file holds no JSON value (runc: EOF)", 1, 1)
    try:
        value, end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise SyntaxProblem(exc.msg, exc.lineno, exc.colno) from None
    except ValueError as exc:  # NaN / Infinity
        line = text.count("\n", 0, start) + 1
        raise SyntaxProblem(str(exc), line, 1) from None
    except RecursionError:
        raise SyntaxProblem("JSON nested too deeply", 1, 1) from None
    rest = text[end:].encode("utf-8", errors="surrogateescape")
    return _clean_strings(value), rest


def _clean_strings(value: Any) -> Any:
    """Invalid UTF-8 in strings reads as U+FFFD, as in Go (rule 3)."""
    if isinstance(value, Number):
        return value
    if isinstance(value, str):
        return _replace_surrogates(value)
    if isinstance(value, Obj):
        return Obj((_clean_strings(k), _clean_strings(v)) for k, v in value)
    if isinstance(value, list):
        return [_clean_strings(v) for v in value]
    return value


def _replace_surrogates(value: str) -> str:
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)


def json_text(value: Any, limit: int = 80) -> str:
    """``value`` as the user wrote it in JSON (numbers keep their literal), shortened."""
    text = dump_raw(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dump_raw(value: Any, indent: int | None = None, _level: int = 0) -> str:
    """Serialise a parsed value back to JSON, keeping number literals and repeated keys."""
    pad = "" if indent is None else "\n" + " " * (indent * (_level + 1))
    end = "" if indent is None else "\n" + " " * (indent * _level)
    sep = ", " if indent is None else ","
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (Obj, dict)):
        pairs = value if isinstance(value, Obj) else list(value.items())
        if not pairs:
            return "{}"
        inner = sep.join(
            f"{pad}{json.dumps(k)}: {dump_raw(v, indent, _level + 1)}" for k, v in pairs
        )
        return "{" + inner + end + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = sep.join(f"{pad}{dump_raw(v, indent, _level + 1)}" for v in value)
        return "[" + inner + end + "]"
    return json.dumps(str(value))


def to_plain(value: Any) -> Any:
    """A parsed value as plain Python data (last key wins; numbers as int/float)."""
    if isinstance(value, Number):
        text = str(value)
        try:
            return int(text)
        except ValueError:
            return float(text)
    if isinstance(value, Obj):
        return {k: to_plain(v) for k, v in value}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


# -- decoding into the Go types ------------------------------------------------


@dataclass(frozen=True)
class TypeError_:
    """One ``json: cannot unmarshal ...`` error, located by its JSON path."""

    kind: str  # what was written: "string", "number 0.5", "object", ...
    path: str  # where, with indexes: "process.user.uid", "mounts[2].options"
    go_struct: str  # Go's struct name in the message ("User")
    go_field: str  # Go's field path, no indexes ("process.user.uid")
    go_type: str  # "uint32"
    written: str  # the value as written, for messages

    @property
    def runc_words(self) -> str:
        if self.go_struct:
            return (
                f"json: cannot unmarshal {self.kind} into Go struct field"
                f" {self.go_struct}.{self.go_field} of type {self.go_type}"
            )
        return f"json: cannot unmarshal {self.kind} into Go value of type {self.go_type}"


@dataclass
class Decoded:
    """The config as runc sees it, the type errors, and what runc ignored."""

    config: Any = None
    errors: list[TypeError_] = field(default_factory=list)
    #: (path, what happened) for keys matched by case folding, repeats, unknown keys.
    ignored: list[tuple[str, str]] = field(default_factory=list)
    folded: list[tuple[str, str]] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)


def _fold(name: str) -> str:
    out = []
    for c in name:
        if c == "\u212a":
            out.append("k")
        elif c == "\u017f":
            out.append("s")
        elif "A" <= c <= "Z":
            out.append(chr(ord(c) + 32))
        else:
            out.append(c)
    return "".join(out)


def match_field(struct: Struct, key: str) -> str | None:
    """The canonical field name ``key`` decodes into, as Go picks it (rule 4)."""
    if key in struct.fields:
        return key
    folded = _fold(key)
    for name in struct.fields:
        if _fold(name) == folded:
            return name
    return None


def _kind_of(raw: Any) -> str:
    if isinstance(raw, Obj):
        return "object"
    if isinstance(raw, list):
        return "array"
    if isinstance(raw, bool):
        return "bool"
    if isinstance(raw, Number):
        return "number"
    if isinstance(raw, str):
        return "string"
    return "null"


class _Decoder:
    def __init__(self) -> None:
        self.out = Decoded()

    def error(self, kind: str, raw: Any, path: str, ctx: tuple[str, str], go_type: str) -> None:
        self.out.errors.append(TypeError_(kind, path, ctx[0], ctx[1], go_type, json_text(raw)))

    def decode(
        self, go: GoType, raw: Any, current: Any, path: str, ctx: tuple[str, str]
    ) -> tuple[Any, bool]:
        """(new value, whether it is set) of a field of type ``go`` after ``raw``."""
        if raw is None:
            if isinstance(go, (Ptr, Slice, Map, Any_)):
                return None, False  # set to nil
            return current, current is not None  # no effect
        if isinstance(go, Ptr):
            return self.decode(go.elem, raw, current, path, ctx)
        if isinstance(go, Any_):
            return to_plain(raw), True
        if isinstance(go, Struct):
            if not isinstance(raw, Obj):
                self.error(_kind_of(raw), raw, path, ctx, go.go_name)
                return current, current is not None
            target = dict(current) if isinstance(current, dict) else {}
            seen: set[str] = set()
            for key, value in raw:
                name = match_field(go, key)
                where = f"{path}.{key}" if path else key
                if name is None:
                    self.out.ignored.append((where, json_text(value)))
                    continue
                if name != key:
                    self.out.folded.append((where, f"{path}.{name}" if path else name))
                canonical = f"{path}.{name}" if path else name
                if name in seen:
                    self.out.repeated.append(canonical)
                seen.add(name)
                go_field = f"{ctx[1]}.{name}" if ctx[1] else name
                new, is_set = self.decode(
                    go.fields[name], value, target.get(name), canonical, (go.name, go_field)
                )
                if is_set:
                    target[name] = new
                else:
                    target.pop(name, None)
            return target, True
        if isinstance(go, Slice):
            if isinstance(raw, Obj) or not isinstance(raw, list):
                self.error(_kind_of(raw), raw, path, ctx, go.go_name)
                return current, current is not None
            items = []
            for index, value in enumerate(raw):
                item, is_set = self.decode(go.elem, value, None, f"{path}[{index}]", ctx)
                items.append(item if is_set else _zero(go.elem))
            return items, True
        if isinstance(go, Map):
            if not isinstance(raw, Obj):
                self.error(_kind_of(raw), raw, path, ctx, go.go_name)
                return current, current is not None
            target = dict(current) if isinstance(current, dict) else {}
            for key, value in raw:
                new, is_set = self.decode(
                    go.value, value, target.get(key), f"{path}[{json.dumps(key)}]", ctx
                )
                target[key] = new if is_set else _zero(go.value)
            return target, True
        return self.literal(go, raw, current, path, ctx)

    def literal(
        self, go: GoType, raw: Any, current: Any, path: str, ctx: tuple[str, str]
    ) -> tuple[Any, bool]:
        if isinstance(go, String):
            if isinstance(raw, str) and not isinstance(raw, Number):
                return raw, True
        elif isinstance(go, Bool):
            if isinstance(raw, bool):
                return raw, True
        elif isinstance(go, (Int, Float)) and isinstance(raw, Number):
            number = _number_for(go, str(raw))
            if number is None:
                self.error(f"number {raw}", raw, path, ctx, go.go_name)
                return current, current is not None
            return number, True
        name = "pointer" if isinstance(go, Ptr) else go.go_name  # (Ptr is unwrapped above)
        self.error(_kind_of(raw), raw, path, ctx, name)
        return current, current is not None


def _zero(go: GoType) -> Any:
    if isinstance(go, String):
        return ""
    if isinstance(go, Bool):
        return False
    if isinstance(go, (Int, Float)):
        return 0
    if isinstance(go, Struct):
        return {}
    return None


def _number_for(go: Int | Float, literal: str) -> int | float | None:
    """Go's strconv on ``literal`` for the field's kind: the value, or None if refused."""
    if isinstance(go, Float):
        try:
            value = float(literal)
        except ValueError:
            return None
        limit = 3.4028234663852886e38 if go.bits == 32 else 1.7976931348623157e308
        return value if abs(value) <= limit else None
    # ParseInt/ParseUint(s, 10, 64): decimal digits with an optional '-' (signed only)
    digits = literal[1:] if literal.startswith("-") and go.signed else literal
    if not digits.isdigit() or not digits.isascii():
        return None
    value = int(literal)
    if go.signed:
        low, high = -(1 << (go.bits - 1)), (1 << (go.bits - 1)) - 1
    else:
        low, high = 0, (1 << go.bits) - 1
    return value if low <= value <= high else None


def decode_config(raw: Any) -> Decoded:
    """Decode the first JSON value of config.json into ``specs.Spec`` as Go does."""
    decoder = _Decoder()
    if raw is None:
        decoder.out.config = None
        return decoder.out
    config, _ = decoder.decode(SPEC, raw, None, "", ("", ""))
    decoder.out.config = config if isinstance(raw, Obj) else None
    return decoder.out


__all__ = [
    "Decoded",
    "Number",
    "Obj",
    "SyntaxProblem",
    "TypeError_",
    "decode_config",
    "dump_raw",
    "json_text",
    "match_field",
    "parse_first_value",
    "to_plain",
]
