"""``check --fix OUT_DIR``: a corrected copy of a bundle, for what is mechanical.

The original bundle is only read. The copy gets config.json as runc reads it
(canonical key names, see :mod:`.gojson`) with these changes, each listed as
an RFC 6902 JSON patch operation:

- the standard mounts ``/proc``, ``/dev``, ``/dev/pts``, ``/dev/shm``, ``/sys``
  (those ``runc spec`` writes) when missing,
- a ``uts`` namespace when a hostname or domainname is set without one,
- ``process.terminal`` false (a check or CI run has no terminal),
- ``ociVersion`` when missing, and ``/`` in front of relative mount destinations,
- in the rootfs copy, absolute symlinks that dangle inside the rootfs (the
  ``busybox --install -s`` trap) made relative when their target can be found
  inside the rootfs.

The rootfs is copied with the bounded copy of :mod:`.trialfs`; every file it
does not copy (a FIFO, socket or device, a directory on another filesystem)
is listed. The copy is made in a temporary directory beside OUT_DIR and
renamed into place only when complete: a fix that fails leaves no partial
output. A rootfs outside the bundle is a host directory, copied only with
``allow_host_mounts``.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pytest_runc.bundlecheck.gojson import deep_copy, dump_raw
from pytest_runc.bundlecheck.loader import load_config
from pytest_runc.bundlecheck.rootfs_checks import dangling_absolute_links, rootfs_of
from pytest_runc.bundlecheck.trialfs import CopyCapped, bounded_copy
from pytest_runc.oci.bundle import RUNC_SPEC_DEFAULT

STANDARD_MOUNTS = ("/proc", "/dev", "/dev/pts", "/dev/shm", "/sys")
OCI_VERSION = "1.0.2"


class FixError(Exception):
    """The bundle cannot be fixed mechanically (the message says why)."""


@dataclass
class FixResult:
    out: Path
    patch: list[dict[str, Any]] = field(default_factory=list)
    relinked: list[str] = field(default_factory=list)
    #: Rootfs entries not copied, one line each (path and why).
    skipped: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"wrote a corrected copy to {self.out}"]
        if not self.patch and not self.relinked:
            lines.append("  nothing to change")
        if self.skipped:
            lines.append(f"  rootfs: {len(self.skipped)} entr(y/ies) NOT copied:")
            lines += [f"    {entry}" for entry in self.skipped]
        if self.patch:
            lines.append("  config.json changes (JSON patch):")
            lines += [f"    {json.dumps(op)}" for op in self.patch]
        if self.relinked:
            lines.append(f"  rootfs: {len(self.relinked)} absolute symlink(s) made relative:")
            lines += [f"    {entry}" for entry in self.relinked[:10]]
            if len(self.relinked) > 10:
                lines.append(f"    and {len(self.relinked) - 10} more")
        return "\n".join(lines)


def fix_config(config: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The corrected config and the JSON patch that makes it from ``config``."""
    fixed = deep_copy(config)
    patch: list[dict[str, Any]] = []
    if "ociVersion" not in fixed:
        fixed["ociVersion"] = OCI_VERSION
        patch.append({"op": "add", "path": "/ociVersion", "value": OCI_VERSION})
    process = fixed.get("process")
    if isinstance(process, dict) and process.get("terminal") is not False:
        op = "replace" if "terminal" in process else "add"
        process["terminal"] = False
        patch.append({"op": op, "path": "/process/terminal", "value": False})
    mounts = fixed.get("mounts")
    if not isinstance(mounts, list):
        mounts = fixed["mounts"] = []
        patch.append({"op": "add", "path": "/mounts", "value": []})
    for index, mount in enumerate(mounts):
        dest = mount.get("destination", "")
        if dest and not dest.startswith("/"):
            mount["destination"] = "/" + dest
            patch.append(
                {"op": "replace", "path": f"/mounts/{index}/destination", "value": "/" + dest}
            )
    have = {m.get("destination", "").rstrip("/") or "/" for m in mounts}
    for standard in RUNC_SPEC_DEFAULT["mounts"]:
        if standard["destination"] in STANDARD_MOUNTS and standard["destination"] not in have:
            mounts.append(copy.deepcopy(standard))
            patch.append({"op": "add", "path": "/mounts/-", "value": standard})
    if fixed.get("hostname") or fixed.get("domainname"):
        linux = fixed.setdefault("linux", {})
        if not linux.get("namespaces"):
            linux.setdefault("namespaces", [])
        if all(ns.get("type") != "uts" for ns in linux["namespaces"]):
            linux["namespaces"].append({"type": "uts"})
            patch.append({"op": "add", "path": "/linux/namespaces/-", "value": {"type": "uts"}})
    return fixed, patch


def _relink(source_rootfs: Path, rootfs: Path) -> list[str]:
    """Make dangling absolute links relative when the target is inside the rootfs."""
    real_source = os.path.realpath(source_rootfs)
    changed = []
    for inside, target in dangling_absolute_links(rootfs):
        candidate = None
        if target.startswith(real_source + "/"):
            candidate = target[len(real_source) :]  # a host path into the source rootfs
        elif target.startswith(str(source_rootfs) + "/"):
            candidate = target[len(str(source_rootfs)) :]
        if candidate is None or not (rootfs / candidate.lstrip("/")).exists():
            continue
        relative = os.path.relpath(candidate, str(PurePosixPath(inside).parent))
        link = rootfs / inside.lstrip("/")
        link.unlink()
        os.symlink(relative, link)
        changed.append(f"{inside}: {target} -> {relative}")
    return changed


def fix_bundle(bundle: Path, out: Path, *, allow_host_mounts: bool = False) -> FixResult:
    """Write the corrected copy of ``bundle`` to ``out`` (new or empty); FixError if not
    possible, and then ``out`` is as it was."""
    bundle, out = bundle.absolute(), out.absolute()
    real_bundle, real_out = os.path.realpath(bundle), os.path.realpath(out)
    if real_out == real_bundle or real_out.startswith(real_bundle + "/"):
        raise FixError(f"{out} is inside the bundle; --fix never writes into the original")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FixError(f"{out} exists and is not an empty directory")
    loaded = load_config(bundle)
    if not loaded.decodable or loaded.config is None:
        reasons = "; ".join(f.message for f in loaded.findings if f.severity == "error")
        raise FixError(f"runc cannot read config.json, so it cannot be fixed: {reasons}")
    rootfs, problems = rootfs_of(bundle, loaded.config, allow_host_mounts=allow_host_mounts)
    if rootfs is None:
        raise FixError(f"no usable rootfs to copy: {problems[0].message}")
    fixed, patch = fix_config(loaded.config)
    written = fixed["root"]["path"]
    target = PurePosixPath(written)
    if target.is_absolute() or ".." in target.parts:
        fixed["root"]["path"] = "rootfs"
        patch.append({"op": "replace", "path": "/root/path", "value": "rootfs"})
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the bundle is for runc to read
    try:
        result = _write_copy(rootfs, fixed, staging)
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.out, result.patch = out, patch
    return result


def _write_copy(rootfs: Path, fixed: dict[str, Any], staging: Path) -> FixResult:
    """The corrected bundle in ``staging``: the rootfs copy, then config.json."""
    out_rootfs = staging / fixed["root"]["path"]
    out_rootfs.parent.mkdir(parents=True, exist_ok=True)
    try:
        copied = bounded_copy(rootfs, out_rootfs)
    except CopyCapped as exc:
        raise FixError(f"the rootfs is too large for the bounded copy ({exc})") from None
    except OSError as exc:
        raise FixError(f"cannot copy the rootfs: {exc}") from None
    result = FixResult(staging, relinked=_relink(rootfs, out_rootfs), skipped=copied.skipped)
    (staging / "config.json").write_text(dump_raw(fixed, indent=2) + "\n")
    return result
