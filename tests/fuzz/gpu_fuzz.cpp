// Fuzzes the GPU-preset loader (scenario::load_gpu): accepted, or refused with an InputError.
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = strata::fuzz::as_file(data, size, "gpu.yaml");
  try {
    (void)strata::scenario::load_gpu(file);
  } catch (const strata::scenario::InputError&) {
  }
  return 0;
}
