"""Small --runc-report documents for the matrix tests: one runtime, or two on two hosts."""

from __future__ import annotations

from typing import Any

from pytest_runc.oci.schemas import schema_errors

A, B, C = (
    "runtime.start.runs-process",
    "runtime.create.applies-config-except-process",
    "config-linux.namespaces.new-when-no-path",
)
FAILED = {"message": "AssertionError: no", "details": "E AssertionError: no"}
Record = tuple[str, list[str], str, dict[str, Any]]


def report(
    name: str,
    release: str,
    records: list[Record],
    host: str | None = "box",
    *,
    cgroup_mode: str = "v2",
) -> dict[str, Any]:
    """A report of ``name`` ``release`` on host ``host`` (its label; None: no label,
    as a report written before labels)."""
    facts: dict[str, Any] = {
        "name": "machine-1",
        "kernel": "6.1",
        "architecture": "x86_64",
        "cgroup_mode": cgroup_mode,
        "privilege": "root",
    }
    if host is not None:
        facts["label"] = host
    document = {
        "version": 1,
        "pytest_runc": "0.1.0",
        "created": "2026-01-01T00:00:00+00:00",
        "exitstatus": 0,
        "runtime": {
            "path": f"/usr/bin/{name}",
            "version": f"{name} version {release}\nspec: 1.0.2",
            "features": None,
            "name": name,
            "release": release,
            "spec": "1.0.2",
        },
        "host": facts,
        "departures": None,
        "summary": {},
        "records": [
            {"nodeid": nodeid, "rules": rules, "outcome": outcome, "duration": 0.1, **extra}
            for nodeid, rules, outcome, extra in records
        ],
    }
    assert schema_errors("report", document) == []
    return document


DEPARTS = {"skip_class": "departure", "reason": "departure: runc keeps the old way"}
LACKS = {"skip_class": "host", "reason": "host: no hugetlb controller"}
ENVIRONMENT = {"skip_class": "environment", "reason": "environment: not root"}


def two_hosts() -> list[tuple[str, dict[str, Any]]]:
    """runc and crun, each on ``hybrid`` and ``v2``:

    - A passes everywhere;
    - B: runc passes on hybrid and fails on v2 (a host difference of runc),
      crun departs on both (a difference between runtimes on each host);
    - C: runc lacks the host on v2, crun did not run it on v2 (not-run only).
    """
    return [
        (
            "runc-hybrid.json",
            report(
                "runc",
                "1.1.5+ds1",
                [
                    ("t::a", [A], "passed", {}),
                    ("t::b", [B], "passed", {}),
                    ("t::c", [C], "passed", {}),
                ],
                "hybrid",
                cgroup_mode="hybrid",
            ),
        ),
        (
            "crun-hybrid.json",
            report(
                "crun",
                "1.8.1",
                [
                    ("t::a", [A], "passed", {}),
                    ("t::b", [B], "xfailed", DEPARTS),
                    ("t::c", [C], "passed", {}),
                ],
                "hybrid",
                cgroup_mode="hybrid",
            ),
        ),
        (
            "runc-v2.json",
            report(
                "runc",
                "1.1.5+ds1",
                [
                    ("t::a", [A], "passed", {}),
                    ("t::b", [B], "failed", FAILED),
                    ("t::c", [C], "skipped", LACKS),
                ],
                "v2",
            ),
        ),
        (
            "crun-v2.json",
            report(
                "crun",
                "1.8.1",
                [
                    ("t::a", [A], "passed", {}),
                    ("t::b", [B], "xfailed", DEPARTS),
                    ("t::c", [C], "skipped", ENVIRONMENT),
                ],
                "v2",
            ),
        ),
    ]
