"""Unit tests of the layers that need no runtime: bundle, rootfs, errors, schema, ELF."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_runc.oci.bundle import Bundle, default_config
from pytest_runc.oci.elf import read_elf
from pytest_runc.oci.errors import RuntimeCommandError, runtime_message
from pytest_runc.oci.rootfs import TOP_LEVEL
from pytest_runc.oci.schemas import schema_errors, validate_state


def test_runtime_message_strips_logrus_decoration():
    stderr = 'time="2026-11-28T10:52:12Z" level=error msg="container \\"x\\" does not exist"\n'
    assert runtime_message(stderr) == 'container "x" does not exist'
    assert runtime_message("plain failure\n") == "plain failure"


def test_runtime_command_error_carries_command_status_and_stderr():
    exc = RuntimeCommandError(["runc", "start", "x"], 1, "", 'level=error msg="boom"')
    assert (exc.argv, exc.returncode, exc.message) == (["runc", "start", "x"], 1, "boom")
    assert "`runc start x` exited with status 1: boom" in str(exc)


def test_bundle_builder_chains_and_writes(tmp_path):
    bundle = (
        Bundle(tmp_path / "b")
        .command("sh", "-c", "true")
        .hostname("h")
        .env(A="1")
        .env(A="2")
        .cwd("/tmp")
        .user(1, 2, [3])
        .readonly(False)
        .mount("/data", "tmpfs", "tmpfs", ["size=1m"])
        .remove_namespace("network")
        .resources(pids={"limit": 5})
    )
    config = json.loads(bundle.write().read_text())
    assert config["process"]["args"] == ["sh", "-c", "true"]
    assert config["process"]["terminal"] is False
    assert [e for e in config["process"]["env"] if e.startswith("A=")] == ["A=2"]
    assert config["process"]["user"] == {"uid": 1, "gid": 2, "additionalGids": [3]}
    assert config["mounts"][-1]["destination"] == "/data"
    assert "network" not in bundle.namespace_types()
    assert config["linux"]["resources"]["pids"] == {"limit": 5}
    assert schema_errors("config", config) == []


def test_default_config_is_a_fresh_copy():
    first = default_config()
    first["process"]["args"].append("x")
    assert default_config()["process"]["args"] == ["sh"]


def test_schema_rejects_what_the_spec_forbids():
    config = default_config()
    config["process"]["user"]["uid"] = "root"
    config["linux"]["namespaces"].append({"type": "bogus"})
    errors = schema_errors("config", config)
    assert any(e.startswith("process/user/uid") for e in errors)
    assert any(e.startswith("linux/namespaces/5/type") for e in errors)


def test_state_schema():
    good = {"ociVersion": "1.0.2", "id": "a", "status": "running", "pid": 4, "bundle": "/b"}
    validate_state(good)
    with pytest.raises(AssertionError, match="pid"):
        validate_state({**good, "pid": 0})
    with pytest.raises(AssertionError, match="status"):
        validate_state({**good, "status": "sleeping"})
    with pytest.raises(AssertionError, match="bundle"):
        validate_state({**good, "bundle": "relative"})


def test_rootfs_has_relative_applet_links_and_etc(rootfs):
    assert set(os.listdir(rootfs)) == set(TOP_LEVEL)
    links = [p for p in (rootfs / "bin").iterdir() if p.is_symlink()]
    assert len(links) > 100
    assert all(os.readlink(p) == "busybox" for p in links)
    info = read_elf(rootfs / "bin" / "busybox")
    assert info is not None and info.is_static
    assert "root:x:0:0" in (rootfs / "etc" / "passwd").read_text()
    assert (rootfs / "etc" / "group").exists() and (rootfs / "etc" / "hostname").exists()


def test_each_test_gets_its_own_rootfs_copy(bundle_factory):
    first, second = bundle_factory(), bundle_factory()
    (first.rootfs / "tmp" / "mine").write_text("x")
    assert not (second.rootfs / "tmp" / "mine").exists()
    assert (
        os.stat(first.rootfs / "bin" / "busybox").st_ino
        != os.stat(second.rootfs / "bin" / "busybox").st_ino
    )


def test_rootfs_from_a_tarball(pytester, tmp_path, rootfs):
    import tarfile

    tarball = tmp_path / "rootfs.tar"
    with tarfile.open(tarball, "w") as tar:
        tar.add(rootfs, arcname=".")
    pytester.makepyfile("""
        import os
        def test_from_tar(rootfs):
            assert os.readlink(rootfs / "bin" / "sh") == "busybox"
    """)
    result = pytester.runpytest(f"--runc-rootfs={tarball}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_read_elf_tells_static_from_dynamic(tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    assert read_elf(script) is None
    dynamic = read_elf(Path("/bin/sh").resolve())
    assert dynamic is not None and dynamic.interpreter and "libc.so.6" in dynamic.needed


@pytest.mark.runc
def test_default_config_equals_runc_spec(runtime, tmp_path):
    """The bundle default is exactly what `runc spec` writes."""
    assert runtime.spec(tmp_path) == default_config()


def test_load_bundle_reads_without_changing(tmp_path):
    from pytest_runc.oci.bundle import load_bundle
    from pytest_runc.oci.errors import BundleError

    written = Bundle(tmp_path / "b").command("true").write()
    before = written.read_bytes()
    loaded = load_bundle(tmp_path / "b")
    assert loaded.process["args"] == ["true"] and written.read_bytes() == before
    with pytest.raises(BundleError, match=r"config\.json"):
        load_bundle(tmp_path / "missing")
