"""Several runtimes in one run: one RuncSession per runtime, each with a readable id.

``--runc-binary A --runc-binary B`` (or ``A,B``) makes one
:class:`~pytest_runc.sessions.session.RuncSession` per runtime, each with its own
token, private directory and state root (per process, so per xdist worker),
probes, ``features`` and runtime check. Container tests are then
parametrized by runtime through the ``runc_session`` fixture, with ids made
of the runtime's name and release (``runc-1.1.5``), or of the label given
with ``LABEL=PATH``. With one runtime nothing is parametrized: node ids stay
as they are.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_runc.oci.identity import label_of
from pytest_runc.sessions.options import Settings
from pytest_runc.sessions.session import RuncSession

#: The parameter that carries a test's runtime (an indirect parameter of this fixture).
PARAM = "runc_session"


class RuntimeSet:
    """The runtimes under test, in the order given, each with its session and label."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sessions: dict[str, RuncSession] = {}
        labels = settings.labels or ("",) * len(settings.binaries)
        self._pending = [
            RuncSession(replace(settings, binary=binary, binaries=(binary,), labels=(label,)))
            for binary, label in zip(settings.binaries, labels)
        ]

    @property
    def primary(self) -> RuncSession:
        """The first runtime's session (the only one in a one-runtime run)."""
        return self._pending[0]

    @property
    def several(self) -> bool:
        return len(self._pending) > 1

    def all(self) -> list[RuncSession]:
        return list(self._pending)

    def probe(self) -> None:
        """Probe each runtime and give it a label: the one given (``LABEL=PATH``),
        else one from its ``--version``; ``-2``, ``-3`` for a repeated one."""
        seen: dict[str, int] = {}
        self.sessions = {}
        for session in self._pending:
            probed = session.probe()
            given = session.settings.labels[0] if session.settings.labels else ""
            base = given or label_of(
                probed.version if probed.binary else "", session.settings.binary
            )
            seen[base] = seen.get(base, 0) + 1
            label = base if seen[base] == 1 else f"{base}-{seen[base]}"
            self.sessions[label] = session

    def label(self, session: RuncSession) -> str | None:
        """The label of ``session`` (None before :meth:`probe`)."""
        return next((key for key, value in self.sessions.items() if value is session), None)

    def get(self, label: str | None) -> RuncSession:
        """The session of ``label``; the primary one for None."""
        if label is None:
            return self.primary
        return self.sessions[label]

    def of_item(self, item: pytest.Item) -> RuncSession:
        """The session of a collected test: its runtime parameter, else the primary one."""
        return self.get(label_of_item(item))


def label_of_item(item: pytest.Item) -> str | None:
    """The runtime label a test is parametrized with, or None."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    value = callspec.params.get(PARAM)
    return str(value) if value is not None else None


def base_nodeid(item: pytest.Item) -> str:
    """The node id ``item`` would have with one runtime: without its ``runc-1.1.5`` id part.

    Declared departures name their evidence by those ids, whatever the runtimes of a run.
    """
    label = label_of_item(item)
    nodeid = item.nodeid
    if label is None or not nodeid.endswith("]") or "[" not in nodeid:
        return nodeid
    head, _, ids = nodeid[:-1].partition("[")
    parts = ids.split("-")
    width = len(label.split("-"))
    for start in range(len(parts) - width + 1):
        if "-".join(parts[start : start + width]) == label:
            rest = parts[:start] + parts[start + width :]
            return f"{head}[{'-'.join(rest)}]" if rest else head
    return nodeid
