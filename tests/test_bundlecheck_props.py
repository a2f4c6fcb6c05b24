"""No input makes the bundle check crash: properties over config.json shapes and bytes.

Runs with ``-p no:hypothesispytest`` too (only hypothesis' pytest plugin is
off; ``@given`` works). Static checks only: the trial run is covered by the
runc tests, and these inputs number in the hundreds.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_runc.bundlecheck.cli import main as cli_main
from pytest_runc.bundlecheck.spectypes import leaf_fields

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "configs"
BASE = json.loads((FIXTURES / "runc-spec-detached.json").read_text())
PATHS = [p for p, _ in leaf_fields() if "[" not in p]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "path", "uid", "x", "Process"]) | st.text(max_size=8),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def run_check(config_bytes: bytes) -> tuple[int, str]:
    """``check --static-only`` of a bundle holding ``config_bytes``: (status, output)."""
    bundle = Path(tempfile.mkdtemp(prefix="bc-prop-"))
    try:
        (bundle / "config.json").write_bytes(config_bytes)
        (bundle / "rootfs" / "bin").mkdir(parents=True)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli_main(["check", "--static-only", str(bundle)])
        return status, out.getvalue() + err.getvalue()
    finally:
        shutil.rmtree(bundle)


def set_path(config: dict, path: str, value: object) -> dict:
    target = config
    parts = path.split(".")
    for part in parts[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[parts[-1]] = value
    return config


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_give_a_verdict(data):
    status, output = run_check(data)
    assert status in (0, 1, 2)
    assert "Traceback" not in output and "config.json" in output


@SETTINGS
@given(json_values)
def test_any_json_document_gives_a_verdict(value):
    status, output = run_check(json.dumps(value).encode())
    assert status in (0, 1, 2) and "Traceback" not in output


@SETTINGS
@given(st.sampled_from(PATHS), json_values)
def test_any_value_in_any_field_names_the_field(path, value):
    config = set_path(json.loads(json.dumps(BASE)), path, value)
    status, output = run_check(json.dumps(config).encode())
    assert status in (0, 1, 2) and "Traceback" not in output
    if status == 1:
        # every error names where it is: a config.json field or the rootfs
        errors = [line for line in output.splitlines() if line.strip().startswith("error")]
        assert errors, output
        assert all("config.json" in line or "rootfs" in line for line in errors), output
        top = path.split(".")[0]
        assert top in output or "rootfs" in output or "process" in output, output
