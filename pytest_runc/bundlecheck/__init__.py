"""Bundle compatibility: will runc run this bundle, and if not, why."""

from __future__ import annotations

from pathlib import Path

from pytest_runc.compat.dynamic import check_dynamic
from pytest_runc.compat.findings import ERROR, WARNING, BundleReport, Finding
from pytest_runc.compat.static import check_config, load_config

__all__ = ["ERROR", "WARNING", "BundleReport", "Finding", "check_bundle"]


def check_bundle(
    bundle: Path,
    *,
    runtime_binary: str | None = None,
    sudo: bool = False,
    allow_hooks: bool = False,
    timeout: float = 30.0,
) -> BundleReport:
    """Check ``bundle`` statically, then (given a runtime) by running a copy.

    The bundle itself is only read. With ``runtime_binary`` None, or when the
    static check found the config unreadable, no runtime is started.
    """
    bundle = Path(bundle).absolute()
    config, unreadable = load_config(bundle)
    if config is None:
        return BundleReport(bundle, unreadable)
    report = BundleReport(bundle, check_config(bundle, config))
    root = config.get("root")
    if (
        runtime_binary is None
        or not isinstance(root, dict)
        or not isinstance(root.get("path"), str)
    ):
        return report
    rootfs = Path(root["path"]) if Path(root["path"]).is_absolute() else bundle / root["path"]
    if not rootfs.is_dir() or rootfs.is_symlink():
        return report  # nothing to copy; the static finding says why
    ran, message, findings = check_dynamic(
        bundle, config, runtime_binary, sudo=sudo, allow_hooks=allow_hooks, timeout=timeout
    )
    report.runc_ran_it = ran
    report.runc_message = message
    static_codes = {f.code for f in report.findings}
    for finding in findings:
        # Say a cause once: runc's words are added to the static finding's.
        if finding.code.removeprefix("runc-") not in static_codes:
            report.findings.append(finding)
    return report
