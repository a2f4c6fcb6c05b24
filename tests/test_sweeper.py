"""The lock and the sweeper, mostly without root: a fake runtime records what it
is asked to delete, and a fake cgroup tree stands in for /sys/fs/cgroup."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_runc.sessions.cgroups import remove_cgroups
from pytest_runc.sessions.workdir import (
    KEEP_FILE,
    RECORD_FILE,
    WorkDir,
    base_dir,
    is_locked,
    sweep,
)
from tests.helpers import write_script

TOKEN = "0123abcd"


def recording_runtime(directory: Path, log: Path, *, deletes: bool = True) -> Path:
    """A runtime that logs its arguments; ``delete`` removes the state entry
    (as runc does) unless ``deletes`` is false, ``list --quiet`` lists them."""
    remove = 'rm -rf "$root/$last"' if deletes else ":"
    return write_script(
        directory / "runtime",
        f"""echo "$@" >> {log}
root=""; prev=""; last=""
for a in "$@"; do
  [ "$prev" = "--root" ] && root="$a"
  prev="$a"; last="$a"
done
case " $* " in
  *" delete "*) {remove};;
  *" list "*) ls "$root";;
esac
exit 0
""",
    )


def leftover(
    base: Path,
    token: str,
    containers=("c1",),
    *,
    owner: dict | None = None,
    state=True,
    recorded=(),
) -> Path:
    """A directory as a SIGKILLed run leaves it: no process holds its lock."""
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = base / f"s-{token}"
    path.mkdir(parents=True)
    (path / RECORD_FILE).write_text("".join(f"{p}\n" for p in recorded))
    if state:
        (path / "state").mkdir()
    for container_id in containers:
        (path / "state" / container_id).mkdir()
    (path / "owner.json").write_text(json.dumps({"pid": 1, "token": token, **(owner or {})}))
    return path


class TestLock:
    def test_a_live_directory_is_locked_and_unlocked_once_released(self, tmp_path):
        made = WorkDir.create(tmp_path, TOKEN)
        assert made.path == tmp_path / f"s-{TOKEN}"
        assert is_locked(made.path)
        made.release()
        assert not is_locked(made.path)

    def test_the_lock_goes_with_the_process_that_dies(self, tmp_path):
        code = (
            "import sys, time; from pathlib import Path; from pytest_runc.sessions.workdir import WorkDir;"
            f"w = WorkDir.create(Path({str(tmp_path)!r}), 'deadbeef'); print('READY', flush=True);"
            " time.sleep(60)"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
            assert is_locked(tmp_path / "s-deadbeef")
        finally:
            proc.kill()
            proc.wait()
        assert not is_locked(tmp_path / "s-deadbeef")

    def test_a_directory_still_being_made_is_spared_and_an_old_one_is_not(self, tmp_path):
        young = tmp_path / "n-aaaaaaaa"
        young.mkdir()
        old = tmp_path / "n-bbbbbbbb"
        old.mkdir()
        os.utime(old, (time.time() - 3600, time.time() - 3600))
        sweep(None, base=tmp_path)
        assert young.exists() and not old.exists()


class TestSweeper:
    def test_removes_dead_runs_only_and_deletes_through_their_root(self, tmp_path):
        log = tmp_path / "calls.log"
        fake = recording_runtime(tmp_path / "bin", log)
        base = tmp_path / "base"
        dead = leftover(base, "dead0001", ("prt-dead0001-1-1", "prt-dead0001-2-1"))
        alive = WorkDir.create(base, "a11ve001")
        (alive.state_root / "prt-a11ve001-1").mkdir(parents=True)
        kept = leftover(base, "keep0001")
        (kept / KEEP_FILE).write_text("failed test")
        foreign = tmp_path / "foreign-state"
        (foreign / "other").mkdir(parents=True)
        not_ours = base / "other-dir"
        (not_ours / "state" / "x").mkdir(parents=True)

        result = sweep(str(fake), base=base)

        assert not dead.exists()
        assert alive.path.exists() and kept.exists() and not_ours.exists() and foreign.exists()
        deletes = sorted(line for line in log.read_text().splitlines() if "delete" in line)
        assert deletes == [
            f"--root {dead}/state delete --force prt-dead0001-1-1",
            f"--root {dead}/state delete --force prt-dead0001-2-1",
        ]
        assert any("prt-dead0001-1-1" in line for line in result.removed)
        assert result.left == []

    def test_uses_the_runtime_the_dead_run_used(self, tmp_path):
        used, current = tmp_path / "used.log", tmp_path / "current.log"
        theirs = recording_runtime(tmp_path / "theirs", used)
        ours = recording_runtime(tmp_path / "ours", current)
        dead = leftover(tmp_path / "base", "dead0002", ("c1",), owner={"binary": str(theirs)})
        sweep(str(ours), base=tmp_path / "base")
        assert not dead.exists()
        assert "delete --force c1" in used.read_text()
        assert not current.exists()

    def test_undeletable_containers_keep_the_directory_and_print_the_command(self, tmp_path):
        log = tmp_path / "calls.log"
        stubborn = recording_runtime(tmp_path / "bin", log, deletes=False)
        dead = leftover(tmp_path / "base", "dead0003", ("prt-dead0003-1-1",))
        result = sweep(str(stubborn), base=tmp_path / "base")
        assert dead.exists(), "a directory whose containers are still there was removed"
        assert result.left[0].startswith(f"{dead}: kept, 1 container(s) left")
        assert result.left[1].strip() == (
            f"{stubborn} --root {dead}/state delete --force prt-dead0003-1-1"
        )
        assert not is_locked(dead), "the sweeper must not keep the lock"

    def test_without_a_runtime_containers_are_not_orphaned(self, tmp_path):
        with_containers = leftover(tmp_path / "base", "dead0004", ("prt-dead0004-1-1",))
        without = leftover(tmp_path / "base", "dead0005", ())
        result = sweep(None, base=tmp_path / "base")
        assert with_containers.exists() and not without.exists()
        assert "no runtime binary" in result.left[0]
        assert (
            "runc --root" in result.left[1] and "delete --force prt-dead0004-1-1" in result.left[1]
        )

    def test_a_shared_state_root_loses_only_the_dead_runs_containers(self, tmp_path):
        log = tmp_path / "calls.log"
        fake = recording_runtime(tmp_path / "bin", log)
        shared = tmp_path / "user-root"
        for name in ("prt-dead0006-1-1", "users-own", "prt-other001-1-1"):
            (shared / name).mkdir(parents=True)
        dead = leftover(
            tmp_path / "base", "dead0006", (), owner={"state_root": str(shared)}, state=False
        )
        sweep(str(fake), base=tmp_path / "base")
        assert not dead.exists()
        assert sorted(p.name for p in shared.iterdir()) == ["prt-other001-1-1", "users-own"]

    def test_sweeps_only_the_base_in_use(self, tmp_path, monkeypatch):
        # /dev/shm and the temp dir are where other runs' bases usually are:
        # with PYTEST_RUNC_TMPDIR set, a run must not look there at all.
        shm, temp = tmp_path / "shm", tmp_path / "temp"
        monkeypatch.setattr("pytest_runc.sessions.basedir.SHM", shm)
        monkeypatch.setattr("tempfile.tempdir", str(temp))
        monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path / "mine"))
        ours = leftover(base_dir(), "dead0007", ())
        others = [
            leftover(parent / f"pytest-runc-{os.getuid()}", "dead0008", ())
            for parent in (shm, temp)
        ]
        sweep(None)
        assert not ours.exists()
        assert all(p.exists() for p in others), "the sweeper left the base in use"


def fake_cgroups(root: Path, names: list[str]) -> None:
    for controller in ("pids", "memory", "unified"):
        for name in names:
            (root / controller / name).mkdir(parents=True)


class TestCgroups:
    def test_only_empty_cgroups_of_recorded_prefixes_go_deepest_first(self, tmp_path):
        root = tmp_path / "cgroup"
        fake_cgroups(
            root,
            [
                f"prt-{TOKEN}-1-1",
                f"prt-{TOKEN}-2-1/nested",
                f"prt-{TOKEN}-9-1",  # same token, never recorded: a bystander's
                f"prt-{TOKEN}-10-1",  # starts like prt-<token>-1 but is not ours
                "prt-ffffffff-1-1",
                "user.slice",
            ],
        )
        (root / "pids" / f"prt-{TOKEN}-3-1").mkdir()
        (root / "pids" / f"prt-{TOKEN}-3-1" / "cgroup.procs").write_text("42")  # busy
        (root / f"prt-{TOKEN}-4-1").mkdir()  # v2: at the top of the tree

        prefixes = [f"prt-{TOKEN}-{n}" for n in (1, 2, 3, 4)]
        removed = remove_cgroups(prefixes, root=root)

        left = sorted(str(p.relative_to(root)) for p in root.glob("*/*")) + sorted(
            p.name for p in root.glob("prt-*")
        )
        bystanders = [
            f"{c}/{n}"
            for c in ("memory", "pids", "unified")
            for n in (f"prt-{TOKEN}-10-1", f"prt-{TOKEN}-9-1", "prt-ffffffff-1-1", "user.slice")
        ]
        assert left == sorted([*bystanders, f"pids/prt-{TOKEN}-3-1"])
        assert f"{root}/pids/prt-{TOKEN}-2-1/nested" in removed
        assert f"{root}/pids/prt-{TOKEN}-3-1" not in removed, "a busy cgroup reported removed"

    def test_kept_containers_cgroups_are_spared(self, tmp_path):
        root = tmp_path / "cgroup"
        fake_cgroups(root, [f"prt-{TOKEN}-1-1", f"prt-{TOKEN}-2-1"])
        prefixes = [f"prt-{TOKEN}-1", f"prt-{TOKEN}-2"]
        remove_cgroups(prefixes, root=root, spare=frozenset({f"prt-{TOKEN}-1-1"}))
        assert sorted(p.name for p in root.glob("*/*")) == [f"prt-{TOKEN}-1-1"] * 3

    def test_a_run_records_only_its_own_prefixes(self, tmp_path):
        made = WorkDir.create(tmp_path, TOKEN)
        try:
            made.record(f"prt-{TOKEN}-1")
            for bad in ("prt-*", "", "prt-ffffffff-1", "../x", f"prt-{TOKEN}-1/../.."):
                with pytest.raises(ValueError):
                    made.record(bad)
            assert made.recorded() == [f"prt-{TOKEN}-1"]
        finally:
            made.remove()

    def test_nothing_recorded_matches_nothing(self, tmp_path):
        root = tmp_path / "cgroup"
        fake_cgroups(root, [f"prt-{TOKEN}-1-1"])
        assert remove_cgroups([], root=root) == []
        assert len(list(root.glob("*/*"))) == 3


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="environment: needs root")


def a_hierarchy() -> Path:
    """Where a top-level cgroup can be made here: the v2 tree itself, or a v1 controller."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return root
    found = [p for p in sorted(root.glob("*/")) if (p / "cgroup.procs").exists()]
    if not found:
        pytest.skip("host: no cgroup filesystem")
    return found[0]


@needs_root
def test_the_sweeper_removes_a_dead_runs_real_cgroups_not_a_live_ones(tmp_path):
    controller = a_hierarchy()
    dead = leftover(tmp_path / "base", "dead0009", (), recorded=["prt-dead0009-1"])
    live = WorkDir.create(tmp_path / "base", "a11ve009")
    live.record("prt-a11ve009-1")
    made = [controller / "prt-dead0009-1-1", controller / "prt-a11ve009-1-1"]
    try:
        for path in made:
            path.mkdir()
        result = sweep(None, base=tmp_path / "base")
        assert not dead.exists()
        assert not made[0].exists() and f"cgroup {made[0]}" in result.removed
        assert made[1].exists(), "a live run's cgroup was removed"
    finally:
        for path in made:
            if path.exists():
                path.rmdir()
        live.remove()


@needs_root
def test_a_live_run_in_another_pid_namespace_survives_a_sweep(tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("environment: unshare is not installed (apt-get install util-linux)")
    base = tmp_path / "base"
    code = (
        "import time; from pathlib import Path; from pytest_runc.sessions.workdir import WorkDir;"
        f"w = WorkDir.create(Path({str(base)!r}), 'ns0live1');"
        "(w.state_root / 'prt-ns0live1-1-1').mkdir(parents=True);"
        "print('READY', w.path, __import__('os').getpid(), flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[:1] == ["READY"], ready
        assert ready[2] == "1", "the run is not pid 1 of its own namespace"
        live = Path(ready[1])
        log = tmp_path / "calls.log"
        fake = recording_runtime(tmp_path / "bin", log)
        result = sweep(str(fake), base=base)
        assert live.exists() and (live / "state" / "prt-ns0live1-1-1").exists()
        assert not log.exists(), "the sweeper tried to delete a live run's container"
        assert result.removed == [] and result.left == []
    finally:
        proc.kill()
        proc.wait()
    # Once that run is gone, the same sweep takes it.
    deadline = time.monotonic() + 10
    while is_locked(live) and time.monotonic() < deadline:
        time.sleep(0.05)
    result = sweep(str(fake), base=base)
    assert not live.exists(), result


@needs_root
def test_the_sweeper_kills_a_dead_runs_orphans_only_in_its_recorded_cgroups(tmp_path):
    """A runc init whose create was killed has no state: only its cgroup finds it.
    A bystander's cgroup that shares the token but was never recorded is spared."""
    controller = a_hierarchy()
    dead = leftover(tmp_path / "base", "dead000a", (), recorded=["prt-dead000a-1"])
    ours, bystander = controller / "prt-dead000a-1-1", controller / "prt-dead000a-7-1"
    sleepers = []
    try:
        for cgroup in (ours, bystander):
            cgroup.mkdir()
            sleeper = subprocess.Popen(["sleep", "60"])
            (cgroup / "cgroup.procs").write_text(str(sleeper.pid))
            sleepers.append(sleeper)
        result = sweep(None, base=tmp_path / "base")
        assert sleepers[0].wait(timeout=10) == -9, "the orphan in a recorded cgroup lives on"
        assert not ours.exists() and f"cgroup {ours}" in result.removed
        assert not dead.exists()
        assert sleepers[1].poll() is None, "a process in a bystander's cgroup was killed"
        assert bystander.exists() and f"cgroup {bystander}" not in result.removed
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
        for cgroup in (ours, bystander):
            deadline = time.monotonic() + 5
            while cgroup.exists() and time.monotonic() < deadline:
                try:
                    cgroup.rmdir()
                except OSError:
                    time.sleep(0.05)
