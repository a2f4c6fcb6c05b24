"""process.scheduler beyond policy and nice (test_process.py): a realtime
priority, the deadline parameters, and the reset-on-fork flag.

Rule: runtime.md "Start": the runtime runs the program that ``process``
describes, and config.md "Linux process" ``scheduler`` (spec 1.1) is part of
that description. The process reads its own scheduling from
``/proc/self/stat`` (fields 40 rt_priority and 41 policy) and
``/proc/self/sched``. A realtime task may only run in a cgroup that has
realtime time where the kernel groups it (CONFIG_RT_GROUP_SCHED): those
checks give the container some (``cpu.realtimeRuntime``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_runc.rules.claims import require_spec
from pytest_runc.testing.kit import assert_runs

pytestmark = pytest.mark.runc

SCHED_FIFO, SCHED_DEADLINE = 1, 6


def require_scheduler(runtime_features: Any) -> None:
    """Skip when the runtime's ociVersionMax predates process.scheduler (spec 1.1)."""
    require_spec(runtime_features, (1, 1, 0), "process.scheduler")


def realtime_budget(bundle: Any) -> None:
    """Give the container's cgroup realtime time where the kernel accounts it per group."""
    if Path("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists():
        bundle.resources(cpu={"realtimePeriod": 1000000, "realtimeRuntime": 100000})


def stat_fields(text: str) -> list[str]:
    """/proc/PID/stat split into fields, numbered from 1 as proc(5) does (comm kept whole)."""
    head, _, rest = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    return ["", pid, comm, *rest.split()]


def run_program(container: Any, bundle: Any, *args: str) -> str:
    bundle.command(*args)
    return assert_runs(container().run(), "the container")


@pytest.mark.oci_rule("runtime.start.runs-process")
@pytest.mark.oci_inputs("config:process.scheduler.priority")
def test_realtime_priority_is_applied(bundle, container, runtime_features):
    """scheduler {policy SCHED_FIFO, priority 10}: the process runs FIFO at priority 10."""
    require_scheduler(runtime_features)
    realtime_budget(bundle)
    bundle.process["scheduler"] = {"policy": "SCHED_FIFO", "priority": 10}
    fields = stat_fields(run_program(container, bundle, "cat", "/proc/self/stat"))
    seen = (fields[41], fields[40])
    assert seen == (str(SCHED_FIFO), "10"), (
        f"policy and rt_priority are {seen}, configured SCHED_FIFO ({SCHED_FIFO}) priority 10"
    )


@pytest.mark.oci_rule("runtime.start.runs-process")
@pytest.mark.oci_inputs("config:process.scheduler.runtime")
def test_deadline_policy_and_runtime_are_applied(bundle, container, runtime_features):
    """scheduler {SCHED_DEADLINE, runtime, deadline, period}: the process is a
    deadline task whose runtime left in this period is within the configured
    runtime. (The kernel shows a deadline task's runtime left and its absolute
    deadline, not the configured deadline and period. The process does not
    fork: a deadline task may not.)"""
    require_scheduler(runtime_features)
    bundle.process["scheduler"] = {
        "policy": "SCHED_DEADLINE", "runtime": 2000000, "deadline": 9000000, "period": 10000000,
    }  # fmt: skip
    text = run_program(container, bundle, "cat", "/proc/self/sched")
    fields = {
        k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())
    }
    policy = fields.get("policy")
    left = int(fields["dl.runtime"]) if fields.get("dl.runtime") else None
    # Left may be below 0: a task that overran its budget before the kernel
    # throttled it (seen on a slow emulated host). It is never above the runtime.
    assert policy == str(SCHED_DEADLINE) and left is not None and left <= 2000000, (
        f"the policy is {policy} with {left} ns of runtime left, configured SCHED_DEADLINE"
        f" ({SCHED_DEADLINE}) with a runtime of 2000000 ns"
    )


@pytest.mark.oci_rule("runtime.start.runs-process")
@pytest.mark.oci_inputs("config:process.scheduler.flags")
def test_reset_on_fork_flag_is_applied(bundle, container, runtime_features):
    """scheduler flags [SCHED_FLAG_RESET_ON_FORK]: the FIFO process's children
    start with the normal policy (0) while it keeps FIFO."""
    require_scheduler(runtime_features)
    realtime_budget(bundle)
    bundle.process["scheduler"] = {
        "policy": "SCHED_FIFO", "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"],
    }  # fmt: skip
    # busybox runs some applets inside the shell: the pipeline forks for sure
    bundle.shell("cut -d' ' -f41 /proc/$$/stat; cat /proc/self/stat | cut -d' ' -f41")
    done = container().run()
    seen = assert_runs(done, "the container").split()
    assert seen == [str(SCHED_FIFO), "0"], (
        f"the process's policy and its child's are {seen}: with SCHED_FLAG_RESET_ON_FORK"
        f" the child of a FIFO ({SCHED_FIFO}) process starts with policy 0"
    )
