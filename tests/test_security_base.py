"""A local attacker against the base directory and the sweeper.

Each test plays another user of the machine (uid 65534 through ``setpriv``)
who prepares files in a shared, sticky temp dir (as /dev/shm and /tmp are)
before root runs pytest-runc there. Everything the attacker makes lives in a
temp dir of the test; nothing else on the host is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_runc.sessions.basedir import UnsafeBaseDir, open_base
from pytest_runc.sessions.workdir import WorkDir, sweep, trusted_executable
from tests.helpers import as_attacker, write_script

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="environment: playing another user needs root (setpriv)"
)
needs_setpriv = pytest.mark.skipif(
    shutil.which("setpriv") is None,
    reason="environment: setpriv is not installed (apt-get install util-linux)",
)
pytestmark = [needs_root, needs_setpriv]


def attack(script: str, cwd: Path) -> None:
    """Run a shell script as the unprivileged attacker, in ``cwd``."""
    as_attacker(cwd, "sh", "-euc", script)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A world-writable sticky directory, like /dev/shm, only for this test."""
    path = Path(tempfile.mkdtemp(prefix="prt-shared-"))
    path.chmod(0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """Root-owned files that an attack would destroy or overwrite."""
    path = tmp_path / "victim"
    for name in ("s-deadbeef", "n-deadbeef"):
        (path / name).mkdir(parents=True)
        (path / name / "precious").write_text("root's data")
        os.utime(path / name, (0, 0))  # old: an n-* dir past its grace period
    return path


def base_in(shared: Path) -> Path:
    return shared / f"pytest-runc-{os.getuid()}"


class TestTheBaseAnotherUserMadeFirst:
    def test_a_forged_owner_file_never_makes_root_run_the_attackers_program(self, shared):
        marker = shared / "pwned"
        attack(
            f"""mkdir -m 700 {base_in(shared)}
            mkdir {base_in(shared)}/s-deadbeef
            printf '#!/bin/sh\\nid -u > {marker}\\n' > {shared}/evil; chmod 755 {shared}/evil
            echo '{{"token": "deadbeef", "binary": "{shared}/evil"}}' > {base_in(shared)}/s-deadbeef/owner.json
            mkdir -p {base_in(shared)}/s-deadbeef/state/prt-deadbeef-1-1
            chmod 777 {base_in(shared)}""",
            shared,
        )
        with pytest.raises(UnsafeBaseDir, match="owned by uid 65534"):
            sweep("/bin/true", base=base_in(shared))
        assert not marker.exists(), "root ran a program named by another user's file"

    def test_the_base_as_a_symlink_to_a_root_directory_is_refused(self, shared, victim):
        attack(f"ln -s {victim} {base_in(shared)}", shared)
        with pytest.raises(UnsafeBaseDir, match="symlink"):
            sweep(None, base=base_in(shared))
        with pytest.raises(UnsafeBaseDir, match="symlink"):
            WorkDir.create(base_in(shared))
        assert sorted(p.name for p in victim.iterdir()) == ["n-deadbeef", "s-deadbeef"]
        assert (victim / "s-deadbeef" / "precious").read_text() == "root's data"

    def test_the_base_as_a_plain_file_is_a_usage_error_not_a_crash(
        self, shared, pytester, monkeypatch
    ):
        attack(f"touch {base_in(shared)}", shared)
        pytester.makepyfile("def test_nothing():\n    pass\n")
        monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(shared))
        result = pytester.runpytest_subprocess("--runc", "-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        err = result.stderr.str()
        assert "INTERNALERROR" not in err and "Traceback" not in err
        assert f"refusing to use {base_in(shared)}" in err and "not a directory" in err
        assert "PYTEST_RUNC_TMPDIR" in err, "the message does not say how to fix it"

    def test_a_run_refuses_a_base_another_user_owns(self, shared, pytester, monkeypatch):
        marker = shared / "pwned"
        attack(
            f"""mkdir -m 700 {base_in(shared)}
            mkdir {base_in(shared)}/s-cafecafe
            printf '#!/bin/sh\\ntouch {marker}\\n' > {shared}/evil; chmod 755 {shared}/evil
            echo '{{"token": "cafecafe", "binary": "{shared}/evil"}}' > {base_in(shared)}/s-cafecafe/owner.json""",
            shared,
        )
        pytester.makepyfile("def test_nothing():\n    pass\n")
        monkeypatch.setenv("PYTEST_RUNC_TMPDIR", str(shared))
        result = pytester.runpytest_subprocess("--runc", "-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
        assert "owned by uid 65534" in result.stderr.str()
        assert not marker.exists()

    def test_a_base_others_can_write_is_refused_even_when_ours(self, shared):
        base = base_in(shared)
        base.mkdir()
        base.chmod(0o777)
        with pytest.raises(UnsafeBaseDir, match="others can write"):
            WorkDir.create(base)

    def test_a_parent_others_can_write_without_the_sticky_bit_is_refused(self, tmp_path):
        open_parent = tmp_path / "open"
        open_parent.mkdir()
        open_parent.chmod(0o777)  # anyone could rename our base away and put theirs
        with pytest.raises(UnsafeBaseDir, match="not sticky"):
            WorkDir.create(open_parent / "pytest-runc-0")

    def test_a_base_we_make_is_0700_and_ours(self, shared):
        made = WorkDir.create(base_in(shared))
        try:
            info = base_in(shared).lstat()
            assert (info.st_mode & 0o777, info.st_uid) == (0o700, os.geteuid())
        finally:
            made.remove()


class TestInsideOurOwnBase:
    """Defence in depth: even in a base that is ours, nothing found there is followed
    or executed unless no one else could have changed it."""

    def test_an_entry_that_is_a_symlink_is_never_followed(self, tmp_path, victim):
        base = tmp_path / "base"
        opened = open_base(base, create=True)
        assert opened is not None
        opened.close()
        (base / "s-deadbeef").symlink_to(victim / "s-deadbeef")
        mount_point = victim / "s-deadbeef" / "mnt"
        mount_point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "prt-victim", str(mount_point)], check=True)
        try:
            result = sweep(None, base=base)
            assert (victim / "s-deadbeef" / "precious").exists()
            mounted = subprocess.run(["findmnt", str(mount_point)], capture_output=True)
            assert mounted.returncode == 0, "the sweeper unmounted a mount outside the base"
            assert result.removed == []
        finally:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)

    def test_a_binary_other_users_can_change_is_never_run(self, tmp_path, shared):
        marker = shared / "pwned"
        attack(
            f"printf '#!/bin/sh\\ntouch {marker}\\n' > {shared}/evil; chmod 755 {shared}/evil",
            shared,
        )
        log = tmp_path / "ours.log"
        ours = write_script(tmp_path / "bin" / "runtime", f'echo "$@" >> {log}\n')
        base = tmp_path / "base"
        base.mkdir(mode=0o700)
        dead = base / "s-deadbeef"
        (dead / "state" / "prt-deadbeef-1-1").mkdir(parents=True)
        (dead / "owner.json").write_text(
            json.dumps({"token": "deadbeef", "binary": str(shared / "evil")})
        )
        sweep(str(ours), base=base)
        assert not marker.exists(), "the sweeper ran a binary another user owns"
        assert "delete --force prt-deadbeef-1-1" in log.read_text()

    def test_trusted_executables(self, tmp_path, shared):
        attack(f"printf '#!/bin/sh\\n' > {shared}/theirs; chmod 755 {shared}/theirs", shared)
        writable = write_script(tmp_path / "bin" / "writable", "")
        writable.chmod(0o777)
        assert trusted_executable("/bin/sh") == "/bin/sh"
        assert trusted_executable(str(shared / "theirs")) is None
        assert trusted_executable(str(writable)) is None
        assert trusted_executable("relative/runc") is None
        assert trusted_executable(["/bin/sh"]) is None
