"""Fault proofs in batches: several faulty runtimes in one inner pytest run.

Proving one fault in a pytest process of its own costs that process's start,
collection, runtime probe and clean-up for a check or two; 231 of them were
most of the test command's time. A batch proves several faults in one
process instead: each fault's own wrapper is one runtime of a multi-runtime
run, labelled with the fault's name (``--runc-binary FAULT=WRAPPER``), so
each still gets its own session (state root, ``--version`` probe, runtime
check of ``run``/``create`` of true, clean-up) and its checks get ids like
``test_x[FAULT]``; ``tests/labelled_runs.py`` keeps only the checks each
fault names. The JUnit XML says what each check did against each fault.

What a fault left behind is found per fault too: the batch gets a base
directory of its own (``PYTEST_RUNC_TMPDIR``), so a session directory still
there after the run, with containers in its state root, names the wrapper
(its owner file) that could not clean up; the sweeper then removes it with
the real runtime.

A batch that gives no JUnit XML (a crash, a hang) is proven again one fault
at a time, so that the failure names the fault. Checks a fault's runtime
does not claim (``runtime:`` skips, failures beyond its spec level) are
proven in a second run against a newer runtime, as before.

Under xdist the workers share one :class:`ProofBoard`: a worker that needs a
fault's result proves that fault's batch, or, when another worker is
already on it, proves another batch nobody has claimed, and waits only when
none is left.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pytest_runc.faulty import FAULTS, write_wrapper
from pytest_runc.oci.skips import RUNTIME, classify
from pytest_runc.sessions.workdir import OWNER_FILE, sweep
from pytest_runc.suite import real_nodeid
from tests.labelled_runs import PLAN_VARIABLE, Outcome, read_junit

REPO = Path(__file__).resolve().parent.parent
#: Faults per inner run: enough to share a process's start among several,
#: few enough that the last batch does not keep the other workers waiting long.
BATCH_FAULTS = 20
#: Every runtime command of a proof run gets this long (as the single runs did).
COMMAND_TIMEOUT = 5
#: An inner run's deadline: this much, and this much more per fault of its batch.
RUN_SECONDS = 120
RUN_SECONDS_PER_FAULT = 60
#: How long a worker waits for a batch another worker is proving.
WAIT_SECONDS = 1800


@dataclass
class FaultProof:
    """Everything a fault's test asserts on."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    #: Containers its runtime left behind, one line per session directory.
    left: list[str] = field(default_factory=list)
    #: Why some checks could not be proven (no newer runtime), else "".
    skip: str = ""
    #: The runs that proved it: command lines and the tails of their output.
    runs: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> FaultProof:
        data = json.loads(text)
        outcomes = {node: Outcome(**value) for node, value in data.pop("outcomes").items()}
        return cls(outcomes=outcomes, **data)


def plan_batches(faults: Iterable[str], size: int = BATCH_FAULTS) -> list[tuple[str, ...]]:
    """Faults grouped by the module of the checks they name, ``size`` at most a batch.

    Faults of one module share that module's collection; the order is fixed,
    so every xdist worker computes the same batches.
    """

    def module_of(name: str) -> str:
        return min(node.split("::")[0] for node in FAULTS[name].catches)

    ordered = sorted(faults, key=lambda name: (module_of(name), name))
    return [tuple(ordered[i : i + size]) for i in range(0, len(ordered), size)]


def unclaimed(outcome: Outcome) -> bool:
    """Skipped because the runtime does not claim the feature (a ``runtime:`` skip), or
    failed on a rule newer than the spec level the runtime claims."""
    if outcome.outcome == "beyond-level":
        return True
    return outcome.outcome == "skipped" and classify(outcome.message) == RUNTIME


def function_of(node: str) -> str:
    """``file::[Class::]function`` of a node id: what collects every parametrization."""
    return re.sub(r"\[.*\]$", "", node)


# -- one inner run -----------------------------------------------------------


def run_batch(
    batch: Mapping[str, list[str]], binary: str, directory: Path, base: Path
) -> dict[str, FaultProof] | None:
    """Run each fault's ``nodes`` against its wrapper of ``binary``, in one process.

    None when the run gave no JUnit XML (the caller then proves the faults
    one by one). ``base`` is a fresh directory for the run's sessions.
    """
    directory.mkdir(parents=True, exist_ok=True)
    wrappers = {fault: write_wrapper(fault, binary, directory / "bin") for fault in batch}
    plan = directory / "plan.json"
    plan.write_text(json.dumps({fault: list(nodes) for fault, nodes in batch.items()}))
    junit = directory / "junit.xml"
    functions = sorted({function_of(node) for nodes in batch.values() for node in nodes})
    functions = [real_nodeid(function) for function in functions]
    command = [
        sys.executable, "-m", "pytest", *functions, "--runc",
        *(f"--runc-binary={fault}={wrapper}" for fault, wrapper in wrappers.items()),
        # Each check judges its fault's runtime itself: no trial container per fault.
        "--runc-skip-runtime-check",
        f"--runc-timeout={COMMAND_TIMEOUT}", f"--junitxml={junit}", "-p", "tests.labelled_runs",
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:randomly",
        "-p", "no:xdist", "-q", "-rfE",
    ]  # fmt: skip
    # Declared departures would turn the very failures we want into xfails.
    env = {**os.environ, "PYTEST_RUNC_DEPARTURES": "none", PLAN_VARIABLE: str(plan),
           "PYTEST_RUNC_TMPDIR": str(base)}  # fmt: skip
    env.pop("PYTEST_RUNC_BINARY", None)
    base.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            command, cwd=REPO, capture_output=True, text=True, check=False, env=env,
            timeout=RUN_SECONDS + RUN_SECONDS_PER_FAULT * len(batch),
        )  # fmt: skip
        output = done.stdout[-4000:] + done.stderr[-2000:]
    except subprocess.TimeoutExpired as exc:
        output = f"(killed after {exc.timeout:g} s)\n{_text(exc.stdout)[-4000:]}"
    run = f"{' '.join(command)}\n{output}"
    left = _left_behind(base, wrappers)
    _sweep(binary, base)
    if not junit.exists():
        return None
    found, gates = read_junit(junit)
    proofs: dict[str, FaultProof] = {}
    for fault, nodes in batch.items():
        proof = FaultProof(left=left.get(fault, []), runs=[run])
        gate = gates.get(str(wrappers[fault]))
        if gate is not None:
            proof.runs.append(f"its runtime check failed: {gate}")
        for node in nodes:
            proof.outcomes[node] = found.get((fault, node), Outcome("not run"))
        proofs[fault] = proof
    return proofs


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def _left_behind(base: Path, wrappers: Mapping[str, Path]) -> dict[str, list[str]]:
    """fault -> the containers its session could not delete.

    A session removes its directory once its containers are gone; one still
    in the base after the run names its runtime in its owner file.
    """
    by_wrapper = {str(wrapper): fault for fault, wrapper in wrappers.items()}
    left: dict[str, list[str]] = {}
    for session_dir in sorted(base.glob(f"pytest-runc-{os.getuid()}/s-*")):
        try:
            owner = json.loads((session_dir / OWNER_FILE).read_text())
        except (OSError, ValueError):
            owner = {}
        state = session_dir / "state"
        ids = sorted(p.name for p in state.iterdir() if p.is_dir()) if state.is_dir() else []
        if ids:
            fault = by_wrapper.get(str(owner.get("binary")), "?")
            left.setdefault(fault, []).append(f"{state}: {ids}")
    return left


def _sweep(binary: str, base: Path) -> None:
    """Remove what the run left, with the real runtime where the faulty one fails."""
    with contextlib.suppress(OSError):
        sweep(binary, base=base / f"pytest-runc-{os.getuid()}", timeout=30)
    shutil.rmtree(base, ignore_errors=True)


# -- a batch, proven ---------------------------------------------------------


def newer_runtime() -> str | None:
    """A runtime of a newer spec level, for checks the runtime under test does not claim.

    ``PYTEST_RUNC_PROOF_RUNTIME`` names one; else the test machines' runc 1.5.1
    beside the checkout (absent on a user's machine: those proofs then skip).
    """
    named = os.environ.get("PYTEST_RUNC_PROOF_RUNTIME")
    if named:
        return named
    candidate = REPO.parent / "shared" / "runtimes" / "runc-1.5.1"
    return str(candidate) if os.access(candidate, os.X_OK) else None


def prove_each(
    batch: Mapping[str, list[str]], binary: str, directory: Path, base: Path
) -> dict[str, FaultProof]:
    """Every fault of ``batch`` against ``binary``: in one run, else one run a fault."""
    proofs = run_batch(batch, binary, directory, base)
    if proofs is not None:
        return proofs
    proofs = {}
    for fault, nodes in batch.items():
        alone = run_batch({fault: nodes}, binary, directory / fault, base)
        proofs[fault] = alone or FaultProof(
            outcomes={node: Outcome("error", "the run gave no JUnit XML") for node in nodes},
            runs=[f"no JUnit XML from the run against {fault!r}: see {directory / fault}"],
        )
    return proofs


def prove_batch(
    faults: tuple[str, ...], binary: str, directory: Path, base: Path
) -> dict[str, FaultProof]:
    """Prove ``faults``: their checks against ``binary``, what it does not claim against a newer one."""
    proofs = prove_each(
        {fault: list(FAULTS[fault].catches) for fault in faults}, binary, directory / "first", base
    )
    later = {
        fault: [node for node, outcome in proof.outcomes.items() if unclaimed(outcome)]
        for fault, proof in proofs.items()
    }
    later = {fault: nodes for fault, nodes in later.items() if nodes}
    if not later:
        return proofs
    newer = newer_runtime()
    if newer is None:
        for fault, nodes in later.items():
            proofs[fault].skip = (
                f"runtime: {binary} does not claim what {', '.join(nodes)} check"
                " (set PYTEST_RUNC_PROOF_RUNTIME to a runtime that does)"
            )
        return proofs
    for fault, proof in prove_each(later, newer, directory / "newer", base).items():
        proofs[fault].outcomes.update(proof.outcomes)
        proofs[fault].left += proof.left
        proofs[fault].runs += proof.runs
    return proofs


# -- sharing the work between xdist workers ----------------------------------


class ProofBoard:
    """The batches of one test run and their results, shared by its xdist workers.

    ``directory`` is common to the workers (a file lock orders them);
    ``prove`` proves one batch. Each batch is proven once, by whichever
    worker claims it first.
    """

    def __init__(
        self,
        directory: Path,
        batches: list[tuple[str, ...]],
        prove: Callable[[int, tuple[str, ...]], dict[str, FaultProof]],
    ) -> None:
        self.directory = directory
        self.batches = batches
        self.prove = prove
        self.results = directory / "results"
        self.results.mkdir(parents=True, exist_ok=True)
        self.claims = directory / "claimed"
        self.claims.mkdir(exist_ok=True)

    def proof_of(self, fault: str) -> FaultProof:
        """``fault``'s proof: read, proven here, or awaited from another worker."""
        own = next(i for i, batch in enumerate(self.batches) if fault in batch)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            with self._locked():
                result = self.results / f"{fault}.json"
                if result.exists():
                    return FaultProof.from_json(result.read_text())
                claimed = {int(p.name) for p in self.claims.iterdir()}
                free = [i for i in range(len(self.batches)) if i not in claimed]
                index = own if own in free else (free[0] if free else None)
                if index is not None:
                    (self.claims / str(index)).touch()
            if index is None:
                assert time.monotonic() < deadline, (
                    f"waited {WAIT_SECONDS} s for the batch with {fault!r}, which another"
                    f" worker claimed; see {self.directory}"
                )
                time.sleep(0.5)
                continue
            self._prove(index)

    def _prove(self, index: int) -> None:
        batch = self.batches[index]
        try:
            proofs = self.prove(index, batch)
        except Exception as exc:  # the waiting worker must not wait in vain
            message = f"proving the batch {', '.join(batch)} raised {exc!r}"
            proofs = {fault: FaultProof(runs=[message]) for fault in batch}
            self._publish(proofs)
            raise
        self._publish(proofs)

    def _publish(self, proofs: Mapping[str, FaultProof]) -> None:
        for fault, proof in proofs.items():
            partial = self.results / f".{fault}.json"
            partial.write_text(proof.to_json())
            partial.rename(self.results / f"{fault}.json")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.directory / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
