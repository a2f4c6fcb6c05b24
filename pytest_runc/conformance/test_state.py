"""The state document: the schema in each phase, and the fields that name the container.

Rules: runtime spec runtime.md "State" and "Query State". The schema is
checked here, once per phase, and nowhere else: a state without
``ociVersion`` fails these checks, not every lifecycle check.

The spec's checks validate against the spec's own schema
(``schema/state-schema.json`` of v1.3.0, shipped unchanged in
``pytest_runc/oci/schemas``), read with runtime.md's words on ``status``: a
runtime may define more values than the schema's four, for new states (runc's
``paused``). The shapes runc gives its state (``paused``, an absolute bundle,
``rootfs``, ``created``, ``owner``) are a runc CLI check of their own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_runc.oci import skips
from pytest_runc.oci.polling import poll, settle_time
from pytest_runc.oci.schemas import SPEC_STATUSES, runc_state_errors, validate_spec_state

pytestmark = pytest.mark.runc

PHASES = [
    "created",
    "running",
    pytest.param("paused", marks=pytest.mark.runc_root),  # needs the freezer cgroup
    "stopped",
]


def bring_to(phase, bundle, container):
    """A container in ``phase``: created, running, paused or stopped.

    Pausing is runc's ``pause`` (no operation of the spec): a runtime without
    it skips the paused phase instead of failing a check of the spec.
    """
    bundle.command("true") if phase == "stopped" else bundle.command("sleep", "60")
    made = container()
    made.create()
    if phase != "created":
        made.start()
    if phase == "paused":
        done = made.pause(check=False)
        if done.returncode != 0:
            skips.skip_runtime(
                f"`pause` failed (exit {done.returncode}: {done.stderr.strip()[-200:]});"
                " pausing is runc's command, not a spec operation"
            )
    if phase == "stopped":
        made.wait_for_status("stopped")
    return made


@pytest.mark.oci_rule(
    "runtime.state.json-matches-schema",
    "runtime.state.oci-version-required",
    "runtime.state.status-required",
)
@pytest.mark.parametrize("phase", PHASES)
def test_state_matches_the_schema(bundle, container, phase):
    """runtime.md "State": the state matches the spec's state-schema.json
    (ociVersion, id, status, bundle required; pid and annotations typed), and
    status names the phase. A paused container is not a spec state: it still
    runs its program, so its status is ``running`` or a value the runtime
    defines for a new state (runc's ``paused``), never another spec state."""
    made = bring_to(phase, bundle, container)
    document = made.state_json()
    validate_spec_state(document)
    status = document.get("status")
    if phase == "paused":
        assert status == "running" or status not in SPEC_STATUSES, (
            f"state status {status!r} for a paused container, which has run its program"
            " and not exited: expected 'running' or a runtime-defined status"
        )
    else:
        assert status == phase, f"state status {status!r}, expected {phase!r}"


@pytest.mark.runc_cli("runc-cli.state.document-shape")
@pytest.mark.parametrize("phase", PHASES)
def test_state_has_runcs_shape(bundle, container, phase):
    """runc's state: status is one of runc's five (``paused`` while paused),
    bundle and rootfs are absolute paths, created is an RFC 3339 time, owner a
    string, pid the process's while created, running or paused."""
    made = bring_to(phase, bundle, container)
    document = made.state_json()
    errors = runc_state_errors(document)
    assert not errors, "state is not shaped as runc's:\n  " + "\n  ".join(errors)
    assert document.get("status") == phase, (
        f"state status {document.get('status')!r}, runc says {phase!r}"
    )


@pytest.mark.oci_rule("runtime.state.id-required")
def test_state_id_is_the_container_id(bundle, container):
    """runtime.md "State": id is the container's id, as given to create."""
    made = bring_to("created", bundle, container)
    reported = made.state_json().get("id")
    assert reported == made.id, f"state id {reported!r}, expected {made.id!r}"


@pytest.mark.oci_rule("runtime.state.bundle-required")
def test_state_bundle_is_the_absolute_bundle_path(bundle, container):
    """runtime.md "State": bundle is the absolute path of the container's bundle
    directory (any absolute path to it: one through a symlink, or resolved)."""
    made = bring_to("created", bundle, container)
    reported = str(made.state_json().get("bundle"))
    assert Path(reported).is_absolute(), f"state bundle {reported!r} is not an absolute path"
    assert same_file(reported, bundle.path), (
        f"state bundle {reported!r}, expected {str(bundle.path.absolute())!r}"
    )


def same_file(reported: str, expected: Path) -> bool:
    """``reported`` names the directory ``expected`` is (False when it names nothing)."""
    try:
        return os.path.samefile(reported, expected)
    except OSError:
        return False


@pytest.mark.oci_rule("runtime.state.pid-required-linux")
def test_state_pid_is_the_container_process(bundle, container):
    """runtime.md "State": pid is the container process's pid, as the host sees it."""
    made = bring_to("running", bundle, container)
    pid = made.state_json().get("pid")
    assert isinstance(pid, int) and pid > 0, f"state pid {pid!r} while running"
    # `start` returns before the process has exec'd the program: poll for it.
    seen = poll(
        lambda: cmdline_of(pid),
        lambda args: args in ([], ["sleep", "60"]),
        timeout=settle_time(made.runtime),
    )
    assert seen == ["sleep", "60"], (
        f"state pid {pid} runs {seen or '(no such process)'}, not the container's `sleep 60`"
    )


def cmdline_of(pid: int) -> list[str]:
    """A process's argv as the host sees it; [] once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except (FileNotFoundError, ProcessLookupError):
        return []
