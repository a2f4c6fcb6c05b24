"""runc's own flags whose effect is on what runc writes or keeps: ``--log``,
``--log-format``, ``list --quiet`` and ``create --no-new-keyring``.

Rules: runc's global options and commands (man/runc.8.md, runc-list.8.md,
runc-create.8.md): ``--log FILE`` sends runc's log (its errors among them)
to FILE, in JSON lines with ``--log-format json``; ``list --quiet`` prints
the container ids alone; ``--no-new-keyring`` keeps the caller's session
keyring instead of making the container one of its own (``_ses.<id>`` in
/proc/keys inside).
"""

from __future__ import annotations

import json
import os

import pytest

from pytest_runc.oci import skips
from pytest_runc.testing.kit import assert_runs

pytestmark = pytest.mark.runc

NOBODY = "prt-no-such-container"


def logged_error(runtime, tmp_path, *log_format: str) -> str:
    """What ``runc --log FILE [--log-format F] delete <unknown id>`` put in FILE."""
    log = tmp_path / "runc.log"
    done = runtime.invoke("--log", str(log), *log_format, "delete", NOBODY, check=False)
    assert done.returncode != 0, f"delete of the unknown id {NOBODY} exited 0"
    return log.read_text() if log.exists() else ""


@pytest.mark.runc_cli("runc-cli.global.log-file")
@pytest.mark.oci_inputs("--log")
def test_log_file_gets_the_error(runtime, tmp_path):
    """runc --log FILE: the error of a failing command is written to FILE."""
    text = logged_error(runtime, tmp_path)
    assert "does not exist" in text and "error" in text, (
        f"--log FILE: after a failing delete FILE holds {text!r}, not its error"
    )


@pytest.mark.runc_cli("runc-cli.global.log-format-json")
@pytest.mark.oci_inputs("--log-format")
def test_log_format_json_writes_json_lines(runtime, tmp_path):
    """runc --log FILE --log-format json: each line of FILE is a JSON object with
    level and msg; the error is among them."""
    text = logged_error(runtime, tmp_path, "--log-format", "json")
    try:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        records = []
    errors = [r for r in records if isinstance(r, dict) and r.get("level") == "error"]
    assert errors and all(isinstance(r, dict) and "msg" in r for r in records), (
        f"--log-format json: the log holds {text!r}, not JSON lines with the error"
    )


@pytest.mark.runc_cli("runc-cli.list.quiet")
@pytest.mark.oci_inputs("list --quiet")
def test_list_quiet_prints_the_ids_alone(bundle, container, runtime):
    """runc list --quiet: one line per container, its id and nothing else."""
    bundle.command("sleep", "60")
    made = container()
    made.create()
    done = runtime.invoke("list", "--quiet")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines == [made.id], f"list --quiet printed {lines}, not the id {made.id!r} alone"


@pytest.mark.runc_cli("runc-cli.create.no-new-keyring")
@pytest.mark.oci_inputs("create --no-new-keyring", "run --no-new-keyring")
def test_no_new_keyring_keeps_the_callers_session_keyring(bundle, container, runtime):
    """runc run --no-new-keyring: the container has no session keyring named
    after it (``_ses.<id>``), which it has without the flag."""
    if not os.path.exists("/proc/keys"):
        skips.skip_host("the kernel has no /proc/keys (CONFIG_KEYS)")
    bundle.command("cat", "/proc/keys")
    # runc's default config masks /proc/keys
    masked = bundle.linux.get("maskedPaths", [])
    bundle.linux["maskedPaths"] = [path for path in masked if path != "/proc/keys"]
    made = container()
    bundle.write()
    made.may_exist = True
    runtime.hand_over_rootfs(bundle.path)
    done = runtime.invoke(
        "run", "--no-new-keyring", "--bundle", str(bundle.path), made.id, check=False
    )
    keys = assert_runs(done, "run --no-new-keyring")
    own = [line for line in keys.splitlines() if f"_ses.{made.id}" in line]
    assert not own, f"with --no-new-keyring the container has a keyring of its own: {own}"
