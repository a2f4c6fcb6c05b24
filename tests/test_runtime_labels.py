"""``--runc-binary LABEL=PATH``: a runtime whose tests are named by the label given.

The fault proofs run many wrappers of one runc in one run: their ``--version``
is runc's, so without labels their ids would be ``runc-1.1.5``, ``-2``, ``-3``.
"""

from __future__ import annotations

import pytest

from tests.test_several_runtimes import WHO, as_root, fake, private_tmpdir, who  # noqa: F401


def test_labels_name_the_tests_and_paths_stay_paths(pytester, tmp_path, as_root):  # noqa: F811
    a = fake(tmp_path / "bin", "alpha", "1.0")
    b = fake(tmp_path / "bin", "beta", "2.3")
    pytester.makepyfile(WHO)
    result = pytester.runpytest_inprocess("--runc", "-v", f"--runc-binary=first={a},{b}")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines_random(
        ["*::test_container[[]first[]] PASSED*", "*::test_container[[]beta-2.3[]] PASSED*"]
    )
    assert sorted(s["binary"] for s in who(tmp_path)) == [str(a), str(b)]


def test_the_same_label_twice_gets_numbered(pytester, tmp_path, as_root):  # noqa: F811
    a = fake(tmp_path / "bin", "alpha", "1.0")
    pytester.makepyfile(WHO)
    result = pytester.runpytest_inprocess(
        "--runc", "-v", f"--runc-binary=x={a}", f"--runc-binary=x={a}"
    )
    result.stdout.fnmatch_lines_random(
        ["*::test_container[[]x[]] PASSED*", "*::test_container[[]x-2[]] PASSED*"]
    )


def test_a_path_with_an_equals_sign_and_a_directory_is_a_path(pytester, tmp_path, as_root):  # noqa: F811
    odd = fake(tmp_path / "a=b", "alpha", "1.0")
    pytester.makepyfile(WHO)
    result = pytester.runpytest_inprocess("--runc", "-v", f"--runc-binary={odd},{odd}")
    result.stdout.fnmatch_lines_random(["*::test_container[[]alpha-1.0[]] PASSED*"])
    assert {s["binary"] for s in who(tmp_path)} == {str(odd)}


@pytest.mark.parametrize("given", ["bad label=/bin/true", "=/bin/true", "x="])
def test_a_bad_label_is_a_usage_error(pytester, given):
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_inprocess("--runc", f"--runc-binary={given}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*is not LABEL=PATH; a label is letters, digits*"])
    assert "Traceback" not in result.stderr.str()
