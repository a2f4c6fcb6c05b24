"""Where the conformance suite lives, and the install-independent names of its checks.

The suite ships inside the package (``pytest_runc/conformance``). pytest names
an item after its path relative to the rootdir, which differs between a
checkout (``pytest_runc/conformance/test_x.py::...``), an installed wheel and
a run from another directory. Reports, fault tables, declared departures and
the coverage index use one *logical* id instead, ``conformance/test_x.py::...``,
so that they agree however the suite was run.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SUITE_DIR = Path(__file__).resolve().parent / "conformance"
"""The conformance suite's directory in this installation."""

PREFIX = "conformance/"
"""How logical node ids of the suite begin."""


def logical_nodeid(nodeid: str, rootpath: Path) -> str:
    """``nodeid`` (relative to ``rootpath``) as a logical id if it is a check of the suite.

    Node ids of anything else come back unchanged.
    """
    path, sep, rest = nodeid.partition("::")
    try:
        relative = (rootpath / path).resolve().relative_to(SUITE_DIR)
    except (ValueError, OSError):
        return nodeid
    return f"{PREFIX}{relative.as_posix()}{sep}{rest}"


def real_nodeid(logical: str) -> str:
    """The absolute node id pytest accepts on its command line for a logical id."""
    if not logical.startswith(PREFIX):
        return logical
    return f"{SUITE_DIR}/{logical[len(PREFIX) :]}"


def real_nodeids(logical: Iterable[str]) -> list[str]:
    """:func:`real_nodeid` of each id, in order."""
    return [real_nodeid(nodeid) for nodeid in logical]
