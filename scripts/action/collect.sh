#!/usr/bin/env bash
# Step "collect" of the action: what the artefact uploads, in OUT_DIR: the
# JSON report and JUnit XML (already there), matrix.md, and kept-bundles.tar.gz
# with the bundles and state of the failed checks (--runc-keep-failed) and
# kept.txt naming them. Then the kept containers are deleted and the run's
# working directory removed (a self-hosted runner keeps nothing).
#
# Environment: MODE, RUNTIME, OUT_DIR and BASE (run.sh's outputs), HOST_LABEL,
# ARTIFACT_NAME (empty: pytest-runc-RUNTIME-MODE[-HOST_LABEL]).
# Outputs: artifacts-dir (OUT_DIR), artifact-name.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

out="${OUT_DIR:?OUT_DIR must name the out-dir output of the run step}"
base="${BASE:-}"
runtime="${RUNTIME:-runc}"

if [ -n "$base" ] && as_tester test -d "$base"; then
  # As root the tarball is made in a directory only root can read, then
  # handed to us: root never writes through a name in our directory.
  staging=$(as_tester mktemp -d "$(dirname -- "$base")/pytest-runc-collect.XXXXXX")
  as_tester bash "$here/kept-bundles.sh" "$base" "$runtime" "$staging/kept-bundles.tar.gz" "$staging/kept.txt"
  for name in kept-bundles.tar.gz kept.txt; do
    if as_tester test -f "$staging/$name"; then
      as_tester cat -- "$staging/$name" >"$out/$name"
    fi
  done
  as_tester rm -rf -- "$staging"
fi
if [ ! -f "$out/kept-bundles.tar.gz" ]; then
  echo "pytest-runc: no bundle was kept (no container check failed)"
fi
name="${ARTIFACT_NAME:-}"
if [ -z "$name" ]; then
  name="pytest-runc-$(basename -- "$runtime")-${MODE:-root}${HOST_LABEL:+-$HOST_LABEL}"
fi
# Characters an artefact name may not hold become "-".
name=$(printf '%s' "$name" | tr '":<>|*?\\/\r\n' '-')
set_output artifacts-dir "$out"
set_output artifact-name "$name"
