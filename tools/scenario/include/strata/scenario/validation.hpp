#pragma once
// Running validation cases: search each case's free plan fields, compare the predicted iteration
// time with the published one, and score the set (mean absolute percentage error over the cases
// with a target, Kendall's tau of the predicted order within each rank group).

#include <optional>
#include <string>
#include <vector>

#include "strata/scenario/cases.hpp"
#include "strata/strategy/search.hpp"

namespace strata::scenario {

/// Outcome of one case.
struct CaseResult {
  std::string id;
  /// "ok", "infeasible", "unsupported", "invalid" (the case is malformed) or "error" (its search
  /// failed: an internal error, or every replay failed)
  std::string status;
  std::string reason;  ///< why, when not ok (or, when ok but incomplete, which replays failed)
  bool incomplete = false;  ///< ok, but some replays failed: the best of the others is reported
  std::optional<strategy::PlanResult> best;
  std::optional<double> predicted_s;
  std::optional<double> target_s;
  std::optional<double> error_pct;  ///< 100 x (predicted - target) / target
  std::optional<double> predicted_tokens_per_s_per_gpu;
  std::optional<double> predicted_mfu;
  std::optional<double> predicted_memory_gib;  ///< peak memory per GPU of the chosen plan
  std::optional<double> measured_memory_gib;   ///< published peak memory per GPU
  std::optional<double> memory_error_pct;      ///< 100 x (predicted - measured) / measured
  strategy::SearchStats stats;
};

/// Kendall's rank correlation of one rank group.
struct GroupScore {
  std::string group;
  std::vector<std::string> ids;  ///< cases that entered the score
  std::optional<double> tau;     ///< tau-b in [-1, 1]; empty with fewer than two scorable cases
  std::string reason;            ///< why tau is empty
};

/// Error of the timed predictions of a set of cases: spread (mean absolute error) and bias (mean
/// signed error; negative = predicted too fast).
struct ErrorStats {
  std::string name;  ///< the source or GPU preset; "all" for the whole run
  int scored = 0;    ///< cases with a published time and a prediction
  double mape = 0;   ///< mean |error_pct|, %
  double mean_signed = 0;  ///< mean error_pct, %
  int too_fast = 0;  ///< predicted below the published time
  int too_slow = 0;  ///< predicted above it
};

/// Scores of a validation run.
struct Summary {
  int cases = 0, ok = 0, infeasible = 0, unsupported = 0, scored = 0;
  int errors = 0;      ///< cases with status "invalid" or "error"
  int incomplete = 0;  ///< ok cases with failed replays
  double mape = 0;  ///< mean |error_pct| over scored cases (overall.mape)
  ErrorStats overall;  ///< the same cases' spread and bias
  std::vector<ErrorStats> by_source;  ///< per case source, by name; sources without a scored case omitted
  std::vector<ErrorStats> by_gpu;     ///< per GPU preset, likewise
  int memory_scored = 0;  ///< cases with a published peak memory and a prediction
  double memory_mape = 0;  ///< mean |memory_error_pct| over them
  double memory_worst = 0;  ///< largest |memory_error_pct|
  std::vector<GroupScore> groups;
};

/// Searches one case (finalists replayed on SimGrid unless `options.use_simgrid` is false) with
/// kernel times from `cost`, or the roofline of the case's GPU when `cost` is null.
CaseResult run_case(const ValidationCase& c, const strategy::SearchOptions& options,
                    const strategy::OpCostModel* cost = nullptr);

/// Scores a set of results. Every rank group is listed; its tau needs two cases with a published
/// throughput and a prediction.
Summary summarize(const std::vector<ValidationCase>& cases, const std::vector<CaseResult>& results);

/// Kendall's tau-b of two paired samples (ties handled); 0 if fewer than two pairs.
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace strata::scenario
