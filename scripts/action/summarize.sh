#!/usr/bin/env bash
# Step "summary" of the action: the run's matrix (`report merge --format
# markdown`) into the job summary, and beside the report as matrix.md.
#
# Environment: PYTHON, RUNTIME, MODE, EXIT_STATUS (pytest's, from run.sh),
# REPORT (the JSON report), OUT_DIR (run.sh's out-dir), GITHUB_STEP_SUMMARY
# (the summary file; without it the summary goes to stdout).
# Never fails the job: the gate step does that.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

python=$(tester_python)
summary="${GITHUB_STEP_SUMMARY:-/dev/stdout}"
status="${EXIT_STATUS:-}"
report="${REPORT:-}"
out="${OUT_DIR:-}"
# GitHub refuses a step summary over 1 MiB; the whole matrix is in the artefact.
limit=$((1000 * 1000))

case "$status" in
  0) meaning="every check passed or was skipped" ;;
  1) meaning="checks failed" ;;
  2) meaning="interrupted" ;;
  3) meaning="internal error" ;;
  4) meaning="usage error: see the log" ;;
  5) meaning="no check was collected" ;;
  "") meaning="the run step did not finish" ;;
  *) meaning="unexpected exit status" ;;
esac

matrix=""
if [ -n "$report" ] && [ -f "$report" ]; then
  matrix="${out:-$(dirname -- "$report")}/matrix.md"
  if ! "$python" -m pytest_runc report merge "$report" --format markdown >"$matrix" 2>"$matrix.err"; then
    say_warning "report merge failed: $(head -c 500 "$matrix.err")"
    matrix=""
  fi
  rm -f -- "${out:-$(dirname -- "$report")}/matrix.md.err"
fi

{
  # shellcheck disable=SC2016 # backquotes are Markdown here
  printf '## pytest-runc: `%s` (%s)\n\n' "${RUNTIME:-?}" "${MODE:-root}"
  printf 'pytest exit status %s: %s.\n\n' "${status:-?}" "$meaning"
  if [ -n "$matrix" ]; then
    size=$(wc -c <"$matrix")
    if [ "$size" -le "$limit" ]; then
      cat -- "$matrix"
    else
      head -c "$limit" -- "$matrix"
      printf '\n\n(cut at %s of %s bytes: the whole matrix is matrix.md in the artefact)\n' "$limit" "$size"
    fi
  else
    printf 'No report to show: the run wrote none; see the job log.\n'
  fi
  printf '\n'
} >>"$summary"
