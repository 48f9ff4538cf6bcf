// Fuzzes the cluster-preset loader (scenario::load_cluster, at the preset's own size and the GPU
// presets of the source tree): accepted, or refused with an InputError.
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = strata::fuzz::as_file(data, size, "cluster.yaml");
  try {
    (void)strata::scenario::load_cluster(file, strata::fuzz::data_dirs());
  } catch (const strata::scenario::InputError&) {
  }
  return 0;
}
