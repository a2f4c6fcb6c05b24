"""The package's layers: each package imports only from the layers below it.

The layout is the architecture (docs/architecture.md): the OCI driver layer
at the bottom, then the rule catalogue and the checks' kit, a pytest
process's sessions, the bundle check, the pytest plugin, the reports, and
the command line on top. An import that points upward, or a circle between
packages, fails here with the file and the line.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_runc"

#: Bottom to top; a unit may import from its own layer's units only where
#: ALLOWED_SIDEWAYS says so, and from any unit of a lower layer.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"suite", "oci"}),
    frozenset({"rules", "testing", "faulty"}),
    frozenset({"sessions"}),
    frozenset({"bundlecheck"}),
    frozenset({"plugin"}),
    frozenset({"reports"}),
    frozenset({"__init__", "__main__", "runsuite", "conformance"}),
)
ALLOWED_SIDEWAYS: frozenset[tuple[str, str]] = frozenset({("__main__", "runsuite")})


def layer_of(unit: str) -> int:
    for index, units in enumerate(LAYERS):
        if unit in units:
            return index
    raise AssertionError(f"pytest_runc/{unit} has no layer: add it to LAYERS (and to the doc)")


def unit_of(path: Path) -> str:
    """The first component below pytest_runc/: a package, or a module's name."""
    first = path.relative_to(PACKAGE).parts[0]
    return first.removesuffix(".py")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported unit) for every import of pytest_runc in ``path``, lazy ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "pytest_runc":
                names = [f"pytest_runc.{alias.name}" for alias in node.names]
            elif node.module.startswith("pytest_runc."):
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name.startswith("pytest_runc.")]
        found += [(node.lineno, name.split(".")[1]) for name in names]
    return found


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_unit_has_a_layer():
    units = {unit_of(path) for path in sources()}
    for unit in units:
        layer_of(unit)


def test_no_import_points_upward_or_sideways():
    problems = []
    for path in sources():
        unit = unit_of(path)
        for line, target in imports(path):
            if target == "__version__":  # a constant at the top of pytest_runc/__init__.py
                continue
            if target == unit:
                continue
            if layer_of(target) > layer_of(unit) or (
                layer_of(target) == layer_of(unit) and (unit, target) not in ALLOWED_SIDEWAYS
            ):
                problems.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {unit} (layer"
                    f" {layer_of(unit)}) imports {target} (layer {layer_of(target)})"
                )
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


@pytest.mark.parametrize("bad", ["upward", "sideways"])
def test_the_check_catches_a_bad_import(bad, tmp_path, monkeypatch):
    """The layer check can fail: a planted upward (or same-layer) import is reported."""
    fake = tmp_path / "pytest_runc"
    (fake / "oci").mkdir(parents=True)
    (fake / "rules").mkdir()
    target = "pytest_runc.plugin" if bad == "upward" else "pytest_runc.suite"
    (fake / "oci" / "x.py").write_text(f"from {target} import something\n")
    (fake / "plugin.py").write_text("")
    (fake / "suite.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    with pytest.raises(AssertionError, match=r"oci/x.py:1: oci \(layer 0\) imports"):
        test_no_import_points_upward_or_sideways()
