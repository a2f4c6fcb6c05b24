"""Faulty runtimes for runc's own shapes: what runc prints and puts in /dev
beyond what the spec requires.

Each breaks a runc CLI convention and nothing the spec requires, so only the
runc CLI check fails; the spec's checks of the same document or directory
pass against it (the spec allows what these runtimes do).
"""

from __future__ import annotations

from pytest_runc.faulty.behaviours import state_rewritten
from pytest_runc.faulty.model import Config, Fault

TYPE_CHECKING = False  # as typing's, which a wrapper call need not import
if TYPE_CHECKING:
    from typing import Any

T = "conformance/test_state.py::"
D = "conformance/test_devices.py::"

PHASES = ("created", "running", "paused", "stopped")


def _without_created(document: dict[str, Any]) -> None:
    document.pop("created", None)


def _paused_as_frozen(document: dict[str, Any]) -> None:
    if document.get("status") == "paused":
        document["status"] = "frozen"


def _dev_link_added(config: Config) -> None:
    """Link /dev/prt-extra to /dev/null just before the configured process runs
    (as a runtime's own /dev setup would)."""
    process = config.get("process", {})
    if process.get("args"):
        script = 'ln -s null /dev/prt-extra 2>/dev/null\nexec "$0" "$@"'
        process["args"] = ["/bin/sh", "-c", script, *process["args"]]


FAULTS: list[Fault] = [
    Fault(
        "state-without-created",
        "`state` leaves out runc's `created` time (the spec does not ask for it)",
        {
            T + f"test_state_has_runcs_shape[{phase}]": "'created' is a required property"
            for phase in PHASES
        },
        intercept=state_rewritten(_without_created),
    ),
    Fault(
        "state-paused-as-frozen",
        "`state` names the paused state 'frozen' (a runtime-defined status the spec allows)",
        {T + "test_state_has_runcs_shape[paused]": "'frozen' is not one of"},
        intercept=state_rewritten(_paused_as_frozen),
    ),
    Fault(
        "dev-link-added",
        "adds a /dev/prt-extra link to /dev/null in every container",
        {D + "test_dev_holds_exactly_runcs_entries": "['prt-extra']"},
        mutate=_dev_link_added,
    ),
]
