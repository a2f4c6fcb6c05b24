"""The Go types runc 1.1.5 decodes config.json into (``specs.Spec`` and below).

Written from the runtime-spec's ``specs-go/config.go`` as built into the
runc measured here (Debian's runc 1.1.5+ds1, whose runtime-spec knows
``domainname``, ``zos``, per-mount id mappings and
``memory.checkBeforeUpdate``, but not ``process.scheduler``,
``process.ioPriority``, ``linux.netDevices`` or ``linux.timeOffsets``: those
keys are unknown to it and ignored). ``tests/test_bundlecheck_gojson.py``
feeds every field a value of the wrong type and checks that runc refuses it
with the Go type named here. Go's ``int`` and ``uint`` are 64-bit here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class String:
    go_name: str = "string"


@dataclass(frozen=True)
class Bool:
    go_name: str = "bool"


@dataclass(frozen=True)
class Int:
    bits: int
    signed: bool
    go_name: str


@dataclass(frozen=True)
class Float:
    bits: int
    go_name: str


@dataclass(frozen=True)
class Any_:
    """``interface{}``: any JSON value."""

    go_name: str = "interface {}"


@dataclass(frozen=True)
class Ptr:
    elem: GoType


@dataclass(frozen=True)
class Slice:
    elem: GoType
    go_name: str


@dataclass(frozen=True)
class Map:
    value: GoType
    go_name: str


@dataclass(frozen=True)
class Struct:
    name: str
    fields: dict[str, GoType] = field(hash=False, compare=False)

    @property
    def go_name(self) -> str:
        return f"specs.{self.name}"


GoType = Union[String, Bool, Int, Float, Any_, Ptr, Slice, Map, Struct]

STR = String()
BOOL = Bool()
INT = Int(64, True, "int")
INT32 = Int(32, True, "int32")
INT64 = Int(64, True, "int64")
UINT = Int(64, False, "uint")
UINT16 = Int(16, False, "uint16")
UINT32 = Int(32, False, "uint32")
UINT64 = Int(64, False, "uint64")
FILEMODE = Int(32, False, "fs.FileMode")
STRINGS = Slice(STR, "[]string")
STRING_MAP = Map(STR, "map[string]string")


def _slice(struct: Struct) -> Slice:
    return Slice(struct, f"[]specs.{struct.name}")


def _struct(_name: str, **fields: GoType) -> Struct:
    return Struct(_name, dict(fields))


ID_MAPPING = _struct("LinuxIDMapping", containerID=UINT32, hostID=UINT32, size=UINT32)
ID_MAPPINGS = _slice(ID_MAPPING)

BOX = _struct("Box", height=UINT, width=UINT)
USER = _struct(
    "User",
    uid=UINT32,
    gid=UINT32,
    umask=Ptr(UINT32),
    additionalGids=Slice(UINT32, "[]uint32"),
    username=STR,
)
CAPABILITIES = _struct(
    "LinuxCapabilities",
    bounding=STRINGS,
    effective=STRINGS,
    inheritable=STRINGS,
    permitted=STRINGS,
    ambient=STRINGS,
)
RLIMIT = _struct("POSIXRlimit", type=STR, hard=UINT64, soft=UINT64)
PROCESS = _struct(
    "Process",
    terminal=BOOL,
    consoleSize=Ptr(BOX),
    user=USER,
    args=STRINGS,
    commandLine=STR,
    env=STRINGS,
    cwd=STR,
    capabilities=Ptr(CAPABILITIES),
    rlimits=_slice(RLIMIT),
    noNewPrivileges=BOOL,
    apparmorProfile=STR,
    oomScoreAdj=Ptr(INT),
    selinuxLabel=STR,
)
ROOT = _struct("Root", path=STR, readonly=BOOL)
MOUNT = _struct(
    "Mount",
    destination=STR,
    type=STR,
    source=STR,
    options=STRINGS,
    uidMappings=ID_MAPPINGS,
    gidMappings=ID_MAPPINGS,
)
HOOK = _struct("Hook", path=STR, args=STRINGS, env=STRINGS, timeout=Ptr(INT))
HOOK_LIST = _slice(HOOK)
HOOKS = _struct(
    "Hooks",
    prestart=HOOK_LIST,
    createRuntime=HOOK_LIST,
    createContainer=HOOK_LIST,
    startContainer=HOOK_LIST,
    poststart=HOOK_LIST,
    poststop=HOOK_LIST,
)
DEVICE_CGROUP = _struct(
    "LinuxDeviceCgroup",
    allow=BOOL,
    type=STR,
    major=Ptr(INT64),
    minor=Ptr(INT64),
    access=STR,
)
MEMORY = _struct(
    "LinuxMemory",
    limit=Ptr(INT64),
    reservation=Ptr(INT64),
    swap=Ptr(INT64),
    kernel=Ptr(INT64),
    kernelTCP=Ptr(INT64),
    swappiness=Ptr(UINT64),
    disableOOMKiller=Ptr(BOOL),
    useHierarchy=Ptr(BOOL),
    checkBeforeUpdate=Ptr(BOOL),
)
CPU = _struct(
    "LinuxCPU",
    shares=Ptr(UINT64),
    quota=Ptr(INT64),
    period=Ptr(UINT64),
    realtimeRuntime=Ptr(INT64),
    realtimePeriod=Ptr(UINT64),
    cpus=STR,
    mems=STR,
    idle=Ptr(INT64),
)
PIDS = _struct("LinuxPids", limit=INT64)
WEIGHT_DEVICE = _struct(
    "LinuxWeightDevice", major=INT64, minor=INT64, weight=Ptr(UINT16), leafWeight=Ptr(UINT16)
)
THROTTLE_DEVICE = _struct("LinuxThrottleDevice", major=INT64, minor=INT64, rate=UINT64)
BLOCK_IO = _struct(
    "LinuxBlockIO",
    weight=Ptr(UINT16),
    leafWeight=Ptr(UINT16),
    weightDevice=_slice(WEIGHT_DEVICE),
    throttleReadBpsDevice=_slice(THROTTLE_DEVICE),
    throttleWriteBpsDevice=_slice(THROTTLE_DEVICE),
    throttleReadIOPSDevice=_slice(THROTTLE_DEVICE),
    throttleWriteIOPSDevice=_slice(THROTTLE_DEVICE),
)
HUGEPAGE = _struct("LinuxHugepageLimit", pageSize=STR, limit=UINT64)
PRIORITY = _struct("LinuxInterfacePriority", name=STR, priority=UINT32)
NETWORK = _struct("LinuxNetwork", classID=Ptr(UINT32), priorities=_slice(PRIORITY))
RDMA = _struct("LinuxRdma", hcaHandles=Ptr(UINT32), hcaObjects=Ptr(UINT32))
RESOURCES = _struct(
    "LinuxResources",
    devices=_slice(DEVICE_CGROUP),
    memory=Ptr(MEMORY),
    cpu=Ptr(CPU),
    pids=Ptr(PIDS),
    blockIO=Ptr(BLOCK_IO),
    hugepageLimits=_slice(HUGEPAGE),
    network=Ptr(NETWORK),
    rdma=Map(RDMA, "map[string]specs.LinuxRdma"),
    unified=STRING_MAP,
)
NAMESPACE = _struct("LinuxNamespace", type=String("specs.LinuxNamespaceType"), path=STR)
DEVICE = _struct(
    "LinuxDevice",
    path=STR,
    type=STR,
    major=INT64,
    minor=INT64,
    fileMode=Ptr(FILEMODE),
    uid=Ptr(UINT32),
    gid=Ptr(UINT32),
)
SECCOMP_ARG = _struct(
    "LinuxSeccompArg",
    index=UINT,
    value=UINT64,
    valueTwo=UINT64,
    op=String("specs.LinuxSeccompOperator"),
)
SYSCALL = _struct(
    "LinuxSyscall",
    names=STRINGS,
    action=String("specs.LinuxSeccompAction"),
    errnoRet=Ptr(UINT),
    args=_slice(SECCOMP_ARG),
)
SECCOMP = _struct(
    "LinuxSeccomp",
    defaultAction=String("specs.LinuxSeccompAction"),
    defaultErrnoRet=Ptr(UINT),
    architectures=Slice(STR, "[]specs.Arch"),
    flags=Slice(STR, "[]specs.LinuxSeccompFlag"),
    listenerPath=STR,
    listenerMetadata=STR,
    syscalls=_slice(SYSCALL),
)
INTEL_RDT = _struct(
    "LinuxIntelRdt",
    closID=STR,
    memBwSchema=STR,
    enableCMT=BOOL,
    enableMBM=BOOL,
)
PERSONALITY = _struct(
    "LinuxPersonality",
    domain=String("specs.LinuxPersonalityDomain"),
    flags=Slice(STR, "[]specs.LinuxPersonalityFlag"),
)
LINUX = _struct(
    "Linux",
    uidMappings=ID_MAPPINGS,
    gidMappings=ID_MAPPINGS,
    sysctl=STRING_MAP,
    resources=Ptr(RESOURCES),
    cgroupsPath=STR,
    namespaces=_slice(NAMESPACE),
    devices=_slice(DEVICE),
    seccomp=Ptr(SECCOMP),
    rootfsPropagation=STR,
    maskedPaths=STRINGS,
    readonlyPaths=STRINGS,
    mountLabel=STR,
    intelRdt=Ptr(INTEL_RDT),
    personality=Ptr(PERSONALITY),
)
SOLARIS_ANET = _struct(
    "SolarisAnet",
    linkname=STR,
    lowerLink=STR,
    allowedAddress=STR,
    configureAllowedAddress=STR,
    defrouter=STR,
    linkProtection=STR,
    macAddress=STR,
)
SOLARIS = _struct(
    "Solaris",
    milestone=STR,
    limitpriv=STR,
    maxShmMemory=STR,
    anet=_slice(SOLARIS_ANET),
    cappedCPU=Ptr(_struct("SolarisCappedCPU", ncpus=STR)),
    cappedMemory=Ptr(_struct("SolarisCappedMemory", physical=STR, swap=STR)),
)
WINDOWS = _struct(
    "Windows",
    layerFolders=STRINGS,
    devices=_slice(_struct("WindowsDevice", id=STR, idType=STR)),
    resources=Ptr(
        _struct(
            "WindowsResources",
            memory=Ptr(_struct("WindowsMemoryResources", limit=Ptr(UINT64))),
            cpu=Ptr(
                _struct(
                    "WindowsCPUResources",
                    count=Ptr(UINT64),
                    shares=Ptr(UINT16),
                    maximum=Ptr(UINT16),
                )
            ),
            storage=Ptr(
                _struct(
                    "WindowsStorageResources",
                    iops=Ptr(UINT64),
                    bps=Ptr(UINT64),
                    sandboxSize=Ptr(UINT64),
                )
            ),
        )
    ),
    credentialSpec=Any_(),
    servicing=BOOL,
    ignoreFlushesDuringBoot=BOOL,
    hyperv=Ptr(_struct("WindowsHyperV", utilityVMPath=STR)),
    network=Ptr(
        _struct(
            "WindowsNetwork",
            endpointList=STRINGS,
            allowUnqualifiedDNSQuery=BOOL,
            DNSSearchList=STRINGS,
            networkSharedContainerName=STR,
            networkNamespace=STR,
        )
    ),
)
VM = _struct(
    "VM",
    hypervisor=_struct("VMHypervisor", path=STR, parameters=STRINGS),
    kernel=_struct("VMKernel", path=STR, parameters=STRINGS, initrd=STR),
    image=_struct("VMImage", path=STR, format=STR),
)
ZOS = _struct("ZOS", devices=_slice(_struct("ZOSDevice", path=STR, type=STR, major=INT64,
                                              minor=INT64, fileMode=Ptr(FILEMODE),
                                              uid=Ptr(UINT32), gid=Ptr(UINT32))))  # fmt: skip

SPEC = _struct(
    "Spec",
    ociVersion=STR,
    process=Ptr(PROCESS),
    root=Ptr(ROOT),
    hostname=STR,
    domainname=STR,
    mounts=_slice(MOUNT),
    hooks=Ptr(HOOKS),
    annotations=STRING_MAP,
    linux=Ptr(LINUX),
    solaris=Ptr(SOLARIS),
    windows=Ptr(WINDOWS),
    vm=Ptr(VM),
    zos=Ptr(ZOS),
)


def leaf_fields(go: GoType = SPEC, path: str = "") -> list[tuple[str, GoType]]:
    """Every field below ``go`` as (JSON path with ``[0]`` for slices and ``["k"]``
    for maps, type): for tests that feed each one a wrong value."""
    found: list[tuple[str, GoType]] = []
    target = go.elem if isinstance(go, Ptr) else go
    if isinstance(target, Struct):
        for name, sub in target.fields.items():
            here = f"{path}.{name}" if path else name
            found.append((here, sub))
            found += leaf_fields(sub, here)
    elif isinstance(target, Slice):
        found += leaf_fields(target.elem, f"{path}[0]")
    elif isinstance(target, Map):
        found += leaf_fields(target.value, f'{path}["k"]')
    return found
