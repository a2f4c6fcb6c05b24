"""Logical node ids of the suite, and the `run` command's argument handling (no root)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_runc import runsuite
from pytest_runc.suite import SUITE_DIR, logical_nodeid, real_nodeid


def test_logical_ids_do_not_depend_on_the_rootdir():
    inside = "test_state.py::test_state_after_create[x]"
    assert logical_nodeid(f"pytest_runc/conformance/{inside}", SUITE_DIR.parent.parent) == (
        f"conformance/{inside}"
    )
    assert logical_nodeid(inside, SUITE_DIR) == f"conformance/{inside}"
    assert logical_nodeid("tests/test_x.py::test_y", SUITE_DIR.parent.parent) == (
        "tests/test_x.py::test_y"
    )


def test_real_ids_point_into_the_installed_suite():
    real = real_nodeid("conformance/test_state.py::test_y[a/b]")
    assert real == f"{SUITE_DIR}/test_state.py::test_y[a/b]"
    assert logical_nodeid(real, Path("/")) == "conformance/test_state.py::test_y[a/b]"
    assert real_nodeid("tests/test_x.py::t") == "tests/test_x.py::t"


def test_runtime_paths_are_made_absolute_before_pytest_starts(tmp_path, monkeypatch):
    binary = tmp_path / "target" / "myrt"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    runtimes, rest = runsuite.split_arguments(["--runtime", "target/myrt", "-k", "x", "-n", "2"])
    assert runtimes == [str(binary)]
    assert rest == ["-k", "x", "-n", "2"]
    argv = runsuite.pytest_argv(runtimes, rest)
    assert argv[:4] == [sys.executable, "-m", "pytest", str(SUITE_DIR)]
    assert f"--runc-binary={binary}" in argv and "no:cacheprovider" in argv


def test_arguments_after_a_double_dash_go_to_pytest_unread():
    runtimes, rest = runsuite.split_arguments(["--", "--runtime", "x"])
    assert runtimes == [] and rest == ["--runtime", "x"]


@pytest.mark.parametrize(
    ("value", "words"),
    [("./nope", "no such file"), ("no-such-command-xyz", "no such command on PATH"), ("", "needs")],
)
def test_bad_runtimes_are_usage_errors(value, words, capsys):
    assert runsuite.main(["--runtime", value]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_directory_is_not_a_runtime(tmp_path, capsys):
    assert runsuite.main([f"--runtime={tmp_path}"]) == 2
    assert "not an executable file" in capsys.readouterr().err


def test_help_lists_the_command(capsys):
    from pytest_runc.__main__ import main

    assert main(["--help"]) == 0
    assert "run [--runtime BIN]" in capsys.readouterr().out
    assert main(["run", "--help"]) == 0
