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
