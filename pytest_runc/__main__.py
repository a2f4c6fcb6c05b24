"""``python -m pytest_runc``: command-line tools (``check``)."""

from __future__ import annotations

import sys

from pytest_runc.compat.cli import main

if __name__ == "__main__":
    sys.exit(main())
