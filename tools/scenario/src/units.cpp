#include "strata/scenario/units.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "strata/topo/gpu.hpp"

namespace strata::scenario {
namespace {

namespace lim = topo::limits;

std::string quoted(std::string_view s) {
  std::string q(1, '\'');
  q += topo::printable(s);
  q += '\'';
  return q;
}

// Splits "12.5 GB/s" into 12.5 and "GB/s"; the number must be finite and positive or zero.
std::pair<double, std::string> split(std::string_view s, const char* what, const char* example) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  double v = 0;
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec == std::errc::result_out_of_range)
    throw std::invalid_argument(quoted(s) + ": the " + std::string(what) + " is out of range");
  if (ec != std::errc() || p == s.data())
    throw std::invalid_argument(quoted(s) + " is not a " + what + " (e.g. " + example + ")");
  std::string unit(p, end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  if (!std::isfinite(v) || v < 0)
    throw std::invalid_argument(quoted(s) + ": " + what + " must be finite and >= 0");
  if (unit.empty()) throw std::invalid_argument(quoted(s) + " has no unit (e.g. " + example + ")");
  return {v, unit};
}

double scale(const std::string& unit, const std::vector<std::pair<const char*, double>>& table,
             std::string_view s, const char* what, const char* example) {
  for (const auto& [name, k] : table)
    if (unit == name) return k;
  throw std::invalid_argument(quoted(s) + ": unknown " + what + " unit " + quoted(unit) + " (e.g. " + example + ")");
}

// Zero (the caller decides whether it may be), or a value in [lo, hi]: a magnitude outside it is a
// typo or a unit mix-up, and would overflow or underflow the replays.
double in_range(double number, double v, double lo, double hi, std::string_view s, const char* range) {
  if ((number != 0 || v != 0) && !(v >= lo && v <= hi)) throw std::invalid_argument(quoted(s) + " is out of range: " + range);
  return v;
}

}  // namespace

sim::Bytes parse_bytes(std::string_view s) {
  static const char* ex = "80GiB, 141GB, 512MiB";
  auto [v, unit] = split(s, "size", ex);
  const double b = v * scale(unit,
                             {{"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15},
                              {"KiB", 1024.0}, {"MiB", 1024.0 * 1024}, {"GiB", 1024.0 * 1024 * 1024},
                              {"TiB", 1024.0 * 1024 * 1024 * 1024}, {"PiB", 1024.0 * 1024 * 1024 * 1024 * 1024}},
                             s, "size", ex);
  return sim::Bytes(in_range(v, b, lim::min_bytes, lim::max_bytes, s, "sizes are 0 or 1 B to 1 PiB"));
}

sim::ByteRate parse_byte_rate(std::string_view s) {
  static const char* ex = "900GB/s, 400Gbps";
  auto [v, unit] = split(s, "bandwidth", ex);
  const double r = v * scale(unit,
                             {{"B/s", 1}, {"KB/s", 1e3}, {"MB/s", 1e6}, {"GB/s", 1e9}, {"TB/s", 1e12}, {"PB/s", 1e15},
                              {"GiB/s", 1024.0 * 1024 * 1024},
                              {"bps", 1.0 / 8}, {"Kbps", 1e3 / 8}, {"Mbps", 1e6 / 8}, {"Gbps", 1e9 / 8},
                              {"Tbps", 1e12 / 8}, {"Mb/s", 1e6 / 8}, {"Gb/s", 1e9 / 8}, {"Tb/s", 1e12 / 8}},
                             s, "bandwidth", ex);
  return sim::ByteRate(in_range(v, r, lim::min_byte_rate, lim::max_byte_rate, s, "bandwidths are 0 or 1 Kb/s to 1 PB/s"));
}

sim::Seconds parse_seconds(std::string_view s) {
  static const char* ex = "1.5us, 10ms";
  auto [v, unit] = split(s, "duration", ex);
  const double t = v * scale(unit, {{"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9}}, s, "duration", ex);
  return sim::Seconds(in_range(v, t, lim::min_seconds, lim::max_seconds, s, "durations are 0 or 1 ns to 1 hour"));
}

sim::FlopRate parse_flop_rate(std::string_view s) {
  static const char* ex = "989TFLOPS, 312TFLOP/s";
  auto [v, unit] = split(s, "FLOP rate", ex);
  const double f = v * scale(unit,
                             {{"FLOPS", 1}, {"GFLOPS", 1e9}, {"TFLOPS", 1e12}, {"PFLOPS", 1e15},
                              {"FLOP/s", 1}, {"GFLOP/s", 1e9}, {"TFLOP/s", 1e12}, {"PFLOP/s", 1e15}},
                             s, "FLOP rate", ex);
  return sim::FlopRate(in_range(v, f, lim::min_flop_rate, lim::max_flop_rate, s, "FLOP rates are 0 or 1 GFLOP/s to 1e18 FLOP/s"));
}

}  // namespace strata::scenario
