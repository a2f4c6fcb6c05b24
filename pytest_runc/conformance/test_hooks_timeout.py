"""Every kind of hook's ``timeout``: the operation that runs the hook stops
waiting for it once the timeout passes.

Rule: runc's hook timeout (runc-cli.hooks.timeout-enforced; test_hooks.py
tries a prestart hook): a hook still running after ``timeout`` seconds is
given up, so the operation that ran it (create, start or delete) returns
well before the hook would have ended. Whether it then
fails is each kind's own rule, checked elsewhere. The hook sleeps 20 s with a
timeout of 1 s; an operation that takes 10 s waited for it (the margin is for
loaded machines), and one the runtime deadline had to kill waited too.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from pytest_runc.oci.errors import RuntimeTimeout

pytestmark = [pytest.mark.runc, pytest.mark.runc_slow]

KINDS = ("createRuntime", "createContainer", "startContainer", "poststart", "poststop")
HOOK_SLEEPS, TIMEOUT, LIMIT = 20, 1, 10.0


def timed(step: Any) -> tuple[float, bool]:
    """(seconds ``step`` took, whether it succeeded); a step the runtime deadline
    killed took all that time and did not succeed."""
    started = time.monotonic()
    try:
        done = step()
    except RuntimeTimeout:
        return max(time.monotonic() - started, LIMIT), False
    return time.monotonic() - started, done.returncode == 0


@pytest.mark.runc_cli("runc-cli.hooks.timeout-enforced")
@pytest.mark.parametrize(
    "kind",
    [pytest.param(k, marks=pytest.mark.oci_inputs(f"config:hooks.{k}[].timeout")) for k in KINDS],
)
def test_hook_timeout_stops_the_wait_for_every_kind(bundle, container, kind):
    """A hook of ``kind`` sleeping 20 s with timeout 1: create, start and delete
    each return in under 10 s (runc 1.1.5 and 1.5.1 run poststart hooks in
    create; the check does not assume which operation runs which kind)."""
    # startContainer's path is looked up in the container: busybox's sleep is there too.
    bundle.hook(kind, "/bin/sleep", "sleep", str(HOOK_SLEEPS), timeout=TIMEOUT)
    bundle.command("sleep", "60")
    made = container()
    took = {}
    took["create"], ok = timed(lambda: made.create(check=False))
    if ok:
        took["start"], ok = timed(lambda: made.start(check=False))
    if ok and kind == "poststop":
        made.kill("KILL")
        made.wait_for_status("stopped")
        took["delete"], _ = timed(lambda: made.delete(check=False))
    assert kind != "poststop" or "delete" in took, (
        f"the container with a poststop hook did not get to delete: {made.status()!r}"
    )
    slow = {operation: seconds for operation, seconds in took.items() if seconds >= LIMIT}
    assert not slow, (
        f"{', '.join(f'{op} waited {s:.1f}s' for op, s in slow.items())} for a {kind} hook"
        f" with a {TIMEOUT} s timeout (the hook sleeps {HOOK_SLEEPS} s)"
    )
