#pragma once
// Input files: model cards, GPU and cluster presets, scenarios. The only place that reads YAML.
// Every problem is an InputError whose message names the file, line and key.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "strata/strategy/model.hpp"
#include "strata/strategy/op_table.hpp"
#include "strata/strategy/search.hpp"
#include "strata/topo/cluster.hpp"

namespace strata::scenario {

/// A problem in an input file; what() is "FILE:LINE: KEY: message" on one line, with control
/// characters escaped and the file name, key and message clipped (topo::printable).
class InputError : public std::runtime_error {
 public:
  /// `line` is 1-based, 0 if unknown; `key` may be empty.
  InputError(const std::string& file, int line, const std::string& key, const std::string& message);
  [[nodiscard]] const std::string& file() const { return file_; }
  [[nodiscard]] int line() const { return line_; }  ///< 1-based; 0 if unknown
  [[nodiscard]] const std::string& key() const { return key_; }

 private:
  std::string file_;
  int line_;
  std::string key_;
};

/// Largest YAML file strata reads (scenarios, presets, model cards, validation cases), bytes.
inline constexpr std::uintmax_t kMaxYamlBytes = 16u << 20;
/// Largest table strata reads (op tables, the profiler's CSV files), bytes.
inline constexpr std::uintmax_t kMaxTableBytes = 64u << 20;

/// The contents of the regular file `file`, at most `limit` bytes. Throws InputError (line 0)
/// for a missing or unreadable file, a directory, a FIFO, device or socket, a name that is too
/// long or holds a NUL, and a file over the limit (the message states the limit). Never blocks
/// on a FIFO.
std::string read_input_file(const std::filesystem::path& file, std::uintmax_t limit);

/// Folders holding GPU presets, cluster presets and model cards.
struct DataDirs {
  std::filesystem::path gpus;
  std::filesystem::path clusters;
  std::filesystem::path models;
  std::filesystem::path op_tables;  ///< measured op tables, one per GPU preset (profiler/data)
  /// The folders of a strata tree at `root` (topologies/gpus, topologies/clusters, scenarios/models,
  /// profiler/data).
  static DataDirs under(const std::filesystem::path& root);
};

/// $STRATA_HOME if set, else the source tree this binary was built from.
DataDirs default_data_dirs();

/// Reads a model card (layers, hidden, heads, kv_heads, ffn, vocab, seq_len, activation, ...).
/// Every problem, an unreadable file included, is an InputError (ranges: docs/inputs.md).
strategy::ModelSpec load_model(const std::filesystem::path& file);
/// Reads a GPU preset; throws InputError.
topo::GpuSpec load_gpu(const std::filesystem::path& file);
/// Reads a cluster preset; `gpus` overrides its size when positive (at most
/// topo::limits::max_gpus). Throws InputError.
topo::ClusterSpec load_cluster(const std::filesystem::path& file, const DataDirs& dirs, int gpus = 0);

/// Reads a measured op table (profiler/data format, docs/op-tables.md; at most kMaxTableBytes).
/// Throws InputError.
strategy::OpTable load_op_table(const std::filesystem::path& file);
/// The op table shipped for GPU preset `gpu` (`op_tables/GPU.csv`), if there is one.
std::optional<std::filesystem::path> shipped_op_table(const DataDirs& dirs, const std::string& gpu);

/// A scenario: what to train, on what, and which plans to consider.
struct Scenario {
  std::string name;
  std::filesystem::path file;
  strategy::ModelSpec model;
  strategy::TrainingSpec training;
  topo::ClusterSpec cluster;
  strategy::SearchSpace search;
};

/// Reads a scenario and the presets it names. Every problem is an InputError naming the file,
/// line and key; an unknown model card or cluster preset lists the known ones.
Scenario load_scenario(const std::filesystem::path& file, const DataDirs& dirs);

}  // namespace strata::scenario
