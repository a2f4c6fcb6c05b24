"""Rules newer than the runtime's spec level: a failure there is "beyond-level failed".

A runtime states the newest runtime-spec version it implements as
``ociVersionMax`` in its ``features`` output (runc 1.1: ``1.0.2-dev``; runc
1.5: ``1.3.0``). A statement that the spec brought later (its catalogue
``since``: the first release that required the behaviour) is not that
runtime's obligation. Its checks still run — a pass is worth knowing — and a
failure is never turned into a skip: it is an outcome of its own,
**beyond-level failed** (``beyond-level-failed`` in the JSON report and the matrix),
counted on the summary line (``2 beyond-level failed``), listed with what
failed in a section of the terminal summary, and named in the JUnit XML
(property ``oci_failed_beyond_level``). It does not fail the run (the runtime
never claimed that level) unless ``--runc-fail-beyond-level`` (ini
``runc_fail_beyond_level``, ``PYTEST_RUNC_FAIL_BEYOND_LEVEL=1``) is given,
for a gate that targets a spec version: then it is a plain failure that
says which level it is beyond. A runtime without ``features`` claims
nothing, so every failure is a failure.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_runc.oci.errors import RuncError
from pytest_runc.oci.failure_report import add_failure_section
from pytest_runc.oci.features import Features
from pytest_runc.rules import catalogue
from pytest_runc.rules.claims import unclaimed_rules
from pytest_runc.rules.markers import rule_ids
from pytest_runc.sessions.session import RuncSession

_excuse = pytest.StashKey[str]()

#: The record outcome and matrix state (JSON report, ``report merge``).
OUTCOME = "beyond-level-failed"
#: The terminal's category: the summary line says ``N beyond-level failed``.
CATEGORY = "beyond-level failed"
#: The report attribute that carries it (travels with xdist's reports).
ATTRIBUTE = "runc_beyond_level"


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


def _fail_beyond_level(config: pytest.Config) -> bool:
    from pytest_runc.plugin import runtimes_key

    runtimes = config.stash.get(runtimes_key, None)
    return bool(runtimes is not None and runtimes.settings.fail_beyond_level)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """A failed check of an unclaimed rule: beyond-level failed, or (with the option) failed."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    excuse = item.stash.get(_excuse, None)
    if excuse is None or not report.failed or report.when != "call":
        return
    crash = getattr(report.longrepr, "reprcrash", None)
    what = str(getattr(crash, "message", "") or "").splitlines()[:1]
    message = what[0] if what else "?"
    note = {"reason": excuse, "message": message, "details": report.longreprtext}
    setattr(report, ATTRIBUTE, note)
    item.user_properties.append(("oci_failed_beyond_level", f"{excuse}; it failed: {message}"))
    if _fail_beyond_level(item.config):
        add_failure_section(
            report,
            "beyond the claimed spec level",
            f"{excuse}.\n--runc-fail-beyond-level makes this a failure of the run.",
        )
        return
    # Not a failure of the run: pytest counts it as passed, and the terminal
    # (pytest_report_teststatus), the JSON report and the matrix call it
    # beyond-level failed; the failure's text stays in the note.
    report.outcome = "passed"
    report.longrepr = None


def beyond_level(report: Any) -> dict[str, str] | None:
    """The note of a check that failed beyond the runtime's claimed level, if it did."""
    note = getattr(report, ATTRIBUTE, None)
    return note if isinstance(note, dict) else None


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    """``B`` in the progress line, ``BEYOND-LEVEL FAILED`` with ``-v``, its own count."""
    if report.when == "call" and report.passed and beyond_level(report) is not None:
        return CATEGORY, "B", ("BEYOND-LEVEL FAILED", {"yellow": True, "bold": True})
    return None


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Each check that failed beyond the claimed level, with what failed."""
    found = [
        report
        for key in (CATEGORY, "failed")
        for report in terminalreporter.stats.get(key, [])
        if getattr(report, "when", None) == "call" and beyond_level(report) is not None
    ]
    if not found:
        return
    failing = _fail_beyond_level(config)
    title = f"failed beyond the runtime's claimed spec level ({len(found)})"
    terminalreporter.write_sep("=", title, red=failing, yellow=not failing, bold=True)
    for report in found:
        note = beyond_level(report) or {}
        terminalreporter.write_line(f"{report.nodeid}: {note.get('message', '?')}")
        terminalreporter.write_line(f"  {note.get('reason', '')}")
    if failing:
        terminalreporter.write_line("(--runc-fail-beyond-level: these fail the run)")
    else:
        terminalreporter.write_line(
            "(not failures of the run: the runtime does not claim that level;"
            " --runc-fail-beyond-level makes them fail it)"
        )
