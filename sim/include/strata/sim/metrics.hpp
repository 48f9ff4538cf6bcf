#pragma once
// Step-time breakdown from a replay: where each simulated GPU's step went.

#include <array>
#include <vector>

#include "strata/sim/replay.hpp"
#include "strata/sim/task_graph.hpp"

namespace strata::sim {

/// One GPU's step: busy time per compute category, communication not hidden behind compute,
/// and idle time (pipeline bubble and waiting). The parts sum to the step time.
struct GpuBreakdown {
  int gpu = 0;
  Seconds forward, backward, recompute, optimizer;  ///< compute-lane busy time, s
  Seconds exposed_tp, exposed_cp, exposed_ep;       ///< communication not overlapped, s
  Seconds exposed_pp, exposed_dp;                   ///< communication not overlapped, s
  Seconds idle;                                     ///< bubble and waiting, s
  [[nodiscard]] Seconds compute() const { return forward + backward + recompute + optimizer; }
};

/// Breakdown of a whole replay: the step time, the mean over the simulated GPUs, and each GPU.
struct Breakdown {
  Seconds step;
  GpuBreakdown mean;  ///< gpu = -1
  std::vector<GpuBreakdown> per_gpu;
};

/// Splits every simulated GPU's step into compute, exposed communication (TP, CP, EP, PP, DP in
/// that precedence when they overlap each other) and idle time.
Breakdown summarize(const TaskGraph& graph, const ReplayResult& result);

}  // namespace strata::sim
