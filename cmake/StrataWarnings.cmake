# Warnings live in one INTERFACE target that every strata target links privately.
add_library(strata_warnings INTERFACE)
add_library(strata::warnings ALIAS strata_warnings)
# C++ only: nvcc (the profiler's kernels) has its own warning flags.
target_compile_options(strata_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wfloat-conversion>)
if(STRATA_WARNINGS_AS_ERRORS)
  target_compile_options(strata_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
