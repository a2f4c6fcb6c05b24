"""Values of the state document test_state.py does not try: the bundle when
``create`` was given a relative path, and the pid of a created container.

Rules: runtime.md "State": ``bundle`` is the absolute path to the bundle
directory (so a relative ``--bundle`` must not be echoed as given); ``pid``
is the container process's pid on Linux while the container is created or
running (the process that ``start`` makes run the program).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_runc.oci.polling import poll, settle_time

pytestmark = pytest.mark.runc


def cmdline_of(pid: int) -> list[str] | None:
    """A process's argv as the host sees it; [] once it is gone; None while it
    has none to show (a process in the middle of execve reads as empty)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except (FileNotFoundError, ProcessLookupError):
        return []
    return args or (None if Path(f"/proc/{pid}").exists() else [])


@pytest.mark.oci_rule("runtime.state.bundle-required")
@pytest.mark.oci_inputs("state:bundle", "create --bundle")
def test_state_bundle_is_absolute_when_create_got_a_relative_path(bundle, container, monkeypatch):
    """create --bundle NAME (relative, from the bundle's parent): state says
    the absolute path of that directory."""
    bundle.command("sleep", "60")
    made = container()
    bundle.write()
    made.may_exist = True
    made.runtime.hand_over_rootfs(bundle.path)
    relative = os.path.relpath(bundle.path)
    made.runtime.invoke("create", "--bundle", relative, made.id)
    reported = str(made.state_json().get("bundle"))
    named = os.path.isabs(reported) and os.path.exists(reported)
    assert named and os.path.samefile(reported, bundle.path), (
        f"create --bundle {relative!r} (relative) gave the state bundle {reported!r},"
        f" not the absolute path {str(bundle.path)!r}"
    )


@pytest.mark.oci_rule("runtime.state.pid-required-linux")
@pytest.mark.oci_inputs("state:pid")
@pytest.mark.runc_root  # reads the container process's /proc/<pid>/cmdline from the host
def test_state_pid_of_a_created_container_is_the_process_start_runs(bundle, container):
    """While created, state's pid is the container's process: the one that runs
    the program once ``start`` is done."""
    bundle.command("sleep", "60")
    made = container()
    made.create()
    pid = made.state_json().get("pid")
    assert isinstance(pid, int) and pid > 0, f"state pid {pid!r} while created"
    made.start()
    seen = poll(
        lambda: cmdline_of(pid),
        lambda args: args in ([], ["sleep", "60"]),
        timeout=settle_time(made.runtime),
    )
    assert seen == ["sleep", "60"], (
        f"state pid {pid} while created; after start that process runs"
        f" {seen or ('(nothing: it is gone)' if seen == [] else '(no argv yet)')},"
        " not the container's `sleep 60`"
    )
