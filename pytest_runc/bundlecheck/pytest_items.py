"""``--runc-bundle PATH``: one test item per bundle, so bundle tools can gate CI on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_runc.bundlecheck.check import check_bundle
from pytest_runc.bundlecheck.findings import BundleReport
from pytest_runc.sessions.session import RuncSession


class BundleIncompatible(Exception):
    """The bundle check found errors; carries the report."""

    def __init__(self, report: BundleReport) -> None:
        super().__init__(report.render())
        self.report = report


class BundleCompatItem(pytest.Item):
    """Checks that the runtime will run one bundle (statically, and for real with --runc)."""

    def __init__(self, *, bundle: Path, session_state: RuncSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bundle = bundle
        self.session_state = session_state
        self.add_marker(pytest.mark.runc_bundle)

    def runtest(self) -> None:
        report = run_bundle_check(self.session_state, self.bundle)
        self.user_properties.append(("compatible", str(report.compatible).lower()))
        for finding in report.findings:
            self.user_properties.append((finding.code, finding.message))
        if not report.compatible:
            raise BundleIncompatible(report)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, BundleIncompatible):
            return excinfo.value.report.render()
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.bundle, None, f"runc bundle check: {self.bundle}"


def run_bundle_check(session: RuncSession, bundle: Path) -> BundleReport:
    """The bundle check with this session's runtime: the same call as the CLI's.

    Static checks always; the trial run when --runc is on and usable, else a
    warning that says why not (as the CLI says it).
    """
    binary, why_not = None, None
    if not session.settings.enabled:
        why_not = "--runc is not given"
    elif session.privilege.problem:
        why_not = session.privilege.problem
    else:
        binary, missing = session.binary
        why_not = missing
    return check_bundle(
        bundle,
        runtime_binary=binary,
        sudo=session.privilege.sudo,
        timeout=session.settings.timeout,
        timeout_flag="--runc-timeout",
        no_trial_reason=why_not,
    )


def make_items(session: pytest.Session, state: RuncSession) -> list[pytest.Item]:
    return [
        BundleCompatItem.from_parent(
            session, name=f"runc-bundle[{bundle}]", bundle=bundle, session_state=state
        )
        for bundle in state.settings.bundles
    ]
