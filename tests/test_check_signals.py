"""The bundle check under signals: SIGTERM, SIGINT and SIGHUP in the middle of a
trial clean up exactly what the trial made; a SIGKILLed check is swept by the
next one; the runtime never outlives the process that started it.

The hang is real runc's: a network namespace whose path is a FIFO makes
runc's nsexec block in open(2), with ``runc run`` and two ``runc init``
waiting, their cgroups made and the overlay mounted. The check never lets
runc join a namespace path of the bundle, so a wrapper given as
``--runc-binary`` writes the FIFO into the stand-in's config.json and execs
the real runc (same pids, same process tree). Only processes this test
started (descendants of its own subprocess, recorded by pid) and a private
PYTEST_RUNC_TMPDIR are looked at.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_runc.oci.bundle import Bundle
from pytest_runc.oci.errors import RuntimeTimeout
from pytest_runc.oci.runtime import Runtime, _descendants
from pytest_runc.sessions.workdir import mounts_below, sweep
from tests.helpers import write_script

REPO = Path(__file__).resolve().parent.parent
CGROUP_ROOT = Path("/sys/fs/cgroup")

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="the check's trial runs runc as root: run these tests as root"
)


# -- helpers -----------------------------------------------------------------


def cli(*args: str, base: Path) -> subprocess.Popen[str]:
    """``python -m pytest_runc ARGS`` with a private base directory."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest_runc", *args],
        cwd=REPO,
        env={**os.environ, "PYTEST_RUNC_TMPDIR": str(base)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int, was: str) -> bool:
    """Whether ``pid`` still runs the command it ran (a zombie is dead; a pid
    taken over by another command is not ours any more)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and cmdline(pid) == was


def check_cgroups(token: str) -> list[str]:
    """The trial's cgroups, ``prt-check-<token>``, in every hierarchy."""
    name = f"prt-check-{token}"
    return sorted(
        str(p) for p in [CGROUP_ROOT / name, *CGROUP_ROOT.glob(f"*/{name}")] if p.is_dir()
    )


def wait_for_hang(proc: subprocess.Popen[str], processes: dict[int, str]) -> str:
    """Wait until runc hangs in the trial; record our descendants in ``processes``
    and return the trial's token."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.communicate()
        found = {pid: cmdline(pid) for pid in _descendants(proc.pid)}
        token = next(
            (
                m.group(1)
                for c in found.values()
                if (m := re.search(r"prt-check-(\w+)$", c.strip()))
            ),
            None,
        )
        inits = [c for c in found.values() if c.strip().endswith("runc init")]
        processes.update(found)
        if token and len(inits) >= 2 and check_cgroups(token):
            return token
        assert time.monotonic() < deadline, f"runc never hung: {found}"
        time.sleep(0.05)


def leftovers(base: Path, token: str, processes: dict[int, str]) -> dict[str, list[str]]:
    """What is left of the trial: our recorded processes, mounts, cgroups, dirs."""
    ours = base / f"pytest-runc-{os.getuid()}"
    return {
        "processes": [f"{p} {c}" for p, c in processes.items() if alive(p, c)],
        "mounts": mounts_below(base),
        "cgroups": check_cgroups(token),
        "dirs": [str(p) for p in ours.glob("*")] if ours.is_dir() else [],
    }


NOTHING: dict[str, list[str]] = {"processes": [], "mounts": [], "cgroups": [], "dirs": []}


def wait_until_gone(base: Path, token: str, processes: dict[int, str]) -> dict[str, list[str]]:
    """Leftovers, after giving killed processes a moment to be reaped by init."""
    deadline = time.monotonic() + 5
    while (left := leftovers(base, token, processes)) != NOTHING and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture
def base(tmp_path: Path, runtime: Runtime) -> Iterator[Path]:
    """A private PYTEST_RUNC_TMPDIR (``runtime`` skips when runc is missing); what
    a failing test leaves in it is swept afterwards."""
    base = tmp_path / "base"
    yield base
    sweep(runtime.binary, base=base / f"pytest-runc-{os.getuid()}")


@pytest.fixture
def processes(base: Path) -> Iterator[dict[int, str]]:
    """Our subprocess's descendants (pid -> command line), recorded by the test:
    whatever of them a failing test leaves alive is killed at teardown, before
    ``base`` is swept."""
    recorded: dict[int, str] = {}
    yield recorded
    for pid, command in recorded.items():
        if alive(pid, command):
            os.kill(pid, signal.SIGKILL)


HANGING_WRAPPER = """#!{python}
import json, os, sys

args = sys.argv[1:]
if "run" in args and "--bundle" in args:
    path = os.path.join(args[args.index("--bundle") + 1], "config.json")
    with open(path) as file:
        config = json.load(file)
    linux = config.setdefault("linux", {{}})
    others = [n for n in linux.get("namespaces", []) if n.get("type") != "network"]
    linux["namespaces"] = [*others, {{"type": "network", "path": {fifo!r}}}]
    with open(path, "w") as file:
        json.dump(config, file)
os.execv({runc!r}, [{runc!r}, *args])
"""


@pytest.fixture
def hanging_runc(runtime: Runtime, tmp_path: Path) -> str:
    """A ``--runc-binary`` whose ``run`` is real runc hanging on a FIFO namespace."""
    fifo = tmp_path / "netns-fifo"
    os.mkfifo(fifo)
    wrapper = tmp_path / "bin" / "hanging-runc"
    wrapper.parent.mkdir()
    wrapper.write_text(
        HANGING_WRAPPER.format(python=sys.executable, fifo=str(fifo), runc=runtime.binary)
    )
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.fixture
def a_bundle(bundle_factory: Callable[..., Bundle]) -> Path:
    """A bundle runc runs (``true``): only the wrapper makes its trial hang."""
    made = bundle_factory("runs")
    made.command("true").write()
    return made.path


# -- signals -----------------------------------------------------------------


@needs_root
@pytest.mark.runc
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_mid_trial_cleans_up_everything_without_a_traceback(
    a_bundle: Path,
    base: Path,
    hanging_runc: str,
    processes: dict[int, str],
    signum: signal.Signals,
) -> None:
    proc = cli("check", str(a_bundle), "--timeout", "60", "--runc-binary", hanging_runc, base=base)
    try:
        token = wait_for_hang(proc, processes)
        assert leftovers(base, token, processes)["mounts"], "the trial mounted nothing?"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert f"interrupted by {signum.name}" in err
    assert wait_until_gone(base, token, processes) == NOTHING


@needs_root
@pytest.mark.runc
def test_a_killed_checks_leftovers_are_swept_by_the_next_check_and_removed_means_gone(
    a_bundle: Path, base: Path, hanging_runc: str, runtime: Runtime, processes: dict[int, str]
) -> None:
    proc = cli("check", str(a_bundle), "--timeout", "60", "--runc-binary", hanging_runc, base=base)
    try:
        token = wait_for_hang(proc, processes)
    finally:
        proc.kill()
    proc.communicate(timeout=30)
    left = leftovers(base, token, processes)
    assert left["cgroups"] and left["mounts"] and left["dirs"], left
    # `runc run` itself died with the check (PR_SET_PDEATHSIG); its hung
    # `runc init` children are in the trial's cgroup, for the sweeper.
    # The kernel delivers that SIGKILL as the parent exits: give it a moment.
    runc_run = {p: c for p, c in processes.items() if " run " in c}
    assert runc_run
    deadline = time.monotonic() + 5
    while any(alive(p, c) for p, c in runc_run.items()):
        assert time.monotonic() < deadline, f"runc run outlived the check: {runc_run}"
        time.sleep(0.02)

    second = cli("check", str(a_bundle), "--runc-binary", runtime.binary, base=base)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, out + err
    assert "Traceback" not in err
    removed = re.findall(r"removed leftover of an earlier run: (\w+) (\S+)", err)
    assert removed, err
    for kind, what in removed:
        if kind in ("cgroup", "directory"):
            assert not Path(what).exists(), f"said removed, but {what} is still there"
    said = {what for kind, what in removed if kind == "cgroup"}
    assert set(left["cgroups"]) <= said, err
    assert wait_until_gone(base, token, processes) == NOTHING


# -- the runtime never outlives its caller --------------------------------------


HANGING_RUNTIME = """echo $$ > {pidfile}
exec sleep 600
"""


def wait_for_file(path: Path) -> str:
    deadline = time.monotonic() + 30
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.02)
    return path.read_text().strip()


def test_a_runtime_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: SIGKILL the caller, and the runtime goes too."""
    pidfile = tmp_path / "runtime.pid"
    fake = write_script(tmp_path / "bin" / "fake-runc", HANGING_RUNTIME.format(pidfile=pidfile))
    caller = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from pytest_runc.oci.runtime import Runtime;"
            " Runtime(sys.argv[1], Path(sys.argv[2]), timeout=600).invoke('run', 'x')",
            str(fake),
            str(tmp_path / "state"),
        ],
        cwd=REPO,
    )
    try:
        pid = int(wait_for_file(pidfile))
        was = cmdline(pid)
        assert alive(pid, was)
    finally:
        caller.kill()
        caller.wait(timeout=30)
    deadline = time.monotonic() + 10
    while alive(pid, was):
        assert time.monotonic() < deadline, "the runtime outlived its SIGKILLed caller"
        time.sleep(0.02)


SUDO_WITH_PTY = """[ "$1" = -n ] && shift
[ "$1" = -- ] && shift
case "$1" in
  kill) exec "$@";;
esac
# Like sudo with use_pty: the command runs in a session of its own, and sudo
# stays its parent (a kill of sudo's process group misses it).
setsid "$@" &
wait $!
"""


def test_a_timed_out_runtime_through_sudo_is_killed_in_its_own_session(tmp_path: Path) -> None:
    """Through sudo the runtime may sit in another session: it is killed by pid,
    within the deadline, and the call raises RuntimeTimeout (not PermissionError)."""
    pidfile = tmp_path / "runtime.pid"
    fake = write_script(tmp_path / "bin" / "fake-runc", HANGING_RUNTIME.format(pidfile=pidfile))
    write_script(tmp_path / "sudo-bin" / "sudo", SUDO_WITH_PTY)
    path = f"{tmp_path / 'sudo-bin'}:{os.environ['PATH']}"
    runtime = Runtime(str(fake), tmp_path / "state", timeout=1, sudo=True)
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", path)
        with pytest.raises(RuntimeTimeout):
            runtime.invoke("run", "x")
    assert time.monotonic() - started < 15
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5  # killed; init may take a moment to reap it
    while alive(pid, "sleep 600 "):
        assert time.monotonic() < deadline, "the runtime outlived its timeout"
        time.sleep(0.02)


# -- usage -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e7", "86401", "nan", "inf", "-inf", "0", "-1"])
def test_a_timeout_that_is_not_a_sane_number_of_seconds_is_a_usage_error(
    tmp_path: Path, value: str
) -> None:
    proc = cli("check", "--static-only", f"--timeout={value}", str(tmp_path), base=tmp_path / "b")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and "--timeout" in err, err
    assert "Traceback" not in err
