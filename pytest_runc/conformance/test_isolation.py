"""Isolation, checked from inside the container with busybox.

Rules: runtime spec config.md (root.readonly, mounts, process: cwd, env,
user, capabilities, rlimits, noNewPrivileges, oomScoreAdj) and
config-linux.md (namespaces, maskedPaths, readonlyPaths, devices, sysctl);
the ground opencontainers/runtime-tools' validation suite covers.
"""

from __future__ import annotations

import json
import os

import pytest

from pytest_runc.oci.host import readlink as host_readlink
from pytest_runc.oci.linux import NS_FILES, controller_cgroups, decode_capabilities, status_fields
from pytest_runc.testing.assertions import run_output

pytestmark = pytest.mark.runc


# "mount" is left out: a runtime without its own mount namespace would mount
# over the host (runc refuses such a config); the exact mount table check in
# test_mounts_exact.py fails for it instead.
@pytest.mark.oci_rule("config-linux.namespaces.new-when-no-path")
@pytest.mark.parametrize("kind", ["pid", "network", "ipc", "uts", "cgroup"])
def test_new_namespaces_differ_from_the_hosts(bundle, container, kind):
    """config-linux.md "Namespaces": without a path, the runtime makes a new namespace."""
    bundle.add_namespace(kind)
    if kind == "uts":
        bundle.hostname(None)  # a hostname needs a uts namespace: check the namespace alone
    inside = run_output(container, bundle, f"readlink /proc/self/ns/{NS_FILES[kind]}").strip()
    assert inside.startswith(NS_FILES[kind] + ":["), inside
    assert inside != os.readlink(f"/proc/self/ns/{NS_FILES[kind]}"), f"host's {kind} namespace"


@pytest.mark.oci_rule("config-linux.namespaces.path-joins")
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
    assert done.stdout.strip() == host_readlink(target, sudo=first.runtime.sudo), (
        f"did not join {target}: the process is in {done.stdout.strip()}"
    )


@pytest.mark.oci_rule("config.root.readonly-enforced")
def test_readonly_root(bundle, container):
    """config.md "root.readonly": the root filesystem is read-only inside."""
    bundle.readonly(True)
    out = run_output(container, bundle, "touch /probe 2>&1; echo status=$?")
    assert "status=0" not in out, "wrote to a read-only root"
    assert not (bundle.rootfs / "probe").exists()


@pytest.mark.oci_rule("runtime.lifecycle.create-env-from-config")
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


def first_with_content(container, bundle_factory, *paths: str) -> str:
    """The first path that has content in an unmasked container (a non-empty file
    or directory): masking it then shows, where masking an empty one proves
    nothing. Looked at from inside, so it works as root, through sudo and rootless."""
    probe = bundle_factory()
    probe.linux["maskedPaths"] = []
    tests = " ".join(
        f'[ -n "$(head -c 1 {p} 2>/dev/null; ls -A {p} 2>/dev/null | head -n 1)" ] && echo {p};'
        for p in paths
    )
    found = run_output(lambda: container(probe), probe, tests + " true").split()
    if not found:
        pytest.skip(f"none of {paths} has content in a container on this host")
    return found[0]


@pytest.mark.oci_rule("runtime.create.applies-config-except-process")
def test_masked_file_reads_empty(bundle_factory, bundle, container):
    """config-linux.md "Masked Paths": a masked file reads as empty inside."""
    masked = first_with_content(
        container, bundle_factory, "/proc/timer_list", "/proc/sched_debug", "/proc/keys"
    )
    bundle.linux["maskedPaths"] = [masked]
    size = run_output(container, bundle, f"cat {masked} | wc -c").strip()
    assert size == "0", f"masked {masked} reads {size} bytes inside"


@pytest.mark.oci_rule("runtime.create.applies-config-except-process")
def test_masked_directory_is_empty(bundle_factory, bundle, container):
    """config-linux.md "Masked Paths": a masked directory shows no entries inside."""
    masked = first_with_content(
        container, bundle_factory, "/sys/firmware", "/proc/acpi", "/proc/scsi"
    )
    bundle.linux["maskedPaths"] = [masked]
    entries = run_output(container, bundle, f"ls -A {masked}").split()
    assert entries == [], f"masked {masked} shows {entries} inside"


@pytest.mark.oci_rule("runtime.create.applies-config-except-process")
def test_readonly_paths_are_read_only(bundle, container):
    """config-linux.md "Readonly Paths": each is mounted read-only."""
    paths = ["/proc/sys", first_existing("/proc/sysrq-trigger", "/proc/bus", "/proc/irq")]
    bundle.linux["readonlyPaths"] = paths
    mounts = run_output(container, bundle, "cat /proc/self/mounts")
    options = {line.split()[1]: line.split()[3].split(",") for line in mounts.splitlines()}
    for path in paths:
        assert path in options, f"{path} is not a mount of its own"
        assert "ro" in options[path], f"{path} is mounted {options[path]}"


#: Five different sets where the kernel allows it. The process runs as root, so
#: exec makes permitted and effective the bounding set (capabilities(7)):
#: those three are equal; inheritable and ambient are smaller, each its own.
CAPABILITY_SETS = {
    "bounding": ["CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
    "effective": ["CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
    "permitted": ["CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
    "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
    "ambient": ["CAP_NET_BIND_SERVICE"],
}
STATUS_FIELD = {
    "bounding": "CapBnd",
    "effective": "CapEff",
    "permitted": "CapPrm",
    "inheritable": "CapInh",
    "ambient": "CapAmb",
}


@pytest.mark.oci_rule("runtime.start.runs-process")
@pytest.mark.parametrize("kind", list(CAPABILITY_SETS))
def test_capability_set_is_exactly_the_configured_one(bundle, container, kind):
    """config.md "process.capabilities": each of the five sets holds exactly the
    configured capabilities: none missing, none added."""
    bundle.process["capabilities"] = {key: list(names) for key, names in CAPABILITY_SETS.items()}
    status = status_fields(run_output(container, bundle, "cat /proc/self/status"))
    seen = decode_capabilities(status[STATUS_FIELD[kind]])
    wanted = set(CAPABILITY_SETS[kind])
    assert seen == wanted, (
        f"{kind} capabilities: added {sorted(seen - wanted)}, missing {sorted(wanted - seen)}"
    )


@pytest.mark.oci_rule("runtime.start.runs-process")
@pytest.mark.parametrize("enabled", [True, False])
def test_no_new_privileges(bundle, container, enabled):
    """config.md "process.noNewPrivileges": sets the no_new_privs bit exactly when true."""
    bundle.process["noNewPrivileges"] = enabled
    status = status_fields(run_output(container, bundle, "cat /proc/self/status"))
    assert status["NoNewPrivs"] == ("1" if enabled else "0"), (
        f"NoNewPrivs is {status['NoNewPrivs']} with noNewPrivileges {enabled}"
    )


@pytest.mark.oci_rule(
    "config.posix-process.rlimit-soft-applied", "config.posix-process.rlimit-hard-applied"
)
def test_rlimits_are_applied(bundle, container):
    """config.md "process.rlimits": soft and hard limits as configured."""
    bundle.rlimit("RLIMIT_NOFILE", 123, 456)
    limits = run_output(container, bundle, "cat /proc/self/limits")
    row = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert row.split()[3:5] == ["123", "456"], row


@pytest.mark.oci_rule("runtime.start.runs-process")
@pytest.mark.runc_root  # rootless maps only one uid
def test_user_uid_and_gid(bundle, container):
    """config.md "User" (POSIX): the process runs with the configured uid and gid."""
    bundle.user(1000, 1001, [2001, 2002])
    status = status_fields(run_output(container, bundle, "cat /proc/self/status"))
    ids = (status["Uid"].split()[:2], status["Gid"].split()[:2])
    assert ids == (["1000", "1000"], ["1001", "1001"]), f"uid {ids[0]}, gid {ids[1]}"


@pytest.mark.oci_rule("runtime.start.runs-process")
@pytest.mark.runc_root  # rootless maps only one gid
def test_additional_gids(bundle, container):
    """config.md "User" (POSIX): the supplementary groups are exactly additionalGids."""
    bundle.user(1000, 1001, [2001, 2002])
    status = status_fields(run_output(container, bundle, "cat /proc/self/status"))
    groups = set(status["Groups"].split())
    assert groups == {"2001", "2002"}, f"supplementary groups {sorted(groups)}"


@pytest.mark.oci_rule("runtime.start.runs-process")
def test_cwd(bundle, container):
    """config.md "process.cwd": the process starts in the configured directory."""
    bundle.cwd("/tmp")
    cwd = run_output(container, bundle, "pwd").strip()
    assert cwd == "/tmp", f"the process started in {cwd!r}"


@pytest.mark.oci_rule("runtime.start.runs-process")
def test_env_is_exactly_the_configured_environment(bundle, container):
    """config.md "process.env": the process gets the configured variables, values
    as written (spaces, empty), and no others (but what the shell sets itself)."""
    bundle.env(PRT_GREETING="hello world", PRT_EMPTY="")
    out = run_output(container, bundle, "env")
    seen = {line for line in out.splitlines() if not line.startswith(("HOME=", "PWD=", "SHLVL="))}
    wanted = set(bundle.process["env"])
    assert seen == wanted, (
        f"environment: added {sorted(seen - wanted)}, missing {sorted(wanted - seen)}"
    )


@pytest.mark.oci_rule("runtime.start.runs-process")
def test_umask(bundle, container):
    """config.md "User" umask (spec 1.0.2, runc >= 1.1): the process starts with it."""
    bundle.process["user"]["umask"] = 0o027
    umask = run_output(container, bundle, "umask").strip()
    assert umask == "0027", f"the process starts with umask {umask}, configured 0027"


@pytest.mark.oci_rule("runtime.create.applies-config-except-process")
def test_sysctl_is_applied(bundle, container):
    """config-linux.md "Sysctl": namespaced kernel parameters are set for the container."""
    bundle.add_namespace("network")  # net.* sysctls are per network namespace
    bundle.linux["sysctl"] = {"net.ipv4.ip_forward": "1"}
    value = run_output(container, bundle, "cat /proc/sys/net/ipv4/ip_forward").strip()
    assert value == "1", f"net.ipv4.ip_forward is {value} inside, configured 1"


@pytest.mark.oci_rule("config.linux-process.oom-score-adj-set")
def test_oom_score_adj(bundle, container):
    """config.md "process.oomScoreAdj": written to /proc/self/oom_score_adj."""
    bundle.process["oomScoreAdj"] = 345
    value = run_output(container, bundle, "cat /proc/self/oom_score_adj").strip()
    assert value == "345", f"oom_score_adj is {value}, configured 345"


@pytest.mark.oci_rule("runtime.lifecycle.create-env-from-config")
def test_config_json_is_not_rewritten(bundle, container):
    """bundle.md: the runtime reads config.json; it does not rewrite the user's file."""
    bundle.env(PRT_MARK="as-written")
    run_output(container, bundle, "true")
    written = json.loads(bundle.config_path.read_text())
    assert written == bundle.config, "config.json on disk changed while the container ran"


def cgroup_paths(text: str) -> dict[str, str]:
    """/proc/PID/cgroup as hierarchy (its controllers, or "" for v2) -> path."""
    paths = {}
    for line in text.split():
        _, controllers, path = line.split(":", 2)
        paths[controllers] = path
    return paths


@pytest.mark.oci_rule("config-linux.namespaces.new-when-no-path")
def test_cgroup_namespace_hides_the_host_hierarchy(bundle, container):
    """config-linux.md "Namespaces" (cgroup): inside a cgroup namespace, the
    container's own cgroup is the root "/" of every hierarchy (v1 and v2)."""
    bundle.add_namespace("cgroup")
    paths = cgroup_paths(run_output(container, bundle, "cat /proc/1/cgroup"))
    assert paths, "/proc/1/cgroup is empty"
    wrong = {hierarchy: path for hierarchy, path in paths.items() if path != "/"}
    assert not wrong, f"cgroup paths other than the namespace root: {wrong}"


@pytest.mark.oci_rule("config-linux.cgroups-path.absolute-under-mount")
@pytest.mark.runc_root  # rootless runc makes no cgroups of its own
def test_cgroup_path_is_the_configured_cgroups_path(bundle, container, cgroup_mode):
    """config-linux.md "Cgroups Path": the container's process is in the configured
    cgroupsPath (absolute: from the hierarchy's root), in every hierarchy that
    holds controllers (which ones depends on the cgroup mode: linux.py)."""
    made = container()
    wanted = f"/{made.id}-cgroups-path"  # unique, and never runc's own default
    bundle.linux["cgroupsPath"] = wanted
    bundle.shell("cat /proc/1/cgroup")
    done = made.run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    paths = controller_cgroups(done.stdout, cgroup_mode)
    assert paths, f"/proc/1/cgroup holds no controller's cgroup: {done.stdout!r}"
    wrong = {hierarchy: path for hierarchy, path in paths.items() if path != wanted}
    assert not wrong, f"cgroup paths other than the configured {wanted}: {wrong}"


@pytest.mark.oci_rule("runtime.lifecycle.create-env-from-config")
def test_no_process_beyond_the_containers_own(bundle, container):
    """config-linux.md "Namespaces" (pid): the container's process is alone in its
    pid namespace; the runtime leaves no process of its own there."""
    # `echo` and the glob are shell builtins: listing forks no process.
    pids = run_output(container, bundle, "echo /proc/[0-9]*").split()
    assert pids == ["/proc/1"], f"processes in the container besides its own: {pids}"
