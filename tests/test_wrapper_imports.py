"""A faulty or tolerant runtime's wrapper imports only what its variant needs.

The wrapper starts a new Python for every runtime command its variant may
change, and the fault proofs and tolerance runs make thousands of them: each
module imported there is paid for at every call (compiled, too, where
PYTHONDONTWRITEBYTECODE is set). These tests run the very command line a
wrapper script runs, in a fresh ``python -S``, up to the point where it hands
the command to the real runtime, and list what it imported.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_runc.faulty import FAULTS, record, write_wrapper

#: Put before the wrapper's own code: the real runtime is never started; at
#: the moment it would be, the names of the imported modules are printed.
#: (Only os and sys, which every Python has imported by then.)
_REPORT = (
    "import os, sys\n"
    "def _report(path, argv):\n"
    "    sys.stdout.write(repr(sorted(sys.modules)))\n"
    "    sys.stdout.flush()\n"
    "    os._exit(0)\n"
    "os.execv = _report\n"
)

#: What no wrapper call needs: every fault module but the variant's own is added.
HEAVY = frozenset(
    {
        "pytest_runc.faulty.wrapper",  # writes wrappers; never runs in one
        "pytest_runc.oci",  # the container machinery, oci.linux's dataclasses
        "pytest",
        "pexpect",
        "jsonschema",
        "typing",
        "dataclasses",
        "inspect",
        "pkgutil",  # the discovery of every fault
        "shlex",
        "datetime",  # the state-format variant's alone
        "pathlib",  # what needs a Path imports it (mutate, markers)
    }
)

#: (variant, its module, what else it must not import)
CASES = [
    ("state-lies", "pytest_runc.faulty.faults.core", {"pytest_runc.faulty.tolerance"}),
    ("device-added", "pytest_runc.faulty.faults.isolation", {"pytest_runc.faulty.tolerance"}),
    ("errors-reworded", "pytest_runc.faulty.faults.lifecycle", {"pytest_runc.faulty.tolerance"}),
    ("exit-codes", "pytest_runc.faulty.tolerance", {"pytest_runc.faulty.faults"}),
    ("state-format", "pytest_runc.faulty.tolerance", {"pytest_runc.faulty.faults"}),
]
# (``warnings`` starts no Python at all: tests/test_tolerance.py checks its shell line.)


def imported_by_a_call(name: str, directory: Path) -> set[str]:
    """The modules the wrapper of ``name`` has imported when it execs the real
    runtime for a command its variant leaves alone (``--version``)."""
    script = write_wrapper(name, "true", directory).read_text()
    line = next(line for line in script.splitlines() if " -S -c " in line)
    words = shlex.split(line.replace('"$@"', "--version"))
    at = words.index("exec")
    env = {key: value for key, value in os.environ.items() if key != "FAULTY_MODULE"}
    env.update(word.split("=", 1) for word in words[:at])
    python, option, code_flag, code, *args = words[at + 1 :]
    assert (option, code_flag) == ("-S", "-c"), line
    done = subprocess.run(
        [python, option, code_flag, _REPORT + code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout, done.stderr
    return set(ast.literal_eval(done.stdout))


def _within(modules: set[str], packages: set[str] | frozenset[str]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(f"{p}.") for p in packages))


@pytest.mark.parametrize(("name", "module", "also"), CASES, ids=[c[0] for c in CASES])
def test_a_wrapper_call_imports_only_its_variant(name, module, also, tmp_path):
    modules = imported_by_a_call(name, tmp_path)
    assert module in modules, f"the call did not reach the variant's module: {sorted(modules)}"
    other_faults = {
        FAULTS.module_of(fault) for fault in FAULTS if FAULTS.module_of(fault) != module
    }
    unneeded = _within(modules, HEAVY | also | other_faults)
    assert not unneeded, f"a call of the {name} wrapper imports what it does not need: {unneeded}"


def test_the_package_exports_are_there_on_first_use(tmp_path):
    """``pytest_runc.faulty``'s names and submodules, lazy now, are what they were."""
    code = (
        "import pytest_runc.faulty as f\n"
        "assert 'pytest_runc.faulty.registry' not in __import__('sys').modules\n"
        "print(len(f.FAULTS) > 0, 'exit-codes' in f.TOLERANCES, f.Fault.__name__,"
        " f.Tolerance.__name__, f.fault_named('state-lies').name, callable(f.write_wrapper),"
        " callable(f.write_recorder), callable(f.dispatch_script), f.PACKAGE_ROOT.is_dir(),"
        " f.faults.__name__, f.behaviours.__name__, f.MODULE_ENV)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "True", "True", "Fault", "Tolerance", "state-lies", "True", "True", "True", "True",
        "pytest_runc.faulty.faults", "pytest_runc.faulty.behaviours", "FAULTY_MODULE",
    ]  # fmt: skip


def _pair() -> tuple[type, type]:
    """The same class made by ``record.dataclass`` and by ``dataclasses.dataclass``."""

    def make(decorator):
        class Item:
            name: str
            items: tuple[int, ...]
            flag: bool = False
            other: object = None

        return decorator(frozen=True)(Item)

    return make(record.dataclass), make(dataclasses.dataclass)


def test_a_record_behaves_as_a_frozen_dataclass():
    """Call, Fault and Tolerance are made by ``record.dataclass``: as the standard
    decorator would make them, in what they are used for."""
    ours, theirs = _pair()
    for cls in (ours, theirs):
        one, same = cls("a", (1,), other=2), cls(name="a", items=(1,), flag=False, other=2)
        assert one == same and hash(one) == hash(same) and one != cls("a", (2,))
        assert one != ("a", (1,), False, 2)
        assert (one.flag, one.other) == (False, 2)
        assert cls.__match_args__ == ("name", "items", "flag", "other")
        with pytest.raises(AttributeError, match="cannot assign to field 'name'"):
            one.name = "b"
        with pytest.raises(AttributeError, match="cannot delete field 'name'"):
            del one.name
        for bad in ((), ("a", (1,), True, 2, 3)):
            with pytest.raises(TypeError):
                cls(*bad)
        with pytest.raises(TypeError):
            cls("a", (1,), nope=1)
        with pytest.raises(TypeError):
            cls("a", (1,), name="b")
        with pytest.raises(TypeError):
            hash(cls("a", [1]))  # a list field: unhashable, as a frozen dataclass
    assert repr(ours("a", (1,))).split("Item(")[1] == repr(theirs("a", (1,))).split("Item(")[1]
    assert repr(ours("a", (1,))).startswith(f"{ours.__qualname__}(")
