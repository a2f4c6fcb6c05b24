"""config.json read as Go's encoding/json reads it: each rule, statically and against runc."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from pytest_runc.bundlecheck import check_bundle
from pytest_runc.bundlecheck.gojson import decode_config, parse_first_value
from pytest_runc.bundlecheck.spectypes import Map, Ptr, String, Struct, leaf_fields

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "configs"
BASE = (FIXTURES / "runc-spec-detached.json").read_text()


def base() -> dict:
    return json.loads(BASE)


def text(config: dict) -> str:
    return json.dumps(config, indent=2)


def without_uts(config: dict) -> dict:
    config["linux"]["namespaces"] = [
        ns for ns in config["linux"]["namespaces"] if ns["type"] != "uts"
    ]
    return config


def _replace(old: str, new: str) -> bytes:
    assert old in BASE
    return BASE.replace(old, new, 1).encode()


#: name -> (config.json bytes, runc runs it, the finding code that says why / warns)
CASES: dict[str, tuple[bytes, bool, str | None]] = {
    "key-case-insensitive": (_replace('"process"', '"Process"'), True, "key-case"),
    "kelvin-and-long-s-fold": (
        text({**without_uts(base()), "ho\u017ftname": "box"}).encode(),
        False,
        "hostname-without-uts",
    ),
    "trailing-garbage-ignored": (
        BASE.encode() + b"\n}}} not json \0\0",
        True,
        "trailing-data-ignored",
    ),
    "second-object-ignored": (BASE.encode() + b'{"process": null}', True, "trailing-data-ignored"),
    "bom-refused": (b"\xef\xbb\xbf" + BASE.encode(), False, "config-bom"),
    "empty-file": (b"  \n", False, "config-invalid-json"),
    "top-level-array": (b"[" + BASE.encode() + b"]", False, "config-not-object"),
    "uid-fraction": (_replace('"uid": 0', '"uid": 0.5'), False, "json-type"),
    "uid-negative": (_replace('"uid": 0', '"uid": -1'), False, "json-type"),
    "uid-2-to-the-32": (_replace('"uid": 0', '"uid": 4294967296'), False, "json-type"),
    "uid-minus-zero": (_replace('"uid": 0', '"uid": -0'), False, "json-type"),
    "uid-exponent": (_replace('"uid": 0', '"uid": 0e0'), False, "json-type"),
    "uid-as-string": (_replace('"uid": 0', '"uid": "0"'), False, "json-type"),
    "rlimit-float": (_replace('"hard": 1024', '"hard": 1024.0'), False, "json-type"),
    "oom-score-adj-exponent": (
        _replace('"cwd": "/"', '"cwd": "/", "oomScoreAdj": 1e2'),
        False,
        "json-type",
    ),
    "oom-score-adj-int": (
        _replace('"cwd": "/"', '"cwd": "/", "oomScoreAdj": 100'),
        True,
        None,
    ),
    "process-null": (_replace('"process": {', '"process": null, "x": {'), False, "process-missing"),
    "hostname-null-has-no-effect": (_replace('"hostname": "runc"', '"hostname": null'), True, None),
    "mounts-null-is-nil": (
        text({**base(), "mounts": None}).encode(),
        False,
        "no-proc-mount",
    ),
    "namespaces-as-strings": (
        text({**base(), "linux": {"namespaces": ["pid"]}}).encode(),
        False,
        "json-type",
    ),
    "repeated-object-merges": (
        BASE.rstrip().rstrip("}").encode() + b', "process": {"terminal": false}}',
        True,
        "key-repeated",
    ),
    "unknown-key-ignored": (_replace('"cwd": "/"', '"cwd": "/", "cwdd": 5'), True, "key-unknown"),
}


def write(bundle_factory, name: str, data: bytes) -> Path:
    made = bundle_factory(name)
    made.config_path.write_bytes(data)
    return made.path


def codes(report, severity=None):
    return {f.code for f in report.findings if severity is None or f.severity == severity}


@pytest.mark.parametrize("name", sorted(CASES))
def test_static_verdict_follows_go(bundle_factory, name):
    data, runs, code = CASES[name]
    report = check_bundle(write(bundle_factory, name, data))
    assert report.compatible is runs, report.render()
    if code:
        assert code in codes(report, "warning" if runs else "error"), report.render()
    assert "None" not in report.render() and "True" not in report.render()


@pytest.mark.runc
@pytest.mark.parametrize("name", sorted(CASES))
def test_runc_agrees(bundle_factory, runtime, name):
    data, runs, _ = CASES[name]
    path = write(bundle_factory, name, data)
    report = check_bundle(path, runtime_binary=runtime.binary)
    assert report.compatible is runs, report.render()
    if "trial-skipped-undecodable" in codes(report):
        # runc only gets configs the check decoded and wrote: no trial for one it
        # cannot decode. runc itself refuses these bytes (a trusted test bundle).
        assert not runs and report.runc_ran_it is None
        done = runtime.run(f"prt-gojson-{name}"[:60], path, detach=True, check=False)
        runtime.delete(f"prt-gojson-{name}"[:60], force=True, check=False)
        assert done.returncode != 0, done.stderr
        return
    assert report.runc_ran_it is runs, report.render()


def test_repeated_keys_merge_as_in_go():
    raw, _ = parse_first_value(
        b'{"process": {"cwd": "/", "args": ["a"]}, "Process": {"cwd": "/x"}}'
    )
    decoded = decode_config(raw)
    assert decoded.config == {"process": {"cwd": "/x", "args": ["a"]}}
    assert decoded.repeated == ["process"]


def test_null_sets_pointers_nil_and_leaves_values_alone():
    raw, _ = parse_first_value(b'{"hostname": "a", "hostname": null, "root": {}, "root": null}')
    assert decode_config(raw).config == {"hostname": "a"}


def test_type_errors_use_runcs_words():
    raw, _ = parse_first_value(b'{"process": {"user": {"uid": 0.5}}}')
    (error,) = decode_config(raw).errors
    assert error.runc_words == (
        "json: cannot unmarshal number 0.5 into Go struct field User.process.user.uid"
        " of type uint32"
    )
    assert error.path == "process.user.uid" and error.written == "0.5"


def test_messages_print_json_as_written(bundle_factory):
    data = text({**base(), "linux": {"namespaces": ["pid"]}}).encode()
    rendered = check_bundle(write(bundle_factory, "ns", data)).render()
    assert 'linux.namespaces[0] is "pid"' in rendered
    assert "None" not in rendered


def _wrong_value(go) -> object:
    target = go.elem if isinstance(go, Ptr) else go
    if isinstance(target, String):
        return True
    return 5 if isinstance(target, (Struct, Map)) else {"a": 1}


def _nested(path: str, value: object) -> dict:
    steps = re.findall(r'[A-Za-z]+|\[0\]|\["k"\]', path)
    for step in reversed(steps):
        if step == "[0]":
            value = [value]
        elif step == '["k"]':
            value = {"k": value}
        else:
            value = {step: value}
    return {"ociVersion": "1.0.2", "root": {"path": "no-such-rootfs"}, **value}


FIELDS = [(p, t) for p, t in leaf_fields() if not p.endswith("credentialSpec")]


def test_every_field_has_a_go_type_error_statically():
    for path, go in FIELDS:
        raw, _ = parse_first_value(json.dumps(_nested(path, _wrong_value(go))).encode())
        errors = decode_config(raw).errors
        assert errors and errors[0].path.replace("[0]", "").replace('["k"]', "") == re.sub(
            r'\[0\]|\["k"\]', "", path
        ), path


@pytest.mark.runc
def test_every_field_type_matches_runc(runtime, tmp_path):
    """A wrong-typed value in each of runc's ~260 fields: runc's error, word for word."""
    bundle = tmp_path / "b"
    bundle.mkdir()
    differ = []
    for index, (path, go) in enumerate(FIELDS):
        data = json.dumps(_nested(path, _wrong_value(go))).encode()
        (bundle / "config.json").write_bytes(data)
        done = runtime.create(f"prt-gojson-{index}", bundle, check=False)
        runtime.delete(f"prt-gojson-{index}", force=True, check=False)
        raw, _ = parse_first_value(data)
        mine = decode_config(raw).errors[0].runc_words
        if mine not in done.stderr:
            differ.append(f"{path}: ours {mine!r}, runc {done.stderr.strip()[-200:]!r}")
    shutil.rmtree(bundle)
    assert not differ, "\n".join(differ)
