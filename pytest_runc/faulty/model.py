"""What a faulty runtime is: one broken rule, and the checks that must catch it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pytest_runc.faulty.behaviours import Intercept, declared_commands

TYPE_CHECKING = False  # as typing's, which a wrapper call need not import
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import Any
else:  # the same records without importing dataclasses (see ``record``)
    from pytest_runc.faulty.record import dataclass

Config = dict[str, "Any"]


@dataclass(frozen=True)
class Fault:
    """One broken rule: how the wrapper breaks it and which checks must catch it.

    ``catches`` maps each conformance node id (``conformance/test_x.py::test_y[p]``)
    to a fragment of the assertion message that check must fail with against
    this fault: the proof run checks the node and the message, not just "a failure".
    """

    name: str
    description: str
    catches: Mapping[str, str]
    #: Edit config.json for create/run (restored afterwards unless ``tamper``).
    mutate: Callable[[Config], None] | None = None
    tamper: bool = False
    #: Replace or change one command (see ``behaviours``).
    intercept: Intercept | None = None

    @property
    def commands(self) -> frozenset[str] | None:
        """The commands the fault can change (None: any); its wrapper hands the
        others to the real runtime without starting Python.

        Those the intercept declares (``behaviours.acts_on``; an undeclared one
        may act on any command), and create/run, where ``mutate`` edits config.json.
        """
        edited = frozenset({"create", "run"})
        if self.intercept is None:
            return edited
        declared = declared_commands(self.intercept)
        if declared is None:
            return None
        return declared | edited if self.mutate is not None else declared
