"""Rules newer than the runtime's spec level: a failure there is "unsupported", not a fault.

A runtime states the newest runtime-spec version it implements as
``ociVersionMax`` in its ``features`` output (runc 1.1: ``1.0.2-dev``; runc
1.5: ``1.3.0``). A statement that the spec added later (its catalogue
``since``) is not that runtime's obligation. Its checks still run — a pass
is worth knowing — but a failure is reported as a skip of class
``runtime:`` that names the rule, the versions and what failed. A runtime
without ``features`` claims nothing, so nothing is excused.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_runc import skips
from pytest_runc.errors import RuncError
from pytest_runc.features import Features, unclaimed_rules
from pytest_runc.rules import catalogue
from pytest_runc.rules.markers import rule_ids
from pytest_runc.session import RuncSession

_excuse = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Note, per check, the rules that came after its runtime's ociVersionMax."""
    from pytest_runc.plugin import runtimes_key

    runtimes = config.stash.get(runtimes_key, None)
    if runtimes is None or not runtimes.settings.enabled or config.getoption("collectonly"):
        return
    marked = [item for item in items if rule_ids(item)]
    if not marked:
        return
    known = catalogue()
    claimed: dict[int, Features | None] = {}  # per session (by id): its features
    for item in marked:
        session = runtimes.of_item(item)
        if id(session) not in claimed:
            claimed[id(session)] = _features_of(session)
        features = claimed[id(session)]
        if features is None:
            continue
        newer = unclaimed_rules(features, rule_ids(item))
        if newer:
            listed = ", ".join(f"{rule_id} (spec {known[rule_id].since})" for rule_id in newer)
            item.stash[_excuse] = (
                f"the runtime claims runtime-spec up to {features.oci_version_max}"
                f" (ociVersionMax of its `features`); {listed} came later"
            )


def _features_of(session: RuncSession) -> Features | None:
    """The runtime's features, or None when it cannot run (its own checks say why)."""
    probed = session.probe()
    if probed.problem or not probed.binary:
        return None
    try:
        return session.probe_features()
    except RuncError:
        return None  # the runtime's own check reports a broken runtime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """A failed check of an unclaimed rule becomes a ``runtime:`` skip saying what failed."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    excuse = item.stash.get(_excuse, None)
    if excuse is None or not report.failed or report.when != "call":
        return
    crash = getattr(report.longrepr, "reprcrash", None)
    what = str(getattr(crash, "message", "") or "").splitlines()[:1]
    reason = skips.reason(skips.RUNTIME, f"{excuse}; it failed: {what[0] if what else '?'}")
    _, lineno, _ = item.location
    report.outcome = "skipped"
    report.longrepr = (str(item.path), (lineno or 0) + 1, f"Skipped: {reason}")
