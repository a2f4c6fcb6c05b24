"""Hooks, kind by kind: when each runs, where its path is looked up, which
namespace it runs in, in what order, with what argv and environment, within
its timeout, and what a failing one does.

Rules: runtime spec config.md "POSIX-platform Hooks" (and each hook's own
section), runtime.md "Lifecycle" (a failing hook). The hooks are our own
shell scripts: they only append a line to a log in the test's directory (or,
for startContainer, which runs inside the container, to a file in the rootfs).
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.oci.host import readlink as host_readlink
from pytest_runc.oci.polling import poll, settle_time
from pytest_runc.testing.kit import assert_refused, assert_runs, gone

pytestmark = pytest.mark.runc

KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
#: Hooks the runtime runs in its own namespaces; the others run in the container's.
RUNTIME_NS = ("prestart", "createRuntime", "poststart", "poststop")
#: The kinds run during create (before pivot_root).
AT_CREATE = ("prestart", "createRuntime", "createContainer")
#: A file only the container's rootfs has: seen at "/" once pivot_root is done.
MARKER = "prt-rootfs-marker"
#: The log of a startContainer hook, inside the container (the rootfs is made writable).
START_LOG = "/prt-start-hook.log"

RULE_SLUG = {
    "prestart": "prestart",
    "createRuntime": "create-runtime",
    "createContainer": "create-container",
    "startContainer": "start-container",
    "poststart": "poststart",
    "poststop": "poststop",
}


def hook_script(log: str) -> str:
    """A hook body: one line ``LABEL mnt=<ns> pivoted=<yes|no> state=<stdin>`` into
    ``log``; LABEL is the hook's first argument.

    ``pivoted`` tells whether the container's process already has its rootfs
    as "/": from the runtime's namespace through /proc/PID/root, from inside
    the container through "/".
    """
    return (
        'state=$(cat); pid=$(echo "$state" | sed -n \'s/.*"pid": *\\([0-9]*\\).*/\\1/p\');'
        f' if [ -e "/proc/$pid/root/{MARKER}" ] || [ -e "/{MARKER}" ]; then p=yes; else p=no; fi;'
        f' echo "$1 mnt=$(readlink /proc/self/ns/mnt) pivoted=$p state=$state" >> {log}'
    )


def add_hook(bundle: Any, kind: str, log: Path, label: str | None = None, **extra: Any) -> None:
    """A logging hook of ``kind``. startContainer's is a script in the rootfs only
    (its path is looked up in the container); the others a script on the host only."""
    label = label or kind
    if kind == "startContainer":
        script = bundle.rootfs / "prt-hook.sh"
        script.write_text("#!/bin/sh\n" + hook_script(START_LOG) + "\n")
        path = "/prt-hook.sh"
    else:
        script = log.parent / "prt-hook.sh"
        script.write_text("#!/bin/sh\n" + hook_script(shlex.quote(str(log))) + "\n")
        path = str(script)
    script.chmod(0o755)
    entry = {"path": path, "args": [label, label], **extra}
    bundle.config.setdefault("hooks", {}).setdefault(kind, []).append(entry)


def log_lines(bundle: Any, log: Path) -> list[str]:
    lines = []
    for where in (log, bundle.rootfs / START_LOG.lstrip("/")):
        if where.exists():
            lines += where.read_text().splitlines()
    return lines


def entries(bundle: Any, log: Path) -> dict[str, dict[str, str]]:
    """label -> {"mnt": ..., "pivoted": ..., "state": ...} of each hook that ran."""
    found = {}
    for line in log_lines(bundle, log):
        label, _, rest = line.partition(" mnt=")
        mnt, _, rest = rest.partition(" pivoted=")
        pivoted, _, state = rest.partition(" state=")
        found[label] = {"mnt": mnt, "pivoted": pivoted, "state": state}
    return found


def prepared(bundle: Any) -> None:
    """A long-running program that says "ready" once started (so after the
    startContainer hooks), a writable rootfs with the marker file."""
    bundle.shell("echo ready; exec sleep 60").readonly(False)
    (bundle.rootfs / MARKER).write_text("")


def through(made: Any, last: str) -> None:
    """Take the container through its life up to the stage where ``last`` runs."""
    made.create()
    if last in AT_CREATE:
        return
    made.start()
    made.wait_for_output("ready")  # `start` may return before startContainer hooks ran
    if last in ("startContainer", "poststart"):
        return
    made.kill("KILL")
    made.wait_for_status("stopped")
    made.delete()


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(
            kind,
            marks=pytest.mark.oci_rule(
                f"config.hooks.{RULE_SLUG[kind]}-path-resolves-in-"
                + ("container-ns" if kind == "startContainer" else "runtime-ns"),
                f"config.hooks-{RULE_SLUG[kind]}.path-resolves-in-"
                + ("container-ns" if kind == "startContainer" else "runtime-ns"),
            ),
        )
        for kind in KINDS
    ],
)
def test_hook_path_is_looked_up_where_the_spec_says(bundle, container, tmp_path, kind):
    """config.md "POSIX-platform Hooks": a hook's path is looked up in the runtime
    namespace (startContainer: in the container), so a path that exists only there runs."""
    prepared(bundle)
    log = tmp_path / "hooks.log"
    add_hook(bundle, kind, log)
    made = container()
    try:
        through(made, kind)
    except Exception as exc:
        where = "the container" if kind == "startContainer" else "the host"
        raise AssertionError(
            f"the {kind} hook at {bundle.config['hooks'][kind][0]['path']} (only in {where})"
            f" did not run: {exc}"
        ) from None
    assert kind in entries(bundle, log), f"the {kind} hook did not run (no log line)"


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(
            kind,
            marks=pytest.mark.oci_rule(
                f"config.hooks.{RULE_SLUG[kind]}-runs-in-"
                + ("runtime-ns" if kind in RUNTIME_NS else "container-ns"),
                f"config.hooks-{RULE_SLUG[kind]}.runs-in-"
                + ("runtime-ns" if kind in RUNTIME_NS else "container-ns"),
            ),
        )
        for kind in KINDS
    ],
)
def test_hook_runs_in_the_namespace_the_spec_says(bundle, container, tmp_path, kind):
    """config.md "POSIX-platform Hooks": prestart, createRuntime, poststart and
    poststop run in the runtime's mount namespace; createContainer and
    startContainer in the container's."""
    prepared(bundle)
    log = tmp_path / "hooks.log"
    add_hook(bundle, kind, log)
    made = container()
    made.create()
    container_ns = host_readlink(f"/proc/{made.state().pid}/ns/mnt", sudo=made.runtime.sudo)
    if kind not in AT_CREATE:
        made.start()
        made.wait_for_output("ready")
        if kind == "poststop":
            made.kill("KILL")
            made.wait_for_status("stopped")
            made.delete()
    seen = entries(bundle, log)
    assert kind in seen, f"the {kind} hook did not run (no log line)"
    if kind in RUNTIME_NS:
        wanted, where = os.readlink("/proc/self/ns/mnt"), "the runtime's"
    else:
        wanted, where = container_ns, "the container's"
    assert seen[kind]["mnt"] == wanted, (
        f"the {kind} hook ran in mount namespace {seen[kind]['mnt']}, not in {where} {wanted}"
    )


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(
            kind,
            marks=pytest.mark.oci_rule(
                f"config.hooks-{RULE_SLUG[kind]}.called-in-create-before-pivot-root",
                # runtime.md's lifecycle names the createContainer step of its own.
                *(
                    ["runtime.lifecycle.create-container-hooks-run"]
                    if kind == "createContainer"
                    else []
                ),
            ),
        )
        for kind in AT_CREATE
    ],
)
def test_create_hook_runs_during_create_before_pivot_root(bundle, container, tmp_path, kind):
    """config.md: prestart, createRuntime and createContainer hooks run during
    ``create``, before the container's process has its rootfs as "/"."""
    prepared(bundle)
    log = tmp_path / "hooks.log"
    add_hook(bundle, kind, log)
    container().create()
    seen = entries(bundle, log)
    assert kind in seen, f"the {kind} hook had not run when create returned"
    assert seen[kind]["pivoted"] == "no", f"the {kind} hook ran after pivot_root"


@pytest.mark.oci_rule(
    "config.hooks-start-container.called-in-start-before-user-process",
    "runtime.lifecycle.start-container-hooks-run",
)
def test_start_container_hook_runs_before_the_program(bundle, container, tmp_path):
    """config.md "startContainer": the hook runs during ``start``, before the
    user's program: the program already sees what the hook wrote."""
    prepared(bundle)
    add_hook(bundle, "startContainer", tmp_path / "hooks.log")
    bundle.shell(
        f"if [ -e {START_LOG} ]; then echo hook-first; else echo program-first; fi; sleep 60"
    )
    made = container()
    made.create()
    assert not (bundle.rootfs / START_LOG.lstrip("/")).exists(), (
        "the startContainer hook ran during create"
    )
    made.start()
    out = made.wait_for_output("-first")
    assert "hook-first" in out, "the program started before the startContainer hook ran"


@pytest.mark.oci_rule("config.hooks-poststart.called-after-process-before-start-returns")
def test_poststart_hook_runs_before_start_returns(bundle, container, tmp_path):
    """config.md "poststart": the hook runs once the program is started, and
    ``start`` returns only after it."""
    prepared(bundle)
    log = tmp_path / "hooks.log"
    add_hook(bundle, "poststart", log)
    made = container()
    made.create()
    assert "poststart" not in entries(bundle, log), "the poststart hook ran during create"
    made.start()
    assert "poststart" in entries(bundle, log), "the poststart hook had not run when start returned"


@pytest.mark.oci_rule("config.hooks-poststop.called-after-delete-before-return")
def test_poststop_hook_runs_after_delete_before_it_returns(bundle, container, tmp_path):
    """config.md "poststop": the hook runs once the container is deleted, and
    ``delete`` returns only after it."""
    prepared(bundle)
    log = tmp_path / "hooks.log"
    add_hook(bundle, "poststop", log)
    made = container()
    made.create()
    made.start()
    made.kill("KILL")
    made.wait_for_status("stopped")
    assert "poststop" not in entries(bundle, log), "the poststop hook ran before delete"
    made.delete()
    assert "poststop" in entries(bundle, log), "the poststop hook had not run when delete returned"


@pytest.mark.oci_rule("config.hooks.listed-order")
@pytest.mark.runc_slow
def test_hooks_of_a_kind_run_in_array_order(bundle, container, tmp_path):
    """config.md "POSIX-platform Hooks": the hooks of one kind run one after the
    other, in the order of their array."""
    prepared(bundle)
    log = tmp_path / "hooks.log"
    kinds = [k for k in KINDS if k != "startContainer"]
    for kind in kinds:
        for n in (1, 2, 3):
            add_hook(bundle, kind, log, f"{kind}-{n}")
    through(container(), "poststop")
    labels = [line.split(" ", 1)[0] for line in log_lines(bundle, log)]
    wrong = {
        kind: order
        for kind in kinds
        if (order := [label for label in labels if label.startswith(kind + "-")])
        != [f"{kind}-{n}" for n in (1, 2, 3)]
    }
    assert not wrong, f"hooks ran in the order {wrong}, not in the order of their arrays"


@pytest.mark.oci_rule("config.hooks-create-container.after-create-runtime")
def test_create_container_hooks_run_after_create_runtime_hooks(bundle, container, tmp_path):
    """config.md "createContainer": these hooks run only after the createRuntime hooks."""
    prepared(bundle)
    log = tmp_path / "hooks.log"
    add_hook(bundle, "createContainer", log)
    add_hook(bundle, "createRuntime", log)
    container().create()
    labels = [line.split(" ", 1)[0] for line in log_lines(bundle, log)]
    assert labels == ["createRuntime", "createContainer"], f"hooks ran in the order {labels}"


@pytest.mark.runc_cli("runc-cli.hooks.args-are-argv")
def test_hook_argv_is_its_args(bundle, container, tmp_path):
    """config.md "POSIX-platform Hooks" args: the hook's argv is exactly ``args``
    (argv[0] included, spaces and empty strings kept)."""
    prepared(bundle)
    log = tmp_path / "argv.log"
    args = ["prt-hook-name", "-c", f"cat /proc/$$/cmdline > {log}", "one two", ""]
    bundle.hook("prestart", "/bin/sh", *args)
    container().create()
    argv = log.read_text().split("\0")[:-1] if log.exists() else None
    assert argv == args, f"the hook's argv is {argv}, configured {args}"


@pytest.mark.runc_cli("runc-cli.hooks.env-is-exact")
def test_hook_environment_is_exactly_its_env(bundle, container, tmp_path):
    """config.md "POSIX-platform Hooks" env: the hook gets exactly its ``env``."""
    prepared(bundle)
    log = tmp_path / "env.log"
    env = ["PRT_HOOK=one two", "PRT_EMPTY=", "PATH=/usr/bin:/bin"]
    bundle.hook("prestart", "/bin/sh", "sh", "-c", f"env > {log}")
    bundle.config["hooks"]["prestart"][0]["env"] = env
    container().create()
    seen = set(log.read_text().splitlines()) - {"PWD=" + os.getcwd()} if log.exists() else set()
    seen = {line for line in seen if not line.startswith(("PWD=", "SHLVL=", "_="))}
    assert seen == set(env), (
        f"hook environment: added {sorted(seen - set(env))}, missing {sorted(set(env) - seen)}"
    )


@pytest.mark.runc_cli("runc-cli.hooks.timeout-enforced")
@pytest.mark.runc_slow
def test_hook_timeout_stops_the_wait(bundle, container):
    """config.md "POSIX-platform Hooks" timeout: a hook still running after its
    timeout fails the operation, which does not wait for the hook to end."""
    prepared(bundle)
    # What a create costs on this host without the hook: the bound below is
    # relative to it, so a slow host (an emulated VM) does not fail the check.
    started = time.monotonic()
    container().create()
    plain = time.monotonic() - started
    bundle.hook("prestart", "/bin/sleep", "sleep", "4", timeout=1)
    started = time.monotonic()
    done = container().create(check=False)
    took = time.monotonic() - started
    # Honoured: about plain + 1 s; ignored: plain + 4 s.
    assert took < plain + 2.5, (
        f"create waited {took:.1f}s for a hook with a 1 s timeout"
        f" (a create without the hook took {plain:.1f}s)"
    )
    assert_refused(done, "create with a hook that outlived its timeout")


FAILING_CREATE = {
    "prestart": "runtime.lifecycle.prestart-failure-error",
    "createRuntime": "runtime.lifecycle.create-runtime-failure-error",
    "createContainer": "runtime.lifecycle.create-container-failure-error",
}


@pytest.mark.parametrize(
    "kind", [pytest.param(k, marks=pytest.mark.oci_rule(r)) for k, r in FAILING_CREATE.items()]
)
def test_failing_create_hook_fails_create_and_destroys(bundle, container, kind):
    """runtime.md "Lifecycle": a failing prestart, createRuntime or createContainer
    hook makes ``create`` fail, and the container is gone."""
    prepared(bundle)
    bundle.hook(kind, "/bin/sh", "sh", "-c", "exit 3")
    made = container()
    done = made.create(check=False)
    assert_refused(done, f"create with a failing {kind} hook")
    assert gone(made), f"the container is left ({made.status()}) after its {kind} hook failed"


@pytest.mark.oci_rule("runtime.lifecycle.start-container-failure-error")
def test_failing_start_container_hook_fails_start_and_stops(bundle, container):
    """runtime.md "Lifecycle": a failing startContainer hook makes ``start`` fail,
    and the program never runs."""
    prepared(bundle)
    bundle.shell("echo program-ran; exec sleep 60")
    bundle.hook("startContainer", "/bin/sh", "sh", "-c", "exit 3")
    made = container()
    made.create()
    done = made.start(check=False)
    assert_refused(done, "start with a failing startContainer hook")
    assert "program-ran" not in made.output(), "the program ran although startContainer failed"
    # init may still be exiting when the refused start returns
    status = poll(made.status, lambda s: s in (None, "stopped"), timeout=settle_time(made.runtime))
    assert status in (None, "stopped"), f"the container is {status}"


@pytest.mark.oci_rule("runtime.lifecycle.poststart-failure-error")
def test_failing_poststart_hook_fails_start_and_stops(bundle, container):
    """runtime.md "Lifecycle": a failing poststart hook makes ``start`` fail and
    the container is stopped."""
    prepared(bundle)
    bundle.hook("poststart", "/bin/sh", "sh", "-c", "exit 3")
    made = container()
    assert_runs(
        made.create(check=False), "create with a failing poststart hook (which belongs after start)"
    )
    assert_refused(made.start(check=False), "start with a failing poststart hook")
    status = made.status()
    if status not in (None, "stopped"):
        status = made.wait_for_status("stopped").status
    assert status in (None, "stopped"), f"the container is {status} after poststart failed"


@pytest.mark.oci_rule("runtime.lifecycle.poststop-failure-warning")
def test_failing_poststop_hook_is_only_a_warning(bundle, container, tmp_path):
    """runtime.md "Lifecycle": a failing poststop hook does not stop the later
    poststop hooks nor the delete."""
    prepared(bundle)
    log = tmp_path / "hooks.log"
    bundle.hook("poststop", "/bin/sh", "sh", "-c", "exit 3")
    add_hook(bundle, "poststop", log, "poststop-after")
    made = container()
    made.create()
    made.kill("KILL")
    made.wait_for_status("stopped")
    made.delete(check=False)
    assert "poststop-after" in entries(bundle, log), (
        "the poststop hook after the failing one did not run"
    )
    assert gone(made), "the container is left after delete"
