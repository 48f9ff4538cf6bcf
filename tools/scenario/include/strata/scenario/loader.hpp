#pragma once
// Input files: model cards, GPU and cluster presets, scenarios. The only place that reads YAML.
// Every problem is an InputError whose message names the file, line and key.

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "strata/strategy/model.hpp"
#include "strata/strategy/op_table.hpp"
#include "strata/strategy/search.hpp"
#include "strata/topo/cluster.hpp"

namespace strata::scenario {

/// A problem in an input file; what() is "FILE:LINE: KEY: message" on one line.
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, int line, const std::string& key, const std::string& message);
  [[nodiscard]] const std::string& file() const { return file_; }
  [[nodiscard]] int line() const { return line_; }  ///< 1-based; 0 if unknown
  [[nodiscard]] const std::string& key() const { return key_; }

 private:
  std::string file_;
  int line_;
  std::string key_;
};

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
strategy::ModelSpec load_model(const std::filesystem::path& file);
/// Reads a GPU preset.
topo::GpuSpec load_gpu(const std::filesystem::path& file);
/// Reads a cluster preset; `gpus` overrides its size when positive.
topo::ClusterSpec load_cluster(const std::filesystem::path& file, const DataDirs& dirs, int gpus = 0);

/// Reads a measured op table (profiler/data format, docs/op-tables.md).
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

/// Reads a scenario and the presets it names.
Scenario load_scenario(const std::filesystem::path& file, const DataDirs& dirs);

}  // namespace strata::scenario
