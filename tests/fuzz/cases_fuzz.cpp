// Fuzzes the validation-case loader (scenario::load_cases): accepted, or refused with an
// InputError. A case strata cannot model is accepted with `unsupported` set.
#include "fuzz.hpp"
#include "strata/scenario/cases.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = strata::fuzz::as_file(data, size, "cases.yaml");
  try {
    (void)strata::scenario::load_cases(file, strata::fuzz::data_dirs());
  } catch (const strata::scenario::InputError&) {
  }
  return 0;
}
