"""The kernel probes tell a refusal from support, on this machine's kernel."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from pytest_runc.oci import kernel_features
from pytest_runc.oci.kernel_features import idmapped_mount_missing, memory_policy_mode_missing

needs_known_arch = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "aarch64"),
    reason="environment: the probe knows set_mempolicy's number on x86_64 and aarch64 here",
)


@needs_known_arch
def test_memory_policy_probe_accepts_what_every_kernel_has():
    assert memory_policy_mode_missing("MPOL_DEFAULT", with_nodes=False) is None


@needs_known_arch
def test_memory_policy_probe_reports_a_refusal():
    """MPOL_BIND without nodes is refused by every kernel: the probe says so, naming it."""
    reason = memory_policy_mode_missing("MPOL_BIND", with_nodes=False)
    assert reason is not None and "MPOL_BIND" in reason and "EINVAL" in reason


def test_memory_policy_probe_does_not_guess_an_unknown_mode():
    assert memory_policy_mode_missing("MPOL_NOT_A_MODE", with_nodes=True) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="environment: the idmap probe needs root")
def test_idmap_probe_reports_a_filesystem_that_cannot_be_id_mapped():
    """proc has never supported id-mapped mounts; the probe says which kernel."""
    reason = idmapped_mount_missing("proc")
    assert reason is not None and platform.release() in reason and "proc" in reason


@pytest.mark.skipif(os.geteuid() != 0, reason="environment: the idmap probe needs root")
def test_idmap_probe_leaves_no_mount_behind():
    before = Path("/proc/self/mountinfo").read_text()
    kernel_features.idmapped_mount_missing.cache_clear()
    idmapped_mount_missing("tmpfs")
    assert Path("/proc/self/mountinfo").read_text() == before
