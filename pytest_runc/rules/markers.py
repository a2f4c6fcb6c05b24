"""pytest side of the rule catalogue: the ``oci_rule`` and ``runc_cli`` markers.

``@pytest.mark.oci_rule("config-linux.namespaces.path-joins", ...)`` says which
normative statements of the runtime spec a check checks;
``@pytest.mark.runc_cli("runc-cli.pause.twice-fails")`` names a runc CLI
convention the spec does not cover. A marker cites the statements the check's
deciding assertions test, no more: an id that is not in the catalogue, or
names a statement the catalogue marks not testable or not applicable, is a
collection error. A statement the check only touches (sets up, or checks on
the way) goes in ``@pytest.mark.oci_rule_context(...)``: shown in the failure
report, never counted as checked, and it may be any catalogued statement. The ids, levels and sections then show in the failure
report, the JUnit XML properties, ``-v``/``-rA`` lines, and ``-k``/``-m``
select by them: ``-k config-linux.namespaces`` (a prefix of the id) or
``-m oci_config_linux`` (one marker per spec document), ``-m "not runc_cli"``
for a spec-only run.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

import pytest

from pytest_runc.oci.failure_report import add_failure_section
from pytest_runc.rules import SPEC_DOCUMENTS, Rule, catalogue

RULE_MARKERS = ("oci_rule", "runc_cli")
CONTEXT_MARKER = "oci_rule_context"
#: The inputs (``exec --cap``, ``config:process.noNewPrivileges``) a check fails
#: on when the runtime ignores or misapplies them (pytest_runc/rules/inputs.py).
INPUTS_MARKER = "oci_inputs"

#: Citations of statements that are not testable, tolerated while checks are
#: being re-pointed at the statements they decide: ("file.py::function", id).
#: Every other such citation is a collection error. Empty: the switch is on
#: (test_errors.py's three were re-pointed; add a pair here only for the
#: length of such a change).
PENDING_UNTESTABLE_CITATIONS: frozenset[tuple[str, str]] = frozenset()


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
    config.addinivalue_line(
        "markers",
        "oci_rule_context(*ids): runtime-spec statements this check touches but does not"
        " decide (shown in its failure report, not counted as checked)",
    )
    config.addinivalue_line(
        "markers",
        f"{INPUTS_MARKER}(*ids): the runtime inputs (flags like 'exec --cap', fields like"
        " 'config:process.noNewPrivileges') this check fails on when they are ignored"
        " (python -m pytest_runc rules --inputs lists them)",
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


def context_ids(item: pytest.Item) -> list[str]:
    """The statements a test touches but does not decide (``oci_rule_context``)."""
    ids: list[str] = []
    for marker in item.iter_markers(CONTEXT_MARKER):
        ids.extend(str(arg) for arg in marker.args if str(arg) not in ids)
    return ids


def input_ids_of(item: pytest.Item) -> list[str]:
    """The inputs a test's ``oci_inputs`` markers name, in the order written."""
    ids: list[str] = []
    for marker in item.iter_markers(INPUTS_MARKER):
        ids.extend(str(arg) for arg in marker.args if str(arg) not in ids)
    return ids


def rules_of(item: pytest.Item) -> list[Rule]:
    known = catalogue()
    return [known[rule_id] for rule_id in rule_ids(item) if rule_id in known]


def _pending(item: pytest.Item, rule_id: str) -> bool:
    name = getattr(item, "originalname", item.name)
    return (f"{item.path.name}::{name}", rule_id) in PENDING_UNTESTABLE_CITATIONS


def uncitable(item: pytest.Item) -> list[tuple[str, Rule]]:
    """(marker, rule) for each statement the item cites that is not testable."""
    known = catalogue()
    found = []
    for name in RULE_MARKERS:
        for marker in item.iter_markers(name):
            for rule_id in marker.args:
                rule = known.rules.get(str(rule_id))
                if rule is not None and not rule.citable:
                    found.append((name, rule))
    return found


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
                    rule = known[rule_id]
                    if not rule.citable and not _pending(item, rule_id):
                        raise pytest.Collector.CollectError(
                            f"{item.nodeid}: @pytest.mark.{name} cites {rule_id!r}, which the"
                            f" catalogue marks {rule.status.replace('_', ' ')} ({rule.reason}):"
                            " a check cites only the testable statements its assertions"
                            " decide; cite the runtime's statement instead (for a config"
                            " the runtime must refuse: config.valid-values.error-on-invalid"
                            " or runtime.create.unapplicable-property-error), or move it to"
                            f" @pytest.mark.{CONTEXT_MARKER}"
                        )
        _check_inputs(item)
        for marker in item.iter_markers(CONTEXT_MARKER):
            for rule_id in marker.args:
                if rule_id not in known:
                    raise pytest.Collector.CollectError(
                        f"{item.nodeid}: unknown rule id {rule_id!r} in"
                        f" @pytest.mark.{CONTEXT_MARKER}; `python -m pytest_runc rules` lists"
                        " the known ids (pytest_runc/rules/catalogue/)"
                    )


def _check_inputs(item: pytest.Item) -> None:
    from pytest_runc.rules.inputs import input_ids  # the inventory loads only when used

    for marker in item.iter_markers(INPUTS_MARKER):
        if not marker.args:
            raise pytest.Collector.CollectError(
                f"{item.nodeid}: @pytest.mark.{INPUTS_MARKER}() needs at least one input id"
            )
        for input_id in marker.args:
            if input_id not in input_ids():
                raise pytest.Collector.CollectError(
                    f"{item.nodeid}: unknown input {input_id!r} in @pytest.mark.{INPUTS_MARKER};"
                    " `python -m pytest_runc rules --inputs` lists them ('exec --cap',"
                    " '--root', 'config:process.env', 'state:pid')"
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
        known = catalogue()
        context = [known[i] for i in context_ids(item) if i in known]
        if rules or context:
            text = "\n".join(f"{rule.describe()}\n  {rule.url}" for rule in rules)
            if context:
                text += "\n" if text else ""
                text += "touched, not decided, by this check:\n" + "\n".join(
                    f"{rule.describe()}\n  {rule.url}" for rule in context
                )
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
