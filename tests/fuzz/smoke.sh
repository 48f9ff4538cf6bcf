#!/usr/bin/env bash
# tests/fuzz/smoke.sh PROGRAM TARGET: runs fuzz target PROGRAM once over every seed of TARGET
# (seeds.sh) and every input in regressions/TARGET, without mutating (the ctest test of each
# target). Fails on any finding, like a fuzzing run.
set -euo pipefail
program=$1
target=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-fuzz-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$here/seeds.sh" "$target" "$tmp/seeds"
inputs=("$tmp"/seeds/*)
if [ -d "$here/regressions/$target" ]; then
  for f in "$here/regressions/$target"/*; do
    [ -f "$f" ] && inputs+=("$f")
  done
fi
echo "fuzz_$target: ${#inputs[@]} inputs (seeds and regressions)"
# Files (not folders) as arguments: libFuzzer runs each once and stops at the first finding.
set +e
"$program" -timeout=60 -rss_limit_mb=4096 -artifact_prefix="$tmp/" "${inputs[@]}" 2>&1 | grep -v -e '^Running: ' -e '^Executed '
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && echo "fuzz_$target: no finding"
exit "$status"
