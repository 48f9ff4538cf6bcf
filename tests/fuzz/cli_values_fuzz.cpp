// Fuzzes the command line's checked values (tools/cli/values.hpp): --top-style integers,
// --replay-timeout durations, --size and --sweep. A value, or cli::UsageError. An accepted value
// must be in the range asked for, a size finite and between 1 byte and 1 PiB, and a sweep
// ascending with at most kMaxSweepSizes sizes (an unbounded sweep once grew without end).
#include <cmath>
#include <string>

#include "fuzz.hpp"
#include "values.hpp"

using namespace strata;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view s = fuzz::text(data, size);
  try {
    const long long v = cli::parse_integer(s, "--top", 1, 100000);
    if (v < 1 || v > 100000) fuzz::finding("parse_integer accepts '" + std::string(s) + "' as " + std::to_string(v));
  } catch (const cli::UsageError&) {
  }
  try {
    const double v = cli::parse_duration(s, "--replay-timeout", 0, 1e6);
    if (!(v >= 0 && v <= 1e6)) fuzz::finding("parse_duration accepts '" + std::string(s) + "' as " + std::to_string(v));
  } catch (const cli::UsageError&) {
  }
  try {
    const double v = cli::parse_size(s, "--size");
    if (!(v >= 1 && v <= cli::kMaxSizeBytes)) fuzz::finding("parse_size accepts '" + std::string(s) + "' as " + std::to_string(v));
  } catch (const cli::UsageError&) {
  }
  try {
    const std::vector<double> sizes = cli::parse_sweep(s);
    if (sizes.empty() || sizes.size() > static_cast<std::size_t>(cli::kMaxSweepSizes))
      fuzz::finding("parse_sweep gives " + std::to_string(sizes.size()) + " sizes for '" + std::string(s) + "'");
    for (std::size_t i = 0; i < sizes.size(); ++i)
      if (!(sizes[i] >= 1 && sizes[i] <= cli::kMaxSizeBytes * (1 + 1e-9)) || (i > 0 && !(sizes[i] > sizes[i - 1])))
        fuzz::finding("parse_sweep gives size " + std::to_string(sizes[i]) + " for '" + std::string(s) + "'");
  } catch (const cli::UsageError&) {
  }
  return 0;
}
