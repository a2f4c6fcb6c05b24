# shellcheck shell=bash
# Shared by the steps of the pytest-runc GitHub Action (action.yml): messages
# in the workflow-command format, step outputs, and who runs the suite.
# Sourced, never run. Each step reads its inputs from the environment, so
# the same scripts run here with the variables GitHub would set.

set -euo pipefail

# One line the runner shows as an annotation (and the log shows as is). On
# stderr, which the runner reads for commands too: a function whose stdout
# is captured can still say why it stopped.
say_error() { printf '::error title=pytest-runc::%s\n' "$*" >&2; }
say_warning() { printf '::warning title=pytest-runc::%s\n' "$*" >&2; }
say_notice() { printf '::notice title=pytest-runc::%s\n' "$*" >&2; }

# Stop the step with an error annotation.
die() {
  say_error "$*"
  exit 1
}

# A step output: printed, and written to $GITHUB_OUTPUT when there is one.
set_output() {
  printf 'output %s=%s\n' "$1" "$2"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

# The mode input, checked: root (through sudo unless the runner is root) or
# rootless (as the runner's own user, which must not be root).
check_mode() {
  case "${MODE:-root}" in
    root) ;;
    rootless)
      if [ "$(id -u)" = 0 ]; then
        die "mode 'rootless' needs a runner user that is not root (this one is uid 0); use mode 'root'"
      fi
      ;;
    *) die "mode '${MODE}' is not one of: root, rootless" ;;
  esac
}

# Run a command as root: directly when we are root, else through `sudo -n`.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n -- "$@"
  else
    die "needs root for: $*; run the job as root or as a user with passwordless sudo (GitHub's hosted runners have it)"
  fi
}

# Run a command as the user the suite runs as: root in mode root, else us.
as_tester() {
  if [ "${MODE:-root}" = root ]; then
    as_root "$@"
  else
    "$@"
  fi
}

# The interpreter the suite runs with, as an absolute path: setup-python's,
# or $PYTHON. `sudo` would look `python` up on root's PATH, not setup-python's.
tester_python() {
  local python="${PYTHON:-}"
  [ -n "$python" ] || python=$(command -v python3 || true)
  [ -n "$python" ] || die "no Python interpreter: set PYTHON (the action passes setup-python's python-path)"
  case "$python" in
    /*) ;;
    *) python=$(command -v -- "$python" || true) ;;
  esac
  [ -x "$python" ] || die "Python interpreter '${PYTHON:-python3}' is not an executable file"
  printf '%s\n' "$python"
}
