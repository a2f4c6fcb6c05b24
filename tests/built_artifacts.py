"""What the packaging tests build, built once per test run.

The sdist and wheel of this tree, a venv with that wheel, the action's
installations and its runs: each takes seconds to tens of seconds, and with
pytest-xdist every worker that needs a module's fixture would make its own.
Here the first worker to need one makes it and the others wait for it: a
file lock and a JSON result in the run's common directory (under xdist the
parent of each worker's base temporary directory). The root run and the
tolerance run (tests/root_reference.py, tests/test_tolerance.py) are shared
the same way, through :func:`once`.

What is made here is shared by the tests of every worker: the tests only read it
or run commands that leave it as it was; a test that would change something
works on a copy of its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

#: What a maker returns for the other workers: a JSON object.
Result = dict[str, Any]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without PYTHONPATH: an installed copy must stand on its own
    (a PYTHONPATH would put a checkout's pytest_runc before the wheel's)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, **extra}


def shared_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This test run's directory common to its xdist workers (the base without xdist)."""
    basetemp = tmp_path_factory.getbasetemp()
    return basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _failure(exc: BaseException) -> Result:
    """How a maker ended, for the other workers: they must not make it again."""
    if isinstance(exc, pytest.skip.Exception):
        return {"skip": str(exc.msg)}
    return {"error": f"{type(exc).__name__}: {exc}"}


def _raise_recorded(name: str, recorded: Result) -> None:
    if "skip" in recorded:
        pytest.skip(recorded["skip"])
    if "error" in recorded:
        pytest.fail(f"{name} failed earlier in this test run: {recorded['error']}", pytrace=False)


def once(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Result]
) -> Result:
    """``make(home)``'s result, made once in this test run: by the first worker
    that asks, in a new directory of the common one, kept with the run's
    temporary files. A skip or failure of ``make`` is every worker's."""
    directory = shared_directory(tmp_path_factory) / name
    result_file = directory / "result.json"
    with _locked(directory):
        if not result_file.exists():
            home = Path(tempfile.mkdtemp(prefix="made-", dir=directory))
            try:
                result = make(home)
            except BaseException as exc:  # recorded, then raised here as it was
                result_file.write_text(json.dumps(_failure(exc)))
                raise
            result_file.write_text(json.dumps({"result": result}))
    recorded = json.loads(result_file.read_text())
    _raise_recorded(name, recorded)
    return dict(recorded["result"])


@contextmanager
def held(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    make: Callable[[Path], Result],
    *,
    release: Callable[[Result], None] | None = None,
    outside: str | None = None,
) -> Iterator[Result]:
    """``make(home)``'s result, shared by the workers that hold it at the same
    time; the last to let go calls ``release`` (and removes ``home`` when it
    is ``outside``: a new directory of that prefix outside pytest's, for
    another user to read). A worker that asks after that makes it again, so
    what ``release`` cleans up never goes from under a test.

    For a session-scoped fixture: ``with held(...) as result: yield ...``.
    """
    directory = shared_directory(tmp_path_factory) / name
    state_file = directory / "state.json"
    me = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}:{os.getpid()}"
    with _locked(directory):
        state: Result = json.loads(state_file.read_text()) if state_file.exists() else {}
        _raise_recorded(name, state)
        if state.get("users"):
            state["users"].append(me)
        else:
            if outside is None:
                home = Path(tempfile.mkdtemp(prefix="made-", dir=directory))
            else:
                home = Path(tempfile.mkdtemp(prefix=outside))
            try:
                result = make(home)
            except BaseException as exc:
                if outside is not None:
                    shutil.rmtree(home, ignore_errors=True)
                state_file.write_text(json.dumps(_failure(exc)))
                raise
            state = {"home": str(home), "outside": outside is not None, "result": result}
            state["users"] = [me]
        state_file.write_text(json.dumps(state))
    try:
        yield dict(state["result"])
    finally:
        with _locked(directory):
            state = json.loads(state_file.read_text())
            state["users"].remove(me)
            try:
                if not state["users"] and release is not None:
                    release(state["result"])
            finally:
                if not state["users"] and state["outside"]:
                    shutil.rmtree(state["home"], ignore_errors=True)
                state_file.write_text(json.dumps(state))


def copy_of_the_checkout(target: Path) -> Path:
    """The files a clone of this repository has: tracked and new ones, not the
    ignored ones (build output, caches)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@dataclass(frozen=True)
class Dist:
    """The one build of this tree: ``python -m build --sdist --wheel`` (each from
    the source tree, in isolated environments), or ``pip wheel`` for the wheel
    alone where the ``build`` package is missing."""

    directory: Path
    returncode: int
    output: str
    sdist: Path | None
    wheel: Path | None


def has_build() -> bool:
    try:
        import build  # noqa: F401
    except ImportError:
        return False
    return True


def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """This tree's sdist and wheel, built once per test run from a copy of the
    checkout (the build writes build/ and *.egg-info into the tree it builds)."""

    def make(home: Path) -> Result:
        tree = home / "tree"
        if shutil.which("git") and (REPO / ".git").exists():
            copy_of_the_checkout(tree)
        else:
            ignore = shutil.ignore_patterns(
                ".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".*cache"
            )
            shutil.copytree(REPO, tree, ignore=ignore)
        out = home / "dist"
        if has_build():
            argv = [sys.executable, "-m", "build", "--sdist", "--wheel", "-o", str(out), str(tree)]
        else:
            argv = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out)]
            argv.append(str(tree))
        done = subprocess.run(
            argv, cwd=home, capture_output=True, text=True, check=False, timeout=900
        )
        sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("pytest_runc-*.whl"))
        return {
            "directory": str(out),
            "returncode": done.returncode,
            "output": done.stdout[-3000:] + done.stderr[-3000:],
            "sdist": str(sdists[0]) if len(sdists) == 1 else None,
            "wheel": str(wheels[0]) if len(wheels) == 1 else None,
        }

    built = once(tmp_path_factory, "dist", make)
    return Dist(
        Path(built["directory"]),
        built["returncode"],
        built["output"],
        Path(built["sdist"]) if built["sdist"] else None,
        Path(built["wheel"]) if built["wheel"] else None,
    )


def wheel_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """The interpreter of a new venv with ``wheel`` installed (no dependencies:
    it sees this interpreter's packages), made once per test run. Its users
    only run commands with it: none installs or removes anything."""

    def make(home: Path) -> Result:
        venv = home / "venv"
        created = subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert created.returncode == 0, created.stderr
        python = venv / "bin" / "python"
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
            cwd=home,
            capture_output=True,
            text=True,
            check=False,
            env=clean_env(),
        )
        assert installed.returncode == 0, installed.stderr
        return {"python": str(python)}

    return Path(once(tmp_path_factory, "wheel-venv", make)["python"])
