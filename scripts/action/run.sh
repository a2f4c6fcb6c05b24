#!/usr/bin/env bash
# Step "run" of the action: the conformance suite against the runtime, as
# root (through `sudo -n` and setup-python's interpreter by its absolute
# path) or rootless (--runc-rootless, as the runner's user).
#
# Environment: PYTHON, RUNTIME (absolute, from install.sh), MODE,
# PYTEST_ARGS (split as a shell would, without expansion), WORKERS (pytest-xdist
# -n; 0 or 1: none), REPORT (where the JSON report goes, relative to $PWD),
# HOST_LABEL (PYTEST_RUNC_HOST_LABEL: the host's name in the report), and
# RUNNER_TEMP. Every PYTEST_RUNC_* variable and PYTEST_ADDOPTS in the
# environment reach pytest too, also through sudo.
# Outputs: exit-status (pytest's), report (absolute path; written only when
# pytest wrote one), out-dir (report, JUnit XML; the artefact's directory),
# base (PYTEST_RUNC_TMPDIR of the run: where kept bundles are).
#
# This step never fails because checks failed: the summary and the uploads
# come first, and the "gate" step decides (gate.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

check_mode
python=$(tester_python)
runtime="${RUNTIME:?RUNTIME must name the runtime under test (install.sh resolves it)}"
report=$(realpath -m -- "${REPORT:-pytest-runc-report.json}")

# Extra pytest arguments: split with Python's shlex (quotes work, nothing is
# expanded or run), one argument per NUL-terminated record.
extra_args=()
if [ -n "${PYTEST_ARGS:-}" ]; then
  split=$(mktemp)
  "$python" -c 'import shlex, sys; sys.stdout.write("".join(a + "\0" for a in shlex.split(sys.argv[1])))' \
    "$PYTEST_ARGS" >"$split" || {
    rm -f -- "$split"
    die "pytest-args cannot be split as shell words: $PYTEST_ARGS"
  }
  mapfile -d '' -t extra_args <"$split"
  rm -f -- "$split"
fi

# The run's outputs, in a directory of the runner's user (root writes into it).
out=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/pytest-runc-out.XXXXXX")
chmod 0755 "$out"

# The plugin's working directories (bundles, state root; kept ones stay for
# upload): a fresh private directory of the user the suite runs as, on a
# tmpfs that allows exec when there is one (each test copies a rootfs).
parent=/tmp
# (findmnt lists every mount stacked there; the last one is the one seen.)
if [ "$(stat -fc %T /dev/shm 2>/dev/null)" = tmpfs ] &&
  ! findmnt -no OPTIONS --target /dev/shm | tail -n 1 | tr ',' '\n' | grep -qx noexec; then
  parent=/dev/shm
fi
base=$(as_tester mktemp -d "$parent/pytest-runc-action.XXXXXX")

# The suite ships inside the package just installed: version-locked to the plugin.
suite=(--pyargs pytest_runc.conformance)

mode_args=()
[ "${MODE:-root}" = rootless ] && mode_args=(--runc-rootless)
worker_args=()
case "${WORKERS:-auto}" in
  "" | 0 | 1) ;;
  *) worker_args=(-n "$WORKERS") ;;
esac

# -p no:cacheprovider and no bytecode: as root, nothing root-owned is left in
# the action's checkout for the runner's user to trip over.
command=("$python" -m pytest "${suite[@]}" --runc --runc-binary "$runtime" --runc-keep-failed
  -rfEs -p no:cacheprovider --junitxml "$out/junit.xml" --runc-report "$out/report.json"
  "${mode_args[@]}" "${worker_args[@]}" "${extra_args[@]}")

environment=("PYTEST_RUNC_TMPDIR=$base" PYTHONDONTWRITEBYTECODE=1)
[ -n "${HOST_LABEL:-}" ] && environment+=("PYTEST_RUNC_HOST_LABEL=$HOST_LABEL")
while IFS= read -r name; do
  case "$name" in
    PYTEST_RUNC_TMPDIR | PYTEST_RUNC_HOST_LABEL) ;;
    PYTEST_RUNC_* | PYTEST_ADDOPTS) environment+=("$name=${!name}") ;;
  esac
done < <(compgen -e)

printf 'pytest-runc: running (%s):' "${MODE:-root}"
printf ' %q' "${command[@]}"
printf '\n'
set +e
as_tester env "${environment[@]}" "${command[@]}"
status=$?
set -e
echo "pytest-runc: pytest exit status $status"

# What root wrote into our directory becomes ours (upload, later steps).
if [ "${MODE:-root}" = root ] && [ "$(id -u)" != 0 ]; then
  as_root chown -R --no-dereference "$(id -u):$(id -g)" -- "$out"
fi
if [ -f "$out/report.json" ]; then
  mkdir -p -- "$(dirname -- "$report")"
  cp -- "$out/report.json" "$report"
else
  say_warning "pytest wrote no report (exit status $status): see the log above"
fi

set_output exit-status "$status"
set_output report "$report"
set_output out-dir "$out"
set_output base "$base"
