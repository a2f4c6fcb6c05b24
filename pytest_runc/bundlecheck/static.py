"""Static bundle checks: the decoded config and the rootfs, nothing run.

The config's fields are checked in :mod:`.config_checks`, the rootfs they
name in :mod:`.rootfs_checks`; this module puts the findings in the order a
reader meets them. Never writes to the bundle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_runc.bundlecheck.config_checks import config_findings, hook_findings
from pytest_runc.bundlecheck.findings import Finding
from pytest_runc.bundlecheck.rootfs_checks import rootfs_findings, rootfs_of


def check_config(
    bundle: Path, config: dict[str, Any], *, allow_host_mounts: bool = False
) -> list[Finding]:
    """Every static finding for ``config`` (decoded as runc does) of ``bundle``."""
    findings = config_findings(bundle, config)
    rootfs, rootfs_problems = rootfs_of(bundle, config, allow_host_mounts=allow_host_mounts)
    findings += rootfs_problems
    if rootfs is not None:
        findings += rootfs_findings(rootfs, config)
    findings += hook_findings(config)
    return findings
