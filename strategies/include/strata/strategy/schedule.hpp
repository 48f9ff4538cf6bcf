#pragma once
// Pipeline schedules: the order in which one stage runs its forward and backward passes.

#include <vector>

#include "strata/strategy/plan.hpp"

namespace strata::strategy {

/// One forward or backward pass of one model chunk for one micro-batch.
struct PipelineOp {
  bool forward = true;
  int microbatch = 0;
  int chunk = 0;  ///< model chunk on this stage (0..vpp-1); virtual stage = chunk * pp + stage
  /// A forward of the interleaved schedule's steady state, run back to back with the backward
  /// that follows it; the pair communicates once, after the backward.
  bool pair_start = false;
  friend bool operator==(const PipelineOp&, const PipelineOp&) = default;
};

/// The passes stage `stage` runs, in order, for `m` micro-batches: GPipe (all forwards, then all
/// backwards), 1F1B (Narayanan et al. 2021) or Megatron-LM's interleaved 1F1B. With one stage,
/// forward and backward alternate (gradient accumulation).
std::vector<PipelineOp> stage_schedule(const Plan& p, int stage, int m);

}  // namespace strata::strategy
