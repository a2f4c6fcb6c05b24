"""Inner runs with several labelled runtimes, and what their JUnit XML says.

Used as a plugin of the inner run (``-p tests.labelled_runs``): every item
gets its runtime's label (``--runc-binary LABEL=PATH``) and its node id as
one runtime names it as JUnit properties (``runtime_label``,
``base_nodeid``), so that nobody has to take a test id apart. With
``PYTEST_RUNC_PROOF_PLAN`` (a JSON file: label -> node ids, or null for all of
that label's) only the planned items run: the fault proofs keep the checks
each fault names, the tolerance proofs the checks that call a command the
variant changes.

:func:`read_junit` reads the outcomes back, by (label, node id).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_runc.sessions.runtimes import base_nodeid, label_of_item
from pytest_runc.suite import logical_nodeid

PLAN_VARIABLE = "PYTEST_RUNC_PROOF_PLAN"
#: The name of the item a runtime that cannot run `true` fails (plugin.py).
GATE_PREFIX = "runtime works: "
#: The fixtures that hand a check the runtime's ``features`` document.
FEATURES_FIXTURES = frozenset({"runc_runtime_features", "runtime_features"})


@dataclass(frozen=True)
class Outcome:
    """What one check did against one runtime: ``failed``, ``passed``, ``skipped``,
    ``error``, ``beyond-level`` (failed beyond the runtime's claimed spec level)
    or ``not run``; its message and report text."""

    outcome: str
    message: str = ""
    detail: str = ""
    #: The check asked for the runtime's ``features`` (a fixture the session
    #: answers once, so the check need not call the command itself).
    reads_features: bool = False
    #: A check of runc's CLI conventions (``runc_cli``), not of the spec.
    runc_cli: bool = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    planned = os.environ.get(PLAN_VARIABLE)
    plan: dict[str, list[str] | None] = (
        json.loads(Path(planned).read_text(encoding="utf-8")) if planned else {}
    )
    everything = {label for label, nodes in plan.items() if nodes is None}
    wanted = {(label, node) for label, nodes in plan.items() for node in nodes or ()}
    # With one runtime nothing is parametrized: every item is that runtime's.
    only = next(iter(plan)) if len(plan) == 1 else None
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        label = label_of_item(item) or only
        node = logical_nodeid(base_nodeid(item), item.config.rootpath)
        if plan and label not in everything and (label, node) not in wanted:
            dropped.append(item)
            continue
        if label is not None:
            item.user_properties += [("runtime_label", label), ("base_nodeid", node)]
            if FEATURES_FIXTURES & set(getattr(item, "fixturenames", ())):
                item.user_properties.append(("reads_features", "1"))
            if item.get_closest_marker("runc_cli"):
                item.user_properties.append(("runc_cli", "1"))
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def read_junit(path: Path) -> tuple[dict[tuple[str, str], Outcome], dict[str, str]]:
    """(label, node id) -> outcome, and the binary -> message of each failed runtime check."""
    found: dict[tuple[str, str], Outcome] = {}
    gates: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        properties: dict[str, str] = {}
        for prop in case.iter("property"):
            properties.setdefault(prop.get("name", ""), prop.get("value", ""))
        failure, error, skipped = case.find("failure"), case.find("error"), case.find("skipped")
        label, node = properties.get("runtime_label"), properties.get("base_nodeid")
        if label is None or node is None:
            name = case.get("name", "")
            shown = failure if failure is not None else error
            if name.startswith(GATE_PREFIX) and shown is not None:
                gates[name.removeprefix(GATE_PREFIX)] = shown.get("message", "")
            continue
        kind = {
            "reads_features": "reads_features" in properties,
            "runc_cli": "runc_cli" in properties,
        }
        if "oci_failed_beyond_level" in properties:
            # Recorded as a pass unless the run gates on it.
            found[label, node] = Outcome(
                "beyond-level", properties["oci_failed_beyond_level"], "", **kind
            )
        elif failure is not None:
            found[label, node] = Outcome(
                "failed", failure.get("message", ""), failure.text or "", **kind
            )
        elif error is not None:
            found[label, node] = Outcome(
                "error", error.get("message", ""), error.text or "", **kind
            )
        elif skipped is not None:
            found[label, node] = Outcome("skipped", skipped.get("message", ""), "", **kind)
        else:
            found[label, node] = Outcome("passed", **kind)
    return found, gates
