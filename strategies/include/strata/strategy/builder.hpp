#pragma once
// Turns (model, training, cluster, plan) into the task graph of one training step.
//
// The graph holds the representative GPU of every pipeline stage (TP rank 0 of DP replica 0);
// the other TP ranks and DP replicas do the same work at the same time, so their traffic is
// accounted for by symmetry in the collectives' port loads. Per stage it has, in the order of
// the pipeline schedule: forward, recompute and backward compute, TP collectives on the compute
// stream, pipeline sends on the p2p stream, data-parallel gradient reduction (bucketed, started
// as soon as a bucket's last backward ends, so it overlaps the remaining backward), ZeRO
// all-gathers, and the optimizer step.

#include "strata/sim/task_graph.hpp"
#include "strata/strategy/model.hpp"
#include "strata/strategy/ops.hpp"
#include "strata/strategy/plan.hpp"
#include "strata/topo/cluster.hpp"

namespace strata::strategy {

/// Task granularity: one task per model chunk and micro-batch (fast, for screening), or one per
/// layer with one task per TP collective and per gradient bucket (for the final replay).
enum class Granularity { chunk, layer };

/// Elements per data-parallel gradient bucket (Megatron-LM's default).
inline constexpr double kBucketParams = 40e6;

/// Times of the pieces every stage repeats, for one micro-batch on one TP rank.
struct PlanCosts {
  Seconds layer_forward, layer_backward, layer_recompute;  ///< one layer's kernels, s
  Seconds embedding_forward, embedding_backward;          ///< first virtual stage, s
  Seconds head_forward, head_backward;                    ///< last virtual stage, s
  Seconds layer_tp;      ///< one layer's forward TP collectives on idle links, s
  Seconds embedding_tp;  ///< the embedding's TP reduction, s
  /// Compute-stream time of stage `stage` over a whole step, optimizer excluded.
  [[nodiscard]] Seconds stage_compute(const Plan& p, int layers, int stage, int microbatches) const;
};

/// Costs of one plan's repeated pieces with `cost` on `cluster`.
PlanCosts plan_costs(const ModelSpec& model, const TrainingSpec& training,
                     const topo::ClusterSpec& cluster, const Plan& plan, const OpCostModel& cost);

/// GPU rank of stage `stage`'s representative (tp rank 0, dp replica 0) under tp-dp-pp order.
int stage_rank(const Plan& p, int stage);

/// Builds the step's task graph. The plan must be valid for the inputs (see `check_plan`);
/// throws std::invalid_argument otherwise.
sim::TaskGraph build_task_graph(const ModelSpec& model, const TrainingSpec& training,
                                const topo::ClusterSpec& cluster, const Plan& plan,
                                const OpCostModel& cost, Granularity granularity);

}  // namespace strata::strategy
