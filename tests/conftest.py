"""Shared set-up of the plugin's own tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_runc_base(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytest runs (pytester) get a base directory of their own.

    Their sessions, sweeps included, then never see the directories of this
    run or of any other run on the machine; a test that needs a particular
    base sets PYTEST_RUNC_TMPDIR itself, which wins over this one.
    """
    if "pytester" not in request.fixturenames:
        return
    base = request.getfixturevalue("tmp_path_factory").mktemp("runc-base")
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(base))


#: The tests that each run a whole pytest of their own for minutes, longest
#: first. Started first (scripts/test hands each xdist worker one test at a
#: time), they overlap everything else instead of leaving one worker alone
#: with them at the end.
LONG_RUNS = (
    "tests/test_tolerance.py::test_spec_checks_pass_against_a_tolerant_runtime",
    "tests/test_privilege.py::test_conformance_suite_through_real_sudo_matches_root",
    "tests/test_privilege.py::test_rootless_runs_the_suite_as_an_unprivileged_user",
    "tests/test_faulty_runtimes.py::test_fault_fails_its_checks_with_the_intended_message",
)
#: Tests that only read what the first of their kind made: last, so that no
#: worker waits for it while there is other work.
READERS = (LONG_RUNS[0],)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long runs first (one item of each shared run), their readers last."""

    def rank(item: pytest.Item) -> int:
        function = item.nodeid.split("[", 1)[0]
        if function in LONG_RUNS:
            first = function not in seen
            seen.add(function)
            if first or function not in READERS:
                return LONG_RUNS.index(function)
            return len(LONG_RUNS) + 1
        return len(LONG_RUNS)

    seen: set[str] = set()
    ranks = {id(item): rank(item) for item in items}
    items.sort(key=lambda item: ranks[id(item)])  # stable: the rest keep their order
