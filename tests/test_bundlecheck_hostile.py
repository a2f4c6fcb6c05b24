"""The bundle check against hostile bundles: each test plays the attacker.

The check runs as root on shared machines, so a bundle must not make it run
code on the host, write to the host or the user's bundle, read files it
links to, crash, or give a wrong verdict. Every file a test makes is under
its tmp_path or bundle; containers are ``prt-`` and use a private ``--root``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

import pytest

from pytest_runc.bundlecheck import check_bundle
from pytest_runc.bundlecheck.check import _merge
from pytest_runc.bundlecheck.cli import main as cli_main
from pytest_runc.bundlecheck.dynamic import build_stand_in, run_trial, timeout_finding
from pytest_runc.bundlecheck.findings import BundleReport
from pytest_runc.bundlecheck.fix import FixError, fix_bundle
from pytest_runc.bundlecheck.gojson import (
    decode_config,
    deep_copy,
    dump_raw,
    json_text,
    parse_first_value,
    to_plain,
)
from pytest_runc.bundlecheck.loader import load_config
from pytest_runc.oci.errors import RuntimeTimeout
from pytest_runc.sessions.workdir import WorkDir

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "configs"
HOOK_STAGES = ("prestart", "createRuntime", "createContainer", "poststart")


def base() -> dict:
    return json.loads((FIXTURES / "runc-spec-detached.json").read_text())


def codes(report, severity=None):
    return {f.code for f in report.findings if severity is None or f.severity == severity}


def deep(depth: int) -> str:
    """A JSON value nested ``depth`` levels deep (objects, an array innermost)."""
    return '{"k":' * (depth - 1) + "[1]" + "}" * (depth - 1)


def with_deep_key(config: dict, depth: int) -> bytes:
    """``config`` plus an unknown top-level key whose value makes the whole file
    ``depth`` levels deep (the top-level object is level 1)."""
    text = json.dumps(config, indent=2)
    return (text[: text.rindex("}")] + f', "x-unknown": {deep(depth - 1)}\n}}\n').encode()


def hooked(config: dict, markers: Path) -> dict:
    """Every host hook kind touches a marker file: the proof that hooks ran."""
    config["hooks"] = {
        stage: [{"path": "/bin/sh", "args": ["sh", "-c", f"touch {markers}/{stage}"]}]
        for stage in HOOK_STAGES
    }
    return config


def tree(root: Path) -> list[tuple[str, int, bytes]]:
    """Every name, mode and content below ``root``."""
    out = []
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        body = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        out.append((str(path.relative_to(root)), info.st_mode, body))
    return out


# -- A: deep nesting ----------------------------------------------------------------


@pytest.mark.runc
def test_deep_unknown_key_runs_no_hook_and_never_the_users_rootfs(
    bundle_factory, runtime, tmp_path
):
    """3000 deep: Go reads it, so the trial runs, on an overlay, without hooks,
    and runc is given the config the check wrote, not the user's bytes."""
    made = bundle_factory("deep3000")
    markers = tmp_path / "markers"
    markers.mkdir()
    config = hooked(base(), markers)
    config["root"]["path"] = str(made.rootfs)  # absolute: the user's real rootfs
    config["process"]["args"] = ["sh", "-c", "echo owned > /owned"]
    made.config_path.write_bytes(with_deep_key(config, 3000))
    before = tree(made.path)
    report = check_bundle(made.path, runtime_binary=runtime.binary)
    assert report.runc_ran_it is True and report.trial_rootfs == "overlay", report.render()
    assert sorted(p.name for p in markers.iterdir()) == [], "a hook ran on the host"
    assert tree(made.path) == before, "the trial wrote into the user's bundle"
    assert "key-unknown" in codes(report, "warning")


@pytest.mark.parametrize("depth", [600, 900, 3000, 9999, 10000])
def test_deep_values_decode_without_recursion(depth):
    """Parsing, decoding and every walker stay iterative: a tiny recursion limit holds."""
    config = base()
    data = with_deep_key(config, depth)
    credential = json.dumps({**config, "windows": {"credentialSpec": json.loads("1")}})
    credential = credential.replace('"credentialSpec": 1', f'"credentialSpec": {deep(depth - 2)}')
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(120)
    try:
        for blob in (data, credential.encode()):
            raw, _ = parse_first_value(blob)
            decoded = decode_config(raw)
            assert not decoded.errors
            json_text(raw)
            dump_raw(deep_copy(to_plain(raw)), indent=2)
            dump_raw(decoded.config)
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("depth", [600, 900, 3000, 10000, 10001])
def test_deep_configs_give_a_verdict_not_a_traceback(bundle_factory, depth):
    made = bundle_factory(f"deep{depth}")
    made.config_path.write_bytes(with_deep_key(base(), depth))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = cli_main(["check", "--static-only", str(made.path)])
    assert "Traceback" not in out.getvalue()
    assert status == (1 if depth > 10000 else 0), out.getvalue()


def test_go_depth_limit_is_a_finding_with_no_trial(bundle_factory, tmp_path):
    made = bundle_factory("deep10001")
    made.config_path.write_bytes(with_deep_key(base(), 10001))
    report = check_bundle(made.path, runtime_binary="/nonexistent/runc-must-not-run")
    assert "config-too-deep" in codes(report, "error"), report.render()
    assert "exceeded max depth" in report.render()
    assert report.runc_ran_it is None and report.trial_rootfs == ""


@pytest.mark.runc
@pytest.mark.parametrize(("depth", "runs"), [(9999, True), (10000, True), (10001, False)])
def test_depth_limit_agrees_with_runc(bundle_factory, runtime, depth, runs):
    """runc 1.1.5 itself: 10000 levels run, 10001 are refused (a trusted test bundle)."""
    made = bundle_factory(f"limit{depth}")
    made.config_path.write_bytes(with_deep_key(base(), depth))
    container_id = f"prt-depth-{depth}"
    done = runtime.run(container_id, made.path, detach=True, check=False)
    runtime.delete(container_id, force=True, check=False)
    assert (done.returncode == 0) is runs, done.stderr
    if not runs:
        assert "exceeded max depth" in done.stderr
    report = check_bundle(made.path, runtime_binary=runtime.binary)
    assert report.compatible is runs, report.render()


# -- B: host access --------------------------------------------------------------------


def test_config_symlink_to_a_root_only_file_is_not_read(bundle_factory, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({**base(), "x-secret": "TOPSECRET-VALUE"}))
    secret.chmod(0o600)
    made = bundle_factory("symlinked-config")
    made.config_path.unlink(missing_ok=True)
    os.symlink(secret, made.config_path)
    report = check_bundle(made.path)
    assert "config-symlink" in codes(report, "error"), report.render()
    assert "TOPSECRET" not in report.render()


@pytest.mark.runc
def test_config_fifo_gets_no_trial_and_no_hang(bundle_factory, runtime):
    made = bundle_factory("fifo-config")
    made.config_path.unlink(missing_ok=True)
    os.mkfifo(made.config_path)
    started = time.monotonic()
    report = check_bundle(made.path, runtime_binary=runtime.binary)
    assert time.monotonic() - started < 5
    assert "config-not-a-file" in codes(report, "error") and report.runc_ran_it is None


def host_bind(config: dict, source: str, destination: str = "/mnt") -> dict:
    config["mounts"].append(
        {"destination": destination, "type": "bind", "source": source, "options": ["rbind"]}
    )
    return config


@pytest.mark.runc
def test_rw_host_bind_mount_cannot_write_host_files(bundle_factory, runtime, tmp_path):
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    made = bundle_factory("host-bind")
    config = host_bind(base(), str(host_dir))
    config["process"]["args"] = ["sh", "-c", "echo owned > /mnt/pwned"]
    made.config_path.write_text(json.dumps(config))
    report = check_bundle(made.path, runtime_binary=runtime.binary)
    time.sleep(0.3)
    assert not (host_dir / "pwned").exists(), "the bundle wrote a host file as root"
    assert "host-mount-not-tried" in codes(report, "warning"), report.render()
    assert report.runc_ran_it is True
    # The control: with --allow-host-mounts the trial binds it as written.
    check_bundle(made.path, runtime_binary=runtime.binary, allow_host_mounts=True)
    deadline = time.monotonic() + 2
    while not (host_dir / "pwned").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (host_dir / "pwned").exists(), "allow_host_mounts did not bind (is the test real?)"


def stand_in_for(config: dict, bundle: Path, tmp_path: Path, **options):
    raw, _ = parse_first_value(json.dumps(config).encode())
    trial_dir = tmp_path / "trial"
    trial_dir.mkdir(exist_ok=True)
    return build_stand_in(decode_config(raw).config, bundle, trial_dir, "prt-check-x", **options)


def test_stand_in_grants_no_host_access(tmp_path):
    """Namespace paths, host devices, capabilities, host filesystems, writable /proc/sys."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    config = base()
    config["linux"]["namespaces"] = [{"type": "network", "path": "/proc/1/ns/net"}]
    config["linux"]["maskedPaths"] = []
    config["linux"]["readonlyPaths"] = []
    config["linux"]["devices"] = [{"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}]
    config["linux"]["resources"] = {"devices": [{"allow": True, "access": "rwm"}]}
    config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x"}
    caps = ["CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_DAC_READ_SEARCH", "CAP_KILL"]
    config["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    config["mounts"] += [
        {"destination": "/disk", "type": "ext4", "source": "/dev/sda1"},
        {"destination": "/p", "type": "proc", "source": "proc"},
        {"destination": "/s", "type": "sysfs", "source": "sysfs"},
    ]
    config["hooks"] = {"prestart": [{"path": "/bin/true"}]}
    made = stand_in_for(config, bundle, tmp_path)
    linux = made.config["linux"]
    assert all("path" not in ns for ns in linux["namespaces"])
    assert {"pid", "mount", "ipc", "network"} <= {ns["type"] for ns in linux["namespaces"]}
    assert "/proc/sys" in linux["readonlyPaths"] and "/proc/kcore" in linux["maskedPaths"]
    assert linux["devices"][0] | {"type": "c", "major": 1, "minor": 3} == linux["devices"][0]
    assert linux["resources"]["devices"] == []
    assert linux["seccomp"]["listenerPath"].startswith(str(tmp_path))
    assert all(c == ["CAP_KILL"] for c in made.config["process"]["capabilities"].values())
    by_dest = {m["destination"]: m for m in made.config["mounts"]}
    assert by_dest["/disk"]["type"] == "tmpfs" and by_dest["/p"]["type"] == "tmpfs"
    assert "ro" in by_dest["/s"]["options"]
    assert "hooks" not in made.config
    assert {
        "namespace-path-not-joined",
        "device-not-tried",
        "capability-not-tried",
        "mount-not-tried",
        "trial-paths-masked",
    } <= {f.code for f in made.findings}
    text = made.text().decode()
    assert "/proc/1/ns/net" not in text and "/dev/sda1" not in text


def test_rootfs_outside_the_bundle_is_not_read(bundle_factory, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "script").write_text("#!/SECRET-FIRST-LINE\n")
    (elsewhere / "script").chmod(0o755)
    made = bundle_factory("outside-rootfs", rootfs=False)
    config = base()
    config["root"]["path"] = str(elsewhere)
    config["process"]["args"] = ["/script"]
    made.config_path.write_text(json.dumps(config))
    report = check_bundle(made.path, runtime_binary="/nonexistent/runc-must-not-run")
    assert "rootfs-outside-bundle" in codes(report, "error"), report.render()
    assert "SECRET-FIRST-LINE" not in report.render() and report.runc_ran_it is None
    allowed = check_bundle(made.path, allow_host_mounts=True)
    assert "SECRET-FIRST-LINE" in allowed.render()  # the control: it is read when allowed


# -- C: timeouts and sudo ----------------------------------------------------------------


def fifo_passwd(made) -> None:
    passwd = made.rootfs / "etc" / "passwd"
    passwd.parent.mkdir(exist_ok=True)
    passwd.unlink(missing_ok=True)
    os.mkfifo(passwd)


@pytest.mark.runc
def test_a_trial_that_times_out_is_not_a_refusal(bundle_factory, runtime):
    made = bundle_factory("hangs")
    made.config_path.write_text(json.dumps(base()))
    fifo_passwd(made)
    loaded = load_config(made.path)
    trial = run_trial(loaded, made.path, made.rootfs, runtime.binary, timeout=2.0)
    assert trial.timed_out and trial.ran is None
    report = BundleReport(made.path)
    _merge(report, trial)
    assert "runc-timeout" in codes(report, "error")
    assert "refused" not in report.render() and "timed out" in report.render()
    assert report.as_json()["dynamic"]["timed_out"] is True


def test_timeout_advice_names_the_callers_flag():
    exc = RuntimeTimeout(["runc", "run", "-d", "x"], 30.0, "", "")
    assert "--timeout" in timeout_finding(exc, "--timeout").fix
    assert "--runc-timeout" in timeout_finding(exc, "--runc-timeout").fix


def test_sudo_trial_removes_its_work_dir_with_sudo(bundle_factory, monkeypatch, tmp_path):
    made = bundle_factory("sudo-path", rootfs=False)
    made.config_path.write_text(json.dumps(base()))
    # A base of its own, and the real removal after noting how it was asked
    # for (without sudo here): nothing is left in the base of other runs.
    monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(tmp_path / "base"))
    calls = []
    real_remove = WorkDir.remove

    def remove(self: WorkDir, **kwargs: bool) -> None:
        calls.append(kwargs)
        real_remove(self)

    monkeypatch.setattr("pytest_runc.sessions.workdir.WorkDir.remove", remove)
    loaded = load_config(made.path)
    with contextlib.suppress(Exception):
        run_trial(loaded, made.path, None, "/bin/false", sudo=True, timeout=5.0)
    assert calls == [{"sudo": True}]
    assert not list((tmp_path / "base").glob("*/s-*")), "the trial left its directory"


# -- D: verdicts on bundles as users hand them over -------------------------------------


@pytest.mark.runc
def test_relative_bind_source_is_the_users_and_stays_unwritten(bundle_factory, runtime):
    made = bundle_factory("relative-bind")
    (made.path / "data").mkdir()
    (made.path / "data" / "marker").write_text("x")
    config = host_bind(base(), "data", "/data")
    config["process"]["args"] = ["sh", "-c", "test -f /data/marker && echo w > /data/written"]
    made.config_path.write_text(json.dumps(config))
    report = check_bundle(made.path, runtime_binary=runtime.binary)
    assert report.runc_ran_it is True and report.compatible, report.render()
    time.sleep(0.3)
    assert sorted(p.name for p in (made.path / "data").iterdir()) == ["marker"]


def test_a_large_config_runc_runs_is_read(bundle_factory):
    made = bundle_factory("large")
    config = base()
    config["annotations"] = {f"a{i}": "v" * 100 for i in range(55_000)}  # ~6 MB
    made.config_path.write_text(json.dumps(config))
    assert made.config_path.stat().st_size > 5_600_000
    report = check_bundle(made.path)
    assert report.compatible and "config-too-large" not in codes(report), report.render()


@pytest.mark.parametrize("dynamic", [False, pytest.param(True, marks=pytest.mark.runc)])
def test_argument_space_is_named(bundle_factory, request, dynamic):
    binary = request.getfixturevalue("runtime").binary if dynamic else None
    made = bundle_factory("e2big")
    config = base()
    # 5 MB in 50 strings of 100 kB (each under the kernel's 128 kB per string):
    # as many small ones cost runc 1.1.5 seconds of CPU per run (its env handling).
    config["process"]["env"] += [f"V{i}={'x' * 100_000}" for i in range(50)]
    made.config_path.write_text(json.dumps(config))
    report = check_bundle(made.path, runtime_binary=binary)
    assert "args-env-too-long" in codes(report, "error"), report.render()
    assert "config-too-large" not in codes(report)
    if dynamic:
        assert report.runc_ran_it is False and "too long" in report.runc_message
    config = base()
    config["process"]["args"] = ["sh", "-c", "true", "y" * 131072]
    made.config_path.write_text(json.dumps(config))
    report = check_bundle(made.path, runtime_binary=binary)
    finding = next(f for f in report.findings if f.code == "arg-too-long")
    assert finding.where.endswith("process.args[3]") and finding.severity == "error"


@pytest.mark.parametrize("dynamic", [False, pytest.param(True, marks=pytest.mark.runc)])
def test_nul_in_args_is_named(bundle_factory, request, dynamic):
    binary = request.getfixturevalue("runtime").binary if dynamic else None
    made = bundle_factory("nul")
    config = base()
    config["process"]["args"] = ["sh", "-c", "true", "a\u0000b"]
    made.config_path.write_text(json.dumps(config))
    report = check_bundle(made.path, runtime_binary=binary)
    finding = next(f for f in report.findings if f.code == "args-nul")
    assert "process.args[3]" in finding.message and not report.compatible
    if dynamic:
        assert report.runc_ran_it is False and "invalid argument" in report.runc_message


@pytest.mark.runc
def test_fifo_at_etc_passwd_is_found_statically_and_fast(bundle_factory, runtime):
    made = bundle_factory("fifo-passwd")
    made.config_path.write_text(json.dumps(base()))
    fifo_passwd(made)
    started = time.monotonic()
    report = check_bundle(made.path, runtime_binary=runtime.binary)
    assert time.monotonic() - started < 5
    finding = next(f for f in report.findings if f.code == "rootfs-special-file")
    assert "/etc/passwd" in finding.message and "FIFO" in finding.message
    assert report.runc_ran_it is None and "runc-timeout" not in codes(report)


@pytest.mark.runc
def test_missing_hook_program_is_said_statically(bundle_factory, runtime, tmp_path):
    made = bundle_factory("hook-missing")
    config = base()
    config["hooks"] = {"prestart": [{"path": str(tmp_path / "no-such-hook")}]}
    made.config_path.write_text(json.dumps(config))
    # runc itself refuses it (a trusted bundle; the hook program does not exist).
    done = runtime.run("prt-hook-missing", made.path, detach=True, check=False)
    runtime.delete("prt-hook-missing", force=True, check=False)
    assert done.returncode != 0, done.stderr
    report = check_bundle(made.path, runtime_binary=runtime.binary)
    assert "hook-path-missing" in codes(report, "error"), report.render()
    assert not report.compatible


def test_fix_reports_every_file_it_did_not_copy(bundle_factory, tmp_path):
    made = bundle_factory("fix-fifo")
    made.config_path.write_text(json.dumps(base()))
    os.mkfifo(made.rootfs / "a-fifo")
    with open(made.rootfs / "sparse", "wb") as f:
        f.truncate(1 << 40)  # 1 TiB apparent, no blocks
    result = fix_bundle(made.path, tmp_path / "out")
    assert any("/a-fifo" in line and "FIFO" in line for line in result.skipped)
    assert "/a-fifo" in result.render()
    copied = tmp_path / "out" / "rootfs" / "sparse"
    assert copied.stat().st_size == 1 << 40 and copied.stat().st_blocks == 0


def test_fix_that_fails_leaves_no_partial_output(bundle_factory, tmp_path, monkeypatch):
    made = bundle_factory("fix-fails")
    made.config_path.write_text(json.dumps(base()))
    monkeypatch.setattr(
        "pytest_runc.bundlecheck.fix.bounded_copy.__kwdefaults__",
        {"max_bytes": 1, "max_entries": 3},
    )
    out = tmp_path / "out"
    with pytest.raises(FixError):
        fix_bundle(made.path, out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
