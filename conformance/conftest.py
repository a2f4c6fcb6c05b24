"""The conformance suite: what an OCI runtime must do, checked with real containers.

Every test here runs containers only through pytest-runc's fixtures and
names the rule it checks. Run it with ``pytest --runc conformance``.
"""

import pytest


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
