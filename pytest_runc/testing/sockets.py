"""Unix sockets a check listens on (seccomp listeners), inside the run's own directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from pytest_runc.oci import skips

#: The longest path a Unix socket address holds (``sun_path``: 108 bytes with its NUL).
SUN_PATH_MAX = 107


def socket_path(bundle: Any, runc_session: Any, name: str = "l") -> Path:
    """Where a check's socket goes: in the test's own directory (the bundle's
    parent), else, when that path is too long for a Unix socket address, in the
    session's directory.

    Never in the system temp dir: both places are inside the run's directory
    ``<base>/s-<token>``, which the run removes at its end and the next run's
    sweeper removes if this one is killed; a ``/tmp/prt-*`` socket would stay.
    """
    candidates = [
        bundle.path.parent / f"{name}.sock",
        runc_session.workdir().path / f"{name}-{secrets.token_hex(4)}.sock",
    ]
    for candidate in candidates:
        if len(os.fsencode(candidate)) <= SUN_PATH_MAX:
            return Path(candidate)
    skips.skip_environment(
        f"the run's directory {runc_session.workdir().path} is too long for a Unix socket"
        f" address ({SUN_PATH_MAX} bytes); set PYTEST_RUNC_TMPDIR to a shorter directory"
    )
