"""Who a runtime says it is: name, release and spec version from its ``--version``."""

from __future__ import annotations

import re
from pathlib import Path

_VERSION_LINE = re.compile(r"^\s*(\S+)\s+version\s+(\S+)", re.MULTILINE)
_SPEC_LINE = re.compile(r"^\s*spec:\s*(\S+)", re.MULTILINE)


def identify(version_output: str, requested: str = "") -> dict[str, str | None]:
    """Name, version and spec version from ``--version`` output.

    ``runc version 1.1.5+ds1`` -> name ``runc``, version ``1.1.5+ds1``;
    the ``spec:`` line gives the spec version the runtime was built against.
    A runtime that prints something else is named after its binary.
    """
    found = _VERSION_LINE.search(version_output or "")
    spec = _SPEC_LINE.search(version_output or "")
    name = found.group(1) if found else (Path(requested).name or None)
    return {
        "name": name,
        "release": found.group(2) if found else None,
        "spec": spec.group(1) if spec else None,
    }


def label_of(version_output: str, requested: str) -> str:
    """``runc-1.1.5`` from ``runc version 1.1.5+ds1``; the binary's name when it says nothing."""
    who = identify(version_output, requested)
    name = who["name"] or Path(requested).name or "runtime"
    release = (who["release"] or "").split("+")[0]
    return f"{name}-{release}" if release else name
