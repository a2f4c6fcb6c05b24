"""The ``features`` subcommand: its JSON, and whether the runtime does what it lists.

Rules: runtime spec features.md and features-linux.md (spec 1.1.0 and
later). A runtime whose ``ociVersionMax`` is older than a statement skips
that check (``runtime:``); one without a ``features`` command skips them
all. Each "recognizes" check runs ONE container whose config uses every
name the runtime lists at once: a name it does not recognize fails the run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.oci import skips
from pytest_runc.oci.console import ConsoleSocket
from pytest_runc.oci.features import spec_release
from pytest_runc.oci.kernel_features import memory_policy_mode_missing
from pytest_runc.oci.linux import CAPABILITIES
from pytest_runc.rules.claims import require_rules
from pytest_runc.rules.markers import rule_ids

pytestmark = pytest.mark.runc


@pytest.fixture
def features(runtime_features, request) -> dict[str, Any]:
    """The runtime's ``features`` document (raw JSON) when this check's rules apply to it."""
    if not runtime_features.available:
        skips.skip_runtime("the runtime has no `features` command")
    require_rules(runtime_features, *rule_ids(request.node))
    return dict(runtime_features.raw)


def listed(features: dict[str, Any], *path: str) -> list[str]:
    """The list at ``path`` (e.g. "linux", "namespaces"); skip when the runtime lists nothing."""
    value: Any = features
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not value:
        skips.skip_runtime(f"`features` lists no {'.'.join(path)}")
    assert isinstance(value, list), f"features {'.'.join(path)} is {value!r}, not a list"
    return [str(v) for v in value]


def accepted(container, bundle, what: str) -> None:
    """Run the bundle (program `true`); fail naming ``what`` unless it runs and exits 0."""
    made = container()
    done = made.run()
    assert done.returncode == 0, (
        f"the runtime refused a config with {what} that `features` lists:"
        f" exit {done.returncode}: {done.stderr.strip()[-400:]}"
    )


# -- the document ------------------------------------------------------------------


@pytest.mark.oci_rule("features.specification-version.oci-version-min-required")
def test_features_has_oci_version_min(features):
    """features.md: ociVersionMin is present, a spec version."""
    value = features.get("ociVersionMin")
    assert spec_release(value) is not None, f"features ociVersionMin is {value!r}, not a version"


@pytest.mark.oci_rule("features.specification-version.oci-version-max-required")
def test_features_has_oci_version_max(features):
    """features.md: ociVersionMax is present, a spec version."""
    value = features.get("ociVersionMax")
    assert spec_release(value) is not None, f"features ociVersionMax is {value!r}, not a version"


@pytest.mark.oci_rule("features.specification-version.max-not-below-min")
def test_features_max_is_not_below_min(features):
    """features.md: ociVersionMax is not a lower version than ociVersionMin."""
    low, high = features.get("ociVersionMin"), features.get("ociVersionMax")
    assert (spec_release(low) or (0, 0, 0)) <= (spec_release(high) or (0, 0, 0)), (
        f"features ociVersionMax {high!r} is below ociVersionMin {low!r}"
    )


#: The properties each spec version defines (features.md, features-linux.md).
TOP_LEVEL = {
    (1, 1, 0): {"ociVersionMin", "ociVersionMax", "hooks", "mountOptions", "linux", "annotations"},
    (1, 2, 0): {"potentiallyUnsafeConfigAnnotations"},
}
LINUX = {
    (1, 1, 0): {
        "namespaces",
        "capabilities",
        "cgroup",
        "seccomp",
        "apparmor",
        "selinux",
        "intelRdt",
    },
    (1, 2, 0): {"mountExtensions"},
    (1, 2, 1): {"netDevices"},
    (1, 3, 0): {"memoryPolicy"},
}


def defined(table: dict[tuple[int, int, int], set[str]], version: tuple[int, int, int]) -> set[str]:
    return set().union(*(names for since, names in table.items() if since <= version))


@pytest.mark.oci_rule("features.specification-version.no-undefined-properties")
def test_features_has_no_property_its_spec_version_lacks(features):
    """features.md: no property that the spec version of ociVersionMax does not define."""
    version = spec_release(features.get("ociVersionMax")) or (1, 1, 0)
    extra = sorted(set(features) - defined(TOP_LEVEL, version))
    linux = features.get("linux") or {}
    extra += sorted(f"linux.{key}" for key in set(linux) - defined(LINUX, version))
    assert not extra, (
        f"features has properties spec {features.get('ociVersionMax')} does not define: {extra}"
    )


def empty_values(value: Any, where: str = "") -> list[str]:
    """Paths of "" and {} values: an empty value never stands for "unknown".

    Annotation values are the runtime's own free-form strings and are not looked at.
    """
    if value == "" or value == {}:
        return [where or "(document)"]
    if isinstance(value, dict):
        return [
            p
            for key, item in value.items()
            if where or key != "annotations"
            for p in empty_values(item, f"{where}.{key}")
        ]
    return []


@pytest.mark.oci_rule("features.features-structure.null-not-empty")
def test_features_uses_no_empty_value_for_unknown(features):
    """features.md: unknown is absent or null, never "" or {}."""
    found = empty_values(features)
    assert not found, f"features has empty values where null or nothing belongs: {found}"


@pytest.mark.oci_rule("features.annotations.config-annotation-convention")
def test_features_annotations_are_a_string_map(features):
    """features.md: annotations maps non-empty string keys to string values."""
    annotations = features.get("annotations")
    if annotations is None:
        skips.skip_runtime("`features` has no annotations")
    assert isinstance(annotations, dict), f"features annotations is {annotations!r}, not a map"
    bad = {k: v for k, v in annotations.items() if not (isinstance(v, str) and k)}
    assert not bad, f"features annotations with an empty key or a non-string value: {bad}"


@pytest.mark.oci_rule("features.mount-options.no-filesystem-data-options")
def test_features_mount_options_leave_out_filesystem_data(features):
    """features.md: mountOptions has no filesystem data option (key=value, e.g. mode=755)."""
    data = [option for option in listed(features, "mountOptions") if "=" in option]
    assert not data, f"features mountOptions lists filesystem data options: {data}"


# -- what it lists, the runtime accepts -------------------------------------------


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        pytest.param(
            "ociVersionMin",
            "features.specification-version.accepts-oci-version-min",
            marks=pytest.mark.oci_rule("features.specification-version.accepts-oci-version-min"),
            id="min",
        ),
        pytest.param(
            "ociVersionMax",
            "features.specification-version.accepts-oci-version-max",
            marks=pytest.mark.oci_rule("features.specification-version.accepts-oci-version-max"),
            id="max",
        ),
    ],
)
def test_runtime_runs_a_config_of_its_listed_version(features, bundle, container, key, rule):
    """features.md: a config whose ociVersion is ociVersionMin (or Max) runs."""
    version = features.get(key)
    assert isinstance(version, str), f"features {key} is {version!r}"
    bundle.command("true").config["ociVersion"] = version
    accepted(container, bundle, f"ociVersion {version!r} (its {key})")


@pytest.mark.oci_rule("features.hooks.supports-listed-hooks")
def test_every_listed_hook_runs(features, bundle, container):
    """features.md: each hook kind in hooks runs when config.json has one."""
    kinds = listed(features, "hooks")
    for kind in kinds:
        # startContainer runs inside the container, the others where host paths resolve.
        target = f"/ran-{kind}" if kind == "startContainer" else str(bundle.rootfs / f"ran-{kind}")
        bundle.hook(kind, "/bin/sh", "sh", "-c", f"touch '{target}'")
    bundle.command("true").readonly(False)
    accepted(container, bundle, f"hooks {kinds}")
    missing = [kind for kind in kinds if not (bundle.rootfs / f"ran-{kind}").exists()]
    assert not missing, f"hooks listed in `features` that did not run: {missing}"


#: Options that need a source directory (not a tmpfs) to mean anything.
BIND_OPTIONS = {"bind", "rbind"}
#: Changes a mount that already exists: mount(2) refuses it on a new one (EINVAL).
NOT_FOR_A_NEW_MOUNT = {"remount"}


@pytest.mark.oci_rule("features.mount-options.recognizes-listed-options")
def test_every_listed_mount_option_is_accepted(features, bundle, container, tmp_path):
    """features.md: each mountOptions name works as a mount option (one tmpfs mount each)."""
    options = [o for o in listed(features, "mountOptions") if o not in NOT_FOR_A_NEW_MOUNT]
    source = tmp_path / "bind-source"
    source.mkdir()
    for index, option in enumerate(options):
        if option in BIND_OPTIONS:
            bundle.mount(f"/opt-{index}", "bind", str(source), [option])
        else:
            bundle.mount(f"/opt-{index}", "tmpfs", "tmpfs", [option])
    bundle.command("true")
    accepted(container, bundle, f"each of the {len(options)} mountOptions on a mount of its own")


@pytest.mark.oci_rule("features-linux.namespaces.recognizes-listed-namespaces")
def test_every_listed_namespace_is_accepted(features, bundle, container):
    """features-linux.md: each linux.namespaces name works as a namespace type."""
    names = listed(features, "linux", "namespaces")
    usable = [n for n in names if Path(f"/proc/self/ns/{_NS_FILE.get(n, n)}").exists()]
    if not usable:
        skips.skip_host(f"none of the listed namespaces {names} exists in this kernel")
    bundle.command("true").namespaces(*usable)
    if "user" in usable:
        bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
        bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
    accepted(container, bundle, f"namespaces {usable}")


#: /proc/self/ns file names of the spec's namespace types.
_NS_FILE = {"network": "net", "mount": "mnt"}


@pytest.mark.oci_rule("features-linux.capabilities.recognizes-listed-capabilities")
def test_every_listed_capability_is_accepted(features, bundle, container):
    """features-linux.md: each linux.capabilities name works in process.capabilities."""
    names = [n for n in listed(features, "linux", "capabilities") if n in host_capabilities()]
    # Not ambient: raising an ambient capability also needs it inheritable.
    bundle.command("true").process["capabilities"] = {
        key: list(names) for key in ("bounding", "effective", "permitted", "inheritable")
    }
    accepted(container, bundle, f"all {len(names)} capabilities")


#: Capability numbers (linux/capability.h), to read the host's bounding set.
CAPABILITY_NUMBERS = {name.removeprefix("CAP_"): number for number, name in enumerate(CAPABILITIES)}


def host_capabilities() -> set[str]:
    """Capabilities in this host's bounding set: a container cannot get any other
    (a sandboxed host may lack some); names we do not know are kept."""
    try:
        line = next(
            x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("CapBnd:")
        )
    except (OSError, StopIteration):
        return set(CAPABILITY_NUMBERS)
    mask = int(line.split()[1], 16)
    lacking = {f"CAP_{n}" for n, bit in CAPABILITY_NUMBERS.items() if not mask >> bit & 1}
    return {f"CAP_{n}" for n in CAPABILITY_NUMBERS} - lacking


#: Syscalls `true` under busybox never makes: a rule on them changes nothing.
UNUSED_SYSCALLS = [
    "acct", "swapon", "swapoff", "kexec_load", "init_module", "delete_module",
    "quotactl", "syslog", "settimeofday", "sethostname", "setdomainname", "iopl",
]  # fmt: skip


def seccomp(bundle, rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules, **extra}
    bundle.linux["seccomp"] = profile
    return profile


@pytest.mark.oci_rule("features-linux.seccomp.recognizes-listed-actions")
def test_every_listed_seccomp_action_is_accepted(features, bundle, container, tmp_path):
    """features-linux.md: each linux.seccomp.actions name works as a syscall rule's action."""
    actions = listed(features, "linux", "seccomp", "actions")
    if len(actions) > len(UNUSED_SYSCALLS):
        pytest.fail(f"more actions than spare syscalls to put them on: {actions}")
    rules = [{"names": [s], "action": a} for s, a in zip(UNUSED_SYSCALLS, actions, strict=False)]
    bundle.command("true")
    with ConsoleSocket(tmp_path / "seccomp.sock") as listener:
        # SCMP_ACT_NOTIFY needs an agent socket; the runtime sends it the notify fd.
        extra = {"listenerPath": str(listener.path)} if "SCMP_ACT_NOTIFY" in actions else {}
        seccomp(bundle, rules, **extra)
        accepted(container, bundle, f"seccomp actions {actions}")


@pytest.mark.oci_rule("features-linux.seccomp.recognizes-listed-operators")
def test_every_listed_seccomp_operator_is_accepted(features, bundle, container):
    """features-linux.md: each linux.seccomp.operators name works in a rule's args."""
    operators = listed(features, "linux", "seccomp", "operators")
    rules = [
        {
            "names": [syscall],
            "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 1, "valueTwo": 1, "op": op}],
        }
        for syscall, op in zip(UNUSED_SYSCALLS, operators, strict=False)
    ]
    bundle.command("true")
    seccomp(bundle, rules)
    accepted(container, bundle, f"seccomp operators {operators}")


#: libseccomp releases that first know an architecture (older ones refuse it).
LIBSECCOMP_SINCE = {"SCMP_ARCH_LOONGARCH64": (2, 6, 0), "SCMP_ARCH_RISCV64": (2, 5, 0)}
_BIG_ENDIAN = {
    "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
}  # fmt: skip
OTHER_BYTE_ORDER = {"little": _BIG_ENDIAN, "big": set()}


@pytest.mark.oci_rule("features-linux.seccomp.recognizes-listed-archs")
def test_every_listed_seccomp_arch_is_accepted(features, bundle, container):
    """features-linux.md: each linux.seccomp.archs name works in seccomp architectures."""
    archs = listed(features, "linux", "seccomp", "archs")
    library = spec_release(
        (features.get("annotations") or {}).get("io.github.seccomp.libseccomp.version")
    )
    if library is not None:
        # The host's libseccomp (the runtime names its version) may predate an arch.
        archs = [a for a in archs if LIBSECCOMP_SINCE.get(a, (0, 0, 0)) <= library]
    # A filter cannot hold architectures of the other byte order than the host's
    # (libseccomp: EDOM, "numerical argument out of domain").
    archs = [a for a in archs if a not in OTHER_BYTE_ORDER[sys.byteorder]]
    bundle.command("true")
    seccomp(bundle, [{"names": ["acct"], "action": "SCMP_ACT_ERRNO"}], architectures=archs)
    accepted(container, bundle, f"seccomp architectures {archs}")


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(
            "knownFlags",
            marks=pytest.mark.oci_rule("features-linux.seccomp.recognizes-known-flags"),
        ),
        pytest.param(
            "supportedFlags",
            marks=pytest.mark.oci_rule("features-linux.seccomp.supports-supported-flags"),
        ),
    ],
)
def test_listed_seccomp_flags_are_accepted(features, bundle, container, key):
    """features-linux.md: each knownFlags / supportedFlags name works in seccomp flags.

    Known flags the host kernel cannot apply are left out (supported ones are the
    runtime's claim for this host).
    """
    flags = listed(features, "linux", "seccomp", key)
    supported = set(listed(features, "linux", "seccomp", "supportedFlags"))
    usable = [flag for flag in flags if flag in supported]
    if not usable:
        skips.skip_host(f"none of {flags} is supported here (supportedFlags {sorted(supported)})")
    bundle.command("true")
    seccomp(bundle, [{"names": ["acct"], "action": "SCMP_ACT_ERRNO"}], flags=usable)
    accepted(container, bundle, f"seccomp flags {usable}")


def numa_node_0() -> None:
    if not Path("/sys/devices/system/node/node0").exists():
        skips.skip_host("no NUMA node 0 in /sys/devices/system/node")


#: Modes that take no node set (the kernel refuses one).
NODELESS = {"MPOL_DEFAULT", "MPOL_LOCAL"}


@pytest.mark.oci_rule("features-linux.memory-policy.recognizes-listed-modes")
@pytest.mark.parametrize(
    "mode",
    ["MPOL_DEFAULT", "MPOL_PREFERRED", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_LOCAL",
     "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"],
)  # fmt: skip
def test_listed_memory_policy_mode_is_accepted(features, bundle, container, mode):
    """features-linux.md: a linux.memoryPolicy.modes name works as linux.memoryPolicy.mode."""
    if mode not in listed(features, "linux", "memoryPolicy", "modes"):
        skips.skip_runtime(f"`features` does not list memory policy mode {mode}")
    numa_node_0()
    lacking = memory_policy_mode_missing(mode, with_nodes=mode not in NODELESS)
    if lacking:
        skips.skip_host(lacking)
    bundle.command("true").linux["memoryPolicy"] = (
        {"mode": mode} if mode in NODELESS else {"mode": mode, "nodes": "0"}
    )
    accepted(container, bundle, f"memory policy mode {mode}")


@pytest.mark.oci_rule("features-linux.memory-policy.recognizes-listed-flags")
@pytest.mark.parametrize(
    "flag", ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES", "MPOL_F_NUMA_BALANCING"]
)
def test_listed_memory_policy_flag_is_accepted(features, bundle, container, flag):
    """features-linux.md: a linux.memoryPolicy.flags name works (with MPOL_BIND on node 0)."""
    if flag not in listed(features, "linux", "memoryPolicy", "flags"):
        skips.skip_runtime(f"`features` does not list memory policy flag {flag}")
    numa_node_0()
    bundle.command("true").linux["memoryPolicy"] = {
        "mode": "MPOL_BIND",
        "nodes": "0",
        "flags": [flag],
    }
    accepted(container, bundle, f"memory policy flag {flag}")


@pytest.mark.oci_rule("features-linux.mount-extensions.idmap-enabled-if-partial")
def test_idmap_support_is_not_disclaimed(features, bundle, container, tmp_path):
    """features-linux.md: a runtime that can make an id-mapped mount says idmap enabled: true.

    Nothing to run when it says so; otherwise an id-mapped bind mount must fail.
    """
    idmap = ((features.get("linux") or {}).get("mountExtensions") or {}).get("idmap") or {}
    if idmap.get("enabled") is True:
        return
    source = tmp_path / "idmapped"
    source.mkdir()
    bundle.command("true").mount("/idmapped", "bind", str(source), ["bind", "idmap"])
    mapping = [{"containerID": 1000, "hostID": 0, "size": 1}]
    bundle.config["mounts"][-1].update(uidMappings=mapping, gidMappings=mapping)
    done = container().run()
    assert done.returncode != 0, (
        f"`features` says mountExtensions.idmap.enabled is {idmap.get('enabled')!r},"
        " yet an id-mapped bind mount works"
    )
