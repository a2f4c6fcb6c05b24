"""The process object: what the runtime refuses, and what it sets or leaves alone.

Rules: runtime spec config.md "Process" (args, consoleSize), "POSIX process"
(rlimits: unknown and duplicate types, every configured type readable) and
"Linux process" (capabilities the kernel does not know, oomScoreAdj left as
inherited, execCPUAffinity left alone, scheduler and ioPriority where the
runtime's spec version has them). What test_isolation.py already checks
(cwd, env, user, umask, the capability sets, noNewPrivileges, NOFILE's soft and
hard limits, a set oomScoreAdj) is not repeated here.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_runc.oci.linux import status_fields
from pytest_runc.rules.claims import require_spec
from pytest_runc.testing.kit import assert_refused, assert_runs

pytestmark = pytest.mark.runc


def run(container: Any, bundle: Any, script: str) -> Any:
    bundle.shell(script)
    return container().run()


@pytest.mark.oci_rule("config.process.args-required")
def test_empty_args_is_refused(bundle, container):
    """config.md "process.args": a process without args is an error, not a default program."""
    bundle.shell("echo ran")
    bundle.process["args"] = []
    made = container()
    done = made.run()
    assert_refused(done, f"the runtime accepted empty process.args and ran {done.stdout!r}")
    assert "ran" not in done.stdout, "a program ran for empty process.args"


@pytest.mark.oci_rule("config.posix-process.rlimit-unknown-type-error")
def test_unknown_rlimit_type_is_refused(bundle, container):
    """config.md "POSIX process" rlimits: a type that names no kernel resource is an error."""
    bundle.shell("echo ran").rlimit("RLIMIT_PRT_BOGUS", 1, 1)
    done = container().run()
    assert_refused(done, "the runtime accepted rlimit type RLIMIT_PRT_BOGUS")
    assert "ran" not in done.stdout, "the program ran with an unknown rlimit type"


@pytest.mark.oci_rule("config.posix-process.rlimit-duplicate-error")
def test_duplicate_rlimit_type_is_refused(bundle, container):
    """config.md "POSIX process" rlimits: two entries of one type are an error."""
    bundle.shell("echo ran")
    bundle.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 300, "hard": 400},
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
    ]
    done = container().run()
    assert_refused(done, "the runtime accepted two rlimits of type RLIMIT_NOFILE")


#: rlimit type -> (soft, hard, the row of /proc/PID/limits) where the limit is
#: unlimited here; a runtime cannot raise a hard limit above what it inherits.
RLIMITS = {
    "RLIMIT_CORE": (1024, 2048, "Max core file size"),
    "RLIMIT_CPU": (500, 600, "Max cpu time"),
    "RLIMIT_DATA": (1 << 30, 1 << 31, "Max data size"),
    "RLIMIT_FSIZE": (1 << 30, 1 << 31, "Max file size"),
    "RLIMIT_LOCKS": (70, 80, "Max file locks"),
    "RLIMIT_MEMLOCK": (65536, 131072, "Max locked memory"),
    "RLIMIT_MSGQUEUE": (81920, 163840, "Max msgqueue size"),
    "RLIMIT_NICE": (1, 2, "Max nice priority"),
    "RLIMIT_NOFILE": (123, 456, "Max open files"),
    "RLIMIT_NPROC": (500, 600, "Max processes"),
    "RLIMIT_RSS": (1 << 30, 1 << 31, "Max resident set"),
    "RLIMIT_RTPRIO": (1, 2, "Max realtime priority"),
    "RLIMIT_RTTIME": (100000, 200000, "Max realtime timeout"),
    "RLIMIT_SIGPENDING": (300, 400, "Max pending signals"),
    "RLIMIT_STACK": (1 << 23, 1 << 24, "Max stack size"),
    "RLIMIT_AS": (1 << 32, 1 << 33, "Max address space"),
}


def read_limits(text: str) -> dict[str, list[str]]:
    """``{"Max open files": [soft, hard], ...}`` from /proc/self/limits."""
    return {line[:26].strip(): line[26:].split()[:2] for line in text.splitlines()[1:]}


def inherited_hard_limits(container: Any, bundle: Any) -> dict[str, list[str]]:
    """The limits of a container that configures none: what the runtime
    inherits and cannot raise. Asked of the runtime, not of this process:
    through sudo the runtime has sudo's limits (a hard core limit of 0)."""
    bundle.process.pop("rlimits", None)
    return read_limits(assert_runs(run(container, bundle, "cat /proc/self/limits")))


def settable(soft: int, hard: int, inherited: list[str] | None) -> tuple[int, int]:
    """``soft``/``hard``, lowered under the ``inherited`` [soft, hard] limit."""
    if not inherited or inherited[1] == "unlimited" or int(inherited[1]) >= hard:
        return soft, hard
    return int(inherited[1]) // 2, int(inherited[1])


@pytest.mark.oci_rule(
    "config.posix-process.rlimit-soft-applied", "config.posix-process.rlimit-hard-applied"
)
def test_every_configured_rlimit_is_in_force(bundle, container):
    """config.md "POSIX process" rlimits: every configured type reads back inside
    with its soft and hard value (as /proc/self/limits shows them)."""
    inherited = inherited_hard_limits(container, bundle)
    wanted = {
        kind: settable(soft, hard, inherited.get(row))
        for kind, (soft, hard, row) in RLIMITS.items()
    }
    bundle.process["rlimits"] = [
        {"type": kind, "soft": soft, "hard": hard} for kind, (soft, hard) in wanted.items()
    ]
    rows = read_limits(assert_runs(run(container, bundle, "cat /proc/self/limits")))
    wrong = {
        kind: rows.get(RLIMITS[kind][2])
        for kind, (soft, hard) in wanted.items()
        if rows.get(RLIMITS[kind][2]) != [str(soft), str(hard)]
    }
    assert not wrong, f"rlimits not as configured (type: [soft, hard] seen): {wrong}"


def with_unknown_capability(bundle: Any) -> None:
    caps = bundle.process["capabilities"]
    for key in ("bounding", "effective", "permitted"):
        caps[key] = [*caps.get(key, []), "CAP_PRT_BOGUS"]


@pytest.mark.oci_rule("config.linux-process.capability-ungrantable-no-failure")
def test_unknown_capability_does_not_stop_the_container(bundle, container):
    """config.md "Linux process" capabilities: a capability the runtime cannot
    map or grant does not keep the container from starting."""
    with_unknown_capability(bundle)
    done = run(container, bundle, "echo started")
    assert done.returncode == 0 and done.stdout == "started\n", (
        f"the container did not start with CAP_PRT_BOGUS requested: {done.stderr.strip()}"
    )


@pytest.mark.runc_cli("runc-cli.run.unknown-capability-warning")
def test_unknown_capability_is_warned_about(bundle, container):
    """runc: a capability it cannot map is named in a warning on its stderr.

    config.md requires the warning, but runtime.md "Warnings" does not mandate
    "how, or even if," it is exposed: where it shows is runc's convention."""
    with_unknown_capability(bundle)
    done = run(container, bundle, "true")
    warnings = [line for line in done.stderr.splitlines() if "CAP_PRT_BOGUS" in line]
    assert warnings, f"no warning names CAP_PRT_BOGUS; the runtime said: {done.stderr.strip()!r}"


@pytest.mark.oci_rule("config.linux-process.oom-score-adj-unchanged")
def test_oom_score_adj_is_inherited_when_absent(bundle, container):
    """config.md "Linux process" oomScoreAdj: without it, the process keeps the
    oom_score_adj it inherits (here: the one of the test process that runs the runtime)."""
    bundle.process.pop("oomScoreAdj", None)
    with open("/proc/self/oom_score_adj") as f:
        inherited = f.read().strip()
    seen = assert_runs(run(container, bundle, "cat /proc/self/oom_score_adj")).strip()
    assert seen == inherited, f"oom_score_adj is {seen} without oomScoreAdj; inherited {inherited}"


@pytest.mark.oci_rule("config.process.console-size-ignored-without-terminal")
def test_console_size_is_ignored_without_terminal(bundle, container):
    """config.md "process.consoleSize": with terminal false the size is ignored:
    the container runs, with no terminal."""
    bundle.process["consoleSize"] = {"height": 17, "width": 53}
    done = run(container, bundle, "if [ -t 0 ] || [ -t 1 ]; then echo tty; else echo no-tty; fi")
    assert done.returncode == 0, (
        f"the container did not run with consoleSize and terminal false: {done.stderr.strip()}"
    )
    assert done.stdout == "no-tty\n", f"the process got a terminal for consoleSize: {done.stdout!r}"


@pytest.mark.oci_rule("config.linux-process.exec-cpu-affinity-final-unset")
def test_exec_cpu_affinity_left_to_the_cgroup(bundle, container):
    """config.md "Linux process" execCPUAffinity: without ``final``, a process
    started with ``exec`` keeps the CPUs its cgroup gives it, the same as the
    container's first process."""
    bundle.process.pop("execCPUAffinity", None)
    bundle.shell("grep Cpus_allowed_list /proc/self/status; exec sleep 60")
    made = container()
    made.run(detach=True)
    first = status_fields(made.wait_for_output("Cpus_allowed_list"))["Cpus_allowed_list"]
    done = made.exec("grep", "Cpus_allowed_list", "/proc/self/status")
    execd = status_fields(assert_runs(done, "exec"))["Cpus_allowed_list"]
    assert execd == first, (
        f"the exec'd process may run on CPUs {execd}, the container's process on {first}"
    )


@pytest.mark.oci_rule("runtime.start.runs-process")
def test_scheduler_policy_and_nice_are_applied(bundle, container, runtime_features):
    """config.md "Linux process" scheduler (spec 1.1): the process runs with the
    configured policy and nice value."""
    require_spec(runtime_features, (1, 1, 0), "process.scheduler")
    bundle.process["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
    # /proc/PID/stat fields 19 (nice) and 41 (policy; SCHED_BATCH is 3)
    seen = assert_runs(run(container, bundle, "cut -d' ' -f19,41 /proc/self/stat")).split()
    assert seen == ["7", "3"], f"nice and policy are {seen}, configured SCHED_BATCH (3) with nice 7"


@pytest.mark.oci_rule("runtime.start.runs-process")
def test_io_priority_is_applied(bundle, container, runtime_features):
    """config.md "Linux process" ioPriority (spec 1.1): the process has the
    configured I/O scheduling class and priority."""
    require_spec(runtime_features, (1, 1, 0), "process.ioPriority")
    bundle.process["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 5}
    seen = assert_runs(run(container, bundle, "ionice -p $$")).strip()
    assert seen == "best-effort: prio 5", f"the I/O priority is {seen!r}, configured best-effort 5"
