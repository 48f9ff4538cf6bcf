#pragma once
// The command line of one strata command. Parsing is CLI11's (kept inside args.cpp); the rules
// are strata's: every option at most once, unknown options and stray arguments refused, every
// number checked (values.hpp) before it is used. Every problem is a UsageError (exit code 2).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "values.hpp"

namespace strata::cli {

/// The options of one command (e.g. "strata rank"), declared, then parsed from its arguments.
class CommandLine {
 public:
  /// `command` names the command in messages ("strata rank").
  explicit CommandLine(std::string command);
  ~CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  /// Declares `--name VALUE` (`--name=VALUE` too), and `-S VALUE` when `short_name` is not 0.
  void option(const std::string& name, char short_name = 0);
  /// Declares a switch `--name` that takes no value.
  void flag(const std::string& name);

  /// Parses `args` (the words after the command). Returns false when -h or --help asks for the
  /// help text. Throws UsageError for an unknown option, an option given twice, a missing value.
  bool parse(const std::vector<std::string>& args);

  /// The value of option `name`, if given.
  [[nodiscard]] std::optional<std::string> value(const std::string& name) const;
  /// Whether switch or option `name` was given.
  [[nodiscard]] bool has(const std::string& name) const;
  /// The words that are not options, in order.
  [[nodiscard]] const std::vector<std::string>& positional() const;
  /// The only positional word; throws UsageError naming `what` (e.g. "SCENARIO") otherwise.
  [[nodiscard]] std::string one_positional(const char* what) const;

  /// Option `name` as an integer in [lo, hi], `fallback` when absent. Throws UsageError.
  [[nodiscard]] long long integer(const std::string& name, long long fallback, long long lo, long long hi) const;
  /// Option `name` as a number of seconds in [lo, hi] ("300", "0.5"), `fallback` when absent.
  [[nodiscard]] double seconds(const std::string& name, double fallback, double lo, double hi) const;
  /// Option `name` as an output file checked with `check_output`, if given.
  [[nodiscard]] std::optional<std::string> output(const std::string& name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::cli
