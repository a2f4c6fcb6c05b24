#!/usr/bin/env bash
# Step "install" of the action: the plugin (from the action's own checkout),
# pytest-xdist, a static busybox, and the runtime under test.
#
# Environment: ACTION_PATH (the action's checkout), PYTHON (setup-python's
# interpreter), RUNTIME (input; empty: the runner's runc, else Debian's
# package), MODE (root or rootless).
# Output: runtime=<absolute path of the runtime under test>.
#
# Debian's runc is installed only when no runtime is given and none is on
# the runner: on GitHub's hosted runners `apt-get install runc` conflicts
# with Docker's containerd.io, which carries a runc of its own.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

check_mode
python=$(tester_python)
action_path="${ACTION_PATH:?ACTION_PATH must name the action checkout}"

# apt-get install, refreshing the package lists only when the first try fails
# (a hosted runner's lists are often stale; a refresh costs tens of seconds).
apt_install() {
  command -v apt-get >/dev/null ||
    die "no apt-get here: install $* yourself before this action (this action installs with apt on Debian and Ubuntu)"
  local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@")
  if ! as_root "${install[@]}"; then
    as_root apt-get update -qq
    as_root "${install[@]}"
  fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# A given runtime is checked first: a wrong path fails in a second, not after the installs.
runtime=""
if [ -n "${RUNTIME:-}" ]; then
  given="$RUNTIME"
  # A bare name that is no file here is looked up on PATH (e.g. crun).
  if [ "${given#*/}" = "$given" ] && [ ! -e "$given" ]; then
    given=$(PATH="$PATH:/usr/sbin:/sbin" command -v -- "$given" || printf '%s' "$given")
  fi
  runtime=$(realpath -e -- "$given" 2>/dev/null) ||
    die "runtime '$RUNTIME' does not exist (relative paths are read from $PWD) and is no command on PATH: give the path of the binary to test"
  if [ ! -f "$runtime" ] || [ ! -x "$runtime" ]; then
    die "runtime '$RUNTIME' ($runtime) is not an executable file: give the path of the binary to test"
  fi
fi

echo "pytest-runc: installing the plugin from $action_path with $python"
"$python" -m pip install --disable-pip-version-check --quiet "$action_path" "pytest-xdist>=3.0"

if installed busybox-static; then
  echo "pytest-runc: busybox-static is installed"
elif command -v dpkg-query >/dev/null; then
  apt_install busybox-static
else
  say_warning "not a Debian-like host: the suite needs a static busybox at /bin/busybox (or pass --runc-rootfs in pytest-args)"
fi

if [ -z "$runtime" ]; then
  runtime=$(PATH="$PATH:/usr/sbin:/sbin" command -v runc || true)
  if [ -n "$runtime" ]; then
    owner=$(dpkg-query -S "$(realpath -e -- "$runtime")" 2>/dev/null | cut -d: -f1 || true)
    say_notice "no runtime given: testing the runc already on this runner, $runtime${owner:+ (package $owner)}"
  else
    apt_install runc
    runtime=$(PATH="$PATH:/usr/sbin:/sbin" command -v runc) || die "apt-get installed runc, but no runc is on PATH"
  fi
fi
echo "pytest-runc: runtime under test: $runtime ($("$runtime" --version 2>&1 | head -n 1 || true))"

if [ "${MODE:-root}" = rootless ]; then
  # Ubuntu 23.10 and later restrict unprivileged user namespaces through
  # AppArmor, which rootless containers need.
  restrict=$(sysctl -n kernel.apparmor_restrict_unprivileged_userns 2>/dev/null || echo 0)
  if [ "$restrict" = 1 ]; then
    as_root sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0
    say_notice "set kernel.apparmor_restrict_unprivileged_userns=0: rootless containers need unprivileged user namespaces"
  fi
fi

set_output runtime "$runtime"
