"""``runc exec`` options beyond those test_exec.py checks: each changes the exec'd process.

Rules: runc's documented ``exec`` command (man/runc-exec.8.md): ``--cap``,
``--no-new-privs``, ``--cgroup``; and config.md "Linux process"
``execCPUAffinity.final`` (spec 1.2), which only processes started with
``exec`` use. Each check starts one container (``sleep 60``), execs into it
once with the option, and reads what the option must change from
``/proc/self`` inside.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.oci import host, skips
from pytest_runc.oci.host import HostAccessError
from pytest_runc.oci.linux import cgroup_dir, decode_capabilities, status_fields
from pytest_runc.rules.claims import require_spec
from pytest_runc.testing import kit

pytestmark = pytest.mark.runc

#: Not in runc's default capability sets, harmless to hold for a moment.
ADDED = "CAP_SYS_NICE"


def exec_with(made: Any, *options: str, command: tuple[str, ...]) -> Any:
    """``runc exec OPTIONS ID COMMAND``, its result (status not checked)."""
    return made.runtime.invoke("exec", *options, made.id, *command, check=False)


def status_of(made: Any, *options: str) -> dict[str, str]:
    """/proc/self/status of a process exec'd with ``options``."""
    done = exec_with(made, *options, command=("cat", "/proc/self/status"))
    return status_fields(kit.assert_runs(done, f"exec {' '.join(options)}"))


@pytest.mark.runc_cli("runc-cli.exec.cap")
@pytest.mark.oci_inputs("exec --cap")
def test_exec_cap_adds_the_capability(bundle, container):
    """runc exec --cap CAP: the exec'd process holds CAP in its bounding and
    effective sets, though the config does not grant it."""
    for kind in ("bounding", "effective", "permitted", "inheritable", "ambient"):
        if ADDED in bundle.process["capabilities"].get(kind, []):
            bundle.process["capabilities"][kind].remove(ADDED)
    made = kit.running(container)
    fields = status_of(made, "--cap", ADDED)
    held = {
        name: ADDED in decode_capabilities(fields[field])
        for name, field in (("bounding", "CapBnd"), ("effective", "CapEff"))
    }
    assert all(held.values()), (
        f"exec --cap {ADDED} gave a process without {ADDED} in its"
        f" {', '.join(name for name, has in held.items() if not has)} set"
    )


@pytest.mark.runc_cli("runc-cli.exec.no-new-privs")
@pytest.mark.oci_inputs("exec --no-new-privs")
def test_exec_no_new_privs_sets_the_flag(bundle, container):
    """runc exec --no-new-privs: the exec'd process has no_new_privs set, though
    the config's process leaves it off."""
    bundle.process["noNewPrivileges"] = False
    made = kit.running(container)
    flag = status_of(made, "--no-new-privs").get("NoNewPrivs")
    assert flag == "1", f"exec --no-new-privs gave a process whose NoNewPrivs is {flag!r}, not 1"


@pytest.mark.runc_cli("runc-cli.exec.cgroup")
@pytest.mark.oci_inputs("exec --cgroup")
@pytest.mark.runc_root  # makes a cgroup directory on the host
def test_exec_cgroup_runs_in_the_sub_cgroup(bundle, container, cgroup_mode):
    """runc exec --cgroup: the exec'd process runs in the container's existing
    sub-cgroup ``prt-sub`` (of the pids hierarchy on cgroup v1), not in the
    container's own cgroup."""
    made = kit.running(container)
    try:
        where = cgroup_dir(made.state().pid, "pids", cgroup_mode)
    except LookupError:
        skips.skip_host("the container has no pids cgroup here: enable the pids controller")
    unified = cgroup_mode == "v2"
    option = "prt-sub" if unified else "pids:prt-sub"
    sub = where / "prt-sub"
    host.make_cgroup(sub, sudo=made.runtime.sudo)
    try:
        done = exec_with(made, "--cgroup", option, command=("cat", "/proc/self/cgroup"))
        listed = kit.assert_runs(done, f"exec --cgroup {option}")
        paths = {
            hierarchy: path
            for hierarchy, controllers, path in (line.split(":", 2) for line in listed.splitlines())
            if (unified and hierarchy == "0") or "pids" in controllers.split(",")
        }
        inside = next(iter(paths.values()), "(none)")
        assert inside.endswith("/prt-sub"), (
            f"exec --cgroup {option} ran the process in the cgroup {inside!r},"
            " not in the sub-cgroup prt-sub"
        )
    finally:
        # The sub-cgroup is ours to remove, and only an empty one can go.
        made.kill("KILL", all=True, check=False)
        made.wait_for_status("stopped")
        _remove_when_empty(sub, sudo=made.runtime.sudo)


def _remove_when_empty(directory: Path, *, sudo: bool) -> None:
    """rmdir a cgroup once its last process is gone (a bounded wait)."""
    deadline = time.monotonic() + 5
    while directory.exists():
        try:
            host.remove_cgroup(directory, sudo=sudo)
        except (OSError, HostAccessError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def two_cpus() -> list[int]:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        skips.skip_host("execCPUAffinity needs a machine with at least two CPUs to tell them apart")
    return cpus


@pytest.mark.runc_cli("runc-cli.exec.cpu-affinity-final")
@pytest.mark.oci_inputs("config:process.execCPUAffinity.final")
def test_exec_cpu_affinity_final_pins_the_process(bundle, container, runtime_features, tmp_path):
    """config.md "Linux process" execCPUAffinity.final (spec 1.2): a process
    started with exec runs on exactly the CPUs of ``final``."""
    require_spec(runtime_features, (1, 2, 0), "process.execCPUAffinity")
    last = two_cpus()[-1]
    made = kit.running(container)
    process = {
        **{key: bundle.process[key] for key in ("user", "env", "cwd", "capabilities")},
        "args": ["grep", "Cpus_allowed_list", "/proc/self/status"],
        "execCPUAffinity": {"final": str(last)},
    }
    path = tmp_path / "process.json"
    path.write_text(json.dumps(process))
    done = exec_with(made, "--process", str(path), command=())
    allowed = status_fields(kit.assert_runs(done, "exec --process"))["Cpus_allowed_list"]
    assert allowed == str(last), (
        f"with execCPUAffinity.final {str(last)!r} the exec'd process may run on CPUs {allowed}"
    )
