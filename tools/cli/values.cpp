#include "values.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "strata/topo/gpu.hpp"

namespace strata::cli {

namespace fs = std::filesystem;

// (Appended, not "'" + s + "'": GCC 12 warns falsely.)
std::string in_quotes(std::string_view s) {
  std::string out(1, '\'');
  out += topo::printable(s);
  out += '\'';
  return out;
}

namespace {

std::string range_text(long long lo, long long hi) { return std::to_string(lo) + ".." + std::to_string(hi); }

// A limit for a message ("0.5", "1000000").
std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

}  // namespace

long long parse_integer(std::string_view text, const std::string& what, long long lo, long long hi) {
  long long v = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec == std::errc::invalid_argument || p != end)
    throw UsageError(what + " needs an integer in " + range_text(lo, hi) + ", got " + in_quotes(text));
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    throw UsageError(what + " " + topo::printable(text) + " is out of range (" + range_text(lo, hi) + ")");
  return v;
}

double parse_duration(std::string_view text, const std::string& what, double lo, double hi) {
  double x = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, x);
  // "300" and "300s" are both seconds; nothing else may follow the number.
  const bool unit_ok = p == end || (p + 1 == end && *p == 's');
  if (text.empty() || ec == std::errc::invalid_argument || !unit_ok)
    throw UsageError(what + " needs a number of seconds in " + number_text(lo) + ".." + number_text(hi) + ", got " +
                     in_quotes(text));
  if (ec == std::errc::result_out_of_range || !std::isfinite(x) || x < lo || x > hi)
    throw UsageError(what + " " + in_quotes(text) + " is out of range (" + number_text(lo) + ".." + number_text(hi) +
                     " seconds)");
  return x;
}

double parse_size(std::string_view text, const std::string& what) {
  static const std::vector<std::pair<std::string_view, double>> units = {
      {"", 1},         {"b", 1},
      {"kb", 1e3},     {"mb", 1e6},
      {"gb", 1e9},     {"tb", 1e12},
      {"pb", 1e15},    {"kib", 1024.0},
      {"mib", 1048576.0}, {"gib", 1073741824.0},
      {"tib", 1099511627776.0}, {"pib", 1125899906842624.0}};
  const std::string example = " (bytes, or with a unit: 1GiB, 64MiB, 1GB, 4096B)";
  std::string_view s = text;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  double v = 0;
  const char* end = s.data() + s.size();
  const auto [p, ec] = std::from_chars(s.data(), end, v, std::chars_format::general);
  if (s.empty() || ec == std::errc::invalid_argument) throw UsageError(what + " " + in_quotes(text) + " is not a size" + example);
  std::string unit(p, end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  double scale = 0;
  for (const auto& [name, k] : units)
    if (unit == name) scale = k;
  if (scale == 0) throw UsageError(what + " " + in_quotes(text) + ": unknown size unit" + example);
  const double bytes = v * scale;
  if (std::isnan(v)) throw UsageError(what + " " + in_quotes(text) + " is not a number of bytes");
  if (ec == std::errc::result_out_of_range || !std::isfinite(bytes) || bytes > kMaxSizeBytes)
    throw UsageError(what + " " + in_quotes(text) + " is " + (v < 0 ? "negative" : "larger than 1 PiB"));
  if (!(bytes >= 1)) throw UsageError(what + " " + in_quotes(text) + " is less than 1 byte");
  return bytes;
}

std::vector<double> parse_sweep(std::string_view text) {
  std::vector<std::string_view> parts;
  std::string_view rest = text;
  for (;;) {
    const auto colon = rest.find(':');
    parts.push_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  if (parts.size() < 2 || parts.size() > 3)
    throw UsageError("--sweep needs MIN:MAX or MIN:MAX:FACTOR (e.g. 1MiB:1GiB), got " + in_quotes(text));
  const double lo = parse_size(parts[0], "--sweep MIN");
  const double hi = parse_size(parts[1], "--sweep MAX");
  if (hi < lo) throw UsageError("--sweep " + in_quotes(text) + ": MAX is smaller than MIN");
  double factor = 2;
  if (parts.size() == 3) {
    const std::string_view f = parts[2];
    const auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), factor, std::chars_format::general);
    if (f.empty() || ec != std::errc() || p != f.data() + f.size() || !std::isfinite(factor) || !(factor > 1))
      throw UsageError("--sweep FACTOR needs a finite number > 1, got " + in_quotes(f));
  }
  std::vector<double> sizes;
  for (double s = lo; s <= hi * (1 + 1e-12); s *= factor) {
    if (static_cast<int>(sizes.size()) == kMaxSweepSizes)
      throw UsageError("--sweep " + in_quotes(text) + " has more than " + std::to_string(kMaxSweepSizes) +
                       " sizes (use a larger FACTOR)");
    sizes.push_back(s);
  }
  return sizes;
}

int online_cpus() {
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n >= 1 ? static_cast<int>(std::min<long>(n, 1 << 16)) : 1;
}

void check_output(const std::string& option, const std::string& path) {
  if (path.empty()) throw UsageError(option + " needs a file name");
  const std::string shown = in_quotes(path);
  std::error_code ec;
  const fs::path p(path);
  const fs::file_status st = fs::status(p, ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw UsageError(option + " " + shown + ": cannot write there (" + ec.message() + ")");
  if (fs::is_directory(st)) throw UsageError(option + " " + shown + " is a folder, not a file");
  if (fs::exists(st)) {
    if (::access(path.c_str(), W_OK) != 0)
      throw UsageError(option + " " + shown + ": cannot write (" + std::strerror(errno) + ")");
    return;
  }
  const fs::path parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const fs::file_status ps = fs::status(parent, ec);
  if (!fs::exists(ps)) throw UsageError(option + " " + shown + ": folder " + in_quotes(parent.string()) + " does not exist");
  if (!fs::is_directory(ps)) throw UsageError(option + " " + shown + ": " + in_quotes(parent.string()) + " is not a folder");
  if (::access(parent.c_str(), W_OK | X_OK) != 0)
    throw UsageError(option + " " + shown + ": cannot create a file in " + in_quotes(parent.string()) + " (" +
                     std::strerror(errno) + ")");
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw UsageError("cannot write " + in_quotes(path) + " (" + std::strerror(errno) + ")");
  out << text;
  out.flush();
  if (!out) throw UsageError("cannot write " + in_quotes(path) + " (" + std::strerror(errno) + ")");
}

}  // namespace strata::cli
