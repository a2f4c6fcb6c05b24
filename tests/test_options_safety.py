"""Numeric options out of range, and the faulty runtimes' state directory.

A deadline far beyond a day overflowed a C timeout deep in the run (an
INTERNALERROR); ``nan``, ``inf``, zero and negatives mean no deadline. All are
usage errors naming where the value came from.

A faulty runtime runs as root: its state directory must never be a name that
another local user can plant first. The attacker tests run a real
unprivileged process (uid 65534, no groups) to plant links and directories.

Conformance checks that make names outside their bundle (a cgroupsPath, a
seccomp listener socket) must make them where a killed run's leftovers are
found and swept: the run's prefix and the run's own directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_runc.faulty import behaviours
from pytest_runc.sessions.options import MAX_SECONDS
from pytest_runc.suite import real_nodeid
from tests.helpers import (
    NOTHING_LEFT,
    as_attacker,
    leftovers,
    needs_root_and_setpriv,
    sticky_dir,
    token_of,
)

REPO = Path(__file__).resolve().parent.parent
SHOW_TIMEOUT = """
def test_show(runc_session):
    print("TIMEOUT", runc_session.settings.timeout)
"""

# -- --runc-timeout ------------------------------------------------------------

BAD_SECONDS = ["1e7", "86401", "nan", "NaN", "inf", "-inf", "1e400", "-1", "0", "-0", "soon"]


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_a_bad_timeout_on_the_command_line_is_a_usage_error(pytester, value):
    """Without --runc too: a value the run cannot use is refused before it starts."""
    pytester.makepyfile(SHOW_TIMEOUT)
    result = pytester.runpytest(f"--runc-timeout={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([f"*--runc-timeout: {value!r}*"])
    assert "Traceback" not in result.stderr.str()
    assert "OverflowError" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("value", ["1e7", "nan", "inf", "0"])
def test_a_bad_timeout_from_env_or_ini_names_its_origin(pytester, monkeypatch, value):
    pytester.makepyfile(SHOW_TIMEOUT)
    monkeypatch.setenv("PYTEST_RUNC_TIMEOUT", value)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*environment variable PYTEST_RUNC_TIMEOUT*"])
    monkeypatch.delenv("PYTEST_RUNC_TIMEOUT")
    pytester.makeini(f"[pytest]\nrunc_timeout = {value}\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini key runc_timeout*"])


def test_more_than_a_day_says_the_limit(pytester):
    pytester.makepyfile(SHOW_TIMEOUT)
    result = pytester.runpytest("--runc-timeout=1e7")
    result.stderr.fnmatch_lines(["*more than a day*86400*"])


@pytest.mark.parametrize("value", ["0.5", "30", f"{MAX_SECONDS:g}"])
def test_timeouts_up_to_a_day_are_taken(pytester, value):
    pytester.makepyfile(SHOW_TIMEOUT)
    result = pytester.runpytest("-s", f"--runc-timeout={value}")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"*TIMEOUT {float(value)}*"])


# -- FAULTY_STATE_DIR ------------------------------------------------------------


def test_the_state_dir_has_no_default(monkeypatch):
    """No fixed /tmp name to fall back to: unset (or relative) is an error."""
    monkeypatch.delenv(behaviours.STATE_DIR_ENV, raising=False)
    with pytest.raises(SystemExit, match="FAULTY_STATE_DIR is not set"):
        behaviours.state_dir()
    monkeypatch.setenv(behaviours.STATE_DIR_ENV, "relative/dir")
    with pytest.raises(SystemExit, match="must name an absolute directory"):
        behaviours.state_dir()


def test_the_state_dir_is_made_private(tmp_path, monkeypatch):
    monkeypatch.setenv(behaviours.STATE_DIR_ENV, str(tmp_path / "state"))
    made = behaviours.state_dir()
    assert made == tmp_path / "state"
    assert made.is_dir() and not made.is_symlink()
    assert made.stat().st_mode & 0o077 == 0, oct(made.stat().st_mode)


def test_a_state_dir_others_may_write_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / "state"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv(behaviours.STATE_DIR_ENV, str(shared))
    with pytest.raises(SystemExit, match="may be written by group or others"):
        behaviours.state_dir()


def test_a_container_id_cannot_leave_the_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(behaviours.STATE_DIR_ENV, str(tmp_path / "state"))
    with pytest.raises(SystemExit, match="cannot name a state file"):
        behaviours._paused_marker("../../escape")


@pytest.fixture
def sticky(tmp_path: Path) -> Path:
    """A world-writable sticky directory (mode 1777) like /tmp, inside tmp_path."""
    needs_root_and_setpriv()
    return sticky_dir(tmp_path / "shared")


def faulty_pause(state_dir: Path, container_id: str) -> subprocess.CompletedProcess[str]:
    """``pause`` through the pause-does-not-freeze faulty runtime, as root: it only
    writes its marker (the real runtime, ``false``, is never run for ``pause``)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest_runc.faulty", "pause-does-not-freeze", "false",
         "pause", container_id],
        env={**os.environ, "FAULTY_STATE_DIR": str(state_dir)},
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("plant", ["link-to-root-dir", "attacker-dir-with-link"])
def test_faulty_runtime_does_not_follow_a_planted_state_dir(sticky, tmp_path, plant):
    """uid 65534 plants the state directory's name first (a link to a
    directory of root's, or a directory of its own holding a link at the
    marker's name): the faulty runtime, as root, refuses it and creates
    nothing where the links point."""
    victim_dir = tmp_path / "root-only"
    victim_dir.mkdir(mode=0o755)
    victim_file = tmp_path / "root-file"
    if plant == "link-to-root-dir":
        as_attacker(sticky, "ln", "-s", str(victim_dir), "state")
    else:
        as_attacker(
            sticky, "sh", "-c", f"mkdir -m 777 state && ln -s {victim_file} state/paused-prt-x"
        )
    done = faulty_pause(sticky / "state", "prt-x")
    assert done.returncode != 0, "the faulty runtime used a state directory another user planted"
    assert "FAULTY_STATE_DIR" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert list(victim_dir.iterdir()) == [], "root created a file through the planted link"
    assert not victim_file.exists(), "root created the file the planted link names"


def test_faulty_runtime_keeps_its_markers_in_its_own_state_dir(tmp_path):
    """The harness's way (write_wrapper's FAULTY_STATE_DIR) keeps working."""
    state = tmp_path / "pause.state"
    done = faulty_pause(state, "prt-x")
    assert done.returncode == 0, done.stderr
    assert (state / "paused-prt-x").is_file()


# -- what a killed conformance check leaves ---------------------------------------

#: A plugin for the inner run: at the start of the first teardown (containers,
#: sockets and cgroups all still there) write the bundle's config where
#: PRT_SEEN says, then die as a SIGKILL leaves a run: no teardown, no finish.
KILL_AT_TEARDOWN = """
import json, os, signal

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item):
    bundle = item.funcargs.get("bundle")
    with open(os.environ["PRT_SEEN"], "w") as out:
        json.dump({"nodeid": item.nodeid, "config": getattr(bundle, "config", None)}, out)
    os.kill(os.getpid(), signal.SIGKILL)
"""

KILLED_CHECKS = {
    "cgroupsPath": "conformance/test_session.py::test_proc_1_cgroup_is_the_configured_cgroups_path",
    "seccomp listener": "conformance/test_seccomp.py::test_listener_gets_a_stream_connection",
}


@pytest.mark.runc
@pytest.mark.parametrize("what", list(KILLED_CHECKS))
def test_a_killed_checks_names_carry_the_run_and_are_swept(
    pytester, runtime, tmp_path, tmp_path_factory, what
):
    """SIGKILL in the middle of a check: its cgroupsPath is named prt-<token>-*
    (what the sweeper removes), its seccomp socket is inside the run's
    directory (not a /tmp/prt-seccomp-* no sweep knows), and the next run
    leaves nothing of it."""
    # A short base (tmp_path under xdist is long): the socket must fit in a
    # Unix socket address, or the check skips instead of running.
    base = tmp_path_factory.mktemp("b")
    system_tmp, seen = tmp_path / "system-tmp", tmp_path / "seen.json"
    system_tmp.mkdir()
    pytester.makepyfile(killer=KILL_AT_TEARDOWN)
    env = {
        **os.environ,
        "PYTEST_RUNC_TMPDIR": str(base),
        "TMPDIR": str(system_tmp),  # where tempfile.mkdtemp() would put things
        "PRT_SEEN": str(seen),
        # the killer plugin, and this checkout's pytest_runc whatever is installed
        "PYTHONPATH": os.pathsep.join([str(pytester.path), str(REPO)]),
    }
    killed = subprocess.run(
        [sys.executable, "-m", "pytest", real_nodeid(KILLED_CHECKS[what]), "--runc",
         f"--runc-binary={runtime.binary}", "-p", "killer", "-p", "no:cacheprovider",
         "-p", "no:hypothesispytest", "-p", "no:xdist"],
        cwd=pytester.path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stdout[-3000:] + killed.stderr[-2000:]
    token = token_of(killed.stdout)
    config = json.loads(seen.read_text())["config"]
    assert config is not None, f"the check made no bundle:\n{killed.stdout[-3000:]}"
    if what == "cgroupsPath":
        configured = config["linux"]["cgroupsPath"]
        assert configured.startswith(f"/prt-{token}-"), (
            f"cgroupsPath {configured} does not carry the run's prefix prt-{token}-:"
            " a killed run's cgroup would never be swept"
        )
    else:
        listener = Path(config["linux"]["seccomp"]["listenerPath"])
        assert str(listener).startswith(str(base) + "/"), (
            f"the listener socket {listener} is outside the run's directory under {base}"
        )
        assert list(system_tmp.glob("prt-seccomp-*")) == [], "a socket directory in the temp dir"
    pytester.makepyfile(test_next="def test_ok():\n    pass\n")
    swept = subprocess.run(
        [sys.executable, "-m", "pytest", "test_next.py", "--runc",
         f"--runc-binary={runtime.binary}", "-p", "no:cacheprovider",
         "-p", "no:hypothesispytest", "-p", "no:xdist"],
        cwd=pytester.path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert swept.returncode == 0, swept.stdout[-3000:]
    assert leftovers(base, token) == NOTHING_LEFT
    if what == "cgroupsPath":
        name = configured.strip("/")
        left = [*Path("/sys/fs/cgroup").glob(name), *Path("/sys/fs/cgroup").glob(f"*/{name}")]
        assert left == [], f"the configured cgroup is still there: {left}"
