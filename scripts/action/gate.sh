#!/usr/bin/env bash
# Step "gate" of the action, the last one: fail the job or not.
#
# It fails when pytest did not finish its run (exit status 2 and above:
# interrupted, internal error, usage error, nothing collected), when there is
# no report, when every check was skipped (nothing was checked: a gate must
# not be green by mistake), and when the report has an outcome that FAIL_ON names:
# `python -m pytest_runc report merge --fail-on FAIL_ON` decides that
# (e.g. "failed", "failed,departure"; "none": outcomes never fail the job).
#
# Environment: PYTHON, EXIT_STATUS, REPORT, FAIL_ON, GITHUB_STEP_SUMMARY.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

python=$(tester_python)
status="${EXIT_STATUS:-}"
report="${REPORT:-}"
fail_on=$(printf '%s' "${FAIL_ON:-failed}" | tr -d '[:space:]')
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"

verdict() {
  # shellcheck disable=SC2016 # backquotes are Markdown here
  printf '**Gate (fail-on: `%s`): %s**\n\n' "${fail_on:-none}" "$1" >>"$summary"
}
fail() {
  verdict "failed: $1"
  die "$1"
}

case "$status" in
  0 | 1) ;;
  "") fail "the run step did not finish: see the log" ;;
  *) fail "pytest exit status $status: the suite did not run to its end (2 interrupted, 3 internal error, 4 usage error, 5 nothing collected); see the log" ;;
esac
if [ -z "$report" ] || [ ! -f "$report" ]; then
  fail "no report at '${report}': see the log of the run step"
fi

# Checks that ran to a verdict: every outcome but skipped (the summary also
# counts skips per class, as skipped:<class>).
checked=$("$python" -c '
import json, sys
summary = json.load(open(sys.argv[1]))["summary"]
print(sum(n for outcome, n in summary.items() if outcome != "skipped" and ":" not in outcome))
' "$report") || fail "$report is not a pytest-runc report"
if [ "$checked" -eq 0 ]; then
  fail "every check was skipped: nothing was checked (the skip reasons are in the job summary)"
fi

case "$fail_on" in
  "" | none)
    verdict "passed (outcomes do not fail this job)"
    exit 0
    ;;
esac
# Exit status 1 means "found" only from a report merge that knows --fail-on
# (a Python that cannot even import pytest_runc exits 1 too).
if ! "$python" -m pytest_runc report merge --help 2>/dev/null | grep -q -- --fail-on; then
  fail "this pytest-runc has no working \`python -m pytest_runc report merge --fail-on\` ($python)"
fi
set +e
"$python" -m pytest_runc report merge --fail-on "$fail_on" "$report" >/dev/null 2>"$report.gate-err"
merged=$?
set -e
# Its last line says it (a usage message comes before an error): one line,
# as an annotation holds one.
problem=$(grep -v '^[[:space:]]*$' "$report.gate-err" | tail -n 1 | head -c 1000 || true)
rm -f -- "$report.gate-err"
case "$merged" in
  0) verdict "passed" ;;
  1) fail "the report has outcomes that fail-on '$fail_on' names: see the matrix in the job summary${problem:+ ($problem)}" ;;
  *) fail "report merge --fail-on '$fail_on' could not decide (exit status $merged): $problem" ;;
esac
