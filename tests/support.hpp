#pragma once
// Shared helpers for strata's tests: paths, temporary folders, running the strata binary.

#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/wait.h>


namespace strata::test {

inline std::filesystem::path source_dir() { return STRATA_SOURCE_DIR; }
inline std::filesystem::path golden_dir() { return STRATA_GOLDEN_DIR; }

/// The shared validation folder; throws (failing the test) if the checkout lacks it.
inline std::filesystem::path validation_dir() {
  const std::filesystem::path p = std::filesystem::path(STRATA_SHARED_DIR) / "validation";
  if (!std::filesystem::is_directory(p))
    throw std::runtime_error("shared validation data not found at " + p.string() +
                             " (set STRATA_SHARED_DIR when configuring)");
  return p;
}

/// Output and exit code of a shell command.
struct Run {
  int code = -1;
  std::string out;  ///< stdout and stderr together
};

/// Runs a shell command, stderr merged into stdout.
inline Run run_command(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  Run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("cannot run " + cmd);
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

/// Runs the strata binary with `args` (shell-quoted by the caller), stderr merged into stdout,
/// reading presets from `home` (the source tree by default).
inline Run run_strata(const std::string& args, const std::string& home = STRATA_SOURCE_DIR) {
  return run_command("STRATA_HOME='" + home + "' '" + STRATA_BINARY + "' " + args);
}

/// A temporary directory removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "strata-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  /// Writes `text` to `name` inside the directory and returns its path.
  [[nodiscard]] std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

}  // namespace strata::test

#include <fstream>
inline std::filesystem::path strata::test::TempDir::write(const std::string& name, const std::string& text) const {
  const auto p = path_ / name;
  std::ofstream(p) << text;
  return p;
}
