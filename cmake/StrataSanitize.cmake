# Sanitizer and fuzzing builds (docs/robustness.md).
#
# STRATA_SANITIZE: AddressSanitizer + UndefinedBehaviorSanitizer on every strata target and test
# (any report aborts the program), and the compile definition STRATA_SANITIZE=1 so that code
# which ends processes with _exit (the replay children) can run LeakSanitizer's check first.
#
# STRATA_FUZZ: the libFuzzer targets of tests/fuzz. Needs clang. The strata libraries get
# libFuzzer's coverage instrumentation (-fsanitize=fuzzer-no-link, see strata_fuzz_instrument);
# only the fuzz targets link libFuzzer's main (-fsanitize=fuzzer). Meant to be combined with
# STRATA_SANITIZE: one clang build then serves the sanitized test suite and the fuzzers.
#
# Included from the top-level CMakeLists.txt before any target is defined: the options below are
# directory-wide, so they reach every target of every subdirectory. C++ only: nvcc (the
# profiler's kernels) does not take these flags.

option(STRATA_SANITIZE "Build every target and test with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(STRATA_FUZZ "Build the libFuzzer targets in tests/fuzz (needs clang)" OFF)

if(STRATA_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang|GNU")
    message(FATAL_ERROR "STRATA_SANITIZE needs clang or GCC, not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  message(STATUS "strata: AddressSanitizer + UndefinedBehaviorSanitizer build")
  add_compile_options(
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined>
    $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=all>
    $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>
    # File and line in every sanitizer stack at a fraction of the cost of full debug info.
    $<$<COMPILE_LANGUAGE:CXX>:-gline-tables-only>)
  add_link_options($<$<LINK_LANGUAGE:CXX>:-fsanitize=address,undefined>)
  add_compile_definitions(STRATA_SANITIZE=1)
endif()

if(STRATA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "STRATA_FUZZ needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}: "
                        "configure with -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  message(STATUS "strata: libFuzzer targets (tests/fuzz)")
  # The instrumented libraries call libFuzzer's coverage hooks; every program linking them needs
  # the hooks' runtime (the sanitizer runtimes carry it too, this covers a build without them).
  add_link_options($<$<LINK_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link>)
endif()

# strata_fuzz_instrument(DIR...): gives every static library defined in DIR and below libFuzzer's
# coverage instrumentation (a no-op without STRATA_FUZZ). Called once all targets exist, so that
# a library added later is instrumented without being listed here; test programs stay
# uninstrumented (their coverage would only steer the fuzzer nowhere and slow the tests).
function(strata_fuzz_instrument)
  if(NOT STRATA_FUZZ)
    return()
  endif()
  foreach(dir IN LISTS ARGN)
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(t IN LISTS targets)
      get_target_property(type ${t} TYPE)
      if(type STREQUAL "STATIC_LIBRARY")
        target_compile_options(${t} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link>)
      endif()
    endforeach()
    get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
    if(subdirs)
      strata_fuzz_instrument(${subdirs})
    endif()
  endforeach()
endfunction()
