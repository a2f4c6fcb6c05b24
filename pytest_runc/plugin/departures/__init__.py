"""Declared departures: where a runtime knowingly differs from the OCI runtime spec.

One JSON file per runtime line in this directory (``runc-1.1.json``), matched
by the runtime's ``--version`` output: its ``runtime`` name and one of its
``versions`` prefixes (``"1.1"`` matches runc 1.1.0 to 1.1.15). Each entry
names a spec rule id, the reason, a link and the evidence (the checks that
show it on that runtime, measured). The evidence checks run as strict xfail
with a ``departure:`` reason: they are expected to fail, and a runtime that
fixes the departure turns the run red (XPASS(strict)) until the file is
updated. Other checks of the same rule still have to pass.

Spec rules are declared for any runtime; runc's CLI conventions
(``runc-cli.*``) only in runc's own files, for a runc release that predates
one — another runtime that differs from them departs from nothing.
``PYTEST_RUNC_DEPARTURES=none`` turns all of this off.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.oci import skips
from pytest_runc.oci.identity import identify

DEPARTURES_DIR = Path(__file__).parent
FILE_VERSION = 1
DISABLE_ENV = "PYTEST_RUNC_DEPARTURES"


class DeparturesError(ValueError):
    """A departures file is malformed (a bug in the package, not in user input)."""


@dataclass(frozen=True)
class Departure:
    """One declared departure of one runtime line."""

    rule: str
    reason: str
    link: str
    evidence: tuple[str, ...]

    def xfail_reason(self) -> str:
        return skips.reason(skips.DEPARTURE, f"{self.rule}: {self.reason} ({self.link})")

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "reason": self.reason,
            "link": self.link,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class DepartureFile:
    """A file of departures: which runtime versions it is for, and the entries."""

    path: Path
    runtime: str
    versions: tuple[str, ...]
    departures: tuple[Departure, ...]
    measured: str = ""  # on which runtime build and host the entries were measured

    def matches(self, name: str, version: str) -> bool:
        """Whether ``name`` ``version`` (``runc``, ``1.1.5+ds1``) is one of this file's."""
        if name != self.runtime:
            return False
        return any(version == p or version.startswith(p + ".") for p in self.versions)


def _load(path: Path) -> DepartureFile:
    data = json.loads(path.read_text(encoding="utf-8"))
    try:
        if data["version"] != FILE_VERSION:
            raise DeparturesError(f"{path.name}: version {data['version']!r} is not {FILE_VERSION}")
        entries = tuple(
            Departure(
                rule=str(entry["rule"]),
                reason=str(entry["reason"]),
                link=str(entry["link"]),
                evidence=tuple(str(e) for e in entry["evidence"]),
            )
            for entry in data["departures"]
        )
        for entry in entries:
            _check_rule(path, entry.rule)
        return DepartureFile(
            path=path,
            runtime=str(data["runtime"]),
            versions=tuple(str(v) for v in data["versions"]),
            departures=entries,
            measured=str(data.get("measured", "")),
        )
    except (KeyError, TypeError) as exc:
        raise DeparturesError(f"{path.name}: malformed departures file: {exc!r}") from None


def _check_rule(path: Path, rule_id: str) -> None:
    """A departure names a testable statement: one a check may cite, and so fail."""
    from pytest_runc.rules import catalogue

    rule = catalogue().rules.get(rule_id)
    if rule is None:
        raise DeparturesError(f"{path.name}: {rule_id!r} is not a catalogued rule")
    if not rule.citable:
        raise DeparturesError(
            f"{path.name}: {rule_id!r} is {rule.status.replace('_', ' ')} ({rule.reason});"
            " a runtime departs only from a testable statement"
        )


@lru_cache(maxsize=1)
def shipped() -> tuple[DepartureFile, ...]:
    """Every departures file of the package."""
    return tuple(_load(path) for path in sorted(DEPARTURES_DIR.glob("*.json")))


def departures_for(version_output: str) -> DepartureFile | None:
    """The file that declares the departures of the runtime with this ``--version`` output."""
    who = identify(version_output)
    if not who["name"] or not who["release"]:
        return None
    for candidate in shipped():
        if candidate.matches(who["name"], who["release"]):
            return candidate
    return None


def _probed_version(config: pytest.Config, item: pytest.Item | None = None) -> str | None:
    """The ``--version`` output of the runtime of ``item`` (the first runtime's for None)."""
    from pytest_runc.plugin import runtimes_key

    runtimes = config.stash.get(runtimes_key, None)
    if runtimes is None or not runtimes.settings.enabled:
        return None
    session = runtimes.of_item(item) if item is not None else runtimes.primary
    probed = session.probe()
    return probed.version if probed.binary else None


def applied_departures(config: pytest.Config, version: str | None = None) -> dict[str, Any] | None:
    """The departures file applied to the runtime with this ``--version`` output (the first
    runtime's by default), for the JSON report; or None."""
    version = version if version is not None else _probed_version(config)
    declared = departures_for(version) if version else None
    if declared is None:
        return None
    return {
        "file": declared.path.name,
        "runtime": declared.runtime,
        "versions": list(declared.versions),
        "measured": declared.measured,
        "departures": [d.to_json() for d in declared.departures],
    }


def _is_evidence(nodeid: str, evidence: tuple[str, ...]) -> bool:
    """Whether ``nodeid`` is one of the evidence checks (node ids may be relative to
    another directory than the file's: compare from the file name on)."""
    tail = nodeid.rsplit("/", 1)[-1]
    return any(e.rsplit("/", 1)[-1] == tail for e in evidence)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The checks a departure names as its evidence run as strict xfail.

    ``PYTEST_RUNC_DEPARTURES=none`` turns departures off (the proof runs of
    the faulty runtimes need the failures themselves).
    """
    from pytest_runc.rules.markers import rule_ids
    from pytest_runc.sessions.runtimes import base_nodeid

    if os.environ.get(DISABLE_ENV, "").lower() == "none":
        return
    for item in items:
        # Each check against its own runtime's file (several runtimes in one run).
        version = _probed_version(config, item)
        declared = departures_for(version) if version else None
        if declared is None:
            continue
        by_rule = {d.rule: d for d in declared.departures}
        # Only the checks measured failing (the evidence) are expected to fail:
        # a rule's other checks (another parameter, say) still have to pass.
        hits = [
            by_rule[rule]
            for rule in rule_ids(item)
            if rule in by_rule and _is_evidence(base_nodeid(item), by_rule[rule].evidence)
        ]
        if hits:
            reason = "; ".join(d.xfail_reason() for d in hits)
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
