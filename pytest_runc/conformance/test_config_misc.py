"""The rest of config.md: unknown properties and annotations, invalid values,
annotations in ``state``, hostname and domainname.

Rules: runtime spec config.md "Extensibility", "Valid values", "Annotations"
(unknown keys; org.opencontainers.image.stopSignal), and runc's handling of
hostname/domainname and of annotations in ``state`` (runc-cli entries: the
spec has no MUST for those).
"""

from __future__ import annotations

import socket

import pytest

from pytest_runc.oci import skips

pytestmark = pytest.mark.runc


@pytest.mark.oci_rule("config.extensibility.ignore-unknown-properties")
def test_unknown_properties_are_ignored(bundle, container):
    """config.md "Extensibility": properties the runtime does not know, at the top
    level and inside known objects, do not stop the container."""
    bundle.config["prtUnknownProperty"] = {"nested": [1, "two"]}
    bundle.process["prtUnknownProperty"] = True
    bundle.linux["prtUnknownProperty"] = "value"
    bundle.shell("echo started")
    done = container().run()
    assert done.returncode == 0 and done.stdout == "started\n", (
        f"the runtime refused a config with unknown properties: {done.stderr.strip()}"
    )


@pytest.mark.oci_rule("config.annotations.unknown-keys-ignored")
def test_unknown_annotation_keys_are_ignored(bundle, container):
    """config.md "Annotations": a key the runtime does not know is no error."""
    bundle.config["annotations"] = {
        "com.example.prt.unknown": "value",
        "org.opencontainers.prt.unknown": "",
    }
    bundle.shell("echo started")
    done = container().run()
    assert done.returncode == 0 and done.stdout == "started\n", (
        f"the runtime refused unknown annotation keys: {done.stderr.strip()}"
    )


@pytest.mark.oci_rule("config.valid-values.error-on-invalid")
def test_invalid_value_is_an_error(bundle, container):
    """config.md "Valid values": a value of the wrong kind (root.readonly as a
    string) is an error, not a guess."""
    bundle.config["root"]["readonly"] = "yes"
    bundle.shell("echo started")
    done = container().run()
    assert done.returncode != 0, (
        f'the runtime accepted root.readonly "yes" and ran: {done.stdout!r}'
    )


@pytest.mark.runc_cli("runc-cli.config.annotations-in-state")
def test_annotations_appear_in_state(bundle, container):
    """runtime.md "State" annotations (runc): ``state`` shows the config's annotations."""
    annotations = {"com.example.prt.owner": "conformance", "com.example.prt.empty": ""}
    bundle.config["annotations"] = dict(annotations)
    bundle.command("sleep", "60")
    made = container()
    made.create()
    seen = made.state_json().get("annotations")
    assert seen == annotations, f"state shows annotations {seen}, configured {annotations}"


@pytest.mark.oci_rule("config.annotations.image-stop-signal-sent-on-kill")
def test_image_stop_signal_stops_the_container(bundle, container):
    """config.md "Annotations" org.opencontainers.image.stopSignal: when the
    runtime picks the signal that kills the container, it picks the named one.

    The spec's ``kill <id> <signal>`` always names the signal, so the runtime
    picks one only where its CLI lets the caller leave it out (``kill <id>``,
    runc's convention). That call is the stimulus here, not an oracle: the
    container's own trap tells which signal came. A runtime whose ``kill``
    refuses to go without a signal never picks one, and skips."""
    bundle.config["annotations"] = {"org.opencontainers.image.stopSignal": "SIGUSR1"}
    bundle.shell(
        "trap 'echo got-USR1; exit 0' USR1; trap 'echo got-TERM; exit 0' TERM;"
        " echo ready; while true; do sleep 0.05; done"
    )
    made = container()
    made.run(detach=True)
    made.wait_for_output("ready")
    done = made.runtime.invoke("kill", made.id, check=False)
    if done.returncode != 0:
        skips.skip_runtime(
            f"`kill` without a signal failed (exit {done.returncode}:"
            f" {done.stderr.strip()[-200:]}): this runtime never picks the signal itself"
        )
    out = made.wait_for_output("got-")
    assert "got-USR1" in out, f"stopping the container did not send SIGUSR1: {out.split()[-1]}"


@pytest.mark.runc_cli("runc-cli.config.domainname-set")
def test_domainname_is_set(bundle, container, runtime_features):
    """config.md "Domainname" (spec 1.1, runc): the container's NIS domain name is
    the configured one."""
    claimed = runtime_features.oci_version_max
    if claimed and tuple(int(p) for p in claimed.split("-")[0].split(".")[:2]) < (1, 1):
        skips.skip_runtime(f"ociVersionMax {claimed} predates domainname (spec 1.1.0)")
    bundle.config["domainname"] = "prt.example"
    bundle.shell("cat /proc/sys/kernel/domainname")
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    assert done.stdout.strip() == "prt.example", (
        f"the domain name inside is {done.stdout.strip()!r}, configured 'prt.example'"
    )


@pytest.mark.runc_cli("runc-cli.config.hostname-absent-keeps-inherited")
def test_no_hostname_keeps_the_inherited_one(bundle, container):
    """config.md "Hostname" (runc): without a hostname, the new UTS namespace keeps
    the name it was copied with (the host's)."""
    bundle.hostname(None)
    bundle.shell("cat /proc/sys/kernel/hostname")
    done = container().run()
    assert done.returncode == 0, f"container exited {done.returncode}: {done.stderr}"
    host = socket.gethostname()
    assert done.stdout.strip() == host, (
        f"the hostname inside is {done.stdout.strip()!r} without a hostname field; the host's is"
        f" {host!r}"
    )
