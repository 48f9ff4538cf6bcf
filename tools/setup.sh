# Shared set-up for tools/strata and tools/test (sourced, not run): installs the Debian packages
# strata needs when they are missing, then configures and builds a Release build in build/.
# Build output goes to stderr so that stdout stays the program's.

strata_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
strata_build="${STRATA_BUILD_DIR:-$strata_root/build}"
strata_packages=(cmake g++ make pkg-config ccache libsimgrid-dev libboost-graph-dev libyaml-cpp-dev
                 doctest-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev clang-14 libclang-rt-14-dev)

strata_install_packages() {
  local missing=() p
  for p in "${strata_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "strata: installing missing Debian packages: ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# strata_build [TARGET...]: configure when needed, then build (a no-op when nothing changed).
strata_build() {
  strata_install_packages
  if [ ! -f "$strata_build/CMakeCache.txt" ]; then
    echo "strata: configuring a Release build in $strata_build" >&2
    cmake -S "$strata_root" -B "$strata_build" -DCMAKE_BUILD_TYPE=Release >&2
  fi
  local jobs
  jobs=$(nproc 2>/dev/null || echo 2)
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  if ! cmake --build "$strata_build" -j "$jobs" "${targets[@]}" > "$strata_build/last-build.log" 2>&1; then
    cat "$strata_build/last-build.log" >&2
    echo "strata: build failed (log: $strata_build/last-build.log)" >&2
    return 1
  fi
}
