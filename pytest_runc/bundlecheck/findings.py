"""Findings of a bundle check: what is wrong, where, and how to fix it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem: ``error`` means runc will not run the bundle; ``warning``
    means it will, but something is off (spec, portability, safety)."""

    severity: str
    code: str
    message: str
    fix: str
    where: str = "config.json"

    def as_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class BundleReport:
    """The verdict on one bundle: static findings, and the dynamic run's if any."""

    bundle: Path
    findings: list[Finding] = field(default_factory=list)
    #: None when no dynamic check ran; else whether runc ran the bundle.
    runc_ran_it: bool | None = None
    runc_message: str = ""
    #: How the trial run got its rootfs: "overlay", "copy", "config only" ("" = no trial).
    trial_rootfs: str = ""
    #: The trial ran out of time: runc gave no answer (``runc_ran_it`` is None).
    runc_timed_out: bool = False

    @property
    def compatible(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    @property
    def static_compatible(self) -> bool:
        return not any(
            f.severity == ERROR and not f.code.startswith("runc-") for f in self.findings
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "bundle": str(self.bundle),
            "compatible": self.compatible,
            "findings": [f.as_json() for f in self.findings],
            "dynamic": None
            if self.runc_ran_it is None and not self.runc_timed_out
            else {
                "ran": self.runc_ran_it,
                "message": self.runc_message,
                "rootfs": self.trial_rootfs,
                "timed_out": self.runc_timed_out,
            },
        }

    def render(self) -> str:
        verdict = "runc-compatible" if self.compatible else "NOT runc-compatible"
        lines = [f"{self.bundle}: {verdict}"]
        on = f" (rootfs: {self.trial_rootfs})" if self.trial_rootfs else ""
        if self.runc_timed_out:
            lines.append(f"  dynamic check{on}: runc gave no answer (timed out)")
        elif self.runc_ran_it is not None:
            how = "runc ran it" if self.runc_ran_it else f"runc refused it: {self.runc_message}"
            lines.append(f"  dynamic check{on}: {how}")
        for finding in self.findings:
            lines.append(
                f"  {finding.severity:<7} [{finding.code}] {finding.where}: {finding.message}"
            )
            lines.append(f"          fix: {finding.fix}")
        if not self.findings:
            lines.append("  no findings")
        return "\n".join(lines)


# Helpers of the static checks (config_checks, rootfs_checks).


def js(value: Any, limit: int = 60) -> str:
    """``value`` as JSON text, the way it reads in config.json."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def config_error(code: str, message: str, fix: str, where: str) -> Finding:
    return Finding(ERROR, code, message, fix, f"config.json {where}")


def config_warning(code: str, message: str, fix: str, where: str) -> Finding:
    return Finding(WARNING, code, message, fix, f"config.json {where}")


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
