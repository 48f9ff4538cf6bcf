#pragma once
// Strict YAML mapping reader shared by the loaders: every key read is recorded, unknown keys are
// errors, and every error carries file, line and key path. parse_file has already refused
// duplicate keys, keys that are not plain scalars and files holding more than one document, so
// the reader can take every key as a string.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "strata/scenario/loader.hpp"

namespace strata::scenario::detail {

/// Reads and parses a whole file (at most kMaxYamlBytes). Unreadable files, syntax errors,
/// duplicate keys (in any mapping), non-scalar or alias keys and a second document are InputErrors.
YAML::Node parse_file(const std::string& file);

/// `s` quoted for a message: '...', control characters escaped, clipped to 80 characters.
std::string shown(std::string_view s);

/// Parses a whole decimal integer ("+" allowed); nullopt if `s` is not one or does not fit.
std::optional<std::int64_t> to_integer(std::string_view s);
/// Parses a finite decimal number; nullopt if `s` is not one (NaN, infinity, overflow included).
std::optional<double> to_number(std::string_view s);

/// Whether `name` can name a preset or model card: 1 to 256 letters, digits, '.', '_' or '-',
/// not starting with '.' (so it cannot leave its folder).
bool preset_name(std::string_view name);
/// Why `path` cannot be read as an input file ("no such file", "is a directory", "not a regular
/// file", "file name too long", ...), or nullopt if it can. Never throws.
std::optional<std::string> file_problem(const std::filesystem::path& path);
/// The names (stems) of the .yaml files in `dir`, sorted and comma-separated; "" if none.
std::string known_names(const std::filesystem::path& dir);
/// Runs `body`, turning any YAML::Exception that escapes it into an InputError for `file`.
template <class F>
auto guard_yaml(const std::string& file, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const YAML::Exception& e) {
    throw InputError(file, e.mark.is_null() ? 0 : e.mark.line + 1, "", "YAML: " + e.msg);
  }
}

class MapReader {
 public:
  /// `path` is the key path of `node` ("" for the document root). With `nulls`, a key whose value
  /// is null (`key:` or `key: ~`) counts as absent (validation cases: "not published"); without,
  /// it is an InputError wherever it is read. Throws InputError unless `node` is a mapping.
  MapReader(YAML::Node node, std::string file, std::string path, bool nulls = false);

  /// Present and not null (a null throws InputError unless nulls count as absent).
  [[nodiscard]] bool has(const std::string& key) const;
  /// The child node; marks it read. Throws InputError if missing or null.
  YAML::Node need(const std::string& key);
  /// The child node if present and not null; marks it read (a null throws InputError unless
  /// nulls count as absent).
  std::optional<YAML::Node> maybe(const std::string& key);

  /// A scalar; throws InputError if missing or not a scalar.
  std::string text(const std::string& key);
  /// A name: 1 to 256 characters of UTF-8 without control characters; throws InputError.
  std::string name(const std::string& key);
  /// An integer in [min, max]; throws InputError naming the range otherwise.
  int integer(const std::string& key, int min, int max);
  /// A finite number (NaN and infinity are InputErrors, as is anything else that is not a number).
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
  /// The text of scalar `n`; throws InputError (naming `key`) if it is a list or mapping.
  std::string scalar(const YAML::Node& n, const std::string& key) const;

 private:
  [[nodiscard]] std::string key_of(const YAML::Node& k) const;

  YAML::Node node_;
  std::string file_;
  std::string path_;
  std::set<std::string> read_;
  bool nulls_ = false;
};

}  // namespace strata::scenario::detail
