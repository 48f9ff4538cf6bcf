// Fuzzes the model-card loader (scenario::load_model): accepted, or refused with an InputError.
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = strata::fuzz::as_file(data, size, "model.yaml");
  try {
    (void)strata::scenario::load_model(file);
  } catch (const strata::scenario::InputError&) {
  }
  return 0;
}
