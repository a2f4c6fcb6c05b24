"""The bundle check: will runc run this bundle, and if not, why (and what to change).

One entry point, :func:`check_bundle`; ``python -m pytest_runc check``, the
``--runc-bundle`` items and the ``bundle_check`` fixture all call it.
Modules: :mod:`.gojson` (config.json read as Go's encoding/json reads it),
:mod:`.loader`, :mod:`.static`, :mod:`.dynamic` (the trial run),
:mod:`.trialfs` (overlay or bounded copy), :mod:`.fix` (``check --fix``).
"""

from __future__ import annotations

from pytest_runc.bundlecheck.check import check_bundle
from pytest_runc.bundlecheck.findings import ERROR, WARNING, BundleReport, Finding

__all__ = ["ERROR", "WARNING", "BundleReport", "Finding", "check_bundle"]
