"""The ``rootfs`` fixture gives each test its own copy (moved from the conformance
suite: it checks pytest-runc itself, not a runtime)."""

from __future__ import annotations

import os

import pytest


def test_rootfs_copy_is_private(rootfs, bundle_factory):
    """Each bundle gets its own rootfs directory (not a link to a shared one),
    with busybox's relative applet links."""
    other = bundle_factory().rootfs
    assert rootfs.is_dir() and not rootfs.is_symlink()
    assert rootfs.resolve() != other.resolve(), "two bundles share one rootfs"
    (rootfs / "prt-private").write_text("mine")
    assert not (other / "prt-private").exists(), "a write in one rootfs shows in another"
    assert os.readlink(rootfs / "bin" / "sh") == "busybox"


# -- --runc-rootfs: an overlay per test where this process may mount -----------

OVERLAID = """
import os

import pytest

def test_writes_and_fails(runc_rootfs, runc_bundle_factory):
    print("MOUNTED", os.path.ismount(runc_rootfs))
    (runc_rootfs / "new").write_text("x")
    (runc_rootfs / "etc" / "keep").write_text("changed")
    os.unlink(runc_rootfs / "etc" / "gone")
    other = runc_bundle_factory().rootfs
    assert (other / "etc" / "keep").read_text() == "original"
    assert (other / "etc" / "gone").exists()
    assert False, "deliberate failure"


def test_then_no_overlay_is_left(runc_session):
    from pytest_runc.sessions.workdir import mounts_below

    print("LEFT", mounts_below(runc_session.workdir().path))
"""


def _user_tree(root):
    for rel, text in (("bin/true", "#!/bin/sh\n"), ("etc/keep", "original"), ("etc/gone", "x")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "bin" / "sh").symlink_to("true")
    (root / "ro").mkdir(mode=0o555)
    return root


def _snapshot(root):
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        body = (
            os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else b""
        )
        found[str(path.relative_to(root))] = (info.st_mode, info.st_mtime_ns, body)
    return found


@pytest.fixture
def user_rootfs(tmp_path, monkeypatch):
    from tests.helpers import fake_runtime

    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path / "base"))
    tree = _user_tree(tmp_path / "tree")
    return tree, fake_runtime(tmp_path / "bin")


def _run(pytester, tree, binary, *extra):
    pytester.makepyfile(OVERLAID)
    return pytester.runpytest_inprocess(
        "--runc", f"--runc-binary={binary}", f"--runc-rootfs={tree}", "-s", *extra
    )


def test_user_rootfs_is_overlaid_never_written_and_unmounted(pytester, user_rootfs, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("environment: an overlay needs root")
    from pytest_runc.sessions.workdir import mounts_below

    tree, binary = user_rootfs
    before = _snapshot(tree)
    result = _run(pytester, tree, binary)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            f"runc rootfs: {tree} (an overlay per test: the tree is the read-only lower layer*",
            "*MOUNTED True",
            "*LEFT []*",
        ]
    )
    assert _snapshot(tree) == before, "the user's tree changed"
    assert mounts_below(tmp_path) == [], "an overlay outlived its test"


def test_user_rootfs_is_copied_where_no_overlay_can_be_mounted(
    pytester, user_rootfs, tmp_path, monkeypatch
):
    monkeypatch.setattr("pytest_runc.oci.rootfs.overlay_refusal", lambda: "an overlay needs root")
    tree, binary = user_rootfs
    before = _snapshot(tree)
    result = _run(pytester, tree, binary)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [f"runc rootfs: {tree} (copied per test: an overlay needs root)", "*MOUNTED False"]
    )
    assert _snapshot(tree) == before


def test_a_refused_overlay_falls_back_to_a_copy_and_says_so(
    pytester, user_rootfs, tmp_path, monkeypatch
):
    if os.geteuid() != 0:
        pytest.skip("environment: an overlay needs root")

    def refuse(lower, dest):
        return "wrong fs type (for the test)"

    monkeypatch.setattr("pytest_runc.oci.rootfs.mount_overlay", refuse)
    tree, binary = user_rootfs
    result = _run(pytester, tree, binary)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*MOUNTED False",
            "*pytest-runc: --runc-rootfs is copied, not overlaid*",
            f"{tree}: copied per test: the overlay mount was refused (wrong fs type (for the test))",
        ]
    )


@pytest.mark.runc
def test_a_container_runs_on_the_overlay(pytester, runtime, tmp_path, monkeypatch):
    """The real runtime on an overlaid --runc-rootfs: writes in the container
    reach neither the tree nor the next test."""
    from pytest_runc.oci.rootfs import build_busybox_rootfs, find_static_busybox

    busybox, reason = find_static_busybox()
    if busybox is None:
        pytest.skip(f"environment: {reason}")
    tree = build_busybox_rootfs(busybox, tmp_path / "tree")
    before = _snapshot(tree)
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path / "base"))
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", [1, 2])
        def test_write(runc_bundle, runc_container, n):
            runc_bundle.readonly(False).shell("test ! -e /etc/mark && echo hi > /etc/mark && cat /etc/mark")
            done = runc_container().run()
            assert (done.returncode, done.stdout) == (0, "hi\\n"), done.stderr
    """)
    result = pytester.runpytest_subprocess(
        "--runc",
        f"--runc-binary={runtime.binary}",
        f"--runc-rootfs={tree}",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"runc rootfs: {tree} (an overlay per test*"])
    assert _snapshot(tree) == before
