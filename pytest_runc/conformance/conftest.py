"""The conformance suite: what an OCI runtime must do, checked with real containers.

Every test here runs containers only through pytest-runc's fixtures and
names the rule it checks. Run it with ``pytest --runc conformance``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_runc.oci.rootfs import copy_tree


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "runc_slow: the check waits on purpose (a hook timeout, a quiet period);"
        " it is scheduled first so that pytest-xdist spreads the waits over its workers",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The deliberately slow checks first, the rest in their order.

    pytest-xdist hands out items in collection order: a one-second check
    that comes last keeps one worker busy while the other idles. Sorting is
    stable and the same in every worker, as xdist requires.
    """
    items.sort(key=lambda item: item.get_closest_marker("runc_slow") is None)


def traversable_parent(path: Path) -> Path:
    """The deepest directory above ``path`` that we may write and anyone may
    reach (it and every directory above it are o+x)."""
    best = Path(tempfile.gettempdir())
    for parent in reversed(path.parents):  # from / downwards
        if not parent.stat().st_mode & 0o001:
            break
        if os.access(parent, os.W_OK):
            best = parent
    return best


@pytest.fixture
def mapped_rootfs(bundle, container) -> Iterator[Path]:
    """The bundle's rootfs moved to a directory anyone may traverse (an
    absolute root.path): container root, host uid 100000, must reach it, and
    the session's private bundle directories are closed to other users.
    (After ``container``: removed once the test's containers are gone.)"""
    where = Path(tempfile.mkdtemp(prefix="prt-userns-", dir=traversable_parent(bundle.rootfs)))
    try:
        where.chmod(0o711)
        target = where / "rootfs"
        try:
            os.rename(bundle.rootfs, target)  # same filesystem: instant
        except OSError:
            copy_tree(bundle.rootfs, target)
        bundle.config.setdefault("root", {})["path"] = str(target)
        yield target
    finally:
        shutil.rmtree(where, ignore_errors=True)
