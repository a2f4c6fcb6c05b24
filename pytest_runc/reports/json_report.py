"""``--runc-report PATH``: one JSON document per run, for machines.

The document (schema: ``pytest_runc/oci/schemas/report.schema.json``, field
``version``) holds the runtime under test (path, ``--version`` output, its
``features`` JSON), the host (kernel, distribution, architecture, cgroup
mode, root/sudo/rootless), pytest-runc's version and one record per check:
node id, rule ids, outcome, skip class, duration, and for a failure the first
line of the message with the full text next to it.

``python -m pytest_runc report merge`` joins such files into a matrix.

Under xdist only the controller writes the file: workers send their reports
to it anyway (the ``oci_rules`` attribute travels with them).

Plugins and conftest files add fields to every record with the
``pytest_runc_report_record(record, report, config)`` hook.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import stat
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_runc import __version__
from pytest_runc.oci import skips
from pytest_runc.plugin.spec_level import beyond_level

if TYPE_CHECKING:
    from pytest_runc.sessions.session import RuncSession

#: Bump when a field changes meaning or goes away (adding one is compatible).
REPORT_VERSION = 1
#: ``beyond-level-failed``: a check of a statement newer than the spec version the
#: runtime claims failed (pytest_runc/plugin/spec_level.py); not a failure of the run
#: unless --runc-fail-beyond-level, and never a skip.
OUTCOMES = ("passed", "failed", "beyond-level-failed", "skipped", "xfailed", "xpassed")
#: The class of a skip that pytest-runc did not decide (a plain pytest.skip).
OTHER = "other"
#: Permissions of a report (or matrix) file that did not exist before: what
#: ``open()`` gives under the usual umask 022. A report holds nothing secret
#: and is meant to be read by CI users other than root.
NEW_FILE_MODE = 0o644
#: Names the host in a merged matrix instead of its cgroup mode.
HOST_LABEL_ENV = "PYTEST_RUNC_HOST_LABEL"
#: A label is a column header, not a document.
MAX_HOST_LABEL = 64


class ReportWriteError(OSError):
    """A report or matrix file cannot be written where asked; says which and why."""


def write_file_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one,
    and never through a link somebody else planted.

    pytest-runc runs as root, often in shared directories (``/tmp``, a CI
    workspace) where another user may create names. So:

    - the temporary file is made with :func:`tempfile.mkstemp` in the target's
      directory: a random name, ``O_CREAT | O_EXCL`` (which refuses to follow
      a symlink at that name), not a predictable ``PATH.tmp`` an attacker can
      pre-plant as a link to ``/etc/shadow``;
    - :func:`os.replace` renames it over ``path``: ``rename(2)`` replaces a
      directory entry and never follows a link at the destination;
    - ``path`` itself must be absent or a regular file. A symlink there is
      refused (``ReportWriteError``) rather than replaced or followed: replacing
      ``-o /dev/stdout`` as root would be as wrong as writing through a link.
      (A link planted between this check and the rename is replaced, not
      followed, by the rename.)

    Permissions: :data:`NEW_FILE_MODE` (0644) for a new file. When ``path``
    exists as our own regular file, its permission bits are kept (the user
    chose them); a file of another owner (say, planted by another user with
    mode 0666) gets 0644, so that nobody else can rewrite our report later.
    ``mkstemp``'s own 0600 is always replaced by one of these.
    """
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    except OSError as exc:
        raise ReportWriteError(f"cannot write {path}: {exc.strerror or exc}") from None
    else:
        if stat.S_ISLNK(before.st_mode):
            raise ReportWriteError(
                f"cannot write {path}: it is a symbolic link; pytest-runc never writes"
                " through a link: name the file itself, or remove the link"
            )
        if not stat.S_ISREG(before.st_mode):
            raise ReportWriteError(
                f"cannot write {path}: it exists and is not a regular file; name a file"
            )
        ours = before.st_uid == os.geteuid()
        mode = stat.S_IMODE(before.st_mode) & 0o777 if ours else NEW_FILE_MODE
    directory = path.parent
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ReportWriteError(
            f"cannot write {path}: cannot create a file in {directory}: {exc.strerror or exc}"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), mode)
            out.write(text)
            out.flush()
            # On disk before the rename: a crash then leaves the old report or
            # the new one, never an empty file under the final name.
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise ReportWriteError(f"cannot write {path}: {exc.strerror or exc}") from None


class ReportHooks:
    """Hook specifications of the JSON report (registered with ``pytest_addhooks``)."""

    @pytest.hookspec
    def pytest_runc_report_record(
        self, record: dict[str, Any], report: pytest.TestReport, config: pytest.Config
    ) -> None:
        """Called for every record before the report is written; edit ``record`` in place.

        ``report`` is the phase that decided the outcome (the call, or the
        setup of a skipped check). Add keys of your own (prefix them, e.g.
        ``"myorg_ticket"``); the schema allows extra keys in a record.
        Under xdist this runs in the controller, with the workers' reports.
        """


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Make ``pytest_runc_report_record`` known to pluggy."""
    pluginmanager.add_hookspecs(ReportHooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--runc-report PATH`` (also ``PYTEST_RUNC_REPORT``), in the ``runc`` group."""
    group = parser.getgroup("runc", "container runtime tests (pytest-runc)")
    group.addoption(
        "--runc-report",
        default=None,
        metavar="PATH",
        help="write a JSON report of the run (runtime, host, one record per check) to PATH"
        " [env PYTEST_RUNC_REPORT]; `python -m pytest_runc report merge` joins such files",
    )


def skip_class(reason: str) -> str:
    """The class of a skip reason: ``environment``, ``host``, ``runtime``,
    ``departure``, or ``other`` for a skip that pytest-runc did not decide."""
    return skips.classify(reason) or OTHER


def _skip_reason(report: pytest.TestReport) -> str:
    """The reason of a skipped report (pytest keeps it as (path, line, 'Skipped: why'))."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
        return text[len("Skipped: ") :] if text.startswith("Skipped: ") else text
    return str(longrepr or "")


def _first_line(text: str) -> str:
    """The line a reader looks at first: the assertion (``E ...``), else the last line."""
    lines = [line for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("E "):
            return line[1:].strip()
    return lines[-1].strip() if lines else ""


@dataclass
class _Check:
    """What the phases of one check reported so far."""

    nodeid: str
    rules: list[str] = field(default_factory=list)
    reports: list[pytest.TestReport] = field(default_factory=list)


def record_of(
    reports: Iterable[pytest.TestReport], nodeid: str, rules: list[str]
) -> tuple[dict[str, Any], pytest.TestReport]:
    """One check's record from its phase reports, and the report that decided it.

    A failed setup or teardown counts as ``failed`` (with its ``phase``), as
    the JUnit XML counts it an error of that check.
    """
    phases = list(reports)
    deciding = phases[0]
    outcome = "passed"
    for report in phases:
        wasxfail = hasattr(report, "wasxfail")
        if report.failed:
            deciding, outcome = report, "failed"
            break
        if report.skipped:
            deciding, outcome = report, "xfailed" if wasxfail else "skipped"
            break
        if report.when == "call":
            deciding, outcome = report, "xpassed" if wasxfail else "passed"
    record: dict[str, Any] = {
        "nodeid": nodeid,
        "rules": rules,
        "outcome": outcome,
        "phase": deciding.when,
        "duration": round(sum(getattr(r, "duration", 0.0) for r in phases), 6),
    }
    if outcome == "skipped":
        reason = _skip_reason(deciding)
        record["skip_class"] = skip_class(reason)
        record["reason"] = reason
    elif outcome in ("xfailed", "xpassed"):
        reason = str(getattr(deciding, "wasxfail", ""))
        record["reason"] = reason
        record["skip_class"] = skip_class(reason)
    if outcome == "failed":
        text = deciding.longreprtext
        record["message"] = _first_line(text)
        record["details"] = text
    beyond = next((note for r in phases if (note := beyond_level(r)) is not None), None)
    if beyond is not None:
        if outcome == "passed":
            # The call failed beyond the claimed level (and did not fail the run).
            record["outcome"] = "beyond-level-failed"
            record["message"] = _first_line(beyond["details"]) or beyond["message"]
            record["details"] = beyond["details"]
        record["beyond_level"] = beyond["reason"]
    runtime = next((r.runc_runtime for r in phases if hasattr(r, "runc_runtime")), None)
    if runtime is not None:
        record["runtime"] = str(runtime)
    worker = getattr(deciding, "node", None)
    worker_id = getattr(worker, "gateway", None)
    if worker_id is not None:
        record["worker"] = str(getattr(worker_id, "id", worker_id))
    return record, deciding


def _os_release() -> str:
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return ""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value.strip().strip('"')
    return values.get("PRETTY_NAME") or values.get("NAME", "")


def host_label(cgroup: str) -> str:
    """The host's name in a matrix column (``runc-1.1.5@<label>``).

    ``PYTEST_RUNC_HOST_LABEL`` when set (a CI job names its runner, e.g.
    ``gha-ubuntu-24.04``), else the cgroup mode: what most often makes one
    host's outcomes differ from another's, and the same on every machine of a
    kind, where the host name is not.
    """
    given = " ".join(os.environ.get(HOST_LABEL_ENV, "").split())
    if given:
        return given[:MAX_HOST_LABEL]
    return cgroup


def host_facts(config: pytest.Config) -> dict[str, Any]:
    """Label, kernel, distribution, architecture, cgroup mode and how commands got root."""
    from pytest_runc.oci.environment import cgroup_mode
    from pytest_runc.plugin import session_key

    facts: dict[str, Any] = {
        "name": socket.gethostname(),
        "kernel": platform.release(),
        "distribution": _os_release(),
        "architecture": platform.machine(),
        "python": platform.python_version(),
        "pytest": pytest.__version__,
    }
    session = config.stash.get(session_key, None)
    # Read here without a session too (no --runc): the label needs it.
    facts["cgroup_mode"] = session.cgroup_mode if session is not None else cgroup_mode()
    facts["label"] = host_label(facts["cgroup_mode"])
    if session is not None:
        privilege = session.privilege
        facts["privilege"] = (
            "root"
            if privilege.is_root
            else "sudo"
            if privilege.sudo
            else "rootless"
            if privilege.rootless
            else "none"
        )
        if session.settings.rootless:
            facts["privilege"] = "rootless"
    return facts


def runtime_facts(config: pytest.Config) -> dict[str, Any]:
    """The (first) runtime under test: path, ``--version`` output and ``features`` JSON (or null)."""
    from pytest_runc.plugin import session_key

    session = config.stash.get(session_key, None)
    if session is None or not session.settings.enabled:
        return {"requested": None, "path": None, "version": None, "features": None, "name": None}
    return session_facts(session)


def several_runtimes(config: pytest.Config) -> dict[str, Any] | None:
    """With several runtimes: per runtime id (``runc-1.1.5``) its facts and departures."""
    from pytest_runc.plugin import runtimes_key
    from pytest_runc.plugin.departures import applied_departures

    runtimes = config.stash.get(runtimes_key, None)
    if runtimes is None or not runtimes.several or not runtimes.settings.enabled:
        return None
    found: dict[str, Any] = {}
    for label, session in runtimes.sessions.items():
        facts = session_facts(session)
        probed = session.probe()
        facts["departures"] = applied_departures(config, probed.version if probed.binary else "")
        found[label] = facts
    return found


def session_facts(session: RuncSession) -> dict[str, Any]:
    """One runtime's path, ``--version`` output, name, release and ``features`` JSON."""
    from pytest_runc.oci.errors import RuncError
    from pytest_runc.oci.identity import identify

    probed = session.probe()
    facts: dict[str, Any] = {
        "requested": session.settings.binary,
        "path": probed.binary,
        "version": probed.version if probed.binary else None,
        "features": None,
        "problem": probed.problem,
    }
    facts.update(identify(probed.version if probed.binary else "", session.settings.binary))
    if probed.binary and not probed.problem:
        try:
            features = session.probe_features()
        except RuncError as exc:
            facts["features_problem"] = str(exc)
        else:
            facts["features"] = dict(features.raw) if features.available else None
    return facts


class JsonReport:
    """Collects the reports of a run and writes the JSON document at its end."""

    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config = config
        self.path = path
        self.started = time.time()
        self.checks: dict[str, _Check] = {}
        #: Why the document could not be written, for the terminal summary.
        self.problem: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep every phase of every check (the controller's copy under xdist)."""
        check = self.checks.setdefault(report.nodeid, _Check(report.nodeid))
        rules = getattr(report, "oci_rules", None)
        if rules and not check.rules:
            check.rules = list(rules)
        check.reports.append(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A module that does not import is a failed record of its own."""
        if report.failed:
            check = self.checks.setdefault(report.nodeid, _Check(report.nodeid))
            check.reports.append(report)  # type: ignore[arg-type]

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write the document (the directory is made if needed)."""
        from pytest_runc.plugin.departures import applied_departures
        from pytest_runc.suite import logical_nodeid

        records = []
        for check in self.checks.values():
            nodeid = logical_nodeid(check.nodeid, self.config.rootpath)
            record, deciding = record_of(check.reports, nodeid, check.rules)
            self.config.hook.pytest_runc_report_record(
                record=record, report=deciding, config=self.config
            )
            records.append(record)
        document = {
            "version": REPORT_VERSION,
            "pytest_runc": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "duration": round(time.time() - self.started, 3),
            "exitstatus": int(exitstatus),
            "argv": list(self.config.invocation_params.args),
            "runtime": runtime_facts(self.config),
            "host": host_facts(self.config),
            "departures": applied_departures(self.config),
            "summary": summarize(records),
            "records": records,
        }
        several = several_runtimes(self.config)
        if several is not None:
            document["runtimes"] = several
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_file_atomically(self.path, json.dumps(document, indent=1) + "\n")
        except OSError as exc:
            # A clear line in the summary and a failed run, not an INTERNALERROR
            # traceback: CI that relies on the report must not go green without it.
            self.problem = str(exc)
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.problem is not None:
            terminalreporter.write_sep(
                "-", f"pytest-runc JSON report NOT written: {self.problem}", red=True
            )
            return
        terminalreporter.write_sep("-", f"pytest-runc JSON report: {self.path}")


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Counts per outcome, and per skip class as ``skipped:<class>``."""
    counts: dict[str, int] = {outcome: 0 for outcome in OUTCOMES}
    for record in records:
        counts[record["outcome"]] += 1
        if record["outcome"] == "skipped":
            key = f"skipped:{record['skip_class']}"
            counts[key] = counts.get(key, 0) + 1
    return counts


_plugin_key = pytest.StashKey[JsonReport]()


def report_path(config: pytest.Config) -> Path | None:
    """Where ``--runc-report`` (or ``PYTEST_RUNC_REPORT``) asks for the report, if anywhere."""
    value = config.getoption("--runc-report") or os.environ.get("PYTEST_RUNC_REPORT")
    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_symlink():
        # Checked before is_dir(), which follows links. Resolving the link here
        # would let whoever planted it choose which file root overwrites.
        raise pytest.UsageError(
            f"--runc-report {value}: is a symbolic link; pytest-runc never writes through"
            " a link: name the file itself, or remove the link"
        )
    if path.is_dir():
        raise pytest.UsageError(
            f"--runc-report {value}: is a directory; give a file name such as {path / 'report.json'}"
        )
    if path.exists() and not path.is_file():
        raise pytest.UsageError(f"--runc-report {value}: exists and is not a regular file")
    if not path.parent.exists() and not path.parent.parent.exists():
        raise pytest.UsageError(
            f"--runc-report {value}: the directory {path.parent} does not exist; create it first"
        )
    # Absolute now (the run may change directory), resolving only the
    # directories: the last component stays the name that was given.
    return path.parent.resolve() / path.name


def pytest_configure(config: pytest.Config) -> None:
    """Register the collector on the controller (or a run without xdist), never on a worker."""
    path = report_path(config)
    if path is None or hasattr(config, "workerinput"):
        return
    plugin = JsonReport(config, path)
    config.stash[_plugin_key] = plugin
    config.pluginmanager.register(plugin, "pytest_runc_jsonreport")


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(_plugin_key, None)
    if plugin is not None:
        config.pluginmanager.unregister(plugin)
        del config.stash[_plugin_key]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One line counting this run's skips by class (their reasons are in ``-rs``)."""
    counts: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        if hasattr(report, "wasxfail"):
            continue
        kind = skip_class(_skip_reason(report))
        counts[kind] = counts.get(kind, 0) + 1
    if counts:
        order = [*skips.CLASSES, OTHER]
        text = ", ".join(f"{counts[k]} {k}" for k in order if k in counts)
        terminalreporter.write_line(f"pytest-runc skips by class: {text} (-rs lists the reasons)")
