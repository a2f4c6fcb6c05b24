"""The sweeper, without root: a fake runtime records what it is asked to delete."""

from __future__ import annotations

import json
import os
import subprocess

from pytest_runc.workdir import WorkDir, owner_alive, sweep
from tests.helpers import write_script


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def leftover(base, name, pid, start="1", containers=("c1",)):
    path = base / name
    (path / "state").mkdir(parents=True)
    for container_id in containers:
        (path / "state" / container_id).mkdir()
    (path / "owner.json").write_text(json.dumps({"pid": pid, "start": start}))
    return path


def test_sweeper_removes_dead_runs_only_and_deletes_through_their_root(tmp_path):
    log = tmp_path / "calls.log"
    fake = write_script(tmp_path / "bin" / "runtime", f'echo "$@" >> {log}\n')
    base = tmp_path / "base"
    dead = leftover(base, "s-1-dead", dead_pid(), containers=("prt-a-1", "prt-a-2"))
    alive = WorkDir.create(base)
    (alive.state_root / "prt-live-1").mkdir(parents=True)
    kept = leftover(base, "s-2-kept", dead_pid())
    (kept / "kept").write_text("failed test")
    foreign = tmp_path / "foreign-state"
    (foreign / "other").mkdir(parents=True)
    not_ours = leftover(base, "other-dir", dead_pid())

    removed = sweep(str(fake), base=base)

    assert not dead.exists()
    assert alive.path.exists() and kept.exists() and not_ours.exists() and foreign.exists()
    calls = log.read_text().splitlines()
    assert sorted(calls) == [
        f"--root {dead}/state delete --force prt-a-1",
        f"--root {dead}/state delete --force prt-a-2",
    ]
    assert any("prt-a-1" in line for line in removed)


def test_pid_reuse_is_not_mistaken_for_a_live_owner(tmp_path):
    path = leftover(tmp_path, "s-x", os.getpid(), start="not-my-start-time")
    assert not owner_alive(path)
    fresh = WorkDir.create(tmp_path)
    assert owner_alive(fresh.path)


def test_a_directory_still_being_made_is_spared(tmp_path):
    young = tmp_path / "s-9-young"
    young.mkdir()
    assert owner_alive(young), "a fresh directory without owner.json must be left alone"
    sweep(None, base=tmp_path)
    assert young.exists()
