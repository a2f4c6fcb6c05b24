"""Everything one pytest process knows about its runtime, rootfs and directories.

The plugin makes one RuncSession per process (the session, or each xdist
worker). Probes run lazily and once: a run without ``--runc`` never looks
for root or a runtime.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
from functools import cached_property
from pathlib import Path
from typing import Any

from pytest_runc.bundle import Bundle, default_config, rootless_config
from pytest_runc.environment import Privilege, cgroup_mode, probe_privilege, resolve_binary
from pytest_runc.errors import RuncError, RuntimeCommandError, RuntimeTimeout, runtime_message
from pytest_runc.options import Settings
from pytest_runc.rootfs import RootfsSource
from pytest_runc.runtime import Runtime
from pytest_runc.transcript import Transcript
from pytest_runc.workdir import WorkDir, base_dir, sweep


class BrokenRuntime(RuncError):
    """The runtime binary exists but cannot even report its version."""


class RuncSession:
    """Settings, probes, private directories and cleanup of one pytest process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token = secrets.token_hex(3)
        self._workdir: WorkDir | None = None
        self._test_numbers = itertools.count(1)
        self.kept: list[str] = []  # what --runc-keep-failed kept, for the summary
        self.kept_ids: set[str] = set()  # containers that finish() must spare
        self.swept: list[str] = []
        self.cleanup_errors: list[str] = []

    # -- probes (each runs once) ---------------------------------------
    @cached_property
    def privilege(self) -> Privilege:
        return probe_privilege(rootless=self.settings.rootless)

    def default_config(self) -> dict[str, Any]:
        """A new bundle's config: ``runc spec``, or ``runc spec --rootless`` when rootless."""
        if self.privilege.rootless:
            return rootless_config(os.getuid(), os.getgid())
        return default_config()

    @cached_property
    def binary(self) -> tuple[str | None, str | None]:
        """(absolute path, None) or (None, skip reason)."""
        return resolve_binary(self.settings.binary)

    @cached_property
    def version(self) -> str:
        """The runtime's ``--version`` line; BrokenRuntime if it fails."""
        path, _ = self.binary
        if path is None:
            return "(not found)"
        probe = Runtime(path, Path("/nonexistent"), timeout=min(self.settings.timeout, 15.0))
        try:
            return probe.version() or "(no version printed)"
        except (RuntimeCommandError, RuntimeTimeout, OSError) as exc:
            raise BrokenRuntime(
                f"the runtime {path} is broken: `{path} --version` failed ({exc})."
                " Fix or reinstall it, or point --runc-binary at a working runtime."
            ) from exc

    @cached_property
    def cgroup_mode(self) -> str:
        return cgroup_mode()

    @cached_property
    def rootfs_source(self) -> RootfsSource:
        # No work directory until a rootfs is copied: a skip must leave nothing.
        return RootfsSource(self.settings.rootfs)

    @property
    def rootfs_problem(self) -> str | None:
        return self.rootfs_source.problem()

    @cached_property
    def smoke_problem(self) -> str | None:
        """Why this runtime cannot run a trivial container here, or None.

        A runtime that refuses this host (crun 1.8 on hybrid cgroups, say)
        fails here with an error on stderr; every container test then skips
        with that one reason instead of failing for the host's sake.
        """
        bundle = self.make_bundle(self.new_test_dir("smoke") / "bundle")
        bundle.command("true").write()
        container_id = f"prt-{self.token}-smoke"
        runtime = self.runtime()
        try:
            done = runtime.run(container_id, bundle.path)
        except RuntimeTimeout as exc:
            return f"{self.settings.binary} did not run a trivial container: {exc}"
        finally:
            runtime.delete(container_id, force=True, check=False)
            shutil.rmtree(bundle.path.parent, ignore_errors=True)
        if done.returncode != 0 and done.stderr.strip():
            return (
                f"{self.settings.binary} cannot run containers on this host"
                f" ({self.cgroup_mode} cgroups): {runtime_message(done.stderr)}"
            )
        return None

    def runtime_problem(self) -> str | None:
        """The skip reason for tests that run containers, or None."""
        if self.privilege.problem:
            return self.privilege.problem
        _, missing = self.binary
        if missing:
            return missing
        if self.rootfs_problem:
            return self.rootfs_problem
        return self.smoke_problem

    # -- places ----------------------------------------------------------
    @property
    def workdir(self) -> WorkDir:
        if self._workdir is None:
            self._workdir = WorkDir.create()
        return self._workdir

    @property
    def state_root(self) -> Path:
        return self.settings.root or self.workdir.state_root

    def describe_state_root_for_header(self) -> str:
        if self.settings.root:
            return f"{self.settings.root} (--runc-root)"
        return f"private per session and xdist worker, under {base_dir()}"

    def rootfs_source_description(self) -> str:
        return self.rootfs_source.describe()

    def runtime(self, transcript: Transcript | None = None) -> Runtime:
        path, missing = self.binary
        assert path is not None, missing
        return Runtime(
            path,
            self.state_root,
            timeout=self.settings.timeout,
            sudo=self.privilege.sudo,
            transcript=transcript,
        )

    def id_prefix(self) -> str:
        return f"prt-{self.token}-{next(self._test_numbers)}"

    def new_test_dir(self, name: str) -> Path:
        """A fresh directory for one test's bundles."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:48]
        path = self.workdir.bundles / f"{next(self._test_numbers)}-{safe}"
        path.mkdir(parents=True)
        return path

    def make_bundle(
        self, path: Path, config: dict[str, Any] | None = None, *, rootfs: bool = True
    ) -> Bundle:
        """A bundle at ``path``: the default config (or ``config``) and, unless
        ``rootfs`` is false, its own copy of the session's rootfs."""
        bundle = Bundle(path, config if config is not None else self.default_config())
        bundle.path.mkdir()
        if rootfs:
            if self.rootfs_source.workdir is None:
                self.rootfs_source.workdir = self.workdir.path
            self.rootfs_source.copy_to(bundle.path / "rootfs")
        return bundle

    # -- start and end -------------------------------------------------
    def sweep_leftovers(self) -> None:
        path, _ = self.binary
        self.swept = sweep(path, sudo=self.privilege.sudo)

    def finish(self) -> None:
        """Delete every container of ours and remove our directories (unless kept)."""
        if self._workdir is None:
            return
        path, _ = self.binary
        if path is not None and self.state_root.exists():
            runtime = self.runtime()
            try:
                ids = runtime.list_ids()
            except (RuntimeCommandError, RuntimeTimeout, OSError) as exc:
                ids = []
                self.cleanup_errors.append(f"list: {exc}")
            mine = f"prt-{self.token}-"
            for container_id in ids:
                if self.settings.root and not container_id.startswith(mine):
                    continue  # a user's state root: only our own containers
                if container_id in self.kept_ids:
                    continue
                try:
                    runtime.delete(container_id, force=True, check=False)
                except (RuntimeTimeout, OSError) as exc:
                    self.cleanup_errors.append(f"delete {container_id}: {exc}")
        if self.kept:
            self._workdir.keep("\n".join(self.kept))
        else:
            self._workdir.remove()
