"""One pytest process's runtime, rootfs, private directory and cleanup.

The plugin makes one RuncSession per process (the session, or each xdist
worker) and drives it through explicit steps, each doing its work when it is
called and never again:

- :meth:`RuncSession.probe` looks at the environment (root or sudo, the
  binary and its ``--version``, the rootfs source, cgroups). No container.
- :meth:`RuncSession.start` sweeps what dead runs left in our base and makes
  this process's locked private directory.
- :meth:`RuncSession.check_runtime` runs a trivial container once: a runtime
  that cannot is a failure of that runtime, not a skip.
- :meth:`RuncSession.finish` deletes our containers and their cgroups, then
  removes the directory (or keeps it and says why).

The session also owns what cleanup has to know: the containers and
directories kept for failed tests, and the problems met while cleaning up.
Fixtures report to it through methods; they never edit its lists. See
docs/architecture.md.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_runc.oci import skips
from pytest_runc.oci.bundle import Bundle, default_config, rootless_config
from pytest_runc.oci.constants import PROBE_TIMEOUT, run_prefix
from pytest_runc.oci.environment import Privilege, cgroup_mode, probe_privilege, resolve_binary
from pytest_runc.oci.errors import RuncError, RuntimeCommandError, RuntimeTimeout, runtime_message
from pytest_runc.oci.features import NO_FEATURES, Features, FeaturesError
from pytest_runc.oci.host import HostAccessError
from pytest_runc.oci.rootfs import RootfsSource
from pytest_runc.oci.runtime import Runtime
from pytest_runc.oci.transcript import Completed, Transcript
from pytest_runc.sessions.cgroups import remove_cgroups
from pytest_runc.sessions.options import Settings
from pytest_runc.sessions.workdir import (
    SweepResult,
    WorkDir,
    base_dir,
    container_ids,
    new_token,
    sweep,
    unmount_below,
)

_NOT_PROBED = Privilege(False, False, "environment: not probed (container tests need --runc)")


@dataclass(frozen=True)
class RuntimeFailure:
    """A runtime that is present but cannot run a trivial container: what it said."""

    binary: str
    step: str  # the command that failed: "--version", "run", "create"
    command: str  # the full command line, shell-quoted
    outcome: str  # "exited with status 1", "did not finish within 2s and was killed", ...
    message: str  # the runtime's own words (its stderr, without log decoration)
    stdout: str = ""
    stderr: str = ""

    def summary(self) -> str:
        """One line: the runtime, the step, the outcome and the runtime's words."""
        words = self.message or "(it printed no error message)"
        return (
            f"{self.binary} cannot run a trivial container: `{self.step}` {self.outcome}: {words}"
        )

    def render(self) -> str:
        """The failure report of the ``runtime works`` item."""
        lines = [
            self.summary(),
            "",
            f"command:     {self.command}",
            f"outcome:     {self.outcome}",
            f"runtime said: {self.message or '(nothing on stderr)'}",
        ]
        for title, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            if text.strip():
                lines += ["", f"--- {title} ---", text.rstrip()]
        lines += [
            "",
            "Every container test was skipped: they cannot tell the runtime's faults apart"
            " while it cannot run `true`. Fix the runtime (or pass --runc-binary), or, for an"
            " optional runtime that may be unusable here, pass --runc-allow-unusable.",
        ]
        return "\n".join(lines)


def _failure(binary: str, step: str, exc: BaseException | Completed) -> RuntimeFailure:
    if isinstance(exc, RuntimeTimeout):
        return RuntimeFailure(
            binary,
            step,
            shlex.join(exc.argv),
            f"did not finish within {exc.timeout:g}s and was killed",
            runtime_message(exc.stderr),
            exc.stdout,
            exc.stderr,
        )
    if isinstance(exc, (RuntimeCommandError, Completed)):
        code = exc.returncode
        outcome = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        return RuntimeFailure(
            binary,
            step,
            shlex.join(exc.argv),
            outcome,
            runtime_message(exc.stderr),
            exc.stdout,
            exc.stderr,
        )
    return RuntimeFailure(binary, step, f"{binary} {step}", "could not be started", str(exc))


@dataclass(frozen=True)
class Probe:
    """What :meth:`RuncSession.probe` found; ``problem`` is the environment's skip reason."""

    privilege: Privilege
    binary: str | None
    problem: str | None
    version: str
    version_failure: RuntimeFailure | None


class RuncSession:
    """Settings, probes, private directory and cleanup of one pytest process."""

    def __init__(self, settings: Settings, *, base: Path | None = None) -> None:
        self.settings = settings
        self.token = new_token()
        # Chosen once: a test that changes PYTEST_RUNC_TMPDIR for its inner
        # runs does not move this process's own directory.
        self.base = base or base_dir()
        self.rootfs_source = RootfsSource(settings.rootfs)
        self.cgroup_mode = cgroup_mode()
        self.probed: Probe | None = None
        self.state_root: Path | None = None
        self.runtime_failure: RuntimeFailure | None = None
        self.features: Features | None = None
        self.swept = SweepResult()
        self._runtime_checked = False
        self._workdir: WorkDir | None = None
        self._numbers = itertools.count(1)
        self._kept: list[str] = []
        self._kept_ids: set[str] = set()
        self._cleanup_errors: list[str] = []

    # -- step 1: probe ------------------------------------------------------
    def probe(self) -> Probe:
        """Look at the environment: privilege, binary, ``--version``, rootfs source."""
        if self.probed is not None:
            return self.probed
        privilege = probe_privilege(rootless=self.settings.rootless)
        path, missing = resolve_binary(self.settings.binary)
        version, version_failure = "(not found)", None
        if path is not None:
            probe = Runtime(path, Path("/nonexistent"), timeout=self._probe_timeout())
            try:
                version = probe.version() or "(no version printed)"
            except (RuntimeCommandError, RuntimeTimeout, OSError) as exc:
                version, version_failure = "--version failed", _failure(path, "--version", exc)
        problem = privilege.problem or missing or self.rootfs_source.problem()
        self.probed = Probe(
            privilege=privilege,
            binary=path,
            problem=skips.reason(skips.ENVIRONMENT, problem) if problem else None,
            version=version,
            version_failure=version_failure,
        )
        return self.probed

    @property
    def privilege(self) -> Privilege:
        """How runtime commands get root (a "not probed" problem before :meth:`probe`)."""
        return self.probed.privilege if self.probed else _NOT_PROBED

    @property
    def binary(self) -> tuple[str | None, str | None]:
        """(absolute path, None), or (None, why not) before :meth:`probe` or when missing."""
        if self.probed is None:
            return None, _NOT_PROBED.problem
        return self.probed.binary, self.probed.problem if self.probed.binary is None else None

    @property
    def environment_problem(self) -> str | None:
        """Why this machine cannot run container tests (an ``environment:`` skip), or None."""
        return self.probed.problem if self.probed else _NOT_PROBED.problem

    @property
    def rootfs_problem(self) -> str | None:
        problem = self.rootfs_source.problem()
        return skips.reason(skips.ENVIRONMENT, problem) if problem else None

    def default_config(self) -> dict[str, Any]:
        """A new bundle's config: ``runc spec``, or ``runc spec --rootless`` when rootless."""
        if self.privilege.rootless:
            return rootless_config(os.getuid(), os.getgid())
        return default_config()

    # -- step 2: start ------------------------------------------------------
    def start(self) -> None:
        """Sweep dead runs' leftovers in our base, then make our locked directory.

        Nothing happens without root or sudo (nothing could be cleaned), and
        no directory is made when the environment lacks something: a skipped
        run leaves nothing behind.
        """
        probed = self.probe()
        if probed.privilege.problem or self._workdir is not None:
            return
        self.swept = sweep(
            probed.binary, sudo=probed.privilege.sudo, base=self.base, timeout=PROBE_TIMEOUT
        )
        if not probed.problem:
            self.workdir()

    def workdir(self) -> WorkDir:
        """This process's locked private directory, made by the first call.

        :meth:`start` makes it for a ``--runc`` run; a test that only builds
        bundles (no runtime, no ``--runc``) gets it from its first bundle.
        """
        if self._workdir is None:
            self._workdir = WorkDir.create(
                self.base, self.token, binary=self.binary[0], state_root=self.settings.root
            )
            self.state_root = self.settings.root or self._workdir.state_root
        return self._workdir

    # -- step 3: the runtime works -----------------------------------------
    def check_runtime(self) -> RuntimeFailure | None:
        """Run a trivial container (``run`` and ``create`` of ``true``) once, unless
        ``--runc-skip-runtime-check``.

        Returns how the runtime failed, or None. Called when container tests
        are collected; later calls return the first answer.
        """
        if self._runtime_checked:
            return self.runtime_failure
        self._runtime_checked = True
        probed = self.probe()
        if probed.problem:
            return None
        if probed.version_failure or self.settings.skip_runtime_check:
            # Without the trial, each test meets a broken runtime itself.
            self.runtime_failure = probed.version_failure
        else:
            self.runtime_failure = self._smoke()
        return self.runtime_failure

    def _smoke(self) -> RuntimeFailure | None:
        test_dir = self.new_test_dir("smoke")
        bundle = self.make_bundle(test_dir / "bundle")
        bundle.command("true").write()
        runtime = self.runtime()
        prefix = f"{run_prefix(self.token)}smoke"
        self.workdir().record(prefix)
        made: list[str] = []
        try:
            for step in ("run", "create"):
                container_id = f"{prefix}-{step}"
                made.append(container_id)
                try:
                    if step == "run":
                        done = runtime.run(container_id, bundle.path)
                    else:
                        done = runtime.create(container_id, bundle.path, check=False)
                except (RuntimeTimeout, OSError) as exc:
                    return _failure(runtime.binary, step, exc)
                if done.returncode != 0:
                    return _failure(runtime.binary, step, done)
            return None
        finally:
            for container_id in made:
                try:
                    runtime.delete(container_id, force=True, check=False)
                except (RuntimeTimeout, OSError) as exc:
                    self._cleanup_errors.append(f"delete {container_id}: {exc}")
            self.release_test_dir(test_dir)
            shutil.rmtree(test_dir, ignore_errors=True)

    def probe_features(self) -> Features:
        """The runtime's ``features`` (once); NO_FEATURES when it has no such command.

        A runtime that prints something that is not a features document is a
        RuncError naming the command: that is the runtime's fault, not a skip.
        """
        if self.features is not None:
            return self.features
        path = self.probe().binary
        if path is None:
            self.features = NO_FEATURES
            return self.features
        runtime = Runtime(path, Path("/nonexistent"), timeout=self._probe_timeout())
        try:
            text = runtime.features()
        except (RuntimeTimeout, OSError) as exc:
            raise RuncError(f"`{path} features` failed: {exc}") from exc
        try:
            self.features = Features.parse(text) if text is not None else NO_FEATURES
        except FeaturesError as exc:
            raise RuncError(f"`{path} features`: {exc}") from None
        return self.features

    # -- what tests use --------------------------------------------------------
    def describe_state_root_for_header(self) -> str:
        ids = f"container ids {run_prefix(self.token)}*"
        if self.settings.root:
            return f"{self.settings.root} (--runc-root); {ids}"
        return f"private per session and xdist worker, under {self.base}; {ids}"

    def rootfs_source_description(self) -> str:
        return self.rootfs_source.describe()

    def runtime(self, transcript: Transcript | None = None) -> Runtime:
        """The runtime on our state root (after :meth:`start`)."""
        path = self.probe().binary
        if path is None or self.state_root is None:
            raise RuncError(
                "pytest-runc: the session was not started (no runtime, or no --runc):"
                f" {self.environment_problem}"
            )
        return Runtime(
            path,
            self.state_root,
            timeout=self.settings.timeout,
            sudo=self.privilege.sudo,
            transcript=transcript,
        )

    def id_prefix(self) -> str:
        """A fresh container id prefix for one test: ``prt-<token>-<n>``, recorded
        in our directory first, so that its cgroups are known to be ours."""
        prefix = f"{run_prefix(self.token)}{next(self._numbers)}"
        self.workdir().record(prefix)
        return prefix

    def new_test_dir(self, name: str) -> Path:
        """A fresh directory for one test's bundles."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:48]
        path = self.workdir().bundles / f"{next(self._numbers)}-{safe}"
        path.mkdir(parents=True)
        return path

    def release_test_dir(self, path: Path) -> None:
        """Unmount the rootfs overlays of a test's directory (before it is removed or kept)."""
        unmount_below(path, sudo=self.privilege.sudo)

    def make_bundle(
        self, path: Path, config: dict[str, Any] | None = None, *, rootfs: bool = True
    ) -> Bundle:
        """A bundle at ``path``: the default config (or ``config``) and, unless
        ``rootfs`` is false, its own copy of the session's rootfs."""
        bundle = Bundle(path, config if config is not None else self.default_config())
        bundle.path.mkdir()
        if rootfs:
            if self.rootfs_source.workdir is None:
                self.rootfs_source.workdir = self.workdir().path
            self.rootfs_source.copy_to(bundle.path / "rootfs")
        return bundle

    def _probe_timeout(self) -> float:
        return min(self.settings.timeout, PROBE_TIMEOUT)

    # -- what cleanup has to know ------------------------------------------
    def keep_test_dir(self, nodeid: str, path: Path) -> None:
        """A failed test's bundles stay (--runc-keep-failed)."""
        self._kept.append(f"{nodeid}: {path}")

    def keep_container(self, container_id: str, runtime: Runtime) -> None:
        """A failed test's container stays; the summary says how to look and remove it."""
        self._kept_ids.add(container_id)
        self._kept.append(
            f"container {container_id}: inspect `{shlex.join(runtime.argv('state', container_id))}`,"
            f" remove `{shlex.join(runtime.argv('delete', '--force', container_id))}`"
        )

    def spare_container(self, container_id: str) -> None:
        """Leave ``container_id`` to whoever reported it (kept without a summary line)."""
        self._kept_ids.add(container_id)

    def cleanup_failed(self, problems: list[str]) -> None:
        """Record problems met while cleaning up; the terminal summary lists them."""
        self._cleanup_errors += problems

    @property
    def kept(self) -> tuple[str, ...]:
        return tuple(self._kept)

    @property
    def cleanup_errors(self) -> tuple[str, ...]:
        return tuple(self._cleanup_errors)

    # -- step 4: finish ------------------------------------------------------
    def finish(self) -> None:
        """Delete our containers and their cgroups; remove our directory unless kept.

        When a container cannot be deleted the directory stays (unlocked), the
        problem and the command that removes it are recorded, and the next
        run's sweeper tries again.
        """
        workdir = self._workdir
        if workdir is None:
            return
        left = self._delete_containers()
        # Once every container is deleted, what is left in our recorded cgroups
        # is ours (a runc init whose create was interrupted), except kept ones.
        remove_cgroups(
            workdir.recorded(),
            sudo=self.privilege.sudo,
            kill=left == [],
            spare=frozenset(self._kept_ids),
        )
        if left is None or left:
            runtime = self._cleanup_runtime()
            if left is None:
                self._cleanup_errors.append(
                    f"{workdir.path} stays for the next run's sweeper: the containers in"
                    f" {self.state_root} could not be listed; list them with"
                    f" `{shlex.join(runtime.argv('list'))}`"
                )
            else:
                self._cleanup_errors.append(
                    f"{len(left)} container(s) could not be deleted; {workdir.path} stays for"
                    " the next run's sweeper. Remove them with:"
                )
                self._cleanup_errors += [
                    f"  {shlex.join(runtime.argv('delete', '--force', i))}" for i in left
                ]
            workdir.release()
        elif self._kept:
            workdir.keep("\n".join(self._kept))
            workdir.release()
        else:
            try:
                workdir.remove(sudo=self.privilege.sudo)
            except HostAccessError as exc:
                self._cleanup_errors.append(
                    f"{workdir.path} stays for the next run's sweeper: {exc}"
                )
        self._workdir = None

    def _cleanup_runtime(self) -> Runtime:
        # Without a binary (a bundle-only run) the commands still name "runc".
        if self.binary[0] is None or self.state_root is None:
            return Runtime("runc", self.state_root or Path("."), sudo=self.privilege.sudo)
        return self.runtime()

    def _delete_containers(self) -> list[str] | None:
        """Delete every container of ours not kept; returns those still there
        (None when they cannot be listed)."""
        if self.state_root is None or not self.state_root.exists():
            return []
        runtime = self._cleanup_runtime()
        shared = self.settings.root is not None
        prefix = run_prefix(self.token) if shared else None
        ids = container_ids(self.state_root, runtime, prefix=prefix, private=not shared)
        if ids is None:
            return None
        for container_id in ids:
            if container_id in self._kept_ids:
                continue
            try:
                runtime.delete(container_id, force=True, check=False)
            except (RuntimeTimeout, OSError) as exc:
                self._cleanup_errors.append(f"delete {container_id}: {exc}")
        after = container_ids(self.state_root, runtime, prefix=prefix, private=not shared)
        return None if after is None else [i for i in after if i not in self._kept_ids]
