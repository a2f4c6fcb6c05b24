"""The bundle check: each fixture's verdict and cause, and agreement with runc."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_runc.bundlecheck import check_bundle
from pytest_runc.bundlecheck.findings import ERROR, WARNING

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "configs"

#: config fixture -> (runc runs it, the finding code that names the cause or the warning)
CONFIG_CASES = {
    "runc-spec": (True, "terminal-needs-tty"),
    "runc-spec-detached": (True, None),
    "oci-tool-init": (False, "no-proc-mount"),
    "no-proc-mount": (False, "no-proc-mount"),
    "relative-cwd": (False, "cwd-relative"),
    "hostname-without-uts": (False, "hostname-without-uts"),
    "env-without-equals": (False, "env-invalid"),
    "uid-as-string": (False, "json-type"),
    "unknown-namespace": (False, "namespace-unknown"),
    "empty-args": (False, "args-empty"),
    "missing-executable": (False, "args0-not-found"),
    "no-oci-version": (True, "oci-version-missing"),
    "relative-mount-destination": (True, "mount-destination-relative"),
    "terminal-true": (True, "terminal-needs-tty"),
    "with-hooks": (True, "hooks-present"),
}


def fingerprint(root: Path) -> str:
    """A digest of every name, type, mode, link target and content below ``root``."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            info = path.lstat()
            digest.update(f"{path.relative_to(root)}|{info.st_mode}|".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            elif path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


def bundle_with(bundle_factory, name: str):
    made = bundle_factory(name)
    shutil.copyfile(FIXTURES / f"{name}.json", made.config_path)
    return made.path


def codes(report, severity=None):
    return {f.code for f in report.findings if severity is None or f.severity == severity}


#: Fixtures runc cannot decode: no trial (runc only gets configs the check wrote).
UNDECODABLE = {"uid-as-string"}


def runc_refuses_as_written(runtime, path: Path, name: str) -> str:
    """runc's own refusal of a test's (trusted) bundle as written: its stderr."""
    container_id = f"prt-direct-{name}"[:60]
    done = runtime.run(container_id, path, detach=True, check=False)
    runtime.delete(container_id, force=True, check=False)
    assert done.returncode != 0, f"runc ran {name} as written"
    return done.stderr


def test_every_fixture_config_has_a_case():
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(CONFIG_CASES)


@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_static_verdict_names_the_cause(bundle_factory, name):
    runs, code = CONFIG_CASES[name]
    path = bundle_with(bundle_factory, name)
    report = check_bundle(path)
    assert report.compatible is runs, report.render()
    if code:
        assert code in codes(report, WARNING if runs else ERROR), report.render()
    if code is None:
        assert report.findings == [], report.render()


@pytest.mark.runc
@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_runc_agrees_with_the_static_verdict(bundle_factory, runtime, name):
    """runc's own result equals the static verdict; the bundle stays byte-for-byte."""
    path = bundle_with(bundle_factory, name)
    before = fingerprint(path)
    static = check_bundle(path)
    report = check_bundle(path, runtime_binary=runtime.binary)
    if name in UNDECODABLE:
        # No trial: runc refuses it at load, which runc itself confirms here.
        assert report.runc_ran_it is None and "trial-skipped-undecodable" in codes(report)
        assert "cannot unmarshal" in runc_refuses_as_written(runtime, path, name)
        assert report.compatible is False and fingerprint(path) == before
        return
    assert report.runc_ran_it is not None, "no dynamic check ran"
    assert report.trial_rootfs == "overlay", report.render()
    assert report.runc_ran_it is static.compatible, report.render() + "\n" + static.render()
    assert report.compatible is CONFIG_CASES[name][0], report.render()
    assert fingerprint(path) == before, "the check changed the user's bundle"


@pytest.mark.runc
def test_hooks_never_run_without_allow_hooks(bundle_factory, runtime, tmp_path):
    made = bundle_factory("hooked")
    marker = tmp_path / "hook-ran"
    made.command("true").hook("prestart", "/bin/sh", "sh", "-c", f"touch {marker}")
    made.write()
    report = check_bundle(made.path, runtime_binary=runtime.binary)
    assert report.runc_ran_it is True
    assert "hooks-present" in codes(report, WARNING)
    assert not marker.exists(), "the bundle's hook ran on the host"
    check_bundle(made.path, runtime_binary=runtime.binary, allow_hooks=True)
    assert marker.exists(), "--allow-hooks did not run the hook (is the check real?)"


def busybox_install_style(bundle):
    """Relink sh as `busybox --install -s` does: an absolute host path."""
    sh = bundle.rootfs / "bin" / "sh"
    sh.unlink()
    os.symlink(str(bundle.rootfs / "bin" / "busybox"), sh)


@pytest.mark.parametrize("dynamic", [False, pytest.param(True, marks=pytest.mark.runc)])
def test_absolute_applet_links_are_the_busybox_install_trap(bundle_factory, request, dynamic):
    made = bundle_factory("abs-links")
    made.command("sh", "-c", "true")
    made.write()
    busybox_install_style(made)
    binary = request.getfixturevalue("runtime").binary if dynamic else None
    report = check_bundle(made.path, runtime_binary=binary)
    assert "args0-not-found" in codes(report, ERROR), report.render()
    assert "absolute-symlink-outside-rootfs" in codes(report, WARNING)
    assert "busybox --install -s" in report.render()
    if dynamic:
        assert report.runc_ran_it is False and "not found" in report.runc_message


@pytest.mark.parametrize("dynamic", [False, pytest.param(True, marks=pytest.mark.runc)])
def test_dynamic_executable_without_its_loader(bundle_factory, request, dynamic):
    host_ls = shutil.which("ls")
    assert host_ls
    made = bundle_factory("dyn-exe")
    shutil.copyfile(host_ls, made.rootfs / "bin" / "dynls")
    (made.rootfs / "bin" / "dynls").chmod(0o755)
    made.command("/bin/dynls")
    made.write()
    binary = request.getfixturevalue("runtime").binary if dynamic else None
    report = check_bundle(made.path, runtime_binary=binary)
    assert {"elf-interpreter-missing", "elf-library-missing"} <= codes(report, ERROR)
    if dynamic:
        assert report.runc_ran_it is False, report.render()


def test_rootfs_symlink_is_rejected(bundle_factory):
    made = bundle_factory("rootfs-link")
    made.command("true")
    made.rootfs.rename(made.path / "real-rootfs")
    os.symlink("real-rootfs", made.path / "rootfs")
    made.write()
    assert "rootfs-symlink" in codes(check_bundle(made.path), ERROR)


def test_missing_rootfs(bundle_factory):
    made = bundle_factory("no-rootfs", rootfs=False)
    made.command("true").write()
    assert "rootfs-missing" in codes(check_bundle(made.path), ERROR)


def test_symlink_loops_give_a_finding_not_a_hang(bundle_factory):
    made = bundle_factory("loops")
    os.symlink("b", made.rootfs / "bin" / "a")
    os.symlink("a", made.rootfs / "bin" / "b")
    os.symlink(".", made.rootfs / "self")
    os.symlink("/self/self/self", made.rootfs / "deep")
    made.command("/bin/a").write()
    report = check_bundle(made.path)
    assert "args0-not-found" in codes(report, ERROR)
    assert "symbolic links" in report.render()


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b'{\n  "ociVersion": "1.0.2",\n  "process": {\n', "config-invalid-json"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(200), "config-binary"),
        (b" " * (5 * 1024 * 1024) + b"[]", "config-not-object"),
        (b"[1, 2, 3]", "config-not-object"),
        (b"\xff\xfe{}", "config-not-utf8"),
    ],
)
def test_bad_config_json_is_a_finding(bundle_factory, content, code):
    made = bundle_factory("bad", rootfs=False)
    made.config_path.write_bytes(content)
    report = check_bundle(made.path)
    assert code in codes(report, ERROR), report.render()
    assert not report.compatible


def test_config_past_the_checks_read_bound_is_a_finding(bundle_factory):
    made = bundle_factory("huge", rootfs=False)
    with open(made.config_path, "wb") as f:
        f.truncate(65 * 1024 * 1024)  # sparse: costs no disk
    report = check_bundle(made.path)
    assert "config-too-large" in codes(report, ERROR), report.render()
    assert "runc itself has no limit" in report.render()


def test_invalid_json_names_line_and_column(bundle_factory):
    made = bundle_factory("bad", rootfs=False)
    made.config_path.write_text('{\n  "ociVersion": "1.0.2",\n  "root": {"path": rootfs}\n}')
    finding = next(f for f in check_bundle(made.path).findings if f.code == "config-invalid-json")
    assert "line 3, column 20" in finding.message
    assert finding.where == "config.json:3:20"


def test_config_json_that_is_a_fifo_does_not_hang(bundle_factory):
    made = bundle_factory("fifo", rootfs=False)
    os.mkfifo(made.config_path)
    assert "config-not-a-file" in codes(check_bundle(made.path), ERROR)


def test_unreadable_config_json(bundle_factory, monkeypatch):
    made = bundle_factory("unreadable", rootfs=False)
    made.command("true").write()

    def denied(fd):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("pytest_runc.bundlecheck.loader._read_bounded", denied)
    report = check_bundle(made.path)
    assert "config-unreadable" in codes(report, ERROR)
    assert "Permission denied" in report.render()


def test_not_a_bundle(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "not-a-bundle" in codes(check_bundle(a_file), ERROR)
    assert "bundle-missing" in codes(check_bundle(tmp_path / "absent"), ERROR)
    assert "config-missing" in codes(check_bundle(tmp_path), ERROR)


def cli(*args: str, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "pytest_runc", *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def test_cli_exit_statuses_and_json(bundle_factory):
    good = bundle_with(bundle_factory, "runc-spec-detached")
    bad = bundle_with(bundle_factory, "oci-tool-init")
    assert cli("check", "--static-only", str(good)).returncode == 0
    done = cli("check", "--static-only", "--json", str(good), str(bad))
    assert done.returncode == 1
    verdicts = json.loads(done.stdout)
    assert [v["compatible"] for v in verdicts] == [True, False]
    assert {"severity", "code", "message", "fix"} <= set(verdicts[1]["findings"][0])
    assert verdicts[1]["findings"][0]["code"] == "no-proc-mount"
    usage = cli("check")
    assert usage.returncode == 2 and "BUNDLE" in usage.stderr
    assert "Traceback" not in usage.stderr


def test_cli_human_output_names_cause_and_fix(bundle_factory):
    bad = bundle_with(bundle_factory, "oci-tool-init")
    done = cli("check", "--static-only", str(bad))
    assert "NOT runc-compatible" in done.stdout
    assert "[no-proc-mount]" in done.stdout and "fix: add" in done.stdout


def test_runc_bundle_option_adds_one_item_per_bundle(pytester, bundle_factory):
    good = bundle_with(bundle_factory, "runc-spec-detached")
    bad = bundle_with(bundle_factory, "oci-tool-init")
    result = pytester.runpytest(
        f"--runc-bundle={good}",
        f"--runc-bundle={bad}",
        "-p",
        "no:cacheprovider",
        f"--junitxml={pytester.path / 'out.xml'}",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*NOT runc-compatible*", "*no-proc-mount*"])
    assert "no-proc-mount" in (pytester.path / "out.xml").read_text()
