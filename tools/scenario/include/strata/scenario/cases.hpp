#pragma once
// Validation cases in the format of shared/validation/README.md: published runs with their
// model, cluster and plan (null fields were not published and are searched), measurements and
// the iteration time to predict.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "strata/scenario/loader.hpp"
#include "strata/strategy/search.hpp"

namespace strata::scenario {

/// One published run, ready to be searched.
struct ValidationCase {
  std::string id;
  std::string source;
  std::string trust;
  std::string rank_group;  ///< empty if none
  int line = 0;            ///< line of the case in its file
  /// Why the case cannot be modelled (context parallelism, unknown GPU, missing dimensions...).
  std::optional<std::string> unsupported;
  std::optional<std::string> invalid;  ///< the InputError text when the case itself is malformed
  std::vector<std::string> assumptions;  ///< every value strata supplied that the case left out
  strategy::ModelSpec model;
  strategy::TrainingSpec training;
  topo::ClusterSpec cluster;
  strategy::SearchSpace space;  ///< published plan fields fixed, the others free
  std::optional<double> target_iteration_s;
  std::optional<double> measured_rank_value;  ///< published throughput (higher is better)
  std::string measured_rank_key;              ///< which measurement that is
  std::optional<double> measured_peak_memory_gib;  ///< published peak memory per GPU, GiB
};

/// Reads every case of a validation file. A file that is not one (unreadable, malformed YAML, a
/// version other than 1, `cases` not a list) is an InputError. A malformed case (a wrongly typed
/// or out-of-range field, a duplicate id) is returned with `invalid` set to its InputError's text
/// and its id if readable, else "cases[i]", so that the others still run; a case strata cannot
/// model is returned with `unsupported` set.
std::vector<ValidationCase> load_cases(const std::filesystem::path& file, const DataDirs& dirs);

/// Reads a network description ("8x 200 Gb/s HDR InfiniBand HCAs per node", "400 Gb/s per GPU",
/// "4 OPA links per node") into NICs per node and line rate (bytes/s); nullopt if it cannot. Throws
/// std::invalid_argument when it reads a count outside 1..topo::limits::max_nics_per_node or a rate
/// outside topo::limits' bandwidths.
std::optional<std::pair<int, sim::ByteRate>> parse_scale_out(const std::string& text, int gpus_per_node);

/// What a published scale-up description ("NVLink/NVSwitch (DGX A100)", "PCIe Gen4",
/// "NVLink bridges in pairs over PCIe", "NVLink 4, 900 GB/s") says about the links
/// between the GPUs of a node, as strata models them: one rate per GPU for every ring inside the
/// node.
struct ScaleUpReading {
  sim::ByteRate bandwidth;  ///< per GPU and direction, line rate, bytes/s
  /// Fraction of `bandwidth` a ring moves; nullopt: the cluster preset's (fitted for NVLink).
  std::optional<double> efficiency;
  bool nvswitch = true;     ///< an NVSwitch (NVLS possible); false for PCIe, bridges, meshes
  std::string assumption;   ///< what strata took the text to mean, for the case's assumptions
};

/// Reads a scale-up description for GPUs of type `gpu`. NVSwitch, NVL72 and fully connected
/// NVLink run at the GPU's NVLink rate, or at the rate the text gives (GB/s or TB/s, the
/// vendors' total of both directions unless it says "per direction" or "unidirectional");
/// PCIe at the x16 rate of its generation (stated, else the GPU's) times the measured PCIe
/// copy efficiency; NVLink bridges join pairs, so every ring beyond a pair crosses PCIe and runs
/// at its rate; a partial NVLink mesh at the GPU's NVLink rate (NCCL's rings use every link).
/// Text it cannot read falls back to the GPU's NVLink rate, saying so in `assumption`. Never
/// throws beyond std::bad_alloc.
ScaleUpReading parse_scale_up(const std::string& text, const topo::GpuSpec& gpu);

}  // namespace strata::scenario
