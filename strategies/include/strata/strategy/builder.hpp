#pragma once
// Turns (model, training, cluster, plan) into the task graph of one training step.
//
// The graph holds the representative GPU of every pipeline stage (TP, CP, EP and DP rank 0);
// the other ranks do the same work at the same time, so their traffic is accounted for by
// symmetry in the collectives' port loads. Per stage it has, in the order of the pipeline
// schedule: forward, recompute and backward compute (split into input- and weight-gradient
// passes under ZB-H1), TP, CP and EP collectives on the compute stream (TP with tp_overlap and
// ring attention's K/V exchange on the overlap stream, beside the kernels they hide behind),
// pipeline sends, data-parallel gradient reduction (bucketed, started as soon as a bucket's last
// backward ends, so it overlaps the remaining backward; hybrid sharding reduces within the shard
// group, then across), ZeRO all-gathers, and the optimizer step.

#include <string_view>

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

/// Times of one layer's pieces for one micro-batch on one GPU, s.
struct LayerCosts {
  Seconds forward, backward, recompute;      ///< kernels (recompute: of the plan's kind)
  Seconds backward_input, backward_weight;   ///< backward split for zero-bubble schedules
  Seconds forward_gemms, backward_gemms;     ///< the GEMMs TP overlap hides collectives behind
  Seconds attention_forward, attention_backward;  ///< the attention core
  Seconds full_recompute;                    ///< the forward again (recompute=full)
  Seconds tp;                                ///< one pass's TP collectives on idle links
  Seconds tp_hidden, tp_last;                ///< with TP overlap: the (tp-1)/tp part, the last 1/tp
  Seconds cp_forward, cp_backward;           ///< CP collectives on idle links
  Seconds ep;                                ///< one pass's EP all-to-alls on idle links
};

/// Times of the pieces every stage repeats, for one micro-batch on one TP rank.
struct PlanCosts {
  LayerCosts dense;  ///< a dense layer
  LayerCosts moe;    ///< a MoE layer (equal to dense for a dense model)
  Seconds embedding_forward, embedding_backward;  ///< first virtual stage, s
  Seconds head_forward, head_backward;            ///< last virtual stage, s
  Seconds embedding_tp;  ///< the embedding's TP reduction, s
  /// Lower bound on the compute-stream time of stage `stage` over a whole step, optimizer
  /// excluded: kernels plus the communication nothing can hide.
  [[nodiscard]] Seconds stage_compute(const ModelSpec& m, const Plan& p, int stage, int microbatches) const;
};

/// Costs of one plan's repeated pieces with `cost` on `cluster`.
PlanCosts plan_costs(const ModelSpec& model, const TrainingSpec& training,
                     const topo::ClusterSpec& cluster, const Plan& plan, const OpCostModel& cost);

/// GPU rank of stage `stage`'s representative (tp, cp and dp rank 0) under the plan's order.
int stage_rank(const Plan& p, int stage);

/// The slowest layout over `net`'s NVLink domains among the plan's groups along one dimension
/// ("tp", "cp", "ep", "dp" or "pp"; all such groups have the same size and differ in where they
/// start): e.g. for tp=6 on 8-GPU nodes, a group with 2 GPUs in one node and 4 in the next.
/// Throws std::invalid_argument for an unknown dimension.
sim::GroupShape line_shape(const Plan& p, std::string_view dim, const sim::NetworkSpec& net);

/// Builds the step's task graph. The plan must be valid for the inputs (see `check_plan`);
/// throws std::invalid_argument otherwise.
sim::TaskGraph build_task_graph(const ModelSpec& model, const TrainingSpec& training,
                                const topo::ClusterSpec& cluster, const Plan& plan,
                                const OpCostModel& cost, Granularity granularity);

}  // namespace strata::strategy
