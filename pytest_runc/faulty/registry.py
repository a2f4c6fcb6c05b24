"""Every fault by name (``FAULTS``), found on first use, and ``fault_from_env``, with
which a wrapper call imports the one module that defines its fault."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping

from pytest_runc.faulty import MODULE_ENV

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pytest_runc.faulty.model import Fault

#: The package whose modules define the faults (``FAULTS`` lists).
FAULTS_PACKAGE = "pytest_runc.faulty.faults"


def _discover() -> dict[str, tuple[str, Fault]]:
    """Every ``FAULTS`` list of the modules in ``pytest_runc.faulty.faults``: name ->
    (module, fault)."""
    import pkgutil  # discovery only: a wrapper call imports its fault's module alone

    from pytest_runc.faulty.tolerance import TOLERANCES

    faults = importlib.import_module(FAULTS_PACKAGE)
    found: dict[str, tuple[str, Fault]] = {}
    for info in sorted(pkgutil.iter_modules(faults.__path__), key=lambda m: m.name):
        module = f"{FAULTS_PACKAGE}.{info.name}"
        for fault in getattr(importlib.import_module(module), "FAULTS", []):
            if fault.name in found:
                raise ValueError(f"fault {fault.name!r} is defined twice ({info.name})")
            found[fault.name] = (module, fault)
    both = sorted(set(found) & set(TOLERANCES))
    if both:
        raise ValueError(f"names used by both a fault and a tolerance: {', '.join(both)}")
    return found


# "Fault" quoted: the base is evaluated at import, and the model is imported by the
# fault modules, when they are.
class _Faults(Mapping[str, "Fault"]):
    """Every fault by name, found on first use: a wrapper needs only its own."""

    def __init__(self) -> None:
        self._found: dict[str, tuple[str, Fault]] | None = None

    def _all(self) -> dict[str, tuple[str, Fault]]:
        if self._found is None:
            self._found = _discover()
        return self._found

    def __getitem__(self, name: str) -> Fault:
        return self._all()[name][1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def module_of(self, name: str) -> str:
        """The module that defines fault ``name``."""
        return self._all()[name][0]


FAULTS = _Faults()


def fault_from_env(name: str) -> Fault | None:
    """Fault ``name`` from the module ``FAULTY_MODULE`` names (that one import);
    None when the variable names no fault module or that module has no such fault."""
    module = os.environ.get(MODULE_ENV, "")
    if module.startswith(f"{FAULTS_PACKAGE}."):
        for fault in getattr(importlib.import_module(module), "FAULTS", []):
            if fault.name == name:
                return fault  # type: ignore[no-any-return]
    return None


def fault_named(name: str) -> Fault:
    """Fault ``name``, from the module ``FAULTY_MODULE`` names when set (one import)."""
    fault = fault_from_env(name)
    return FAULTS[name] if fault is None else fault


__all__ = ["FAULTS", "FAULTS_PACKAGE", "fault_from_env", "fault_named"]
