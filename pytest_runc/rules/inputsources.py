"""Where the input inventory's universe comes from: runc's ``--help`` and the spec's schemas.

Two extractions, each rewriting one shipped file:

- ``flags_of(binary)`` runs ``BINARY --help`` and ``BINARY <command> --help``
  for every command the first lists, and returns each command's options (the
  long name, its short aliases, whether it takes a value). ``runc-flags.json``
  holds them per runtime release.
- ``fields_of(spec_schemas)`` walks the spec's ``config-schema.json`` and
  ``state-schema.json`` (with their ``$ref`` into the other schema files) to
  field paths: ``process.capabilities.bounding``, ``mounts[].options``,
  ``linux.resources.rdma.*.hcaHandles`` (``[]`` an array's items, ``*`` a map's
  values). ``spec-fields.json`` holds them.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pytest_runc.rules import SPEC_VERSION
from pytest_runc.rules.inputs import FIELDS_FILE, FLAGS_FILE

#: Options every command has and that change nothing but the help output.
HELP_ONLY = frozenset({"--help", "--version"})

_SECTION = re.compile(r"^([A-Z][A-Z ]*):\s*$")
# "   --env value, -e value   set ..." / "   --tty, -t   allocate ..." / "   exec   execute ..."
_OPTION = re.compile(r"^\s+(-{1,2}[A-Za-z0-9][^\s,]*(?: value)?(?:, -{1,2}[^\s,]+(?: value)?)*)")
_COMMAND = re.compile(r"^\s+([a-z][a-z0-9-]*)(?:, [a-z]+)?\s{2,}\S")


class SourceError(RuntimeError):
    """A source of the inventory cannot be read (a binary that will not run, a missing schema)."""


def _help(binary: str, *command: str) -> str:
    try:
        done = subprocess.run(
            [binary, *command, "--help"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise SourceError(f"cannot run {binary}: {exc}") from None
    if done.returncode != 0:
        raise SourceError(
            f"`{binary} {' '.join(command)} --help` exited {done.returncode}: {done.stderr.strip()}"
        )
    return done.stdout


def _sections(text: str) -> dict[str, list[str]]:
    """The lines under each upper-case heading of urfave/cli's help text."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        heading = _SECTION.match(line)
        if heading:
            current = found.setdefault(heading.group(1), [])
        elif current is not None:
            # a section ends only at the next heading: `update`'s OPTIONS has
            # unindented prose between its options
            current.append(line)
    return found


def parse_options(lines: list[str]) -> list[dict[str, Any]]:
    """Options of one OPTIONS block: ``{"flag": "--env", "aliases": ["-e"], "value": true}``.

    The long name is the first ``--name`` written; a flag that has only a short
    form (``-d``) keeps it as its name.
    """
    options = []
    for line in lines:
        match = _OPTION.match(line)
        if not match:
            continue  # a description continued on the next line
        names = [part.strip() for part in match.group(1).split(",")]
        takes_value = any(name.endswith(" value") for name in names)
        bare = [name.removesuffix(" value") for name in names]
        long = next((name for name in bare if name.startswith("--")), bare[0])
        options.append(
            {"flag": long, "aliases": [n for n in bare if n != long], "value": takes_value}
        )
    return options


def flags_of(binary: str) -> dict[str, list[dict[str, Any]]]:
    """command -> its options, for every command ``binary --help`` lists; ``global``
    for the options before the command. ``--help``/``--version`` are left out."""
    top = _sections(_help(binary))
    commands = []
    for line in top.get("COMMANDS", []):
        match = _COMMAND.match(line)
        if match and match.group(1) != "help":
            commands.append(match.group(1))
    if not commands:
        raise SourceError(f"`{binary} --help` lists no commands: is it runc?")
    result = {"global": _keep(parse_options(top.get("GLOBAL OPTIONS", [])))}
    for command in commands:
        result[command] = _keep(parse_options(_sections(_help(binary, command)).get("OPTIONS", [])))
    return result


def _keep(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [option for option in options if option["flag"] not in HELP_ONLY]


def release_of(binary: str) -> str:
    """The runtime's label (``runc-1.1.5``), as a multi-runtime run names it."""
    from pytest_runc.oci.identity import label_of

    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise SourceError(f"cannot run {binary}: {exc}") from None
    if done.returncode != 0:
        raise SourceError(f"`{binary} --version` exited {done.returncode}: {done.stderr.strip()}")
    return label_of(done.stdout, binary)


# -- the spec's schemas -------------------------------------------------------


def read_schemas(source: Path) -> dict[str, dict[str, Any]]:
    """The spec's schema files, by name, from a directory of them or a runtime-spec
    git directory (at tag ``v<SPEC_VERSION>``)."""
    if (source / "config-schema.json").is_file():
        return {path.name: json.loads(path.read_text()) for path in source.glob("*.json")}
    tag = f"v{SPEC_VERSION}"
    listed = _git(source, "ls-tree", "--name-only", f"{tag}:schema")
    names = [name for name in listed.split() if name.endswith(".json")]
    if "config-schema.json" not in names:
        raise SourceError(f"{source}: no schema/config-schema.json at tag {tag}")
    return {name: json.loads(_git(source, "show", f"{tag}:schema/{name}")) for name in names}


def _git(directory: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", f"--git-dir={directory}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError as exc:
        raise SourceError(f"cannot run git: {exc}") from None
    if done.returncode != 0:
        raise SourceError(
            f"{directory} is neither a directory of the spec's schema/*.json nor a"
            f" runtime-spec git directory with tag v{SPEC_VERSION}: {done.stderr.strip()}"
        )
    return done.stdout


def _resolver(files: Mapping[str, dict[str, Any]]) -> Callable[[str, str], tuple[Any, str]]:
    def resolve(ref: str, here: str) -> tuple[Any, str]:
        name, _, pointer = ref.partition("#")
        name = name or here
        node: Any = files[name]
        for part in [p for p in pointer.split("/") if p]:
            node = node[part]
        return node, name

    return resolve


def walk_schema(
    schema: dict[str, Any], files: Mapping[str, dict[str, Any]], here: str
) -> list[str]:
    """Every leaf field path of ``schema``: an object's properties joined with
    ``.``, ``[]`` after an array, ``*`` for a map's values."""
    resolve = _resolver(files)
    found: set[str] = set()

    def visit(node: Any, file: str, path: str, seen: frozenset[str]) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            key = f"{file}{node['$ref']}" if node["$ref"].startswith("#") else node["$ref"]
            if key in seen:  # a recursive definition: stop at the first repeat
                found.add(path)
                return
            target, where = resolve(node["$ref"], file)
            visit(target, where, path, seen | {key})
            return
        branches = [b for key in ("allOf", "anyOf", "oneOf") for b in node.get(key, [])]
        inner = False
        for branch in branches:
            before = len(found)
            visit(branch, file, path, seen)
            inner = inner or len(found) > before
        for name, sub in node.get("properties", {}).items():
            visit(sub, file, f"{path}.{name}" if path else name, seen)
            inner = True
        maps = [*node.get("patternProperties", {}).values()]
        if isinstance(node.get("additionalProperties"), dict):
            maps.append(node["additionalProperties"])
        for sub in maps:
            if _has_fields(sub, resolve, file):
                visit(sub, file, f"{path}.*", seen)
                inner = True
        items = node.get("items")
        if isinstance(items, dict) and _has_fields(items, resolve, file):
            visit(items, file, f"{path}[]", seen)
            inner = True
        if not inner and path:
            found.add(path)

    visit(schema, here, "", frozenset())
    return sorted(found)


def _has_fields(node: Any, resolve: Callable[[str, str], tuple[Any, str]], file: str) -> bool:
    """Whether ``node`` (after ``$ref``) is an object with named fields."""
    for _ in range(20):
        if not isinstance(node, dict) or "$ref" not in node:
            break
        node, file = resolve(node["$ref"], file)
    if not isinstance(node, dict):
        return False
    if node.get("properties"):
        return True
    return any(
        _has_fields(b, resolve, file)
        for key in ("allOf", "anyOf", "oneOf")
        for b in node.get(key, [])
    )


def fields_of(files: Mapping[str, dict[str, Any]]) -> dict[str, list[str]]:
    """``{"config": [...], "state": [...]}``: the field paths of the two documents."""
    return {
        "config": walk_schema(files["config-schema.json"], files, "config-schema.json"),
        "state": walk_schema(files["state-schema.json"], files, "state-schema.json"),
    }


def _write(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def refresh_flags(binaries: list[str], path: Path = FLAGS_FILE) -> dict[str, Any]:
    """Rewrite ``runc-flags.json`` with the options of exactly these runtimes."""
    document = {
        "source": "each runtime's `--help` and `<command> --help`",
        "runtimes": {release_of(binary): flags_of(binary) for binary in binaries},
    }
    _write(path, document)
    return document


def refresh_fields(source: Path, path: Path = FIELDS_FILE) -> dict[str, Any]:
    """Rewrite ``spec-fields.json`` from the spec's schemas in ``source``."""
    document = {
        "source": f"runtime-spec v{SPEC_VERSION} schema/config-schema.json and state-schema.json",
        "spec_version": SPEC_VERSION,
        "fields": fields_of(read_schemas(source)),
    }
    _write(path, document)
    return document
