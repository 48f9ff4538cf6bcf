#pragma once
// Pipeline schedules: the order in which one stage runs its forward and backward passes.

#include <vector>

#include "strata/strategy/plan.hpp"

namespace strata::strategy {

/// One forward or backward pass of one model chunk for one micro-batch. Under ZB-H1 a backward
/// is two ops: the input-gradient pass (B) and, later, the weight-gradient pass (`weight`).
struct PipelineOp {
  bool forward = true;
  int microbatch = 0;
  int chunk = 0;  ///< model chunk on this stage (0..vpp-1); virtual stage = chunk * pp + stage
  /// A forward of the interleaved schedule's steady state, run back to back with the backward
  /// that follows it; the pair communicates once, after the backward.
  bool pair_start = false;
  bool weight = false;  ///< a deferred weight-gradient pass (ZB-H1 only; forward is false)
  friend bool operator==(const PipelineOp&, const PipelineOp&) = default;
};

/// The passes stage `stage` runs, in order, for `m` micro-batches: GPipe (all forwards, then all
/// backwards), 1F1B (Narayanan et al. 2021), Megatron-LM's interleaved 1F1B, or ZB-H1 (Qi et al.
/// 2023: 1F1B's order of forwards and input-gradient passes, each stage s running a micro-
/// batch's weight-gradient pass s micro-batches late, which fills the cool-down bubble; with
/// T_W <= T_B and m >= pp the bubble is (pp - 1)(T_F + T_B - T_W)). With one stage, forward and
/// backward alternate (gradient accumulation).
std::vector<PipelineOp> stage_schedule(const Plan& p, int stage, int m);

}  // namespace strata::strategy
