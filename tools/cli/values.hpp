#pragma once
// Checked values of command-line options: integers in a range, durations, sizes, sweeps, output
// files. Nothing here knows about a command line library; every problem is a UsageError whose
// message names the option (exit code 2).

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace strata::cli {

/// A bad command line or option value; what() is one line naming the option. Exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// `s` in single quotes, clipped and escaped to be printable (topo::printable), for messages.
std::string in_quotes(std::string_view s);

/// `text` as a whole decimal integer in [lo, hi]; `what` names it in messages ("--top").
/// Throws UsageError for anything else (signs other than '-', spaces, trailing junk, overflow).
long long parse_integer(std::string_view text, const std::string& what, long long lo, long long hi);

/// `text` as a number of seconds in [lo, hi] ("300", "0.5", "300s"); `what` names it. Throws
/// UsageError for anything else, NaN and infinity included.
double parse_duration(std::string_view text, const std::string& what, double lo, double hi);

/// Largest size `parse_size` accepts, bytes (1 PiB).
inline constexpr double kMaxSizeBytes = 1125899906842624.0;

/// A buffer size in bytes: a bare number is bytes; units B, KB, MB, GB, TB, PB (powers of 1000)
/// and KiB, MiB, GiB, TiB, PiB (powers of 1024), in any case ("1gib", "64MiB", "1000000000").
/// Throws UsageError unless it is finite, at least 1 byte and at most kMaxSizeBytes.
double parse_size(std::string_view text, const std::string& what);

/// Most sizes a sweep may have.
inline constexpr int kMaxSweepSizes = 1000;

/// Sizes of `--sweep MIN:MAX[:F]`, bytes: MIN, MIN x F, ... up to MAX (F = 2 by default). Throws
/// UsageError unless MIN <= MAX are sizes `parse_size` accepts, F is finite and > 1, and there
/// are at most kMaxSweepSizes of them.
std::vector<double> parse_sweep(std::string_view text);

/// CPUs online on this machine (at least 1).
int online_cpus();

/// Checks, before any long work, that `path` (the value of `option`) can be written: not empty,
/// not a folder, in a folder that exists, and writable. Creates and truncates nothing. Throws
/// UsageError saying what is wrong.
void check_output(const std::string& option, const std::string& path);

/// Writes `text` to `path` (replacing it). Throws UsageError if it cannot.
void write_file(const std::string& path, const std::string& text);

}  // namespace strata::cli
