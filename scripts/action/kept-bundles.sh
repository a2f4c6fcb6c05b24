#!/usr/bin/env bash
# Run as the user the suite ran as (root, or the runner's user rootless), by
# collect.sh: pack the bundles that --runc-keep-failed left under BASE into
# TARBALL, list them in NOTES, then delete the kept containers through their
# own state roots and remove BASE, which the run step made for this run alone.
# Usage: kept-bundles.sh BASE RUNTIME TARBALL NOTES
set -euo pipefail
base=$1 runtime=$2 tarball=$3 notes=$4

# Every session directory (one per pytest process) with a bundle left in it:
# the base is this run's own, so all that is left there is what it kept. Not
# only those with the plugin's `kept` mark: under pytest-xdist a worker's
# kept bundles stay unmarked (seen with pytest-runc 0.2.0).
kept=()
for session in "$base"/pytest-runc-*/s-*; do
  if [ -d "$session" ] && [ ! -L "$session" ] && [ -n "$(ls -A -- "$session/bundles" 2>/dev/null)" ]; then
    kept+=("$session")
  fi
done

if [ "${#kept[@]}" -gt 0 ]; then
  : >"$notes"
  members=()
  for session in "${kept[@]}"; do
    if [ -f "$session/kept" ]; then
      cat -- "$session/kept" >>"$notes"
      printf '\n' >>"$notes"
    else
      for bundle in "$session"/bundles/*; do
        printf '%s\n' "$bundle" >>"$notes"
      done
    fi
    relative=${session#"$base"/}
    for part in kept bundles state; do
      if [ -e "$session/$part" ]; then
        members+=("$relative/$part")
      fi
    done
  done
  # --warning=no-file-ignored: runc's sockets in the state root are skipped.
  # A tar that fails still lets the containers be deleted below.
  if tar -C "$base" --warning=no-file-ignored -czf "$tarball" -- "${members[@]}"; then
    echo "pytest-runc: packed the kept bundles of ${#kept[@]} pytest process(es) into $(basename -- "$tarball")"
  else
    echo "::warning title=pytest-runc::could not pack every kept bundle (tar above); the artefact has what was packed" >&2
  fi
fi

# Kept containers go, through the state root of the process that made them.
for state in "$base"/pytest-runc-*/s-*/state/*/; do
  [ -d "$state" ] || continue
  root=$(dirname -- "$state")
  id=$(basename -- "$state")
  timeout 60 "$runtime" --root "$root" delete --force "$id" ||
    echo "pytest-runc: could not delete kept container $id (state root $root)" >&2
done

# Our base only: unmount what the run left mounted below it, then remove it.
{ findmnt -rn -o TARGET | grep -F -- "$base/" || true; } | sort -r | while IFS= read -r point; do
  umount -l -- "$point" || echo "pytest-runc: could not unmount $point" >&2
done
rm -rf --one-file-system -- "$base"
