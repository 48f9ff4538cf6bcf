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

/// Activation bytes one layer stores for one micro-batch until its backward pass (a MoE layer
/// when `s.moe`).
Bytes layer_activation_bytes(const LayerShape& s, Recompute r);

/// What a layer still holds for one micro-batch between its input-gradient (B) and weight-
/// gradient (W) passes in a zero-bubble schedule: the inputs of its weight GEMMs and the
/// gradients of their outputs.
Bytes layer_weight_grad_bytes(const LayerShape& s);

/// The largest single activation tensor of one layer for one micro-batch (MLP intermediate,
/// layer output, or the unfused attention scores), bytes.
Bytes largest_activation(const LayerShape& s);

/// Micro-batches (model-chunk micro-batches for the interleaved schedule) whose activations
/// stage `stage` holds at its peak, with `m` micro-batches per step.
int inflight_microbatches(const Plan& p, int stage, int m);
/// Micro-batches whose weight-gradient pass stage `stage` has deferred at its peak (ZB-H1: up
/// to `stage`; 0 for the other schedules).
int deferred_weight_microbatches(const Plan& p, int stage, int m);

/// Transformer layers held by pipeline stage `stage` (all its model chunks).
int stage_layers(const ModelSpec& m, const Plan& p, int stage);

/// Index of the first layer of virtual stage `vs` (chunk c of stage s is vs = c x pp + s).
int first_layer_of(const ModelSpec& m, const Plan& p, int vs);

/// Parameters (elements) one GPU of a stage holds before ZeRO sharding: `dense` are replicated
/// over the dp x cp group; `expert` (routed experts) over dp x cp / ep.
struct StageParams {
  double dense = 0, expert = 0;
  [[nodiscard]] double total() const { return dense + expert; }
};
/// Parameters of stage `stage`'s transformer layers on one GPU (TP and EP shards): the
/// stage's parameters less its embedding and output layer.
StageParams stage_layer_split(const ModelSpec& m, const Plan& p, int stage);
/// Parameters of stage `stage`'s model chunks on one GPU (TP and EP shards).
StageParams stage_param_split(const ModelSpec& m, const TrainingSpec& t, const Plan& p, int stage);
/// stage_param_split(...).total().
double stage_params(const ModelSpec& m, const TrainingSpec& t, const Plan& p, int stage);
/// Parameters one GPU updates in its optimizer step (its ZeRO shard with zero >= 1).
double optimizer_params(const ModelSpec& m, const TrainingSpec& t, const Plan& p, int stage);
/// Kernels of stage `stage`'s end-of-step update on one GPU: the optimizer step over its
/// parameters and, under FP8 with Transformer Engine, the weights' cast to FP8 for the next step.
std::vector<Op> optimizer_ops(const ModelSpec& m, const TrainingSpec& t, const Plan& p, int stage);
/// GPUs over which the expert parameters are replicated (and ZeRO-sharded): dp x cp / ep, capped
/// by the shard group with hybrid sharding.
int expert_shard_group(const Plan& p);

/// Memory of every stage of `plan`. `reserved` is what the runtime keeps (CUDA context,
/// library workspaces, communication buffers).
MemoryReport plan_memory(const ModelSpec& m, const TrainingSpec& t, const Plan& p, Bytes reserved);

}  // namespace strata::strategy
