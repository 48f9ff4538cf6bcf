#pragma once
// Per-GPU memory of a plan: weights, gradients and optimizer state by ZeRO stage, activations
// (Korthikanti et al. 2022, generalised to grouped-query attention, SwiGLU and FlashAttention)
// times the micro-batches the schedule keeps in flight, and what the runtime reserves.

#include <vector>

#include "strata/sim/units.hpp"
#include "strata/strategy/model.hpp"
#include "strata/strategy/ops.hpp"
#include "strata/strategy/plan.hpp"
#include "strata/topo/gpu.hpp"

namespace strata::strategy {

/// Memory of one GPU of one pipeline stage, bytes.
struct StageMemory {
  int stage = 0;
  double params = 0;  ///< parameters held (elements, before ZeRO sharding)
  Bytes weights, gradients, optimizer, activations, transient, reserved;
  [[nodiscard]] Bytes total() const {
    return weights + gradients + optimizer + activations + transient + reserved;
  }
};

/// Memory of every stage and the largest.
struct MemoryReport {
  std::vector<StageMemory> stages;
  StageMemory peak;  ///< the stage with the largest total
};

/// Activation bytes one layer stores for one micro-batch until its backward pass.
Bytes layer_activation_bytes(const LayerShape& s, Recompute r);

/// The largest single activation tensor of one layer for one micro-batch (MLP intermediate,
/// layer output, or the unfused attention scores), bytes.
Bytes largest_activation(const LayerShape& s);

/// Micro-batches (model-chunk micro-batches for the interleaved schedule) whose activations
/// stage `stage` holds at its peak, with `m` micro-batches per step.
int inflight_microbatches(const Plan& p, int stage, int m);

/// Transformer layers held by pipeline stage `stage` (all its model chunks).
int stage_layers(const ModelSpec& m, const Plan& p, int stage);

/// Parameters (elements) of stage `stage`'s model chunks on one TP rank.
double stage_params(const ModelSpec& m, const TrainingSpec& t, const Plan& p, int stage);

/// Memory of every stage of `plan`. `reserved` is what the runtime keeps (CUDA context,
/// library workspaces, communication buffers).
MemoryReport plan_memory(const ModelSpec& m, const TrainingSpec& t, const Plan& p, Bytes reserved);

}  // namespace strata::strategy
