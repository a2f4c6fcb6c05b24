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

9. **At most 10000 levels deep.** Go's scanner refuses a value nested
   deeper (``exceeded max depth``), wherever it is, even under an unknown key.

Parsing and every walk over parsed values here are iterative (explicit
stacks, no recursion): a value nested 10000 deep costs a list, not the
Python stack, and its text is cut off as soon as a message has enough.

:func:`decode_config` returns the decoded config as Python data (only the
fields that were set, under their canonical names), every type error with
runc's own words, and notes on what runc silently ignores (trailing data,
unknown keys, keys matched by case folding, repeated keys).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Union, cast

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
#: encoding/json's scanner refuses a value nested deeper than this
#: (``maxNestingDepth``; runc 1.1.5 measured: 10000 levels run, 10001 are
#: refused with "invalid character '{' exceeded max depth").
MAX_NESTING_DEPTH = 10_000
#: The check's own bound on how many JSON values it holds in memory (runc has
#: none): about 60 bytes each, so at most ~250 MB for the worst-shaped file.
MAX_VALUES = 4_000_000

_WS = re.compile(r"[ \t\r\n]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
#: The C string scanner of the json module (not in its type stubs): fast, iterative.
_SCANSTRING: Any = getattr(json.decoder, "scanstring")  # noqa: B009
_LITERALS = {"t": ("true", True), "f": ("false", False), "n": ("null", None)}


class Number(str):
    """A JSON number as written: Go converts the literal itself, per field."""

    __slots__ = ()


class Obj(list):  # type: ignore[type-arg]
    """A JSON object as written: its (key, value) pairs in order, repeats kept."""

    __slots__ = ()


Raw = Union[None, bool, str, Number, Obj, list]  # type: ignore[type-arg]


class SyntaxProblem(Exception):
    """The first JSON value is not valid JSON (runc: a Go syntax error)."""

    def __init__(self, message: str, line: int, column: int, code: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        #: "" for a plain syntax error; "too-deep" or "too-many-values" for a limit.
        self.code = code


def _quote_char(char: str) -> str:
    """A character as Go's scanner quotes it in an error: 'x', '\\n', '\\''."""
    if "\udc80" <= char <= "\udcff":
        char = chr(ord(char) - 0xDC00)  # a byte that is not UTF-8: Go quotes it as that rune
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    return "'" + json.dumps(char, ensure_ascii=False)[1:-1] + "'"


class _Parser:
    """One JSON value read iteratively, as Go's scanner reads it (no recursion:
    a 10000-deep value costs a list of 10000 frames, not a Python stack)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.values = 0

    def fail(self, pos: int, message: str, code: str = "") -> SyntaxProblem:
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return SyntaxProblem(message, line, column, code)

    def unexpected(self, pos: int, context: str) -> SyntaxProblem:
        if pos >= len(self.text):
            # Go's Decoder: the input ended inside the value.
            return self.fail(pos, "unexpected EOF (the file ends inside the JSON value)")
        return self.fail(pos, f"invalid character {_quote_char(self.text[pos])} {context}")

    def skip(self, pos: int) -> int:
        match = _WS.match(self.text, pos)
        return match.end() if match else pos

    def count(self, pos: int) -> None:
        self.values += 1
        if self.values > MAX_VALUES:
            raise self.fail(
                pos,
                f"more than {MAX_VALUES} JSON values: past the check's memory bound",
                "too-many-values",
            )

    def string(self, pos: int) -> tuple[str, int]:
        """The string starting at the quote at ``pos``, and the position after it."""
        try:
            value, end = _SCANSTRING(self.text, pos + 1, True)
        except json.JSONDecodeError as exc:
            if exc.pos >= len(self.text) or exc.msg.startswith("Unterminated"):
                raise self.unexpected(len(self.text), "") from None
            # Python points at the backslash of a bad escape, Go at the character after it.
            at = exc.pos + 1 if "escape" in exc.msg else exc.pos
            if at >= len(self.text):
                raise self.unexpected(at, "") from None
            where = "in string escape code" if "escape" in exc.msg else "in string literal"
            raise self.fail(at, f"invalid character {_quote_char(self.text[at])} {where}") from None
        return _replace_surrogates(value), end

    def scalar(self, pos: int) -> tuple[Any, int]:
        """A string, number or literal at ``pos`` (``pos`` is not whitespace)."""
        char = self.text[pos] if pos < len(self.text) else ""
        if char == '"':
            return self.string(pos)
        if char in _LITERALS:
            word, value = _LITERALS[char]
            if self.text.startswith(word, pos):
                return value, pos + len(word)
            for index, expected in enumerate(word):
                here = pos + index
                if here >= len(self.text) or self.text[here] != expected:
                    raise self.unexpected(
                        here, f"in literal {word} (expecting {_quote_char(expected)})"
                    )
        match = _NUMBER.match(self.text, pos)
        if match and char and char in "-0123456789":
            return Number(match.group()), match.end()
        if char == "-":
            raise self.unexpected(pos + 1, "in numeric literal")
        raise self.unexpected(pos, "looking for beginning of value")

    def value(self, pos: int) -> tuple[Any, int]:
        """The value starting at ``pos`` (after whitespace) and the position after it."""
        # Each frame: [container, key of the pending member or None].
        stack: list[list[Any]] = []
        while True:
            pos = self.skip(pos)
            char = self.text[pos] if pos < len(self.text) else ""
            self.count(pos)
            if char and char in "{[":
                if len(stack) + 1 > MAX_NESTING_DEPTH:
                    raise self.fail(
                        pos, f"invalid character {_quote_char(char)} exceeded max depth", "too-deep"
                    )
                container: Any = Obj() if char == "{" else []
                pos = self.skip(pos + 1)
                closing = "}" if char == "{" else "]"
                if self.text.startswith(closing, pos):
                    value: Any = container
                    pos += 1
                else:
                    stack.append([container, None])
                    if char == "{":
                        pos = self.key(stack[-1], pos)
                    continue
            else:
                value, pos = self.scalar(pos)
            # A value is complete: attach it to its container, then close what ends here.
            while True:
                if not stack:
                    return value, pos
                frame = stack[-1]
                if isinstance(frame[0], Obj):
                    frame[0].append((frame[1], value))
                    context = "after object key:value pair"
                else:
                    frame[0].append(value)
                    context = "after array element"
                pos = self.skip(pos)
                char = self.text[pos] if pos < len(self.text) else ""
                if char == ",":
                    pos += 1
                    if isinstance(frame[0], Obj):
                        pos = self.key(frame, pos)
                    break
                if char == ("}" if isinstance(frame[0], Obj) else "]"):
                    value = stack.pop()[0]
                    pos += 1
                    continue
                raise self.unexpected(pos, context)

    def key(self, frame: list[Any], pos: int) -> int:
        """Read ``"key":`` into ``frame``; the position of the member's value."""
        pos = self.skip(pos)
        if not self.text.startswith('"', pos):
            raise self.unexpected(pos, "looking for beginning of object key string")
        frame[1], pos = self.string(pos)
        pos = self.skip(pos)
        if not self.text.startswith(":", pos):
            raise self.unexpected(pos, "after object key")
        return pos + 1


def parse_first_value(data: bytes) -> tuple[Raw, bytes]:
    """The first JSON value of ``data`` (as written) and the bytes after it.

    Raises SyntaxProblem as Go's decoder would refuse it (rules 1-3, and
    Go's nesting limit), or when the check's own memory bound is passed.
    Iterative: no input makes it recurse.
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
    value, end = _Parser(text).value(start)
    rest = text[end:].encode("utf-8", errors="surrogateescape")
    return value, rest


def _replace_surrogates(value: str) -> str:
    """Invalid UTF-8 (and lone surrogate escapes) read as U+FFFD, as in Go (rule 3)."""
    if not any("\ud800" <= c <= "\udfff" for c in value):
        return value
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)


def json_text(value: Any, limit: int = 80) -> str:
    """``value`` as the user wrote it in JSON (numbers keep their literal), shortened.

    Stops serialising at ``limit``: a 10000-deep value costs no more than a short one.
    """
    out: list[str] = []
    size = 0
    for chunk in _chunks(value, None):
        out.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dump_raw(value: Any, indent: int | None = None) -> str:
    """Serialise a parsed or decoded value to JSON, keeping number literals and repeated
    keys (an Obj), iteratively."""
    return "".join(_chunks(value, indent))


def _scalar_text(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    return json.dumps(str(value))


def _chunks(value: Any, indent: int | None) -> Iterator[str]:
    """The JSON text of ``value`` in pieces, from an explicit stack (no recursion)."""
    sep = ", " if indent is None else ","
    # Each frame: (iterator over the container's members, is an object, level).
    stack: list[tuple[Iterator[Any], bool, int]] = []
    first = True
    pending: Any = value
    have_pending = True
    while True:
        if have_pending:
            have_pending = False
            if isinstance(pending, (Obj, dict)):
                pairs = pending if isinstance(pending, Obj) else list(pending.items())
                if not pairs:
                    yield "{}"
                else:
                    yield "{"
                    stack.append((iter(pairs), True, len(stack) + 1))
                    first = True
            elif isinstance(pending, list):
                if not pending:
                    yield "[]"
                else:
                    yield "["
                    stack.append((iter(pending), False, len(stack) + 1))
                    first = True
            else:
                yield _scalar_text(pending)
        if not stack:
            return
        members, is_object, level = stack[-1]
        member = next(members, _END)
        pad = "" if indent is None else "\n" + " " * (indent * level)
        if member is _END:
            stack.pop()
            yield ("" if indent is None else "\n" + " " * (indent * (level - 1))) + (
                "}" if is_object else "]"
            )
            first = False
            continue
        yield ("" if first else sep) + pad
        first = False
        if is_object:
            key, pending = cast(tuple[str, Any], member)
            yield json.dumps(key) + ": "
        else:
            pending = member
        have_pending = True


_END = object()


def to_plain(value: Any) -> Any:
    """A parsed value as plain Python data (last key wins; numbers as int/float),
    iteratively. A number Python cannot hold exactly stays a Number literal."""
    root: list[Any] = [None]
    # Each task: (raw value, container to put the result in, key or index there).
    tasks: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while tasks:
        raw, target, slot = tasks.pop()
        if isinstance(raw, Number):
            result: Any = _plain_number(raw)
        elif isinstance(raw, Obj):
            result = {}
            for key, item in raw:
                result[key] = None
                tasks.append((item, result, key))
        elif isinstance(raw, list):
            result = [None] * len(raw)
            tasks += [(item, result, index) for index, item in enumerate(raw)]
        else:
            result = raw
        target[slot] = result
    return root[0]


def _plain_number(literal: Number) -> Any:
    text = str(literal)
    if len(text) > 300:
        return literal  # beyond what int()/float() convert faithfully
    try:
        return int(text)
    except ValueError:
        number = float(text)
        return number if abs(number) != float("inf") else literal


def deep_copy(value: Any) -> Any:
    """A copy of plain JSON-like data (dicts, lists, scalars), iteratively."""
    root: list[Any] = [None]
    tasks: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while tasks:
        item, target, slot = tasks.pop()
        if isinstance(item, dict):
            copied: Any = {}
            for key, sub in item.items():
                copied[key] = None
                tasks.append((sub, copied, key))
        elif isinstance(item, list) and not isinstance(item, Obj):
            copied = [None] * len(item)
            tasks += [(sub, copied, index) for index, sub in enumerate(item)]
        else:
            copied = item
        target[slot] = copied
    return root[0]


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
    if len(digits) > 20:
        return None  # beyond 64 bits (and past Python's int() digit limit)
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
