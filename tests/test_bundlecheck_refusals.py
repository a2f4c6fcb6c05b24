"""Every refusal explained (issue 10.3/10.4), and a check that leaves nothing on the host
(issue 13.5/13.6), each against runc 1.1.5 as well as statically."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

import pytest

from pytest_runc.bundlecheck import check_bundle
from pytest_runc.bundlecheck.cli import main as cli_main
from pytest_runc.bundlecheck.trialfs import CopyCapped, bounded_copy
from pytest_runc.oci.constants import CGROUP_ROOT
from pytest_runc.sessions.workdir import mounts_below

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "configs"


def _ns(c, kind):
    return [n for n in c["linux"]["namespaces"] if n["type"] != kind]


def _script(made, interpreter):
    script = made.rootfs / "bin" / "hello.sh"
    script.write_text(f"#!{interpreter}\necho hi\n")
    script.chmod(0o755)


#: name -> (change to the runc-spec-detached config, rootfs change, runc runs it, code)
CASES = {
    "hostname-too-long": (lambda c: c.update(hostname="h" * 100), None, False, "hostname-too-long"),
    "oom-score-adj-5000": (
        lambda c: c["process"].update(oomScoreAdj=5000), None, False, "oom-score-adj-range"
    ),
    "sysctl-not-namespaced": (
        lambda c: c["linux"].update(sysctl={"vm.swappiness": "10"}),
        None, False, "sysctl-not-namespaced",
    ),
    "sysctl-needs-netns": (
        lambda c: c["linux"].update(
            sysctl={"net.ipv4.ip_forward": "1"}, namespaces=_ns(c, "network")
        ),
        None, False, "sysctl-needs-netns",
    ),
    "rlimit-bogus": (
        lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]),
        None, False, "rlimit-unknown",
    ),
    "device-type-x": (
        lambda c: c["linux"].update(devices=[{"path": "/dev/x", "type": "x", "major": 1, "minor": 3}]),
        None, False, "device-type",
    ),
    "seccomp-action-bogus": (
        lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_BOGUS"}),
        None, False, "seccomp-action",
    ),
    "seccomp-unknown-syscall": (
        lambda c: c["linux"].update(
            seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{"names": ["bogus_call"], "action": "SCMP_ACT_ERRNO"}]}
        ),
        None, True, "seccomp-syscall-unknown",
    ),
    "unified-on-v1": (
        lambda c: c["linux"].setdefault("resources", {}).update(unified={"memory.max": "1G"}),
        None, False, "cgroup-unified-on-v1",
    ),
    "bare-command-without-path": (
        lambda c: c["process"].update(args=["echo", "hi"], env=[]), None, False, "args0-no-path"
    ),
    "script-interpreter-missing": (
        lambda c: c["process"].update(args=["/bin/hello.sh"]),
        lambda made: _script(made, "/bin/bash"),
        False, "script-interpreter-missing",
    ),
    "script-interpreter-present": (
        lambda c: c["process"].update(args=["/bin/hello.sh"]),
        lambda made: _script(made, "/bin/sh"),
        True, None,
    ),
    "bind-source-missing": (
        lambda c: c["mounts"].append(
            {"destination": "/mnt", "type": "bind", "source": "/nonexistent-bc", "options": ["rbind"]}
        ),
        None, False, "mount-source-missing",
    ),
    "namespace-path-missing": (
        lambda c: c["linux"].update(
            namespaces=[*_ns(c, "ipc"), {"type": "ipc", "path": "/nonexistent-bc/ns"}]
        ),
        None, False, "namespace-path-missing",
    ),
    "memory-limit-1mib": (
        lambda c: c["linux"].setdefault("resources", {}).update(memory={"limit": 1048576}),
        None, False, "memory-limit-too-low",
    ),
    "unknown-capability": (
        lambda c: c["process"].update(capabilities={"bounding": ["CAP_BOGUS"]}),
        None, True, "capability-unknown",
    ),
    "mappings-without-userns": (
        lambda c: c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 0, "size": 1}]),
        None, True, "id-mappings-without-userns",
    ),
    "duplicate-namespace": (
        lambda c: c["linux"]["namespaces"].append({"type": "pid"}), None, False, "namespace-duplicate"
    ),
}  # fmt: skip


def make(bundle_factory, name):
    change, rootfs_change, _, _ = CASES[name]
    made = bundle_factory(name)
    config = json.loads((FIXTURES / "runc-spec-detached.json").read_text())
    change(config)
    made.config_path.write_text(json.dumps(config, indent=2))
    if rootfs_change:
        rootfs_change(made)
    return made.path


def codes(report, severity):
    return {f.code for f in report.findings if f.severity == severity}


@pytest.mark.parametrize("name", sorted(CASES))
def test_static_finding_names_field_and_value(bundle_factory, name):
    _, _, runs, code = CASES[name]
    report = check_bundle(make(bundle_factory, name))
    assert report.compatible is runs, report.render()
    if code:
        finding = next(f for f in report.findings if f.code == code)
        assert finding.severity == ("warning" if runs else "error")
        assert finding.where.startswith(("config.json", "rootfs")) and finding.fix
    for word in ("None", "True", "False", "{'"):
        assert word not in report.render(), report.render()


#: Cases whose cause the trial changes for safety (it joins no namespace path, and
#: always makes a network namespace): runc's verdict on them is checked as written.
TRIAL_CANNOT_TELL = {"namespace-path-missing", "sysctl-needs-netns"}


@pytest.mark.runc
@pytest.mark.parametrize("name", sorted(CASES))
def test_runc_agrees(bundle_factory, runtime, name):
    _, _, runs, code = CASES[name]
    path = make(bundle_factory, name)
    report = check_bundle(path, runtime_binary=runtime.binary)
    assert report.compatible is runs, report.render()
    if name in TRIAL_CANNOT_TELL:
        assert code in codes(report, "error"), report.render()
        # runc refuses this trusted test bundle as written.
        done = runtime.run(f"prt-refusal-{name}"[:60], path, detach=True, check=False)
        runtime.delete(f"prt-refusal-{name}"[:60], force=True, check=False)
        assert done.returncode != 0, done.stderr
        return
    assert report.runc_ran_it is runs, report.render()


# -- nothing left on the host -------------------------------------------------


def cgroup_dirs(top: str) -> list[Path]:
    return sorted(CGROUP_ROOT.glob(f"*/{top}")) + sorted(CGROUP_ROOT.glob(top))


@pytest.mark.runc
def test_nested_cgroups_path_leaves_no_cgroup(bundle_factory, runtime, monkeypatch):
    top = f"bundlecheck-{secrets.token_hex(3)}"
    made = bundle_factory("nested-cgroup")
    config = json.loads((FIXTURES / "runc-spec-detached.json").read_text())
    config["linux"]["cgroupsPath"] = f"/{top}/container1"
    made.config_path.write_text(json.dumps(config))
    # This check's own token: other checks may run at the same time (xdist).
    token = secrets.token_hex(4)
    monkeypatch.setattr("pytest_runc.sessions.workdir.new_token", lambda: token)
    report = check_bundle(made.path, runtime_binary=runtime.binary)
    assert report.runc_ran_it is True, report.render()
    assert cgroup_dirs(top) == [], "the check left the user's cgroupsPath on the host"
    assert cgroup_dirs(f"prt-check-{token}") == [], "the check left its own cgroup"
    assert "cgroups-path" in codes(report, "warning")


@pytest.mark.runc
def test_trial_run_uses_an_overlay_and_leaves_no_mount(
    bundle_factory, runtime, monkeypatch, tmp_path
):
    made = bundle_factory("overlay")
    (made.rootfs / "big").write_bytes(os.urandom(1024) * 1024 * 20)  # 20 MiB
    made.config_path.write_text((FIXTURES / "runc-spec-detached.json").read_text())
    # A base of its own: other checks may mount and unmount at the same time (xdist).
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path / "base"))
    started = time.monotonic()
    report = check_bundle(made.path, runtime_binary=runtime.binary)
    assert report.trial_rootfs == "overlay" and report.runc_ran_it, report.render()
    assert time.monotonic() - started < 10
    assert mounts_below(tmp_path) == [], "the trial left a mount"


def test_root_path_slash_is_refused_fast_and_never_walked(bundle_factory, capsys):
    made = bundle_factory("slash", rootfs=False)
    config = json.loads((FIXTURES / "runc-spec-detached.json").read_text())
    config["root"]["path"] = "/"
    made.config_path.write_text(json.dumps(config))
    started = time.monotonic()
    status = cli_main(["check", str(made.path)])
    elapsed = time.monotonic() - started
    assert status == 1 and elapsed < 1.0, elapsed
    assert "[rootfs-is-host-directory]" in capsys.readouterr().out


def test_root_path_resolving_to_a_system_directory(bundle_factory):
    made = bundle_factory("usr-link", rootfs=False)
    os.symlink("/usr/../etc", made.path / "rootfs")
    made.config_path.write_text((FIXTURES / "runc-spec-detached.json").read_text())
    report = check_bundle(made.path)
    assert "rootfs-is-host-directory" in codes(report, "error"), report.render()


def test_bounded_copy_stops_at_its_caps(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "a").write_bytes(b"x" * 4096)
    (source / "b").write_bytes(b"x" * 4096)
    os.mkfifo(source / "fifo")
    with pytest.raises(CopyCapped, match="MiB"):
        bounded_copy(source, tmp_path / "c1", max_bytes=5000)
    with pytest.raises(CopyCapped, match="entries"):
        bounded_copy(source, tmp_path / "c2", max_entries=2)
    copied = bounded_copy(source, tmp_path / "c3")
    assert sorted(p.name for p in copied.path.iterdir()) == ["a", "b"]  # no fifo


# -- check --fix -----------------------------------------------------------------


def fingerprint(root: Path) -> list[tuple[str, int, bytes]]:
    out = []
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        body = (
            os.readlink(path).encode()
            if path.is_symlink()
            else (path.read_bytes() if path.is_file() else b"")
        )
        out.append((str(path.relative_to(root)), info.st_mode, body))
    return out


def test_fix_oci_tool_init_statically(bundle_factory, tmp_path, capsys):
    made = bundle_factory("oci-init")
    made.config_path.write_text((FIXTURES / "oci-tool-init.json").read_text())
    sh = made.rootfs / "bin" / "sh"
    sh.unlink()
    os.symlink(str(made.rootfs / "bin" / "busybox"), sh)  # the busybox --install -s trap
    before = fingerprint(made.path)
    out = tmp_path / "fixed"
    status = cli_main(["check", "--static-only", "--fix", str(out), str(made.path)])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert '"path": "/mounts/-"' in printed and "/bin/sh" in printed
    assert os.readlink(out / "rootfs" / "bin" / "sh") == "busybox"
    assert fingerprint(made.path) == before, "--fix changed the original bundle"
    assert cli_main(["check", "--static-only", "--fix", str(out), str(made.path)]) == 1


@pytest.mark.runc
def test_fixed_oci_tool_init_runs_under_runc(bundle_factory, runtime, tmp_path):
    made = bundle_factory("oci-init")
    made.config_path.write_text((FIXTURES / "oci-tool-init.json").read_text())
    before = fingerprint(made.path)
    out = tmp_path / "fixed"
    assert check_bundle(made.path, runtime_binary=runtime.binary).runc_ran_it is False
    assert cli_main(["check", "--fix", str(out), str(made.path)]) == 0
    assert cli_main(["check", str(out)]) == 0
    done = runtime.run("prt-fixed-oci-init", out, check=False)
    runtime.delete("prt-fixed-oci-init", force=True, check=False)
    assert done.returncode == 0, done.stderr
    assert fingerprint(made.path) == before
