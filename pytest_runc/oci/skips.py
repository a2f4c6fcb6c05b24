"""Why a check did not run, in classes a reader can act on.

Every skip reason of pytest-runc starts with its class, so ``-rs``, JUnit XML
and the JSON report all say who lacks what:

- ``environment:`` the machine running pytest (no ``--runc``, no root or
  sudo, the runtime binary or busybox missing) — fix the machine or the command line;
- ``host:`` the kernel or host setup (no cgroup v2, no hugetlb controller, ...)
  — run on another host to check the rule;
- ``runtime:`` the runtime under test does not claim the feature (its
  ``features`` output, or a spec version above its ``ociVersionMax``);
- ``departure:`` the runtime declares that it knowingly differs (see departures).
"""

from __future__ import annotations

from typing import NoReturn

import pytest

ENVIRONMENT = "environment"
HOST = "host"
RUNTIME = "runtime"
DEPARTURE = "departure"
CLASSES = (ENVIRONMENT, HOST, RUNTIME, DEPARTURE)


def reason(kind: str, text: str) -> str:
    """``kind: text`` — the form every pytest-runc skip reason has."""
    if kind not in CLASSES:
        raise ValueError(f"unknown skip class {kind!r}; one of {CLASSES}")
    return text if text.startswith(f"{kind}: ") else f"{kind}: {text}"


def classify(text: str) -> str | None:
    """The class of a skip reason, or None for a skip that is not ours."""
    head, sep, _ = text.partition(": ")
    return head if sep and head in CLASSES else None


def skip_environment(text: str) -> NoReturn:
    __tracebackhide__ = True  # -rs names the check, not this helper
    pytest.skip(reason(ENVIRONMENT, text))


def skip_host(text: str) -> NoReturn:
    """The host lacks what the check needs; ``text`` names it (``no hugetlb controller``)."""
    __tracebackhide__ = True  # -rs names the check, not this helper
    pytest.skip(reason(HOST, text))


def skip_runtime(text: str) -> NoReturn:
    """The runtime under test does not claim the feature; ``text`` says where that shows."""
    __tracebackhide__ = True  # -rs names the check, not this helper
    pytest.skip(reason(RUNTIME, text))
