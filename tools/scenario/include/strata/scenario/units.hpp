#pragma once
// Unit strings of the input files: "80GiB", "900GB/s", "400Gbps", "1.5us", "989TFLOPS".
// Parsed here and nowhere else; every function throws std::invalid_argument with a message that
// says what a valid value looks like. A value is 0 or inside the range of topo::limits (1 B to
// 1 PiB, 1 Kb/s to 1 PB/s, 1 ns to 1 hour, 1 GFLOP/s to 1e18 FLOP/s); NaN, infinity, negative
// numbers and magnitudes outside the range are refused (docs/inputs.md). Echoed values are clipped.

#include <string_view>

#include "strata/sim/units.hpp"

namespace strata::scenario {

/// "80GiB", "141GB", "512MiB", "4096B" (GB = 1e9 bytes, GiB = 2^30), bytes; throws std::invalid_argument.
sim::Bytes parse_bytes(std::string_view s);
/// "900GB/s", "2.4TB/s", "400Gbps", "200Gb/s" (bits are divided by 8), bytes/s; throws std::invalid_argument.
sim::ByteRate parse_byte_rate(std::string_view s);
/// "1.5us", "10ms", "2s", "500ns", seconds; throws std::invalid_argument.
sim::Seconds parse_seconds(std::string_view s);
/// "989TFLOPS", "312TFLOP/s", "1.98PFLOPS", "19.5TFLOPS", FLOP/s; throws std::invalid_argument.
sim::FlopRate parse_flop_rate(std::string_view s);

}  // namespace strata::scenario
