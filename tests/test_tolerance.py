"""Tolerance proofs, the mirror of the fault proofs.

A faulty runtime breaks one rule and must make its checks fail. A tolerant
runtime (``pytest_runc/faulty/tolerance.py``) is the real runtime changed
only where the OCI runtime spec leaves the choice to the runtime — other
error words, exit codes other than 1, no ``paused`` status, an extra
device, a sparse ``features`` document, ... — and every spec check
(``oci_rule``; ``-m "not runc_cli"``) must pass against it: a check that
fails there checks runc, not the spec.

Without root: every variant quotes the spec sentence that grants its
freedom and links its section, and its wrapper can be written.

As root (``--runc``), two runs of the conformance suite (``-n 2``, JUnit
XML read back by runtime label and node id: tests/labelled_runs.py):

1. the whole suite against the real runtime through a recorder
   (``write_recorder``: it notes the command of every call and the check that
   made it, then ``exec``s the runtime unchanged), shared with the sudo run of
   tests/test_privilege.py (tests/root_reference.py); its spec checks are the
   reference;
2. its spec part (``-m "not runc_cli"``) against every variant together, each a runtime of its own
   (``--runc-binary NAME=WRAPPER``), on the checks that passed in the first
   run and called a command the variant changes. A check that called none
   ran exactly as it did against the real runtime: the first difference
   would have to be such a call. No selection by rule would be sound (a
   reworded error can reach any check); this one is. ``features`` is asked
   once a session: for it, the checks chosen are those that asked for the
   document (a fixture; the JUnit XML says which). Variants that change
   every command run on every check that passed.

Each variant must have no failure that the real runtime does not have too,
and must be able to run `true`. A check that does not pass against the real
runtime (a declared departure, a rule beyond its spec level, a ``runtime:``
skip) proves nothing about tolerance and is left out. A variant's wrapper
starts Python only for the commands it changes. ``PYTEST_RUNC_TOLERANCE_K``
(a ``-k`` expression) narrows the suite by hand.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from pytest_runc.faulty import FAULTS, TOLERANCES, write_recorder, write_wrapper
from pytest_runc.faulty.tolerance import SPEC, state_format
from pytest_runc.sessions.session import RuncSession
from tests.built_artifacts import once
from tests.helpers import write_script
from tests.labelled_runs import Outcome
from tests.root_reference import (
    REFERENCE,
    RootRun,
    commands_by_check,
    inner_run,
    shared_root_run,
)

REPO = Path(__file__).resolve().parent.parent

#: The documents of the spec a freedom may come from.
DOCUMENTS = ("runtime.md", "runtime-linux.md", "config.md", "config-linux.md", "features.md",
             "features-linux.md", "bundle.md")  # fmt: skip
#: How the spec grants a choice: one of these must occur in the quoted sentence.
PERMISSIVE = re.compile(r"\bMAY\b|\bOPTIONAL\b|does not mandate|not specifying|out of scope")


@pytest.mark.parametrize("name", sorted(TOLERANCES))
def test_each_variant_cites_the_freedom_it_takes(name):
    variant = TOLERANCES[name]
    assert name not in FAULTS, f"{name} is also a fault"
    assert variant.description.strip(), f"{name}: no description"
    assert PERMISSIVE.search(variant.freedom), (
        f"{name}: its freedom {variant.freedom!r} quotes no permission of the spec"
        " (MAY, OPTIONAL, 'does not mandate', ...)"
    )
    document, _, anchor = variant.source.removeprefix(SPEC).partition("#")
    assert variant.source.startswith(SPEC) and document in DOCUMENTS and anchor, (
        f"{name}: source {variant.source!r} is not a section of runtime-spec v1.3.0"
    )


@pytest.mark.parametrize("name", sorted(TOLERANCES))
def test_each_variant_has_a_runnable_wrapper(name, tmp_path):
    wrapper = write_wrapper(name, "/bin/true", tmp_path)
    assert os.access(wrapper, os.X_OK)
    text = wrapper.read_text()
    if TOLERANCES[name].warning is None:
        assert "pytest_runc.faulty.__main__" in text and f" {name} " in text
    else:  # the shell writes the warning itself
        assert "pytest_runc.faulty" not in text and TOLERANCES[name].warning[:40] in text
    commands = TOLERANCES[name].commands
    if commands is not None:  # other commands go straight to the real runtime
        done = subprocess.run([str(wrapper), "--root", "/x", "no-such-command"], check=False)
        assert done.returncode == 0, "an untouched command did not reach the real runtime"


@pytest.mark.parametrize("name", sorted(n for n, v in TOLERANCES.items() if v.warning))
@pytest.mark.parametrize("command", ["state", "delete", "features", "run", "exec"])
def test_a_shell_warning_is_what_the_variant_itself_writes(name, command, tmp_path):
    """A variant whose wrapper writes its warning from the shell (no Python) writes
    exactly what its own code writes, for the same commands, and runs the runtime."""
    real = write_script(tmp_path / "real", 'echo "ran $*"\n')
    argv = ["--root", "/r", command, "c"]
    wrapper = write_wrapper(name, str(real), tmp_path / "bin")
    shell = subprocess.run([wrapper, *argv], capture_output=True, text=True, check=False)
    python = subprocess.run(
        [sys.executable, "-m", "pytest_runc.faulty", name, str(real), *argv],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip
    assert (shell.returncode, shell.stdout, shell.stderr) == (
        python.returncode, python.stdout, python.stderr,
    )  # fmt: skip
    assert shell.stdout == f"ran {' '.join(argv)}\n"
    assert bool(shell.stderr) == (command in TOLERANCES[name].commands)


def test_state_format_changes_only_what_the_spec_leaves_open():
    item = {"ociVersion": "1.0.2-dev", "id": "c", "pid": 0, "status": "stopped",
            "bundle": "/b", "rootfs": "/b/rootfs", "created": "2024-05-01T12:00:00.123456789Z",
            "owner": ""}  # fmt: skip
    state_format(item)
    assert item["created"] == "2024-05-01T12:00:00+00:00"
    assert "owner" not in item and "pid" not in item and item["annotations"] == {}
    assert {k: item[k] for k in ("ociVersion", "id", "status", "bundle")} == {
        "ociVersion": "1.0.2-dev", "id": "c", "status": "stopped", "bundle": "/b",
    }  # fmt: skip


def test_the_recorder_notes_each_call_and_execs_the_runtime_unchanged(tmp_path):
    real = write_script(tmp_path / "real", 'echo "$$ $*"\nexit 3\n')
    log = tmp_path / "calls.log"
    recorder = write_recorder(str(real), log, tmp_path / "bin" / "runc")
    env = {
        **os.environ,
        "PYTEST_CURRENT_TEST": "pytest_runc/conformance/test_a.py::test_b[x y] (call)",
    }
    done = subprocess.run(
        ["sh", "-c", f'echo $$; exec {recorder} --root /r --log-format json state "a b"'],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    shell_pid, seen = done.stdout.splitlines()
    # exec: the runtime is the very process the caller started (signals reach it).
    assert (done.returncode, seen) == (3, f"{shell_pid} --root /r --log-format json state a b")
    env.pop("PYTEST_CURRENT_TEST")
    subprocess.run([recorder, "--version"], env=env, capture_output=True, check=False)
    lines = log.read_text().splitlines()
    assert lines == ["pytest_runc/conformance/test_a.py::test_b[x y] (call)\tstate", "\t"]
    assert commands_by_check(log) == {"conformance/test_a.py::test_b[x y]": {"state"}}


def test_a_variant_runs_the_passing_checks_that_call_what_it_changes():
    reference = {
        "c/pause": Outcome("passed"),
        "c/state": Outcome("passed"),
        "c/asks-features": Outcome("passed", reads_features=True),
        "c/pause-but-skipped": Outcome("skipped", "runtime: no"),
        "c/static": Outcome("passed"),
    }
    calls = {
        "c/pause": {"create", "pause", "delete"},
        "c/state": {"run", "state"},
        "c/asks-features": {"run"},
        "c/pause-but-skipped": {"pause"},
    }
    assert plan_variant("no-pause", reference, calls)[0] == ["c/pause"]
    assert plan_variant("state-format", reference, calls)[0] == ["c/state"]
    assert plan_variant("no-features", reference, calls)[0] == ["c/asks-features"]
    every_passing = ["c/asks-features", "c/pause", "c/state", "c/static"]
    assert plan_variant("exit-codes", reference, calls)[0] == every_passing
    chosen, why = plan_variant("warnings", reference, calls)
    assert chosen == ["c/asks-features", "c/pause", "c/state"] and "ask for `features`" in why
    # Without a record of the calls, nothing can be left out.
    assert plan_variant("no-pause", reference, None)[0] == every_passing


# -- as root: the suite against each variant -----------------------------------


@dataclass
class TolerantRun:
    """The spec checks against the real runtime, then against every variant."""

    outcomes: dict[str, dict[str, Outcome]]  # label -> node id -> outcome
    gates: dict[str, str]  # label -> why its runtime cannot run `true`
    #: label -> the checks planned against it, and why those.
    planned: dict[str, int]
    selection: dict[str, str]
    output: str
    took: float


def plan_variant(
    name: str, reference: dict[str, Outcome], calls: dict[str, set[str]] | None
) -> tuple[list[str], str]:
    """The checks to run against variant ``name``, and why those.

    A check that called none of the commands the variant changes, and did not
    ask for an answer the session keeps from one, ran exactly as against the
    real runtime (the first difference would have to be such a call or
    answer): it would pass again. ``calls`` None: not known, so every one.
    """
    commands = TOLERANCES[name].commands
    passed = sorted(node for node, o in reference.items() if o.outcome == "passed")
    if commands is None or calls is None:
        return passed, f"the {len(passed)} checks that pass against the real runtime"
    chosen = [
        node
        for node in passed
        if calls.get(node, set()) & commands
        or ("features" in commands and reference[node].reads_features)
    ]
    asked = " or ask for `features`" if "features" in commands else ""
    return chosen, (
        f"{len(chosen)} of the {len(passed)} checks that pass against the real runtime:"
        f" those that call {', '.join(sorted(commands))}{asked}"
    )


def run_every_variant(binary: str, root: RootRun, directory: Path) -> TolerantRun:
    """Every variant's wrapper of ``binary``, each on the spec checks that pass
    as root (``root``: through a recorder that noted which commands each check
    calls) and call a command it changes."""
    started = time.monotonic()
    reference = {node: o for node, o in root.outcomes.items() if not o.runc_cli}
    outcomes = {REFERENCE: reference}
    gates = {REFERENCE: root.gate} if root.gate is not None else {}
    if root.gate is not None:
        return TolerantRun(outcomes, gates, {}, {}, root.output, root.took)
    calls = root.commands()
    plan: dict[str, list[str] | None] = {}
    selection = {REFERENCE: f"all {len(reference)}"}
    for name in sorted(TOLERANCES):
        plan[name], selection[name] = plan_variant(name, reference, calls)
    planned = {name: len(nodes or ()) for name, nodes in plan.items()}
    runtimes = {name: write_wrapper(name, binary, directory / "bin") for name in plan}
    found, more_gates, output, _ = inner_run(
        runtimes,
        plan,
        directory,
        markers="not runc_cli",
        keyword=os.environ.get("PYTEST_RUNC_TOLERANCE_K"),
    )
    outcomes.update(found)
    gates.update(more_gates)
    took = root.took + time.monotonic() - started
    return TolerantRun(outcomes, gates, planned, selection, f"{root.output}\n{output}", took)


@pytest.fixture(scope="session")
def tolerant_run(
    runc_session: RuncSession, tmp_path_factory: pytest.TempPathFactory
) -> TolerantRun:
    """The one run of every variant, shared by this run's xdist workers (the first
    to need it runs it; the other waits for its result file)."""
    binary = runc_session.probe().binary
    assert binary is not None, runc_session.environment_problem
    root = shared_root_run(binary, tmp_path_factory)
    data = once(
        tmp_path_factory, "tolerance", lambda home: asdict(run_every_variant(binary, root, home))
    )
    outcomes = {
        label: {node: Outcome(**value) for node, value in nodes.items()}
        for label, nodes in data["outcomes"].items()
    }
    return TolerantRun(
        outcomes, data["gates"], data["planned"], data["selection"], data["output"], data["took"]
    )


@pytest.mark.runc
@pytest.mark.parametrize("name", sorted(TOLERANCES))
def test_spec_checks_pass_against_a_tolerant_runtime(name, runtime, tolerant_run):
    variant = TOLERANCES[name]
    run = tolerant_run
    assert REFERENCE not in run.gates, f"{runtime.binary} cannot run `true`: {run.gates[REFERENCE]}"
    assert name not in run.gates, (
        f"the tolerant runtime {name!r} ({variant.description}) cannot run `true`,"
        f" which the spec allows it to do: {run.gates[name]}"
    )
    base = run.outcomes[REFERENCE]
    found = run.outcomes.get(name, {})
    bad = {node: o for node, o in found.items() if o.outcome in {"failed", "error"}}
    over_strict = {
        node: o for node, o in bad.items() if base.get(node, Outcome("")).outcome == "passed"
    }
    also_real = sorted(set(bad) - set(over_strict))
    listing = "\n".join(
        f"  {node}: {o.outcome}: {o.message[:400]!r}" for node, o in sorted(over_strict.items())
    )
    assert not over_strict, (
        f"{len(over_strict)} spec checks fail against the tolerant runtime {name!r}"
        f" ({variant.description}), which the spec allows: {variant.freedom!r}"
        f" ({variant.source}); they pass against {runtime.binary}:\n{listing}\n"
        f"(also failing against {runtime.binary} itself, not counted: {also_real})\n"
        f"checks run against it: {run.selection[name]}; the runs took {run.took:.0f} s;"
        f" output:\n{run.output}"
    )
    if run.planned[name]:
        assert found, f"nothing ran against {name!r} ({run.selection[name]}):\n{run.output}"
    print(f"{name}: {len(found)} checks run ({run.selection[name]})")
