"""What a failed container test's report shows, to reproduce it by hand."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_runc.oci.bundle import Bundle
from pytest_runc.oci.container import ContainerFactory
from pytest_runc.oci.errors import RuncError
from pytest_runc.oci.interactive import InteractiveSession
from pytest_runc.oci.transcript import Transcript


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


def failure_sections(
    record: TestRecord,
    kept: bool,
    baseline: dict[str, Any] | None = None,
    whole_config: bool = False,
) -> list[tuple[str, str]]:
    """Report sections: transcript, runtime state, config.json, how to reproduce.

    Each config.json is shown as a diff against ``baseline`` (the config a
    new bundle starts from): a test changes a few lines of ~180, and those
    are what a reader needs. ``whole_config`` (``-vv``), or no baseline,
    shows every line.
    """
    sections = []
    if record.transcript.entries:
        sections.append(("runc transcript", record.transcript.render()))
    states = _states(record)
    if states:
        sections.append(("runc state", states))
    for bundle in record.bundles:
        text = bundle.config_text()
        if whole_config or baseline is None:
            sections.append((f"config.json ({bundle.config_path})", text.rstrip()))
        else:
            sections.append(
                (
                    f"config.json ({bundle.config_path}), against the default (-vv: whole file)",
                    config_diff(text, baseline),
                )
            )
    sections.append(("reproduce", _reproduce(record, kept)))
    return sections


def config_diff(text: str, baseline: dict[str, Any]) -> str:
    """``text`` (a config.json) as a unified diff against ``baseline``, 2-space JSON."""
    default = json.dumps(baseline, indent=2) + "\n"
    lines = list(
        difflib.unified_diff(
            default.splitlines(),
            text.splitlines(),
            "default (runc spec)",
            "config.json",
            n=2,
            lineterm="",
        )
    )
    return "\n".join(lines) if lines else "(the default config, unchanged)"


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
