// Fuzzes the NVTX range-name parser (profiler::parse_nvtx_op), which documents no error: every
// string is a name, and an exception of any kind is a finding. What it returns goes on to
// profiler::sample_of (the op-table row it means, if any).
#include <string>

#include "fuzz.hpp"
#include "strata/profiler/tables.hpp"
#include "strata/profiler/trace.hpp"

using namespace strata;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const profiler::NvtxOp op = profiler::parse_nvtx_op(std::string(fuzz::text(data, size)));
  (void)profiler::sample_of(op, 2);
  return 0;
}
