#!/usr/bin/env bash
# tests/fuzz/seeds.sh TARGET DIR: writes the seed inputs of fuzz target TARGET into DIR, taken
# from the repository's own files at the time of the run (nothing is copied into the tree):
#   scenario   scenarios/*.yaml
#   model      scenarios/models/*.yaml
#   gpu        topologies/gpus/*.yaml
#   cluster    topologies/clusters/*.yaml
#   cases      every YAML file of $STRATA_SHARED_DIR/validation (default ../shared), one seed per
#              case plus the first few cases together
#   plan       every run of plan keys (tp=8 pp=2 ...) in the docs, tests, tools and goldens
#   units      every number-with-unit value of the YAML files and docs (80GiB, 400Gbps, 1.5us, ...)
#   op_table   the op tables in profiler/data, the docs' examples and the tests' string literals
#   op_calls   the op-call CSV rows of the profiler tests (plus the header op_calls_csv writes)
#   nvtx       every NVTX range name (aten::...) in the profiler's tests, docs and scripts
#   cli_values every value given to --top, --size, --sweep, ... in the README, docs and CLI tests
# Seeds are named by the content's hash, so rerunning adds nothing twice.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 TARGET DIR" >&2; exit 2; }
target=$1
out=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
shared=${STRATA_SHARED_DIR:-$root/../shared}
mkdir -p "$out"

# seed FILE...: copies files in; `emit` (stdin) writes one seed from text.
seed() {
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    cp "$f" "$out/$(sha1sum < "$f" | cut -c1-16)"
  done
}
emit() {
  local tmp
  tmp=$(mktemp "$out/.tmp.XXXXXX")
  cat > "$tmp"
  if [ -s "$tmp" ]; then mv "$tmp" "$out/$(sha1sum < "$tmp" | cut -c1-16)"; else rm -f "$tmp"; fi
}
# lines: one seed per distinct line of stdin.
lines() {
  local l
  sort -u | while IFS= read -r l; do [ -n "$l" ] && printf '%s' "$l" | emit; done
}
# C string literals of the given files that match PATTERN, unescaped (\n, \", \\).
literals() {
  local pattern=$1
  shift
  { grep -ohE '"([^"\\]|\\.)*"' "$@" 2>/dev/null || true; } | sed -e 's/^"//' -e 's/"$//' -e 's/\\"/"/g' | { grep -E -- "$pattern" || true; }
}

case "$target" in
  scenario) seed "$root"/scenarios/*.yaml ;;
  model) seed "$root"/scenarios/models/*.yaml ;;
  gpu) seed "$root"/topologies/gpus/*.yaml ;;
  cluster) seed "$root"/topologies/clusters/*.yaml ;;
  cases)
    [ -d "$shared/validation" ] || { echo "seeds.sh: no $shared/validation (set STRATA_SHARED_DIR)" >&2; exit 2; }
    while IFS= read -r -d '' f; do
      # The header (everything before the first case), then each "- id:" item on its own.
      awk -v dir="$out" -v base="$(basename "$f" .yaml)" '
        function flush() { if (body != "") { n++; file = dir "/.case." base "." n; printf "%s%s", head, body > file; close(file) } body = "" }
        /^- id:/ { if (!incases) { incases = 1 } else { flush() } }
        { if (incases) { body = body $0 "\n"; if (++lines_in_case > 400) {} } else { head = head $0 "\n" } }
        END { flush(); if (n == 0) { file = dir "/.case." base ".0"; printf "%s", head > file; close(file) } }
      ' "$f"
      # The first three cases together: a file with more than one case.
      awk '/^- id:/ { if (++n > 3) exit } { print }' "$f" | emit
    done < <(find "$shared/validation" -name '*.yaml' -print0 | sort -z)
    for f in "$out"/.case.*; do
      [ -f "$f" ] || continue
      mv "$f" "$out/$(sha1sum < "$f" | cut -c1-16)"
    done
    ;;
  plan)
    keys='tp|pp|dp|cp|ep|mbs|vpp|sp|tpo|zero|shard|schedule|recompute|rc_layers|cp_comm|order'
    grep -rohE "\\b($keys)=[^ \"'\\\\,)]+( +($keys)=[^ \"'\\\\,)]+)*" \
      "$root"/README.md "$root"/docs "$root"/tests "$root"/tools "$root"/strategies 2>/dev/null | lines
    ;;
  units)
    grep -rhoE ':[[:space:]]*[0-9][0-9.eE+-]*[[:space:]]?[A-Za-z]+(/s)?' --include='*.yaml' \
      "$root"/topologies "$root"/scenarios "$shared/validation" 2>/dev/null |
      sed -E 's/^:[[:space:]]*//' | lines
    grep -ohE '\b[0-9][0-9.]*(GiB|MiB|KiB|TiB|GB|MB|TB|B|Gbps|Tbps|GB/s|TB/s|Gb/s|us|ms|ns|s|TFLOPS|PFLOPS|TFLOP/s)\b' \
      "$root"/README.md "$root"/docs/*.md 2>/dev/null | lines
    ;;
  op_table)
    seed "$root"/profiler/data/*.csv
    # Fenced blocks of the docs that hold a table (a "kind,name,dtype" header).
    for f in "$root"/docs/*.md "$root"/profiler/*.md "$root"/profiler/data/*.md; do
      [ -f "$f" ] || continue
      awk -v dir="$out" -v base="$(basename "$f")" '
        /^```/ { if (inblock) { if (block ~ /kind,name,dtype/) { n++; file = dir "/.doc." base "." n; printf "%s", block > file; close(file) } block = ""; inblock = 0 } else { inblock = 1 } next }
        inblock { line = $0; sub(/[[:space:]]+<-.*$/, "", line); block = block line "\n" }
      ' "$f"
    done
    for f in "$out"/.doc.*; do
      [ -f "$f" ] || continue
      mv "$f" "$out/$(sha1sum < "$f" | cut -c1-16)"
    done
    # The example in op_table.hpp's header comment.
    sed -n 's#^//   ##p' "$root"/strategies/include/strata/strategy/op_table.hpp | emit
    # The tests' tables (string literals with a column header), one seed each.
    tests=("$root"/tests/strategies/*.cpp "$root"/tests/tools/*.cpp "$root"/tests/profiler/*.cpp)
    literals 'kind,name' "${tests[@]}" | while IFS= read -r l; do printf '%b' "$l" | emit; done
    # Each row literal of the tests under the column header, one seed per row.
    literals '^(gemm|attention|elementwise),' "${tests[@]}" | while IFS= read -r l; do
      printf '# gpu: a100-sxm-80gb\nkind,name,dtype,m,n,k,batch,flops,bytes,time_us,repeats\n%b' "$l" | emit
    done
    ;;
  op_calls)
    literals 'op,range_start_ns' "$root"/tests/profiler/*.cpp | while IFS= read -r l; do printf '%b' "$l" | emit; done
    literals '^"?[a-z_:].*,[0-9]+,[0-9.e+-]+(\\n)?$' "$root"/tests/profiler/*.cpp |
      while IFS= read -r l; do printf 'op,range_start_ns,time_ns\n%b' "$l" | emit; done
    # Every NVTX name of the profiler tests as calls, the way libstrata_inject writes them.
    literals 'aten::' "$root"/tests/profiler/*.cpp | sort -u |
      awk 'BEGIN { print "op,range_start_ns,time_ns" } { gsub(/"/, "\"\""); printf "\"%s\",%d,%d\n", $0, NR * 1000, 300000 + NR }' | emit
    ;;
  nvtx)
    literals 'aten::' "$root"/tests/profiler/*.cpp "$root"/profiler/src/*.cpp | while IFS= read -r l; do printf '%b' "$l" | emit; done
    grep -ohE '"aten::[^"]*"' "$root"/profiler/scripts/*.py "$root"/docs/*.md "$root"/profiler/*.md 2>/dev/null |
      sed -e 's/^"//' -e 's/"$//' | lines || true
    ;;
  cli_values)
    # The values the command-line tests and docs pass to --top, --size, --sweep, --replay-timeout.
    grep -ohE -- '--(top|finalists|jobs|gpus|ranks|stride|size|sweep|replay-timeout)[ =][^ "\\]+' \
      "$root"/README.md "$root"/docs/*.md "$root"/tests/tools/*.cpp 2>/dev/null |
      sed -E 's/^--[a-z-]+[ =]//' | lines
    ;;
  *) echo "seeds.sh: unknown target '$target'" >&2; exit 2 ;;
esac
n=$(find "$out" -maxdepth 1 -type f ! -name '.*' | wc -l)
[ "$n" -gt 0 ] || { echo "seeds.sh: no seeds found for $target" >&2; exit 1; }
