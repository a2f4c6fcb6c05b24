"""The state document: the schema in each phase, and the fields that name the container.

Rules: runtime spec runtime.md "State" and "Query State". The schema is
checked here, once per phase, and nowhere else: a state without
``ociVersion`` fails these checks, not every lifecycle check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_runc.assertions import assert_state_schema, poll

pytestmark = pytest.mark.runc


def bring_to(phase, bundle, container):
    """A container in ``phase``: created, running, paused or stopped."""
    bundle.command("true") if phase == "stopped" else bundle.command("sleep", "60")
    made = container()
    made.create()
    if phase != "created":
        made.start()
    if phase == "paused":
        made.pause()
    if phase == "stopped":
        made.wait_for_status("stopped")
    return made


@pytest.mark.oci_rule(
    "runtime.state.json-matches-schema",
    "runtime.state.oci-version-required",
    "runtime.state.status-required",
)
@pytest.mark.parametrize(
    "phase",
    [
        "created",
        "running",
        pytest.param("paused", marks=pytest.mark.runc_root),  # needs the freezer cgroup
        "stopped",
    ],
)
def test_state_matches_the_schema(bundle, container, phase):
    """runtime.md "State": ociVersion, id, status, bundle (and pid while alive), typed."""
    made = bring_to(phase, bundle, container)
    document = assert_state_schema(made.state_json())
    assert document.get("status") == phase, (
        f"state status {document.get('status')!r}, expected {phase!r}"
    )


@pytest.mark.oci_rule("runtime.state.id-required")
def test_state_id_is_the_container_id(bundle, container):
    """runtime.md "State": id is the container's id, as given to create."""
    made = bring_to("created", bundle, container)
    reported = made.state_json().get("id")
    assert reported == made.id, f"state id {reported!r}, expected {made.id!r}"


@pytest.mark.oci_rule("runtime.state.bundle-required")
def test_state_bundle_is_the_absolute_bundle_path(bundle, container):
    """runtime.md "State": bundle is the absolute path of the container's bundle."""
    made = bring_to("created", bundle, container)
    reported = str(made.state_json().get("bundle"))
    assert Path(reported).is_absolute(), f"state bundle {reported!r} is not an absolute path"
    assert Path(reported) == bundle.path.absolute(), (
        f"state bundle {reported!r}, expected {str(bundle.path.absolute())!r}"
    )


@pytest.mark.oci_rule("runtime.state.pid-required-linux")
def test_state_pid_is_the_container_process(bundle, container):
    """runtime.md "State": pid is the container process's pid, as the host sees it."""
    made = bring_to("running", bundle, container)
    pid = made.state_json().get("pid")
    assert isinstance(pid, int) and pid > 0, f"state pid {pid!r} while running"
    # `start` returns before the process has exec'd the program: poll for it.
    seen = poll(lambda: cmdline_of(pid), lambda args: args in ([], ["sleep", "60"]), timeout=5)
    assert seen == ["sleep", "60"], (
        f"state pid {pid} runs {seen or '(no such process)'}, not the container's `sleep 60`"
    )


def cmdline_of(pid: int) -> list[str]:
    """A process's argv as the host sees it; [] once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except (FileNotFoundError, ProcessLookupError):
        return []
