"""The input inventory: every flag runc takes and every field of config.json and state.

An *input* is something a runtime can ignore or apply wrongly:

- a command-line option, named ``<command> <long flag>`` (``exec --cap``) or,
  for the options before the command, the flag alone (``--root``);
- a field of config.json, ``config:<path>`` (``config:linux.resources.memory.limit``);
- a field of the state document, ``state:<path>`` (``state:pid``).

The universe comes from the sources (``inputsources``: ``runc-flags.json``
from the runtimes' ``--help``, ``spec-fields.json`` from the spec's schemas).
Which checks fail when an input is ignored comes from two places: the
``@pytest.mark.oci_inputs(...)`` markers of conformance checks (indexed in
``input-coverage.json``, kept fresh like ``coverage.json``), and
``inputs.json``, written by hand, which maps inputs to existing checks that
do not carry the marker and gives the reason where no check can observe an
input (``--debug``: output only). An input with neither is a *gap*.

In ``inputs.json`` a key ending in ``*`` covers every input it starts
(``config:windows.*``); any other key names exactly one input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
FLAGS_FILE = HERE / "runc-flags.json"
FIELDS_FILE = HERE / "spec-fields.json"
MAP_FILE = HERE / "inputs.json"
INPUT_COVERAGE_FILE = HERE / "input-coverage.json"
KINDS = ("flag", "config", "state")
STATES = ("checked", "reason", "gap")


class InventoryError(ValueError):
    """The shipped inventory files disagree (a bug in the package, not in user input)."""


@dataclass(frozen=True)
class Input:
    """One input and what covers it."""

    id: str
    kind: str  # flag, config, state
    runtimes: tuple[str, ...] = ()  # for flags: the runtime releases that list it
    aliases: tuple[str, ...] = ()  # for flags: short forms (-e)
    checks: tuple[str, ...] = ()  # node ids of the checks that fail when it is ignored
    reason: str = ""  # why no check can observe it

    @property
    def state(self) -> str:
        if self.checks:
            return "checked"
        return "reason" if self.reason else "gap"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "runtimes": list(self.runtimes),
            "aliases": list(self.aliases),
            "checks": list(self.checks),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Inventory:
    """Every input, in source order, with the hand-written map it was built from."""

    inputs: Mapping[str, Input] = field(default_factory=dict)
    declared: Mapping[str, Any] = field(default_factory=dict)

    def __contains__(self, input_id: object) -> bool:
        return input_id in self.inputs

    def __iter__(self) -> Any:
        return iter(self.inputs.values())

    def unknown(self, ids: Iterable[str]) -> list[str]:
        return [input_id for input_id in ids if input_id not in self.inputs]


def flag_id(command: str, flag: str) -> str:
    """``exec --cap``; a global option is its flag alone (``--root``)."""
    return flag if command == "global" else f"{command} {flag}"


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def universe(
    flags: Mapping[str, Mapping[str, list[dict[str, Any]]]], fields: Mapping[str, list[str]]
) -> list[Input]:
    """Every input of the sources, without checks: flags first (by command), then fields."""
    seen: dict[str, Input] = {}
    for release, commands in flags.items():
        for command, options in commands.items():
            for option in options:
                key = flag_id(command, option["flag"])
                old = seen.get(key)
                aliases = tuple(sorted({*(old.aliases if old else ()), *option["aliases"]}))
                runtimes = (*(old.runtimes if old else ()), release)
                seen[key] = Input(key, "flag", runtimes=runtimes, aliases=aliases)
    for document in ("config", "state"):
        for path in fields.get(document, []):
            seen[f"{document}:{path}"] = Input(f"{document}:{path}", document)
    return list(seen.values())


def matches(pattern: str, input_id: str) -> bool:
    """A key of ``inputs.json`` ending in ``*`` covers the inputs it starts; others one."""
    if pattern.endswith("*"):
        return input_id.startswith(pattern[:-1])
    return input_id == pattern


def build(
    inputs: list[Input], declared: Mapping[str, Any], markers: Mapping[str, list[str]]
) -> Inventory:
    """The inventory: ``inputs`` with their checks (markers, then declared) and reasons.

    ``declared`` is ``inputs.json``: ``{"checks": {pattern: [node, ...]},
    "reasons": {pattern: reason}}``; ``markers`` the index of ``oci_inputs``.
    """
    built: dict[str, Input] = {}
    checks_map: Mapping[str, list[str]] = declared.get("checks", {})
    reasons: Mapping[str, str] = declared.get("reasons", {})
    for item in inputs:
        nodes = list(markers.get(item.id, []))
        for pattern, declared_nodes in checks_map.items():
            if matches(pattern, item.id):
                nodes += [node for node in declared_nodes if node not in nodes]
        reason = next((text for pattern, text in reasons.items() if matches(pattern, item.id)), "")
        built[item.id] = Input(
            item.id,
            item.kind,
            runtimes=item.runtimes,
            aliases=item.aliases,
            checks=tuple(sorted(nodes)),
            reason=reason,
        )
    return Inventory(built, declared)


def problems(
    inventory: Inventory,
    markers: Mapping[str, list[str]],
    collected: Iterable[str] | None = None,
) -> list[str]:
    """What in the hand-written map or the marker index names nothing: each a sentence.

    With ``collected`` (the suite's node ids), a declared check must be one of
    them, or a function whose parametrized items are (``...::test_x`` for
    ``...::test_x[a]``).
    """
    found = []
    if collected is not None:
        nodes = set(collected)
        functions = {node.split("[", 1)[0] for node in nodes}
        for pattern, declared_nodes in inventory.declared.get("checks", {}).items():
            for node in declared_nodes:
                if node not in nodes and node not in functions:
                    found.append(f"inputs.json checks: {pattern!r} names {node}, not a check")
    ids = list(inventory.inputs)
    for section in ("checks", "reasons"):
        for pattern in inventory.declared.get(section, {}):
            if not any(matches(pattern, input_id) for input_id in ids):
                found.append(f"inputs.json {section}: {pattern!r} names no input of the inventory")
    for input_id in inventory.unknown(markers):
        found.append(f"oci_inputs marker names {input_id!r}, which is not an input")
    return found


def load_input_coverage(path: Path = INPUT_COVERAGE_FILE) -> dict[str, list[str]]:
    """input id -> conformance node ids whose ``oci_inputs`` marker names it."""
    if not path.exists():
        return {}
    data: dict[str, list[str]] = _read(path)
    return data


def load_inventory(markers: Mapping[str, list[str]] | None = None) -> Inventory:
    """The shipped inventory; ``markers`` replaces the shipped marker index."""
    for path in (FLAGS_FILE, FIELDS_FILE, MAP_FILE):
        if not path.exists():
            raise InventoryError(f"{path.name} is missing from the package")
    inputs = universe(_read(FLAGS_FILE)["runtimes"], _read(FIELDS_FILE)["fields"])
    index = load_input_coverage() if markers is None else markers
    return build(inputs, _read(MAP_FILE), index)


@lru_cache(maxsize=1)
def input_ids() -> frozenset[str]:
    """Every input id of the shipped sources (what an ``oci_inputs`` marker may name)."""
    return frozenset(
        item.id for item in universe(_read(FLAGS_FILE)["runtimes"], _read(FIELDS_FILE)["fields"])
    )


def summarize(inventory: Inventory) -> dict[str, Any]:
    """The JSON document of ``rules --inputs --json``."""
    totals: dict[str, dict[str, int]] = {kind: dict.fromkeys(STATES, 0) for kind in KINDS}
    for item in inventory:
        totals[item.kind][item.state] += 1
    return {
        "totals": totals,
        "gaps": [item.id for item in inventory if item.state == "gap"],
        "inputs": [item.to_json() for item in inventory],
    }


def render_text(summary: dict[str, Any], gaps_only: bool = False) -> str:
    """One line per input (or per gap), grouped by kind, with the totals."""
    lines = ["Inputs of runc and of the spec's documents, and the checks that fail when one is"
             " ignored", ""]  # fmt: skip
    header = f"{'kind':<8}{'inputs':>8}{'checked':>9}{'reason':>8}{'gaps':>6}"
    lines += [header, "-" * len(header)]
    for kind, counts in summary["totals"].items():
        lines.append(
            f"{kind:<8}{sum(counts.values()):>8}{counts['checked']:>9}{counts['reason']:>8}"
            f"{counts['gap']:>6}"
        )
    shown = [i for i in summary["inputs"] if not gaps_only or i["state"] == "gap"]
    for kind in KINDS:
        of_kind = [i for i in shown if i["kind"] == kind]
        if not of_kind:
            continue
        lines += ["", f"{kind} inputs" + (" without a check or a reason:" if gaps_only else ":")]
        for item in of_kind:
            lines.append(f"  {item['id']}{_runtimes(item)}: {_detail(item)}")
    return "\n".join(lines) + "\n"


def _runtimes(item: dict[str, Any]) -> str:
    return f" [{', '.join(item['runtimes'])}]" if item["runtimes"] else ""


def _detail(item: dict[str, Any]) -> str:
    if item["state"] == "checked":
        return ", ".join(item["checks"])
    if item["state"] == "reason":
        return f"no check: {item['reason']}"
    return "GAP (no check, no reason)"
