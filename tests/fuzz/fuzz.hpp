#pragma once
// Shared by the libFuzzer targets of tests/fuzz (docs/robustness.md).
//
// The oracle: an input is either accepted or refused with the parser's documented error type,
// which each target catches. Anything else is a finding that libFuzzer reports as a crash and
// keeps: another exception escaping LLVMFuzzerTestOneInput (std::terminate, then abort), a
// sanitizer report, a run over -timeout, memory over -rss_limit_mb, or `finding()` below for a
// broken property (a round trip that changes a value, a number that is not finite).

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "strata/scenario/loader.hpp"

namespace strata::fuzz {

/// The input bytes as text (not NUL-terminated; may hold NULs).
inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Reports a broken property with `what` on stderr and aborts, so that libFuzzer saves the input.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "strata fuzz finding: %s\n", what.c_str());
  std::abort();
}

namespace detail {

// This process's scratch folder: /dev/shm (memory) where it exists. One folder per process, so
// that libFuzzer's -jobs/-fork workers never share a file; removed at exit, and folders left by
// crashed processes are removed by the next target that starts.
class Scratch {
 public:
  Scratch() {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    for (const auto& e : fs::directory_iterator(base, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind(kPrefix, 0) != 0) continue;
      const long pid = std::strtol(name.c_str() + std::string_view(kPrefix).size(), nullptr, 10);
      if (pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0) fs::remove_all(e.path(), ec);
    }
    dir_ = base / (kPrefix + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  static constexpr const char* kPrefix = "strata-fuzz-";
  std::filesystem::path dir_;
};

}  // namespace detail

/// Writes the input to this process's scratch file `name` (e.g. "input.yaml") and returns its
/// path; the next run overwrites it. The loaders take paths, so this is how they see the input.
inline std::filesystem::path as_file(const std::uint8_t* data, std::size_t size, const std::string& name) {
  static const detail::Scratch scratch;
  const std::filesystem::path file = scratch.dir() / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) finding("cannot write the scratch file " + file.string());
  return file;
}

/// The presets and model cards of the source tree the targets were built from.
inline const scenario::DataDirs& data_dirs() {
  static const scenario::DataDirs dirs = scenario::DataDirs::under(STRATA_SOURCE_DIR);
  return dirs;
}

}  // namespace strata::fuzz
