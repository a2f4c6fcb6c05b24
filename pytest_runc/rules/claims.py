"""Which rules a runtime does not claim: those newer than the spec version its
``features`` names as ``ociVersionMax``."""

from __future__ import annotations

from collections.abc import Iterable

from pytest_runc.oci.features import Features, skip_unclaimed, spec_release
from pytest_runc.rules import catalogue


def unclaimed_rules(features: Features, rule_ids: Iterable[str]) -> list[str]:
    """The rules (by id) whose ``since`` is above the runtime's ``ociVersionMax``.

    Empty when the runtime claims no maximum (no ``features``): silence rules
    nothing out. Unknown ids are ignored (the markers reject them anyway).
    """
    highest = spec_release(features.oci_version_max)
    if highest is None:
        return []
    known = catalogue()
    newer = []
    for rule_id in rule_ids:
        since = spec_release(known[rule_id].since) if rule_id in known else None
        if since is not None and since > highest:
            newer.append(rule_id)
    return newer


def require_rules(features: Features, *rule_ids: str) -> None:
    """Skip the calling check (class ``runtime:``) when one of ``rule_ids`` is newer
    than the spec version the runtime claims (``ociVersionMax`` of ``features``).

    For a check of a statement added in a later spec version::

        def test_x(runtime_features, request):
            require_rules(runtime_features, *rule_ids(request.node))

    (``rule_ids`` from ``pytest_runc.rules.markers``.)
    """
    __tracebackhide__ = True
    newer = unclaimed_rules(features, rule_ids)
    if newer:
        known = catalogue()
        listed = ", ".join(f"{rule_id} (since {known[rule_id].since})" for rule_id in newer)
        skip_unclaimed(f"its ociVersionMax is {features.oci_version_max}, below {listed}")


def require_spec(features: Features, version: tuple[int, int, int], field: str) -> None:
    """Skip the calling check (class ``runtime:``) when the runtime's ``ociVersionMax``
    predates ``version``, the spec release that added ``field``; without
    ``features`` nothing is ruled out."""
    __tracebackhide__ = True
    claimed = spec_release(features.oci_version_max)
    if claimed is not None and claimed < version:
        skip_unclaimed(
            f"ociVersionMax {features.oci_version_max} predates {field}"
            f" (spec {'.'.join(map(str, version))})"
        )
