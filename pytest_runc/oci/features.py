"""What the runtime under test claims to support: its ``features`` document.

The OCI runtime spec ("features.md") lets a runtime print, with ``features``,
the spec versions, hooks, mount options, namespaces, capabilities and cgroup
drivers it knows. The list is fixed when the runtime is built, so a claim can
rule a check out ("the runtime does not claim this"), never in: the host
still decides whether it works here.

A runtime without a ``features`` command (runc before 1.1, crun 1.8) gives
:data:`NO_FEATURES`, which claims nothing and rules nothing out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from pytest_runc.oci import skips


class FeaturesError(ValueError):
    """The runtime's ``features`` output is not the JSON object the spec describes."""


def _names(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FeaturesError(f"expected a list of strings, got {value!r}")
    return frozenset(value)


def _flag(section: Any, key: str) -> bool | None:
    if not isinstance(section, Mapping):
        return None
    value = section.get(key)
    return value if isinstance(value, bool) else None


def _section(parent: Any, key: str) -> Any:
    """``parent[key]`` when ``parent`` is an object, else None."""
    return parent.get(key) if isinstance(parent, dict) else None


@dataclass(frozen=True)
class Features:
    """A runtime's ``features`` document, parsed.

    A field that is None means the runtime said nothing about it (unknown),
    which is not the same as an empty list (it supports none).
    """

    available: bool
    oci_version_min: str | None = None
    oci_version_max: str | None = None
    hooks: frozenset[str] | None = None
    mount_options: frozenset[str] | None = None
    namespaces: frozenset[str] | None = None
    capabilities: frozenset[str] | None = None
    cgroup: Mapping[str, bool] = field(default_factory=dict)
    seccomp_enabled: bool | None = None
    apparmor_enabled: bool | None = None
    selinux_enabled: bool | None = None
    #: features-linux.md ``linux.netDevices.enabled`` (spec 1.3).
    net_devices_enabled: bool | None = None
    #: features-linux.md ``linux.mountExtensions.idmap.enabled`` (spec 1.2).
    idmap_mounts_enabled: bool | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Features:
        """Parse ``features`` output; FeaturesError if it is not a spec document."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FeaturesError(f"`features` did not print JSON: {exc}") from None
        if not isinstance(data, dict):
            raise FeaturesError(f"`features` printed {type(data).__name__}, not an object")
        linux = data.get("linux") or {}
        if not isinstance(linux, dict):
            raise FeaturesError(f"`linux` is {linux!r}, not an object")
        cgroup = linux.get("cgroup") or {}
        annotations = data.get("annotations") or {}
        return cls(
            available=True,
            oci_version_min=_text(data.get("ociVersionMin")),
            oci_version_max=_text(data.get("ociVersionMax")),
            hooks=_names(data.get("hooks")),
            mount_options=_names(data.get("mountOptions")),
            namespaces=_names(linux.get("namespaces")),
            capabilities=_names(linux.get("capabilities")),
            cgroup={k: v for k, v in cgroup.items() if isinstance(v, bool)}
            if isinstance(cgroup, dict)
            else {},
            seccomp_enabled=_flag(linux.get("seccomp"), "enabled"),
            apparmor_enabled=_flag(linux.get("apparmor"), "enabled"),
            selinux_enabled=_flag(linux.get("selinux"), "enabled"),
            net_devices_enabled=_flag(linux.get("netDevices"), "enabled"),
            idmap_mounts_enabled=_flag(_section(linux.get("mountExtensions"), "idmap"), "enabled"),
            annotations={str(k): str(v) for k, v in annotations.items()}
            if isinstance(annotations, dict)
            else {},
            raw=data,
        )

    # -- questions a check asks ------------------------------------------
    def disclaims(self, kind: str, name: str) -> bool:
        """Whether the runtime lists its ``kind`` (``namespaces``, ``hooks``,
        ``mount_options``, ``capabilities``) and ``name`` is not among them.

        False when the runtime said nothing: silence rules nothing out.
        """
        listed: frozenset[str] | None = getattr(self, kind)
        return listed is not None and name not in listed

    def require(self, kind: str, name: str) -> None:
        """Skip the calling check (class ``runtime:``) when the runtime disclaims ``name``."""
        __tracebackhide__ = True
        if self.disclaims(kind, name):
            skip_unclaimed(f"{kind.replace('_', ' ')} in `features` do not include {name!r}")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


#: What a runtime without a ``features`` command claims: nothing, and nothing is ruled out.
NO_FEATURES = Features(available=False)


def skip_unclaimed(what: str) -> NoReturn:
    """Skip because the runtime under test does not claim a feature."""
    __tracebackhide__ = True
    skips.skip_runtime(f"the runtime does not claim it: {what}")


def spec_release(version: str | None) -> tuple[int, int, int] | None:
    """``1.0.2-dev`` -> (1, 0, 2); None when it is not a spec version.

    The pre-release part is dropped on purpose: runtime-spec marks the
    development line *after* a release with ``-dev`` (runc 1.1 says
    ``1.0.2-dev`` and knows everything of 1.0.2), so SemVer's "1.0.2-dev
    precedes 1.0.2" would wrongly rule out 1.0.2's statements.
    """
    found = re.match(r"^\s*v?(\d+)\.(\d+)\.(\d+)", version or "")
    if not found:
        return None
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch
