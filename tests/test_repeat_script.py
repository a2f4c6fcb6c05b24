"""scripts/repeat-conformance: its runs, its summary, and the CPU hog of ``--hog``.

A fake ``python3`` first on PATH stands in for pytest: it records its
arguments and the script's other children (the hog's busy loops) while it
"runs", then prints a summary line and exits as told. No container runs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import write_script

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "repeat-conformance"

#: The fake pytest. Run n writes args-n, siblings-n (the script's children and
#: their /proc stat lines) and pid-n, then waits FAKE_SLEEP s (TERM ends the
#: wait: it writes term-n and exits 2), prints a summary and exits with the
#: status in rc-n (default 0).
FAKE_PYTEST = r"""
dir=$FAKE_DIR
n=$(( $(cat "$dir/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$dir/count"
printf '%s\n' "$@" > "$dir/args-$n"
echo $$ > "$dir/pid-$n"
for child in $(cat /proc/$PPID/task/$PPID/children); do
  [ "$child" = "$$" ] || cat "/proc/$child/stat"
done > "$dir/siblings-$n" 2>/dev/null
trap 'echo term > "$dir/term-$n"; kill $pause 2>/dev/null; exit 2' TERM
sleep "${FAKE_SLEEP:-0.2}" & pause=$!
echo started > "$dir/started-$n"
wait $pause
rc=$(cat "$dir/rc-$n" 2>/dev/null || echo 0)
if [ "$rc" -eq 0 ]; then echo "3 passed in 0.20s"; else echo "1 failed, 2 passed in 0.20s"; fi
exit "$rc"
"""


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    """The directory the fake pytest records into (its ``python3`` is in ``bin/``)."""
    write_script(tmp_path / "bin" / "python3", FAKE_PYTEST)
    record = tmp_path / "record"
    record.mkdir()
    return record


def script_env(fake: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{fake.parent / 'bin'}:{os.environ['PATH']}",
        "FAKE_DIR": str(fake),
        "REPEAT_LOG_DIR": str(fake.parent / "logs"),
        **extra,
    }


def start(fake: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["bash", str(SCRIPT), *args],
        env=script_env(fake, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def hog_pids(stdout: str) -> list[int]:
    found = re.search(r"^CPU hog: (\d+) busy loops, pids ([\d ]+)$", stdout, re.M)
    assert found, f"no CPU hog line in:\n{stdout}"
    pids = [int(p) for p in found[2].split()]
    assert len(pids) == int(found[1])
    return pids


def running(pid: int) -> bool:
    """True while ``pid`` is a process that has not ended (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while any(running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [p for p in pids if running(p)]


def wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear within {timeout}s"
        time.sleep(0.02)


def test_hog_runs_beside_every_run_and_ends_with_the_script(fake: Path) -> None:
    (fake / "rc-2").write_text("1")
    proc = start(fake, "2", "--hog", "-k", "exec")
    stdout, stderr = proc.communicate(timeout=60)
    pids = hog_pids(stdout)
    assert len(pids) == len(os.sched_getaffinity(0)), "not one busy loop per core"
    assert proc.returncode == 1, f"one run failed, the script exited {proc.returncode}: {stderr}"
    runs = re.findall(
        r"^run +(\d+): exit (\d+), +\d+ ms, load [\d.]+ [\d.]+ [\d.]+: (.*)$", stdout, re.M
    )
    assert runs == [
        ("1", "0", "3 passed in 0.20s"),
        ("2", "1", "1 failed, 2 passed in 0.20s"),
    ], stdout
    assert (
        stdout.splitlines()[-1] == f"2 runs, 1 failed (beside a CPU hog of {len(pids)} busy loops)"
    )
    for n in (1, 2):
        args = (fake / f"args-{n}").read_text().split("\n")[:-1]
        assert args[:4] == ["-m", "pytest", "pytest_runc/conformance", "--runc"]
        assert args[-2:] == ["-k", "exec"] and "--hog" not in args, args
        # The busy loops ran (state R: running or runnable) while pytest did.
        states = {
            int(line.split()[0]): line.rsplit(")", 1)[1].split()[0]
            for line in (fake / f"siblings-{n}").read_text().splitlines()
        }
        assert {pid: states.get(pid) for pid in pids} == {pid: "R" for pid in pids}, states
    assert wait_gone(pids, 0) == [], "a busy loop outlived the script"
    logs = fake.parent / "logs"
    assert sorted(p.name for p in logs.iterdir()) == ["run-2.log"], "only the failed run's log"


def test_without_hog_no_busy_loop_runs(fake: Path) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), "1"], env=script_env(fake), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "CPU hog" not in done.stdout
    assert done.stdout.splitlines()[-1] == "1 runs, 0 failed"
    assert (fake / "siblings-1").read_text() == "", "the script ran other children beside pytest"


@pytest.mark.parametrize(("name", "status"), [("INT", 130), ("TERM", 143), ("HUP", 129)])
def test_a_signal_stops_pytest_and_the_hog(fake: Path, name: str, status: int) -> None:
    """Ctrl-C (or TERM, HUP) to the script: pytest gets TERM (its own Ctrl-C,
    which deletes its containers), the busy loops are killed, no more runs."""
    proc = start(fake, "3", "--hog", FAKE_SLEEP="30")
    try:
        wait_for(fake / "started-1")
        proc.send_signal(getattr(signal, f"SIG{name}"))
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == status, stderr
    assert f"interrupted by SIG{name}" in stderr
    assert (fake / "term-1").exists(), "pytest was not told to stop"
    assert not (fake / "args-2").exists(), "a run started after the signal"
    pids = hog_pids(stdout)
    assert wait_gone(pids, 0) == [], "a busy loop outlived the script"
    assert wait_gone([int((fake / "pid-1").read_text())], 0) == [], "pytest outlived the script"


def test_a_killed_script_leaves_no_busy_loop(fake: Path) -> None:
    """Even SIGKILL, which no trap sees: each busy loop notices its script is gone."""
    proc = start(fake, "1", "--hog", FAKE_SLEEP="30")
    try:
        wait_for(fake / "started-1")
        proc.kill()
        stdout, _ = proc.communicate(timeout=20)
        assert wait_gone(hog_pids(stdout), 5) == [], "a busy loop outlived a SIGKILLed script"
    finally:
        pytest_pid = int((fake / "pid-1").read_text())
        if running(pytest_pid):
            os.kill(pytest_pid, signal.SIGTERM)


def test_a_run_count_that_is_no_number_is_a_usage_error(fake: Path) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), "five", "--hog"], env=script_env(fake), capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "must be a whole number, not 'five'" in done.stderr and "usage:" in done.stderr
    assert not (fake / "count").exists(), "pytest ran"
