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

#include <array>
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

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

/// DeepSpeed ZeRO-3 before v0.6.0 (TrainingSpec::zero3_blocking_fetch): elements prefetched
/// ahead of the running sub-module (stage3_prefetch_bucket_size's default, 5e7) and weight
/// matrices gathered one by one per transformer layer (QKV, attention output, MLP in, MLP out;
/// biases and norms are below stage3_param_persistence_threshold = 1e5 and stay resident).
inline constexpr double kDeepSpeedPrefetchElements = 5e7;
inline constexpr int kDeepSpeedLayerMatrices = 4;
/// stage3_max_reuse_distance's default: a gathered matrix used again within this many
/// elements of other parameters stays gathered.
inline constexpr double kDeepSpeedReuseDistance = 1e9;

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

/// Rank strides of the tensor, context, expert, data-parallel replica and stage coordinates
/// under the plan's order (placement_rank is linear in each); 0 for a dimension of size 1.
std::array<int, 5> rank_strides(const Plan& p);

/// Whether gradients are reduced in buckets during the backward (else in one call after it).
bool overlaps_grad_reduce(const TrainingSpec& t, const Plan& p);
/// Whether the whole gradient is all-reduced over the data-parallel group even though the plan
/// shards the optimizer: DeepSpeed's BF16_Optimizer, its ZeRO-1 under bf16, all-reduces before
/// each rank updates its partition (then all-gathers the partitions as ZeRO-1 does).
bool all_reduces_sharded_gradients(const TrainingSpec& t, const Plan& p);
/// Whether a model chunk's weights are all-gathered before its first forward of the step:
/// ZeRO-3 with a pipeline (kept gathered for every micro-batch), and ZeRO-1/2 where the framework
/// overlaps the distributed optimizer's parameter all-gather with the next step's forward
/// (Megatron-LM's --overlap-param-gather, with the overlapped gradient reduction of the same
/// era). In a step of the steady state that is the gather of the previous step's update.
bool gathers_per_chunk(const TrainingSpec& t, const Plan& p);

/// Shapes of every stage's data-parallel groups as its task graph prices them (the slowest
/// instance of each): dense parameters over dp x cp, experts over the GPUs of one expert rank;
/// with hybrid sharding (ZeRO and a shard group that divides the group) also the shard groups
/// and the replica groups across them (else both equal the whole group).
struct DataShapes {
  struct Sharded {
    sim::GroupShape all, shard, replica;
    bool hybrid = false;
  };
  Sharded dense, expert;
};
std::vector<DataShapes> data_group_shapes(const Plan& p, const sim::NetworkSpec& net);

/// What the task graphs of plans with the same layout (tp, cp, dp, ep, pp, rank order, shard
/// group, ZeRO on or off) share: their communicator groups and pipeline sibling pairs, built
/// once. Kept across the graphs of one search; for one cluster (a graph for a cluster of
/// another shape is refused); holds at most about 128 MiB of group members; not thread-safe.
class LayoutCache {
 public:
  LayoutCache();
  ~LayoutCache();
  LayoutCache(const LayoutCache&) = delete;
  LayoutCache& operator=(const LayoutCache&) = delete;
  /// Layouts built, and found already built.
  [[nodiscard]] std::size_t built() const;
  [[nodiscard]] std::size_t reused() const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Builds the step's task graph. The plan must be valid for the inputs (see `check_plan`);
/// throws std::invalid_argument otherwise. With `cache`, groups come from (and go to) it.
sim::TaskGraph build_task_graph(const ModelSpec& model, const TrainingSpec& training,
                                const topo::ClusterSpec& cluster, const Plan& plan,
                                const OpCostModel& cost, Granularity granularity,
                                LayoutCache* cache = nullptr);

}  // namespace strata::strategy
