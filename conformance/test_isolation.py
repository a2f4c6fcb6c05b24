"""Isolation, checked from inside the container with busybox.

Rules: runtime spec config.md (root.readonly, mounts, process: cwd, env,
user, capabilities, rlimits, noNewPrivileges, oomScoreAdj) and
config-linux.md (namespaces, maskedPaths, readonlyPaths, devices, sysctl);
the ground opencontainers/runtime-tools' validation suite covers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_runc.linux import NS_FILES, decode_capabilities, status_fields

pytestmark = pytest.mark.runc


def run_output(container, bundle, script: str) -> str:
    """Run ``sh -c script`` to completion; its stdout (and fail on a runtime error)."""
    bundle.shell(script)
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    return done.stdout


@pytest.mark.parametrize("kind", ["pid", "network", "ipc", "uts", "mount", "cgroup"])
def test_new_namespaces_differ_from_the_hosts(bundle, container, kind):
    """config-linux.md "Namespaces": without a path, the runtime makes a new namespace."""
    bundle.add_namespace(kind)
    inside = run_output(container, bundle, f"readlink /proc/self/ns/{NS_FILES[kind]}").strip()
    assert inside.startswith(NS_FILES[kind] + ":["), inside
    assert inside != os.readlink(f"/proc/self/ns/{NS_FILES[kind]}"), f"host's {kind} namespace"


@pytest.mark.runc_root  # rootless: those namespaces belong to another user namespace
@pytest.mark.parametrize("kind", ["network", "ipc", "uts"])
def test_namespace_path_joins_that_namespace(bundle_factory, container, kind):
    """config-linux.md "Namespaces": with a path, the process joins that namespace."""
    first_bundle = bundle_factory()
    first_bundle.command("sleep", "60")
    first = container(first_bundle)
    first.run(detach=True)
    target = f"/proc/{first.state().pid}/ns/{NS_FILES[kind]}"
    second_bundle = bundle_factory()
    if kind == "uts":
        second_bundle.hostname(None)  # joining a uts namespace: no hostname of our own
    second_bundle.add_namespace(kind, target).shell(f"readlink /proc/self/ns/{NS_FILES[kind]}")
    done = container(second_bundle).run()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == os.readlink(target)


def test_readonly_root(bundle, container):
    """config.md "root.readonly": the root filesystem is read-only inside."""
    bundle.readonly(True)
    out = run_output(container, bundle, "touch /probe 2>&1; echo status=$?")
    assert "status=0" not in out, "wrote to a read-only root"
    assert not (bundle.rootfs / "probe").exists()


def test_writable_root_when_not_readonly(bundle, container):
    """config.md "root.readonly" false: writes reach the bundle's rootfs."""
    bundle.readonly(False)
    out = run_output(container, bundle, "touch /probe; echo status=$?")
    assert "status=0" in out
    assert (bundle.rootfs / "probe").exists()


def first_existing(*paths: str) -> str:
    """The first path that exists on this host's kernel (they vary by build)."""
    for path in paths:
        if os.path.exists(path):
            return path
    pytest.skip(f"none of {paths} exists on this kernel")


def test_masked_paths_are_hidden(bundle, container):
    """config-linux.md "Masked Paths": masked files read as empty, masked dirs are empty."""
    masked_file = first_existing("/proc/kcore", "/proc/keys", "/proc/timer_list")
    masked_dir = first_existing("/sys/firmware", "/proc/acpi")
    bundle.linux["maskedPaths"] = [masked_file, masked_dir]
    out = run_output(container, bundle, f"wc -c < {masked_file}; ls -A {masked_dir} | wc -l")
    size, entries = out.split()
    assert size == "0", f"{masked_file} readable inside: {size} bytes"
    assert entries == "0", f"{masked_dir} is not masked"


def test_readonly_paths_are_read_only(bundle, container):
    """config-linux.md "Readonly Paths": each is mounted read-only."""
    paths = ["/proc/sys", first_existing("/proc/sysrq-trigger", "/proc/bus", "/proc/irq")]
    bundle.linux["readonlyPaths"] = paths
    mounts = run_output(container, bundle, "cat /proc/self/mounts")
    options = {line.split()[1]: line.split()[3].split(",") for line in mounts.splitlines()}
    for path in paths:
        assert path in options, f"{path} is not a mount of its own"
        assert "ro" in options[path], f"{path} is mounted {options[path]}"


def test_capabilities_match_the_config(bundle, container):
    """config.md "process.capabilities": bounding, effective and permitted as configured."""
    bundle.capabilities("CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE")
    status = status_fields(run_output(container, bundle, "cat /proc/self/status"))
    caps = bundle.process["capabilities"]
    for field, key in (("CapBnd", "bounding"), ("CapEff", "effective"), ("CapPrm", "permitted")):
        assert decode_capabilities(status[field]) == set(caps[key]), f"{key} differs"


@pytest.mark.parametrize("enabled", [True, False])
def test_no_new_privileges(bundle, container, enabled):
    """config.md "process.noNewPrivileges": sets the no_new_privs bit exactly when true."""
    bundle.process["noNewPrivileges"] = enabled
    status = status_fields(run_output(container, bundle, "cat /proc/self/status"))
    assert status["NoNewPrivs"] == ("1" if enabled else "0")


def test_rlimits_are_applied(bundle, container):
    """config.md "process.rlimits": soft and hard limits as configured."""
    bundle.rlimit("RLIMIT_NOFILE", 123, 456)
    limits = run_output(container, bundle, "cat /proc/self/limits")
    row = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert row.split()[3:5] == ["123", "456"], row


@pytest.mark.runc_root  # rootless maps only one uid
def test_user_and_additional_gids(bundle, container):
    """config.md "User" (POSIX): uid, gid and additionalGids as configured."""
    bundle.user(1000, 1001, [2001, 2002])
    status = status_fields(run_output(container, bundle, "cat /proc/self/status"))
    assert status["Uid"].split()[:2] == ["1000", "1000"]
    assert status["Gid"].split()[:2] == ["1001", "1001"]
    assert set(status["Groups"].split()) == {"2001", "2002"}


def test_cwd_and_env(bundle, container):
    """config.md "process": cwd is the working directory; env is the environment."""
    bundle.cwd("/tmp").env(PRT_GREETING="hello world", PRT_EMPTY="")
    out = run_output(container, bundle, 'pwd; echo "[$PRT_GREETING]"; echo "[${PRT_EMPTY-unset}]"')
    assert out.splitlines() == ["/tmp", "[hello world]", "[]"]


def test_umask(bundle, container):
    """config.md "User" umask (spec 1.0.2, runc >= 1.1): the process starts with it."""
    bundle.process["user"]["umask"] = 0o027
    assert run_output(container, bundle, "umask").strip() == "0027"


def test_mount_options_are_applied(bundle_factory, bundle, container, tmp_path):
    """config.md "Mounts": bind mounts carry ro/nosuid; tmpfs gets its size."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "hello").write_text("from the host\n")
    bundle.mount("/prt-data", "bind", str(shared), ["rbind", "ro", "nosuid"])
    bundle.mount("/prt-tmp", "tmpfs", "tmpfs", ["nosuid", "size=1m"])
    out = run_output(
        container,
        bundle,
        "cat /prt-data/hello; touch /prt-data/x 2>/dev/null; echo w=$?;"
        " grep ' /prt-' /proc/self/mounts",
    )
    lines = out.splitlines()
    assert lines[0] == "from the host"
    assert lines[1] != "w=0", "wrote through a ro bind mount"
    options = {line.split()[1]: line.split()[3].split(",") for line in lines[2:]}
    assert {"ro", "nosuid"} <= set(options["/prt-data"]), options["/prt-data"]
    assert "size=1024k" in options["/prt-tmp"] and "nosuid" in options["/prt-tmp"]
    assert not (shared / "x").exists()


def test_devices_exist_and_work(bundle, container):
    """config-linux.md "Default Devices" and runc spec mounts: /dev/null, /dev/zero,
    /dev/pts (devpts) and /dev/shm (tmpfs) are usable."""
    out = run_output(
        container,
        bundle,
        "[ -c /dev/null ] && echo x > /dev/null && echo null-ok;"
        " [ -c /dev/zero ] && head -c 4 /dev/zero | wc -c;"
        " echo shm > /dev/shm/probe && cat /dev/shm/probe;"
        " grep -E ' /dev/(pts|shm) ' /proc/self/mounts | cut -d' ' -f2,3",
    )
    assert out.split("\n")[:3] == ["null-ok", "4", "shm"]
    assert "/dev/pts devpts" in out and "/dev/shm tmpfs" in out


def test_sysctl_is_applied(bundle, container):
    """config-linux.md "Sysctl": namespaced kernel parameters are set for the container."""
    bundle.add_namespace("network")  # net.* sysctls are per network namespace
    bundle.linux["sysctl"] = {"net.ipv4.ip_forward": "1"}
    assert run_output(container, bundle, "cat /proc/sys/net/ipv4/ip_forward").strip() == "1"


def test_oom_score_adj(bundle, container):
    """config.md "process.oomScoreAdj": written to /proc/self/oom_score_adj."""
    bundle.process["oomScoreAdj"] = 345
    assert run_output(container, bundle, "cat /proc/self/oom_score_adj").strip() == "345"


def test_config_is_used_as_written(bundle, container):
    """bundle.md: the runtime reads config.json; it must not rewrite the user's file,
    and the process sees exactly the configured environment."""
    bundle.env(PRT_MARK="as-written")
    out = run_output(container, bundle, "env | sort")
    written = json.loads(bundle.config_path.read_text())
    assert written == bundle.config, "config.json on disk changed while the container ran"
    seen = {line for line in out.splitlines() if not line.startswith(("HOME=", "PWD=", "SHLVL="))}
    assert seen == set(bundle.process["env"]), "the process's environment is not the config's"


def test_rootfs_copy_is_private(rootfs):
    """pytest-runc itself: each test gets its own rootfs copy (a real directory)."""
    assert rootfs.is_dir() and not rootfs.is_symlink()
    assert os.readlink(Path(rootfs) / "bin" / "sh") == "busybox"


@pytest.mark.runc_cgroup("v1", "hybrid")
def test_cgroup_namespace_hides_the_host_hierarchy_v1(bundle, container):
    """config-linux.md "Namespaces" (cgroup), cgroup v1: every controller's path
    reads as the namespace root "/"."""
    bundle.add_namespace("cgroup")
    lines = run_output(container, bundle, "cat /proc/self/cgroup").split()
    paths = [line.split(":", 2)[2] for line in lines if not line.startswith("0::")]
    assert paths, lines
    assert set(paths) == {"/"}, f"host cgroup paths visible: {lines}"


@pytest.mark.runc_cgroup("v2")
def test_cgroup_namespace_hides_the_host_hierarchy_v2(bundle, container):
    """config-linux.md "Namespaces" (cgroup), cgroup v2: the unified path is "/"."""
    bundle.add_namespace("cgroup")
    assert run_output(container, bundle, "cat /proc/self/cgroup").split() == ["0::/"]
