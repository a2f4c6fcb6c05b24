"""pytest side of the rule catalogue: the ``oci_rule`` and ``runc_cli`` markers.

``@pytest.mark.oci_rule("config-linux.namespaces.path-joins", ...)`` says which
normative statements of the runtime spec a check checks;
``@pytest.mark.runc_cli("runc-cli.pause.twice-fails")`` names a runc CLI
convention the spec does not cover. An id that is not in the catalogue is a
collection error. The ids, levels and sections then show in the failure
report, the JUnit XML properties, ``-v``/``-rA`` lines, and ``-k``/``-m``
select by them: ``-k config-linux.namespaces`` (a prefix of the id) or
``-m oci_config_linux`` (one marker per spec document), ``-m "not runc_cli"``
for a spec-only run.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

import pytest

from pytest_runc.report import add_failure_section
from pytest_runc.rules import SPEC_DOCUMENTS, Rule, catalogue

RULE_MARKERS = ("oci_rule", "runc_cli")


def document_marker(document: str) -> str:
    """The marker that selects one document's rules: ``config-linux`` -> ``oci_config_linux``."""
    return "oci_" + document.replace("-", "_")


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers (``--strict-markers`` is on in our suite)."""
    config.addinivalue_line(
        "markers",
        "oci_rule(*ids): the runtime-spec statements this check checks"
        " (python -m pytest_runc rules lists them)",
    )
    config.addinivalue_line(
        "markers", "runc_cli(*ids): the runc CLI conventions (not in the spec) this check checks"
    )
    for document in SPEC_DOCUMENTS:
        config.addinivalue_line(
            "markers", f"{document_marker(document)}: checks a rule of {document}.md (automatic)"
        )


def rule_ids(item: pytest.Item) -> list[str]:
    """The rule ids of a test, from both markers, in the order written."""
    ids: list[str] = []
    for name in RULE_MARKERS:
        for marker in item.iter_markers(name):
            ids.extend(str(arg) for arg in marker.args if str(arg) not in ids)
    return ids


def rules_of(item: pytest.Item) -> list[Rule]:
    known = catalogue()
    return [known[rule_id] for rule_id in rule_ids(item) if rule_id in known]


def _check_ids(items: Iterable[Any]) -> None:
    known = catalogue()
    for item in items:
        if not isinstance(item, pytest.Item):
            continue
        for name in RULE_MARKERS:
            for marker in item.iter_markers(name):
                if not marker.args:
                    raise pytest.Collector.CollectError(
                        f"{item.nodeid}: @pytest.mark.{name}() needs at least one rule id"
                    )
                for rule_id in marker.args:
                    if rule_id not in known:
                        raise pytest.Collector.CollectError(
                            f"{item.nodeid}: unknown rule id {rule_id!r} in"
                            f" @pytest.mark.{name}; `python -m pytest_runc rules` lists the"
                            " known ids (pytest_runc/rules/catalogue/)"
                        )
                    is_cli = rule_id.startswith("runc-cli")
                    if is_cli != (name == "runc_cli"):
                        expected = "runc_cli" if is_cli else "oci_rule"
                        raise pytest.Collector.CollectError(
                            f"{item.nodeid}: {rule_id!r} belongs in @pytest.mark.{expected}"
                        )


# Old-style hook wrappers: pytest 7.2 with pluggy 1.0 (Debian 12) has no ``wrapper=True``.
@pytest.hookimpl(hookwrapper=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> Generator[None, Any, None]:
    """An unknown rule id fails the collection of its module, naming the id."""
    outcome = yield
    result = outcome.get_result()
    if result is not None:
        _check_ids(result if isinstance(result, list) else [result])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Make the ids selectable: ``-k`` keywords and one marker per spec document."""
    for item in items:
        for rule in rules_of(item):
            item.extra_keyword_matches.add(rule.id)
            if rule.is_spec:
                item.add_marker(document_marker(rule.document))
            item.user_properties.append(("oci_rule", rule.id))
            item.user_properties.append(("oci_rule_level", f"{rule.id} {rule.level}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """A failed check's report names the rules it checks."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.failed:
        rules = rules_of(item)
        if rules:
            text = "\n".join(f"{rule.describe()}\n  {rule.url}" for rule in rules)
            add_failure_section(report, "OCI rule", text)
    report.oci_rules = rule_ids(item)  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> Generator[None, Any, None]:
    """``-v`` and ``-rA`` lines name the rules: ``PASSED [config.hostname.set]``."""
    outcome = yield
    result = outcome.get_result()
    ids = getattr(report, "oci_rules", None)
    # Skips are folded by reason in -rs, under the first report's word: no ids there.
    if report.skipped or not ids or not result or not isinstance(result, tuple) or len(result) != 3:
        return
    category, letter, word = result
    if not word:
        return
    suffix = f" [{', '.join(ids)}]"
    if isinstance(word, tuple):
        outcome.force_result((category, letter, (word[0] + suffix, word[1])))
    else:
        outcome.force_result((category, letter, word + suffix))
