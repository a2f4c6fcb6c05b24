"""The ``rootfs`` fixture gives each test its own copy (moved from the conformance
suite: it checks pytest-runc itself, not a runtime)."""

from __future__ import annotations

import os


def test_rootfs_copy_is_private(rootfs, bundle_factory):
    """Each bundle gets its own rootfs directory (not a link to a shared one),
    with busybox's relative applet links."""
    other = bundle_factory().rootfs
    assert rootfs.is_dir() and not rootfs.is_symlink()
    assert rootfs.resolve() != other.resolve(), "two bundles share one rootfs"
    (rootfs / "prt-private").write_text("mine")
    assert not (other / "prt-private").exists(), "a write in one rootfs shows in another"
    assert os.readlink(rootfs / "bin" / "sh") == "busybox"
