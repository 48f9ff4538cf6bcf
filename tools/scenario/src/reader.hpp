#pragma once
// Strict YAML mapping reader shared by the loaders: every key read is recorded, unknown keys are
// errors, and every error carries file, line and key path.

#include <yaml-cpp/yaml.h>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "strata/scenario/loader.hpp"

namespace strata::scenario::detail {

/// Parses a whole file; syntax errors become InputError.
YAML::Node parse_file(const std::string& file);

class MapReader {
 public:
  /// `path` is the key path of `node` ("" for the document root).
  MapReader(YAML::Node node, std::string file, std::string path);

  [[nodiscard]] bool has(const std::string& key) const;  ///< present and not null
  /// The child node; marks it read. Throws InputError if missing or null.
  YAML::Node need(const std::string& key);
  /// The child node if present and not null; marks it read.
  std::optional<YAML::Node> maybe(const std::string& key);

  std::string text(const std::string& key);
  int integer(const std::string& key);
  double number(const std::string& key);
  bool boolean(const std::string& key);
  /// Applies `parse` (which may throw std::invalid_argument) to the scalar at `key`.
  template <class T>
  T parsed(const std::string& key, const std::function<T(const std::string&)>& parse) {
    const YAML::Node n = need(key);
    return convert<T>(n, key, parse);
  }
  template <class T>
  T convert(const YAML::Node& n, const std::string& key, const std::function<T(const std::string&)>& parse) {
    const std::string s = scalar(n, key);
    try {
      return parse(s);
    } catch (const std::invalid_argument& e) {
      fail_at(n, key, e.what());
    }
  }
  /// A nested mapping reader for `key`.
  MapReader map(const std::string& key);
  /// Throws InputError for the first key that was never read.
  void finish() const;

  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  [[noreturn]] void fail_at(const YAML::Node& n, const std::string& key, const std::string& message) const;
  [[nodiscard]] std::string key_path(const std::string& key) const;
  [[nodiscard]] const std::string& file() const { return file_; }
  [[nodiscard]] int line() const;
  [[nodiscard]] int line_of(const std::string& key) const;
  /// Keys in file order.
  [[nodiscard]] std::vector<std::string> keys() const;
  std::string scalar(const YAML::Node& n, const std::string& key) const;

 private:
  YAML::Node node_;
  std::string file_;
  std::string path_;
  std::set<std::string> read_;
};

}  // namespace strata::scenario::detail
