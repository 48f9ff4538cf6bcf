#pragma once
// Plan-space search: enumerate every plan the constraints allow, reject what cannot run (with the
// reason), screen the rest with the analytical backend under a branch-and-bound on a compute
// lower bound, and replay the finalists on SimGrid.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "strata/sim/metrics.hpp"
#include "strata/sim/replay.hpp"
#include "strata/strategy/builder.hpp"
#include "strata/strategy/memory.hpp"
#include "strata/strategy/model.hpp"
#include "strata/strategy/ops.hpp"
#include "strata/strategy/plan.hpp"
#include "strata/topo/cluster.hpp"

namespace strata::strategy {

/// What is being planned: model, training settings, cluster and the kernel-time source.
struct Problem {
  ModelSpec model;
  TrainingSpec training;
  topo::ClusterSpec cluster;
  const OpCostModel* cost = nullptr;  ///< not owned; must outlive every use of the problem
};

/// Allowed values of one integer plan field: empty `values` means "any valid value".
struct IntChoice {
  std::vector<int> values;
  std::optional<int> min, max;
  [[nodiscard]] bool allows(int v) const;
};

/// Constraints on the plan space (fix or limit any field).
///
/// Defaults when a field is free: cp = powers of two that leave at least `min_cp_tokens` tokens of
/// a sequence per GPU, with both CP variants; ep = the divisors of dp that divide the experts (1
/// for a dense model); hybrid sharding (shard = GPUs per node) tried beside full sharding for
/// ZeRO-3; TP overlap tried with sequence parallelism (Megatron-LM needs both); recompute_layers
/// = 0 (all layers) only.
struct SearchSpace {
  IntChoice tp, pp, dp, micro_batch, vpp, zero;
  IntChoice cp, ep, shard, recompute_layers;
  std::vector<bool> sequence_parallel;  ///< empty = both
  std::vector<Recompute> recompute;     ///< empty = all
  std::vector<Schedule> schedule;       ///< empty = all
  std::vector<CpComm> cp_comm;          ///< empty = both
  std::vector<bool> tp_overlap;         ///< empty = both where it applies
  std::vector<std::string> order;       ///< rank placements to try; empty = Megatron's only
  bool tp_within_node = true;           ///< keep TP groups inside one NVSwitch node
  int max_micro_batch = 16;             ///< when micro_batch is free
  int min_cp_tokens = 4096;             ///< when cp is free: tokens per GPU it must leave
};

/// Why a plan cannot run regardless of memory, as (short reason, detail); nullopt if it can.
std::optional<std::pair<std::string, std::string>> structural_problem(const Problem& pb, const Plan& p,
                                                                      bool tp_within_node = true);

/// A plan that passed the structural and memory checks.
struct Candidate {
  Plan plan;
  MemoryReport memory;
};

/// Result of enumerating a space.
struct Enumeration {
  std::int64_t enumerated = 0;
  std::vector<Candidate> feasible;
  std::map<std::string, std::int64_t> infeasible;  ///< count per short reason
};

/// Every plan the space allows, split into feasible candidates and counted rejections.
Enumeration enumerate_plans(const Problem& pb, const SearchSpace& space);

/// Checks one plan: nullopt if it runs, else (short reason, detail) incl. out of memory.
std::optional<std::pair<std::string, std::string>> check_plan(const Problem& pb, const Plan& p,
                                                              bool tp_within_node = true);

/// A lower bound on the step time, s: for every stage, its compute-stream work (tasks on one
/// stream run one after another) plus the first micro-batch's forward through the stages before
/// it and, except under ZB-H1, the last one's backward back through them; and its data-parallel
/// traffic: the gradient reductions one after another (after the weights' gather before the
/// first forward, where there is one), the optimizer, and the gather after it. No replay is
/// faster.
sim::Seconds step_time_bound(const Problem& pb, const Plan& p);
/// The same on `net` (pb.cluster.network(false), built once for many plans).
sim::Seconds step_time_bound(const Problem& pb, const Plan& p, const sim::NetworkSpec& net);

/// A timed plan.
struct PlanResult {
  Plan plan;
  MemoryReport memory;
  std::string backend;  ///< "analytical" or "simgrid"
  sim::Breakdown breakdown;
  std::uint64_t tasks = 0;
  std::uint64_t events = 0;
  double wall_seconds = 0;
  [[nodiscard]] sim::Seconds step_time() const { return breakdown.step; }
};

/// Builds and replays one plan.
PlanResult evaluate(const Problem& pb, const Plan& p, const sim::ReplayBackend& backend,
                    Granularity granularity);

/// Tokens per second of the whole cluster.
double tokens_per_second(const Problem& pb, sim::Seconds step);
/// Model FLOPs utilisation (PaLM convention, no recomputation) at the training precision's peak.
double mfu(const Problem& pb, sim::Seconds step);

/// Serialises the numbers of a result (exact, hexadecimal floats) for a child process.
std::string serialize(const PlanResult& r);
/// Inverse of `serialize` for the given plan and memory; throws std::runtime_error if malformed.
PlanResult deserialize(const std::string& text, const Plan& plan, const MemoryReport& memory);

/// How a search runs.
struct SearchOptions {
  int finalists = 5;       ///< plans replayed on SimGrid (the best by analytical time)
  /// Plans ranked exactly (the lower bound prunes only what cannot enter the best
  /// max(finalists, keep)); the rest of the ranking is a partial list.
  int keep = 0;
  int jobs = 1;            ///< parallel SimGrid replays (forked processes)
  bool use_simgrid = true; ///< false: rank by the analytical backend only
  /// Wall-clock limit of one SimGrid replay, s (0 = none); a replay past it is killed and fails.
  double replay_timeout_s = 600;
  std::function<void(const std::string&)> progress;  ///< progress lines (may be empty)
};

/// A plan the search could not time: its replay threw, crashed, was killed or timed out. It is
/// reported, never ranked (not even on its analytical time).
struct FailedPlan {
  Plan plan;
  MemoryReport memory;
  std::string backend;  ///< the replay that failed: "analytical" or "simgrid"
  std::string error;    ///< why, one line
  std::optional<sim::Seconds> analytical;  ///< its analytical step time, when only SimGrid failed
};

/// Counters of a search.
struct SearchStats {
  std::int64_t enumerated = 0;
  std::int64_t feasible = 0;
  std::map<std::string, std::int64_t> infeasible;
  std::int64_t screened = 0;   ///< replayed analytically
  std::int64_t bounded = 0;    ///< skipped: lower bound above the finalists' times
  std::int64_t simulated = 0;  ///< replayed on SimGrid
  std::int64_t failed = 0;     ///< replays that failed (SearchResult::failed says which and why)
  std::vector<std::string> errors;  ///< "PLAN: why" for every failed replay
  double wall_seconds = 0;
};

/// Ranked plans: SimGrid-timed finalists first (by SimGrid time), then the other screened
/// plans by analytical time. Ties break on the plan string. Plans whose replay failed are in
/// `failed`, in the order they would have been ranked; the ranking is then incomplete.
struct SearchResult {
  std::vector<PlanResult> ranked;
  std::vector<FailedPlan> failed;
  SearchStats stats;
  /// True when every plan the search meant to time was timed.
  [[nodiscard]] bool complete() const { return failed.empty(); }
};

/// Runs the whole search. A plan whose replay fails (an exception, or a SimGrid child that
/// crashes, is killed or times out) goes to `failed` and the search goes on. Throws
/// std::invalid_argument if the inputs are inconsistent.
SearchResult search(const Problem& pb, const SearchSpace& space, const SearchOptions& options);

}  // namespace strata::strategy
