"""The one entry point: :func:`check_bundle`, used by the CLI, ``--runc-bundle`` and
the ``bundle_check`` fixture alike.

Static checks always; then, given a runtime, a trial run whose result is the
verdict (``runc's own result decides``): a static error runc did not mind
becomes a warning that says so, and a refusal the static checks missed
becomes an error in runc's words. Two exceptions: an error about something
the stand-in had to change for safety (a hook, a namespace path) stays an
error, since runc never saw it; and a trial that times out is no verdict of
runc's, only the timeout error.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pytest_runc.bundlecheck.dynamic import TrialResult, run_trial, translate
from pytest_runc.bundlecheck.findings import ERROR, WARNING, BundleReport, Finding
from pytest_runc.bundlecheck.loader import load_config
from pytest_runc.bundlecheck.rootfs_checks import rootfs_of
from pytest_runc.bundlecheck.static import check_config
from pytest_runc.oci.constants import DEFAULT_TIMEOUT

#: Codes after which no trial runs: the host itself would be the rootfs, there
#: is no config.json file for runc to read, the rootfs is a host directory, or
#: runc would wait for ever on a special file.
NO_TRIAL = frozenset(
    {
        "rootfs-is-host-directory",
        "rootfs-outside-bundle",
        "rootfs-special-file",
        "bundle-missing",
        "not-a-bundle",
        "config-missing",
        "config-unreadable",
        "config-not-a-file",
        "config-symlink",
        "config-too-large",
    }
)


def check_bundle(
    bundle: Path,
    *,
    runtime_binary: str | None = None,
    sudo: bool = False,
    allow_hooks: bool = False,
    allow_host_mounts: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    timeout_flag: str = "--timeout",
    no_trial_reason: str | None = None,
) -> BundleReport:
    """Check ``bundle`` statically, then (given ``runtime_binary``) by a trial run.

    The bundle is only read. ``no_trial_reason`` says why no runtime was
    given (it becomes a warning, so every caller reports it the same way).
    ``allow_host_mounts`` lets the trial bind host paths (and use a rootfs
    outside the bundle) as written; ``timeout_flag`` is the caller's name for
    ``timeout`` in advice (``--timeout`` on the command line, ``--runc-timeout``
    in pytest).
    """
    bundle = Path(bundle).absolute()
    loaded = load_config(bundle)
    report = BundleReport(bundle, list(loaded.findings))
    rootfs = None
    if loaded.config is not None:
        report.findings += check_config(bundle, loaded.config, allow_host_mounts=allow_host_mounts)
        rootfs, _ = rootfs_of(bundle, loaded.config, allow_host_mounts=allow_host_mounts)
    if no_trial_reason and runtime_binary is None:
        report.findings.append(
            Finding(
                WARNING,
                "dynamic-check-skipped",
                f"no trial run with runc: {no_trial_reason}",
                "run as root with runc installed (or pass --static-only to say you mean it)",
                "runc",
            )
        )
    if runtime_binary is None or {f.code for f in report.findings} & NO_TRIAL:
        return report
    trial = run_trial(
        loaded,
        bundle,
        rootfs,
        runtime_binary,
        sudo=sudo,
        allow_hooks=allow_hooks,
        allow_host_mounts=allow_host_mounts,
        timeout=timeout,
        timeout_flag=timeout_flag,
    )
    _merge(report, trial)
    return report


def _merge(report: BundleReport, trial: TrialResult) -> None:
    """Fold the trial's result into ``report``: runc's answer decides."""
    report.runc_ran_it = trial.ran
    report.runc_message = trial.message
    report.runc_timed_out = trial.timed_out
    report.trial_rootfs = trial.how
    if trial.ran is None:
        report.findings += trial.findings
        return
    static_errors = [f for f in report.findings if f.severity == ERROR]
    extra = [f for f in trial.findings if f.severity == WARNING]
    if trial.ran:
        report.findings = [
            replace(
                f,
                severity=WARNING,
                message=f"{f.message} — yet runc ran the bundle, and runc's result decides",
            )
            if f.severity == ERROR and f.code not in trial.undecided
            else f
            for f in report.findings
        ]
    elif not static_errors:
        report.findings.append(translate(trial.message))
    report.findings += extra
