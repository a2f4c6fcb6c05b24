"""What a failed container test's report shows, to reproduce it by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_runc.bundle import Bundle
from pytest_runc.container import ContainerFactory
from pytest_runc.errors import RuncError
from pytest_runc.interactive import InteractiveSession
from pytest_runc.transcript import Transcript


@dataclass
class TestRecord:
    """What one test did with the runtime, kept for its report."""

    transcript: Transcript = field(default_factory=Transcript)
    bundles: list[Bundle] = field(default_factory=list)
    factories: list[ContainerFactory] = field(default_factory=list)
    sessions: list[InteractiveSession] = field(default_factory=list)
    test_dir: Path | None = None
    failed: bool = False

    def used_runtime(self) -> bool:
        return bool(self.transcript.entries or self.bundles)


def add_failure_section(report: Any, title: str, text: str) -> None:
    """Add a titled section to a failed test's report.

    A failure's longrepr takes sections into its text, which is what the
    terminal and the JUnit XML <failure> element show; other reports keep
    them in ``report.sections``.
    """
    addsection = getattr(report.longrepr, "addsection", None)
    if callable(addsection):
        addsection(title, text)
    else:
        report.sections.append((title, text))


def failure_sections(record: TestRecord, kept: bool) -> list[tuple[str, str]]:
    """Report sections: transcript, runtime state, config.json, how to reproduce."""
    sections = []
    if record.transcript.entries:
        sections.append(("runc transcript", record.transcript.render()))
    states = _states(record)
    if states:
        sections.append(("runc state", states))
    for bundle in record.bundles:
        sections.append((f"config.json ({bundle.config_path})", bundle.config_text().rstrip()))
    sections.append(("reproduce", _reproduce(record, kept)))
    return sections


def _states(record: TestRecord) -> str:
    runtimes = [(c.id, f.runtime) for f in record.factories for c in f.containers]
    runtimes += [(s.id, s.runtime) for s in record.sessions]
    lines = []
    for container_id, runtime in runtimes:
        quiet = runtime.recording(Transcript())  # not into the transcript shown above
        try:
            state = quiet.state_json(container_id)
            lines.append(f"{container_id}: {json.dumps(state, indent=2)}")
        except RuncError as exc:
            lines.append(f"{container_id}: no state ({exc})")
        except ValueError as exc:
            lines.append(f"{container_id}: state is not JSON ({exc})")
    return "\n".join(lines)


def _reproduce(record: TestRecord, kept: bool) -> str:
    lines = []
    if kept and record.test_dir is not None:
        lines.append(f"# the bundle and containers are kept in {record.test_dir}")
    elif record.bundles:
        lines.append("# re-run with --runc-keep-failed to keep the bundle and containers")
    if record.bundles:
        lines.append(f"cd {record.bundles[0].path}")
    lines += record.transcript.commands or ["# no runtime command ran"]
    return "\n".join(lines)
