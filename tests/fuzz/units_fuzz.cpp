// Fuzzes the unit strings (scenario::parse_bytes, parse_byte_rate, parse_seconds,
// parse_flop_rate), every input through all four: a value, or std::invalid_argument. A value
// must be finite and not negative (every user number is checked before arithmetic).
#include <cmath>
#include <string>

#include "fuzz.hpp"
#include "strata/scenario/units.hpp"

using namespace strata;

namespace {

template <class Parse>
void check(const char* name, Parse parse, std::string_view s) {
  double v = 0;
  try {
    v = parse(s).value();
  } catch (const std::invalid_argument&) {
    return;
  }
  if (!std::isfinite(v) || v < 0) fuzz::finding(std::string(name) + " accepts '" + std::string(s) + "' as " + std::to_string(v));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view s = fuzz::text(data, size);
  check("parse_bytes", scenario::parse_bytes, s);
  check("parse_byte_rate", scenario::parse_byte_rate, s);
  check("parse_seconds", scenario::parse_seconds, s);
  check("parse_flop_rate", scenario::parse_flop_rate, s);
  return 0;
}
