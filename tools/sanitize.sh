# Shared by tools/test --sanitize and tools/fuzz (sourced after setup.sh, not run): the clang 14
# build with AddressSanitizer + UndefinedBehaviorSanitizer and the libFuzzer targets
# (-DSTRATA_SANITIZE=ON -DSTRATA_FUZZ=ON) in build-asan/, and the sanitizer settings its
# programs run under. One build serves the sanitized test suite and the fuzzers.

strata_asan_dir="${STRATA_ASAN_BUILD_DIR:-$strata_root/build-asan}"

# Any report stops the program with a non-zero exit; leaks are reported (LeakSanitizer), with
# the suppressions of tests/sanitizers/lsan.supp where there is one (SimGrid only; each entry says
# why).
strata_sanitizer_env() {
  export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:strict_init_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  local supp="$strata_root/tests/sanitizers/lsan.supp"
  if [ -f "$supp" ]; then
    export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  fi
}

# strata_asan_build [TARGET...]: configure build-asan when needed, then build (a no-op when
# nothing changed). Build output goes to build-asan/last-build.log, and to stderr on failure.
strata_asan_build() {
  strata_install_packages
  if [ ! -f "$strata_asan_dir/CMakeCache.txt" ]; then
    local cxx=${STRATA_CLANG:-}
    if [ -z "$cxx" ]; then
      if command -v clang++-14 > /dev/null; then cxx=clang++-14; else cxx=clang++; fi
    fi
    echo "strata: configuring a $cxx ASan+UBSan+libFuzzer build in $strata_asan_dir" >&2
    cmake -S "$strata_root" -B "$strata_asan_dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" \
      -DSTRATA_SANITIZE=ON -DSTRATA_FUZZ=ON >&2
  fi
  # setup.sh's strata_build, pointed at this build folder.
  strata_build="$strata_asan_dir" strata_build "$@"
}
