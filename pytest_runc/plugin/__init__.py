"""The pytest plugin: options, markers, fixtures, skips, reports and cleanup.

Thin by design: it wires the layers (runtime, rootfs, bundle, container,
interactive) to pytest and owns nothing else.
"""

from __future__ import annotations

import itertools
import signal
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from pytest_runc.bundlecheck import BundleReport
from pytest_runc.bundlecheck.pytest_items import make_items, run_bundle_check
from pytest_runc.oci import skips
from pytest_runc.oci.bundle import Bundle
from pytest_runc.oci.container import ContainerFactory
from pytest_runc.oci.environment import resolve_binary
from pytest_runc.oci.failure_report import TestRecord, add_failure_section, failure_sections
from pytest_runc.oci.features import Features
from pytest_runc.oci.host import remove_tree
from pytest_runc.oci.interactive import InteractiveSession
from pytest_runc.oci.runtime import Runtime
from pytest_runc.sessions import options
from pytest_runc.sessions.basedir import UnsafeBaseDir
from pytest_runc.sessions.runtimes import PARAM, RuntimeSet, label_of_item
from pytest_runc.sessions.session import RuncSession, RuntimeFailure

#: Fixtures that start a runtime: a test using one is a container test. Their
#: short aliases (``container``...) request them, so they are in the closure
#: of a test using an alias; a plugin's own ``container`` fixture is not ours.
RUNTIME_FIXTURES = frozenset({"runc_runtime", "runc_container", "runc_interactive"})
#: Fixtures whose value depends on the runtime: with several runtimes, a test
#: using one (or marked ``runc``) runs once per runtime.
PER_RUNTIME_FIXTURES = RUNTIME_FIXTURES | {"runc_runtime_features"}
NEEDS_RUNC = skips.reason(skips.ENVIRONMENT, "needs --runc (container tests are opt-in)")

#: Features that are plugins of their own, each with its hooks in one module.
pytest_plugins = [
    "pytest_runc.rules.markers",
    "pytest_runc.reports.json_report",
    "pytest_runc.plugin.departures",
    "pytest_runc.plugin.spec_level",
]

session_key = pytest.StashKey[RuncSession]()  # the first (or only) runtime's session
runtimes_key = pytest.StashKey[RuntimeSet]()
record_key = pytest.StashKey[TestRecord]()
_previous_handlers = pytest.StashKey[dict[int, Any]]()
#: Signals that end a run the way Ctrl-C does, so that teardown deletes containers.
_ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_gate_key = pytest.StashKey[set[str]]()  # the names of the failing "runtime works" items


def pytest_addoption(parser: pytest.Parser) -> None:
    options.register(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "runc: the test runs containers; skipped unless --runc is given"
    )
    config.addinivalue_line("markers", "runc_bundle: a --runc-bundle compatibility check")
    config.addinivalue_line(
        "markers",
        "runc_root: needs real root (cgroup limits, other uids); skipped in --runc-rootless runs",
    )
    config.addinivalue_line(
        "markers",
        "runc_cgroup(*modes): runs only on these cgroup modes (v1, hybrid, v2); skipped elsewhere",
    )
    settings = options.resolve(config)
    runtimes = RuntimeSet(settings)
    config.stash[runtimes_key] = runtimes
    config.stash[session_key] = runtimes.primary
    if not settings.enabled:
        return
    # Each session's explicit steps: probe (no container), start (sweep our
    # base, lock our directory); the runtime check waits for collection.
    for session in runtimes.all():
        session.probe()
        _refuse_missing_binary(session.settings)
        try:
            session.start()
        except UnsafeBaseDir as exc:
            raise pytest.UsageError(str(exc)) from None
    runtimes.probe()
    _install_signal_handlers(config)


def _refuse_missing_binary(settings: options.Settings) -> None:
    """A runtime the user named that is not there is a usage error, not a run of skips.

    Only the default ``runc`` missing is the environment's lack (a skip);
    --runc-allow-unusable marks a named runtime as optional (skips too).
    """
    if settings.binary_origin is None or settings.allow_unusable:
        return
    path, missing = resolve_binary(settings.binary)
    if path is None:
        raise pytest.UsageError(
            f"{settings.binary_origin}: {missing}; or, if this runtime is optional here,"
            " pass --runc-allow-unusable to skip its tests instead"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Last step of the session: delete our containers, cgroups and directory."""
    runtimes = config.stash.get(runtimes_key, None)
    for session in runtimes.all() if runtimes is not None else ():
        session.finish()
    previous = config.stash.get(_previous_handlers, {})
    if threading.current_thread() is threading.main_thread():
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _install_signal_handlers(config: pytest.Config) -> None:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt, so that teardown deletes containers.

    pytest runs fixture teardown on Ctrl-C but dies on SIGTERM (a CI job
    cancelled) or SIGHUP (a closed terminal) without it (docs/architecture.md,
    "Cleanup"). Only for a signal nobody else installed a handler for.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum} ({signal.Signals(signum).name})")

    previous: dict[int, Any] = {}
    for signum in _ENDING_SIGNALS:
        if signal.getsignal(signum) in (signal.SIG_DFL, None):
            previous[signum] = signal.signal(signum, interrupt)
    config.stash[_previous_handlers] = previous


def pytest_report_header(config: pytest.Config) -> list[str]:
    session = config.stash[session_key]
    settings = session.settings
    if not settings.enabled:
        return ["runc: container tests disabled (pass --runc to run them)"]
    runtimes = config.stash[runtimes_key]
    if runtimes.several:
        lines = [
            f"runc: {len(runtimes.sessions)} runtimes, {session.privilege.describe()},"
            f" cgroups {session.cgroup_mode}"
        ]
        for label, each in runtimes.sessions.items():
            lines += [
                f"runc [{label}]: {_describe_runtime(each)}",
                f"runc [{label}] state root: {each.describe_state_root_for_header()}",
            ]
        return [*lines, f"runc rootfs: {session.rootfs_source_description()}"]
    return [
        f"runc: {_describe_runtime(session)}, {session.privilege.describe()},"
        f" cgroups {session.cgroup_mode}",
        f"runc rootfs: {session.rootfs_source_description()}",
        f"runc state root: {session.describe_state_root_for_header()}",
    ]


def _describe_runtime(session: RuncSession) -> str:
    probed = session.probe()
    if probed.binary:
        # --version prints several lines (commit, spec, ...): the header shows the first.
        return f"{probed.binary} ({probed.version.splitlines()[0]})"
    return f"unavailable: {probed.problem}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """With several runtimes, run each container test once per runtime (ids ``[runc-1.1.5]``)."""
    runtimes = metafunc.config.stash.get(runtimes_key, None)
    if runtimes is None or not runtimes.several or not runtimes.sessions:
        return
    names = set(metafunc.fixturenames)
    if PARAM not in names:
        return
    if not names & PER_RUNTIME_FIXTURES and not metafunc.definition.get_closest_marker("runc"):
        return
    labels = list(runtimes.sessions)
    metafunc.parametrize(PARAM, labels, ids=labels, indirect=True)


class RuntimeUnusable(Exception):
    """The runtime under test cannot run a trivial container."""


class RuntimeWorksItem(pytest.Item):
    """``runtime works: <binary>``: the one failing item of a runtime that cannot
    run a trivial container, carrying its words and the command line."""

    def __init__(self, *, failure: RuntimeFailure, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failure = failure
        self.runtime_label: str | None = None  # its runtime's id, with several runtimes
        self.user_properties += [
            ("runtime", failure.binary),
            ("command", failure.command),
            ("outcome", failure.outcome),
            ("message", failure.message),
        ]

    def runtest(self) -> None:
        raise RuntimeUnusable(self.failure.summary())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, RuntimeUnusable):
            return self.failure.render()
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return Path(self.failure.binary), None, self.name


def _gate_name(binary: str) -> str:
    return f"runtime works: {binary}"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Decide once, after -k/-m deselection, what happens to the container tests.

    The environment's lacks skip them (``environment:``, with the fix); a
    runtime that cannot run a trivial container adds one failing item named
    for it and skips the rest with a reason that points at that item.
    """
    state = config.stash[session_key]
    runtimes = config.stash[runtimes_key]
    if state.settings.bundles:
        items.extend(make_items(session, state))
    container_tests = [
        item
        for item in items
        if item.get_closest_marker("runc")
        or set(getattr(item, "fixturenames", ())) & RUNTIME_FIXTURES
    ]
    if not container_tests:
        return
    # Each runtime decides for its own tests: one that cannot run a container
    # fails its own `runtime works` item and skips only its own tests.
    by_label: dict[str | None, list[pytest.Item]] = {}
    for item in container_tests:
        by_label.setdefault(label_of_item(item), []).append(item)
    gates: list[pytest.Item] = []
    usable: list[pytest.Item] = []
    for label, tests in by_label.items():
        each = runtimes.get(label)
        reason = _collection_reason(config, each)
        # --collect-only lists the tests: it runs no container, not even the check.
        if reason is None and not config.getoption("collectonly"):
            failure = each.check_runtime()
            if failure is not None:
                reason = _unusable_reason(each, failure)
                name = _gate_name(failure.binary)
                if not each.settings.allow_unusable and name not in config.stash.get(
                    _gate_key, set()
                ):
                    config.stash.setdefault(_gate_key, set()).add(name)
                    gate = RuntimeWorksItem.from_parent(
                        session, name=name, nodeid=name, failure=failure
                    )
                    gate.runtime_label = label
                    gates.append(gate)
        if reason:
            skip = pytest.mark.skip(reason=reason)
            for item in tests:
                item.add_marker(skip)
        else:
            usable += tests
    items[:0] = gates
    if not usable:
        return
    container_tests = usable
    if state.settings.enabled and state.privilege.rootless:
        rootless_skip = pytest.mark.skip(
            reason=skips.reason(
                skips.ENVIRONMENT, "needs real root (cgroups, other uids); this run is rootless"
            )
        )
        for item in container_tests:
            if item.get_closest_marker("runc_root"):
                item.add_marker(rootless_skip)
    for item in items:
        marker = item.get_closest_marker("runc_cgroup")
        if marker and state.cgroup_mode not in marker.args:
            item.add_marker(
                pytest.mark.skip(
                    reason=skips.reason(
                        skips.HOST,
                        f"needs cgroup {' or '.join(marker.args)}; this host has"
                        f" {state.cgroup_mode}",
                    )
                )
            )


def _collection_reason(config: pytest.Config, state: RuncSession) -> str | None:
    """Why ``state``'s container tests cannot run at all (a skip reason), or None."""
    if not state.settings.enabled:
        return NEEDS_RUNC
    if config.getoption("collectonly"):
        return None
    return state.environment_problem


def _unusable_reason(state: RuncSession, failure: RuntimeFailure) -> str:
    """The skip reason of every container test when the runtime is unusable."""
    if state.settings.allow_unusable:
        return skips.reason(
            skips.RUNTIME, f"{failure.summary()} (allowed here by --runc-allow-unusable)"
        )
    name = _gate_name(failure.binary)
    return skips.reason(
        skips.RUNTIME,
        f"{failure.binary} cannot run a trivial container; see the failed item `{name}`",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    label = label_of_item(item) or getattr(item, "runtime_label", None)
    if label is not None:
        # Travels with the report to the xdist controller (the JSON report reads it).
        report.runc_runtime = label  # type: ignore[attr-defined]
    record = item.stash.get(record_key, None)
    if record is None or not report.failed or not record.used_runtime():
        return
    session = item.config.stash[runtimes_key].of_item(item)
    record.failed = True
    keep = session.settings.keep_failed
    whole = item.config.getoption("verbose") >= 2
    for title, text in failure_sections(record, keep, session.default_config(), whole):
        add_failure_section(report, title, text)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    runtimes = config.stash.get(runtimes_key, None)
    if runtimes is None:
        return
    sessions = runtimes.all()
    sections = (
        ("pytest-runc: swept leftovers of an earlier run", [s.swept.removed for s in sessions]),
        (
            "pytest-runc: leftovers of an earlier run that could not be removed",
            [s.swept.left for s in sessions],
        ),
        ("pytest-runc: kept for failed tests (--runc-keep-failed)", [s.kept for s in sessions]),
        ("pytest-runc: cleanup problems", [s.cleanup_errors for s in sessions]),
        (
            "pytest-runc: --runc-rootfs is copied, not overlaid",
            [[s.rootfs_source.refused] if s.rootfs_source.refused else [] for s in sessions],
        ),
    )
    for title, per_session in sections:
        lines = [line for each in per_session for line in each]
        if lines:
            terminalreporter.section(title)
            for line in lines:
                terminalreporter.line(line)


# -- fixtures ------------------------------------------------------------


def _record(request: pytest.FixtureRequest) -> TestRecord:
    node = request.node
    record: TestRecord | None = node.stash.get(record_key, None)
    if record is None:
        record = TestRecord()
        node.stash[record_key] = record
    return record


@pytest.fixture(scope="session")
def runc_session(request: pytest.FixtureRequest) -> RuncSession:
    """The plugin's per-process state: settings, probes, private directories.

    With several runtimes, a container test gets its runtime's session (its
    parameter); any other test gets the first runtime's.
    """
    return request.config.stash[runtimes_key].get(getattr(request, "param", None))


@pytest.fixture(scope="session")
def runc_cgroup_mode(runc_session: RuncSession) -> str:
    """This host's cgroup setup: ``v1``, ``hybrid`` (v1 plus a v2 mount) or ``v2``."""
    return runc_session.cgroup_mode


@pytest.fixture
def runc_runtime(request: pytest.FixtureRequest, runc_session: RuncSession) -> Runtime:
    """The OCI runtime as typed Python, on this session's private state root.

    Skips (``environment:``, with the fix) without root, without the runtime
    binary or without a rootfs. A runtime that cannot run a trivial container
    is a failure (the ``runtime works`` item), unless --runc-allow-unusable.
    Every command it runs goes into the test's failure report.
    """
    if not runc_session.settings.enabled:
        pytest.skip(NEEDS_RUNC)
    problem = runc_session.environment_problem
    if problem:
        pytest.skip(problem)
    # Decided at collection for container tests; a test that asks for the
    # runtime later (getfixturevalue) gets the same answer here.
    failure = runc_session.check_runtime()
    if failure is not None:
        gates = request.config.stash.get(_gate_key, set())
        if runc_session.settings.allow_unusable or _gate_name(failure.binary) in gates:
            pytest.skip(_unusable_reason(runc_session, failure))
        pytest.fail(failure.render(), pytrace=False)
    return runc_session.runtime(_record(request).transcript)


@pytest.fixture(scope="session")
def runc_runtime_features(runc_session: RuncSession) -> Features:
    """What the runtime under test claims in its ``features`` output, parsed once.

    A runtime without a ``features`` command gives an empty result that claims
    nothing and rules nothing out. Checks call
    ``runc_runtime_features.require("namespaces", "time")`` to skip (class
    ``runtime:``) when the runtime lists its namespaces and ``time`` is not
    among them.
    """
    if not runc_session.settings.enabled:
        pytest.skip(NEEDS_RUNC)
    problem = runc_session.environment_problem
    if problem:
        pytest.skip(problem)
    return runc_session.probe_features()


@pytest.fixture
def _runc_test_dir(request: pytest.FixtureRequest, runc_session: RuncSession) -> Iterator[Path]:
    problem = runc_session.rootfs_problem
    if problem:
        pytest.skip(problem)
    record = _record(request)
    path = runc_session.new_test_dir(request.node.name)
    record.test_dir = path
    yield path
    # A --runc-rootfs overlay goes first, whatever happened: a kept bundle
    # keeps what the test wrote (the upper layer), never a mount.
    runc_session.release_test_dir(path)
    if record.failed and runc_session.settings.keep_failed:
        runc_session.keep_test_dir(request.node.nodeid, path)
    else:
        # Through sudo the rootfs is root's once a container used it.
        remove_tree(path, sudo=runc_session.privilege.sudo)


@pytest.fixture
def runc_bundle_factory(
    request: pytest.FixtureRequest, runc_session: RuncSession, _runc_test_dir: Path
) -> Callable[..., Bundle]:
    """Make more bundles in this test: ``runc_bundle_factory(name=None, rootfs=True, config=None)``.

    Each gets its own rootfs copy (unless ``rootfs=False``) and the ``runc
    spec`` default config (unless ``config`` is given).
    """
    record = _record(request)
    numbers = itertools.count(len(record.bundles) + 1)

    def make(
        name: str | None = None, *, rootfs: bool = True, config: dict[str, Any] | None = None
    ) -> Bundle:
        path = _runc_test_dir / (name or f"bundle-{next(numbers)}")
        made = runc_session.make_bundle(path, config, rootfs=rootfs)
        record.bundles.append(made)
        return made

    return make


@pytest.fixture
def runc_bundle(runc_bundle_factory: Callable[..., Bundle]) -> Bundle:
    """This test's OCI bundle: a private rootfs copy and a ``runc spec`` config.

    Change it with the builder methods (``command``, ``hostname``, ``env``,
    ``user``, ``readonly``, ``mount``, ``namespaces``, ``resources`` ...);
    the container layer writes config.json before create/run.
    """
    return runc_bundle_factory("bundle")


@pytest.fixture
def runc_rootfs(runc_bundle: Bundle) -> Path:
    """This test's own root filesystem (the ``bundle``'s): static busybox,
    relative applet links, /etc/passwd and /etc/group. Writes stay here."""
    return runc_bundle.rootfs


@pytest.fixture
def runc_container(
    request: pytest.FixtureRequest,
    runc_runtime: Runtime,
    runc_bundle: Bundle,
    runc_session: RuncSession,
) -> Iterator[ContainerFactory]:
    """Make containers: ``runc_container(bundle=None, container_id=None)``.

    Each is deleted with ``delete --force`` after the test, whatever
    happened, unless the test failed under --runc-keep-failed.
    """
    record = _record(request)
    factory = ContainerFactory(runc_runtime, runc_bundle, runc_session.id_prefix())
    record.factories.append(factory)
    yield factory
    if record.failed and runc_session.settings.keep_failed:
        for made in factory.containers:
            made.keep = True
            runc_session.keep_container(made.id, runc_runtime)
    runc_session.cleanup_failed(factory.cleanup())


@pytest.fixture
def runc_bundle_check(runc_session: RuncSession) -> Callable[[Path], BundleReport]:
    """Check a bundle the way ``python -m pytest_runc check`` does: ``bundle_check(path)``.

    Static checks always; with --runc (as root) also a trial run of a private
    copy. The bundle is never modified and its hooks never run.
    """

    def check(path: Path) -> BundleReport:
        return run_bundle_check(runc_session, Path(path))

    return check


@pytest.fixture
def runc_interactive(
    request: pytest.FixtureRequest,
    runc_runtime: Runtime,
    runc_bundle: Bundle,
    runc_session: RuncSession,
) -> Iterator[Callable[..., InteractiveSession]]:
    """Start ``runc run`` on a terminal: ``runc_interactive(bundle=None, keep=False)``.

    Returns a session whose ``run(cmd)`` gives the output and exit status,
    and ``exit(n)`` the exit status of ``runc run``. Closed and deleted
    after the test.
    """
    record = _record(request)
    prefix = runc_session.id_prefix()
    numbers = itertools.count(1)

    def start(chosen: Bundle | None = None, *, keep: bool = False) -> InteractiveSession:
        made = InteractiveSession(runc_runtime, chosen or runc_bundle, f"{prefix}-t{next(numbers)}")
        record.sessions.append(made)
        return made.start(keep=keep)

    yield start
    keep = record.failed and runc_session.settings.keep_failed
    for made in record.sessions:
        if keep:
            runc_session.spare_container(made.id)
        else:
            made.close()


# -- short names ---------------------------------------------------------
# Each short name requests its runc_ fixture. Another plugin may define the
# same short name (pytest-container has `container`): pytest then gives its
# fixture to tests that ask for the short name, and runc_container etc.
# still reach ours.


@pytest.fixture
def runtime(runc_runtime: Runtime) -> Runtime:
    """Alias of ``runc_runtime``: the OCI runtime as typed Python."""
    return runc_runtime


@pytest.fixture(scope="session")
def runtime_features(runc_runtime_features: Features) -> Features:
    """Alias of ``runc_runtime_features``: what the runtime claims in ``features``."""
    return runc_runtime_features


@pytest.fixture(scope="session")
def cgroup_mode(runc_cgroup_mode: str) -> str:
    """Alias of ``runc_cgroup_mode``: ``v1``, ``hybrid`` or ``v2``."""
    return runc_cgroup_mode


@pytest.fixture
def bundle_factory(runc_bundle_factory: Callable[..., Bundle]) -> Callable[..., Bundle]:
    """Alias of ``runc_bundle_factory``: make more bundles in this test."""
    return runc_bundle_factory


@pytest.fixture
def bundle(runc_bundle: Bundle) -> Bundle:
    """Alias of ``runc_bundle``: this test's OCI bundle."""
    return runc_bundle


@pytest.fixture
def rootfs(runc_rootfs: Path) -> Path:
    """Alias of ``runc_rootfs``: this test's own root filesystem."""
    return runc_rootfs


@pytest.fixture
def container(runc_container: ContainerFactory) -> ContainerFactory:
    """Alias of ``runc_container``: make containers, deleted after the test."""
    return runc_container


@pytest.fixture
def interactive(
    runc_interactive: Callable[..., InteractiveSession],
) -> Callable[..., InteractiveSession]:
    """Alias of ``runc_interactive``: ``runc run`` on a terminal."""
    return runc_interactive


@pytest.fixture
def bundle_check(
    runc_bundle_check: Callable[[Path], BundleReport],
) -> Callable[[Path], BundleReport]:
    """Alias of ``runc_bundle_check``: check a bundle the way ``check`` does."""
    return runc_bundle_check
