"""Nothing left behind: after passing, failing, interrupted, terminated and
killed runs, and under xdist. These run real containers (root, --runc)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pytest_runc.oci.runtime import Runtime
from tests.helpers import NOTHING_LEFT, leftovers, session_dirs, token_of, write_script

pytestmark = pytest.mark.runc

FAILING = """
def test_fails(container, bundle):
    bundle.command("sleep", "60")
    made = container()
    made.run(detach=True)
    assert made.state().status == "stopped", "deliberate failure"
"""

WAITS_FOR_SIGNAL = """
import time
def test_waits(container, bundle, tmp_path_factory):
    bundle.command("sleep", "60")
    container().run(detach=True)
    interactive_bundle = bundle
    print("READY", flush=True)
    open({ready!r}, "w").write("ready")
    time.sleep(60)
"""


@pytest.fixture
def base(tmp_path, monkeypatch, runtime):
    """An isolated PYTEST_RUNC_TMPDIR for the inner runs (needs the real runtime)."""
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path / "tmp"))
    return tmp_path / "tmp"


def inner_args(*extra):
    return ("--runc", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *extra)


def test_failing_test_reports_and_leaves_nothing(pytester, base):
    pytester.makepyfile(FAILING)
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(*inner_args(f"--junitxml={xml}"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*deliberate failure*",
            "*runc transcript*",
            "*run --bundle*--detach*",
            "*runc state*",
            '*"status": "running"*',
            "*config.json (*",
            '*"sleep"*',
            "*reproduce*",
            "*--runc-keep-failed*",
        ]
    )
    report = xml.read_text()
    for section in ("runc transcript", "runc state", "config.json", "reproduce"):
        assert section in report, f"{section} missing from the JUnit XML"
    assert leftovers(base, token_of(result.stdout.str())) == NOTHING_LEFT


def test_keep_failed_keeps_bundle_and_container_and_says_where(pytester, base):
    pytester.makepyfile(FAILING)
    result = pytester.runpytest_subprocess(*inner_args("--runc-keep-failed"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*kept for failed tests*",
            "*container prt-*inspect*state*remove*delete --force*",
            "*test_fails*bundles*",
        ]
    )
    kept = session_dirs(base)
    assert len(kept) == 1 and (kept[0] / "kept").exists()
    state_root = kept[0] / "state"
    ids = Runtime("runc", state_root).list_ids()
    assert len(ids) == 1, "the failed test's container was not kept"
    # The next run's sweeper spares a kept directory.
    pytester.makepyfile(test_other="def test_ok(): pass")
    pytester.runpytest_subprocess(*inner_args("test_other.py"))
    assert session_dirs(base) == kept
    for container_id in ids:
        Runtime("runc", state_root).delete(container_id, force=True)
    import shutil

    shutil.rmtree(kept[0])
    kept[0].parent.rmdir()  # the next run would remove the empty base itself
    assert leftovers(base, token_of(result.stdout.str())) == NOTHING_LEFT


def test_keyboard_interrupt_leaves_nothing(pytester, base):
    pytester.makepyfile("""
        def test_interrupted(container, bundle):
            bundle.command("sleep", "60")
            container().run(detach=True)
            raise KeyboardInterrupt
    """)
    result = pytester.runpytest_subprocess(*inner_args())
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert leftovers(base, token_of(result.stdout.str())) == NOTHING_LEFT


def _start_and_wait(pytester, base, *extra):
    ready = pytester.path / "ready"
    pytester.makepyfile(WAITS_FOR_SIGNAL.format(ready=str(ready)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *inner_args(*extra)],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTEST_RUNC_TMPDIR": str(base)},
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert time.monotonic() < deadline, "the inner run never got ready"
        time.sleep(0.05)
    return proc


def test_sigterm_runs_teardown_and_leaves_nothing(pytester, base):
    proc = _start_and_wait(pytester, base)
    assert leftovers(base)["processes"], "no container was running before SIGTERM"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert b"KeyboardInterrupt" in out or b"Interrupted" in out, out.decode()
    token = token_of(out.decode())
    assert leftovers(base, token) == NOTHING_LEFT


INTERRUPTING_RUNTIME = """#!/bin/bash
# `create` sends SIGTERM to pytest the moment the container's first cgroup
# exists: pytest then kills this runtime half-way, before the state is written.
case " $* " in
  *" create "*)
    id="${@: -1}"
    runc "$@" &
    child=$!
    for i in $(seq 1 2000); do
      [ -d /sys/fs/cgroup/cpuset/$id ] || [ -d /sys/fs/cgroup/$id ] && break
      sleep 0.001
    done
    kill -TERM $PPID
    wait $child
    exit $?;;
esac
exec runc "$@"
"""


def test_sigterm_while_a_container_is_being_created_leaves_no_cgroup(pytester, base, tmp_path):
    # The first create is the runtime check's. Measured on runc 1.1.5 without
    # the session's own cgroup cleanup: 1 or 9 empty prt-<token>-smoke-create
    # cgroups left in each of 8 runs (`delete` finds no container whose state
    # was never written).
    interrupting = tmp_path / "bin" / "runc"
    interrupting.parent.mkdir()
    interrupting.write_text(INTERRUPTING_RUNTIME)
    interrupting.chmod(0o755)
    pytester.makepyfile("""
        def test_create(container, bundle):
            bundle.command("sleep", "60")
            container().create()
    """)
    result = pytester.runpytest_subprocess(*inner_args(f"--runc-binary={interrupting}"))
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    assert leftovers(base, token_of(result.stdout.str())) == NOTHING_LEFT


def test_an_empty_cgroup_whose_container_state_is_gone_goes_at_the_end(pytester, base):
    """A container killed half-made (its state never written) leaves an empty
    cgroup that `delete` cannot find: the run removes the cgroups of the id
    prefixes it recorded."""
    pytester.makepyfile("""
        from pathlib import Path
        def test_half_made(runc_session):
            prefix = runc_session.id_prefix()  # recorded, as a container fixture's is
            for controller in ("pids", "memory", "unified", "."):
                root = Path("/sys/fs/cgroup") / controller
                if (root / "cgroup.procs").exists():
                    (root / f"{prefix}-1").mkdir()
    """)
    result = pytester.runpytest_subprocess(*inner_args())
    result.assert_outcomes(passed=1)
    assert leftovers(base, token_of(result.stdout.str())) == NOTHING_LEFT


def test_sigkill_leftovers_are_swept_by_the_next_run_and_only_ours(pytester, base, tmp_path):
    foreign_root = tmp_path / "foreign-state"
    foreign = Runtime("runc", foreign_root)
    foreign_bundle = pytester.mkdir("foreign")
    from pytest_runc.oci.bundle import Bundle
    from pytest_runc.oci.rootfs import RootfsSource

    RootfsSource(None, tmp_path).copy_to(foreign_bundle / "rootfs")
    Bundle(foreign_bundle).command("sleep", "60").write()
    before_default = (
        Runtime("runc", __import__("pathlib").Path("/run/runc")).list_ids()
        if os.path.isdir("/run/runc")
        else []
    )
    try:
        foreign.run("foreign-1", foreign_bundle, detach=True, check=True)
        proc = _start_and_wait(pytester, base)
        proc.kill()
        out, _ = proc.communicate(timeout=30)
        token = token_of(out.decode())
        left = leftovers(base, token)
        assert left["session dirs"] and left["processes"], "SIGKILL should leave leftovers"
        assert left["cgroups"], "SIGKILL should leave the running container's cgroups"
        pytester.makepyfile(test_next="def test_ok(): pass")
        result = pytester.runpytest_subprocess(*inner_args("test_next.py"))
        result.stdout.fnmatch_lines(
            [
                "*swept leftovers of an earlier run*",
                f"container prt-{token}-*",
            ]
        )
        assert leftovers(base, token) == NOTHING_LEFT
        assert foreign.state("foreign-1").status == "running", "the sweeper touched a foreign root"
        after_default = (
            Runtime("runc", __import__("pathlib").Path("/run/runc")).list_ids()
            if os.path.isdir("/run/runc")
            else []
        )
        assert after_default == before_default
    finally:
        foreign.delete("foreign-1", force=True, check=False)


def test_without_a_working_runtime_a_killed_runs_containers_are_reported_not_orphaned(
    pytester, base, tmp_path
):
    # The killed run uses a runtime that is gone afterwards; the next run's
    # runtime cannot delete. Its containers must stay findable.
    vanishing = write_script(tmp_path / "gone" / "runc", 'exec runc "$@"\n')
    stubborn = write_script(
        tmp_path / "stubborn" / "runc",
        'case " $* " in *" delete "*) exit 0;; esac\nexec runc "$@"\n',
    )
    proc = _start_and_wait(pytester, base, f"--runc-binary={vanishing}")
    proc.kill()
    out, _ = proc.communicate(timeout=30)
    token = token_of(out.decode())
    vanishing.unlink()
    pytester.makepyfile(test_next="def test_ok(): pass")
    result = pytester.runpytest_subprocess(*inner_args("test_next.py", f"--runc-binary={stubborn}"))
    result.stdout.fnmatch_lines(
        [
            "*leftovers of an earlier run that could not be removed*",
            f"*s-{token}: kept, 1 container(s) left (no working runtime deleted them):",
            f"  {stubborn} --root */s-{token}/state delete --force prt-{token}-*",
        ]
    )
    left = leftovers(base, token)
    assert any(f"s-{token}" in d for d in left["session dirs"]), "the state directory went"
    assert left["processes"], "the container should still be there, findable"
    # A working runtime then removes everything.
    result = pytester.runpytest_subprocess(*inner_args("test_next.py"))
    result.stdout.fnmatch_lines([f"container prt-{token}-*"])
    assert leftovers(base, token) == NOTHING_LEFT


def test_xdist_workers_have_private_roots_and_leave_nothing(pytester, base):
    pytest.importorskip("xdist")
    roots_file = pytester.path / "roots.txt"
    pytester.makepyfile(f"""
        import pytest
        @pytest.mark.parametrize("n", range(6))
        def test_many(container, bundle, runc_session, n):
            bundle.command("true")
            assert container().run().returncode == 0
            with open({str(roots_file)!r}, "a") as f:
                f.write(f"{{runc_session.state_root}} {{runc_session.token}}\\n")
    """)
    result = pytester.runpytest_subprocess(*inner_args("-n", "2"))
    result.assert_outcomes(passed=6)
    lines = [line.split() for line in roots_file.read_text().splitlines()]
    assert leftovers(base, *{token for _, token in lines}) == NOTHING_LEFT
    roots = {root for root, _ in lines}
    assert len(roots) == 2, f"workers did not get a state root each: {roots}"


def test_limited_containers_leave_no_cgroup(pytester, base):
    pytester.makepyfile("""
        def test_limited(container, bundle):
            bundle.command("sleep", "60").resources(pids={"limit": 20}, memory={"limit": 2**26})
            made = container()
            made.run(detach=True)
            print("ID", made.id)
    """)
    result = pytester.runpytest_subprocess(*inner_args("-s"))
    result.assert_outcomes(passed=1)
    ids = [line.split()[-1] for line in result.outlines if line.startswith("ID ") or " ID " in line]
    assert ids
    assert leftovers(base, token_of(result.stdout.str())) == NOTHING_LEFT


def test_timed_out_runtime_call_fails_the_test_and_leaves_nothing(pytester, base, tmp_path):
    from pytest_runc.faulty import write_wrapper

    hanging = write_wrapper("start-hangs", "runc", tmp_path / "bin")
    pytester.makepyfile("""
        def test_start(container, bundle):
            bundle.command("sleep", "60")
            made = container()
            made.create()
            made.start()
    """)
    result = pytester.runpytest_subprocess(
        *inner_args(f"--runc-binary={hanging}", "--runc-timeout=2")
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*did not finish within 2s and was killed*"])
    assert leftovers(base, token_of(result.stdout.str())) == NOTHING_LEFT
