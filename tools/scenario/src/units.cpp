#include "strata/scenario/units.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace strata::scenario {
namespace {

// Splits "12.5 GB/s" into 12.5 and "GB/s"; the number must be finite and positive or zero.
std::pair<double, std::string> split(std::string_view s, const char* what, const char* example) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  double v = 0;
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p == s.data())
    throw std::invalid_argument(std::string("'") + std::string(s) + "' is not a " + what + " (e.g. " + example + ")");
  std::string unit(p, end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  if (!std::isfinite(v) || v < 0)
    throw std::invalid_argument(std::string("'") + std::string(s) + "': " + what + " must be finite and >= 0");
  if (unit.empty())
    throw std::invalid_argument(std::string("'") + std::string(s) + "' has no unit (e.g. " + example + ")");
  return {v, unit};
}

double scale(const std::string& unit, const std::vector<std::pair<const char*, double>>& table,
             std::string_view s, const char* what, const char* example) {
  for (const auto& [name, k] : table)
    if (unit == name) return k;
  throw std::invalid_argument(std::string("'") + std::string(s) + "': unknown " + what + " unit '" + unit +
                              "' (e.g. " + example + ")");
}

}  // namespace

sim::Bytes parse_bytes(std::string_view s) {
  static const char* ex = "80GiB, 141GB, 512MiB";
  auto [v, unit] = split(s, "size", ex);
  return sim::Bytes(v * scale(unit,
                              {{"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
                               {"KiB", 1024.0}, {"MiB", 1024.0 * 1024}, {"GiB", 1024.0 * 1024 * 1024},
                               {"TiB", 1024.0 * 1024 * 1024 * 1024}},
                              s, "size", ex));
}

sim::ByteRate parse_byte_rate(std::string_view s) {
  static const char* ex = "900GB/s, 400Gbps";
  auto [v, unit] = split(s, "bandwidth", ex);
  return sim::ByteRate(v * scale(unit,
                                 {{"B/s", 1}, {"KB/s", 1e3}, {"MB/s", 1e6}, {"GB/s", 1e9}, {"TB/s", 1e12},
                                  {"GiB/s", 1024.0 * 1024 * 1024},
                                  {"bps", 1.0 / 8}, {"Kbps", 1e3 / 8}, {"Mbps", 1e6 / 8}, {"Gbps", 1e9 / 8},
                                  {"Tbps", 1e12 / 8}, {"Mb/s", 1e6 / 8}, {"Gb/s", 1e9 / 8}, {"Tb/s", 1e12 / 8}},
                                 s, "bandwidth", ex));
}

sim::Seconds parse_seconds(std::string_view s) {
  static const char* ex = "1.5us, 10ms";
  auto [v, unit] = split(s, "duration", ex);
  return sim::Seconds(v * scale(unit, {{"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9}}, s, "duration", ex));
}

sim::FlopRate parse_flop_rate(std::string_view s) {
  static const char* ex = "989TFLOPS, 312TFLOP/s";
  auto [v, unit] = split(s, "FLOP rate", ex);
  return sim::FlopRate(v * scale(unit,
                                 {{"FLOPS", 1}, {"GFLOPS", 1e9}, {"TFLOPS", 1e12}, {"PFLOPS", 1e15},
                                  {"FLOP/s", 1}, {"GFLOP/s", 1e9}, {"TFLOP/s", 1e12}, {"PFLOP/s", 1e15}},
                                 s, "FLOP rate", ex));
}

}  // namespace strata::scenario
