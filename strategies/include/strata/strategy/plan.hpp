#pragma once
// A parallelism plan: how one step is split over the cluster.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::strategy {

/// Largest size of any plan dimension and of the whole plan (tp x cp x pp x dp GPUs), equal to
/// topo::limits::max_gpus; parse_plan refuses larger values (docs/inputs.md).
inline constexpr int kMaxPlanDimension = 1 << 20;
/// Largest pp x vpp (model chunks): one layer each at most, strategy::limits::max_layers.
inline constexpr int kMaxPlanChunks = 1 << 16;

/// Activation recomputation: none, the attention core only (Korthikanti et al. 2022), or whole layers.
enum class Recompute { none, selective, full };
/// Pipeline schedule. zb_h1 is the zero-bubble schedule of Qi et al. 2023 (ZB-H1): 1F1B with
/// each backward split into an input-gradient pass (B) and a weight-gradient pass (W), the W
/// passes of stage s deferred by s micro-batches to fill the cool-down bubble.
enum class Schedule { gpipe, one_f_one_b, interleaved, zb_h1 };
/// Context-parallel attention: ring attention (K and V blocks passed around the CP group,
/// overlapped with the attention of the block at hand) or all-to-all (DeepSpeed-Ulysses: heads
/// scattered over the group, sequences gathered, for the attention only).
enum class CpComm { ring, all_to_all };

/// Parallelism plan, Megatron-LM names. Ranks are placed in `order` (tp fastest by default).
///
/// The GPUs are tp x cp x pp x dp. Context parallelism splits every sequence over cp GPUs; the
/// data-parallel gradient reduction and ZeRO sharding run over the dp x cp GPUs that hold the
/// same weights. Expert parallelism splits the dp replicas into groups of ep that share out
/// the experts of every MoE layer (Megatron-LM's expert-model-parallel group, inside the data-
/// parallel group); expert gradients are reduced over the dp x cp / ep GPUs holding the same
/// experts.
struct Plan {
  int tp = 1;           ///< tensor-parallel size
  int pp = 1;           ///< pipeline stages
  int dp = 1;           ///< data-parallel replicas
  int micro_batch = 1;  ///< sequences per micro-batch
  int vpp = 1;          ///< model chunks per stage (interleaved schedule), else 1
  bool sequence_parallel = false;  ///< Megatron sequence parallelism (only with tp > 1)
  Recompute recompute = Recompute::none;
  int zero = 0;  ///< ZeRO stage 0-3 over the data-parallel group
  Schedule schedule = Schedule::one_f_one_b;
  /// Rank order, innermost dimension first (Megatron-LM: tp, cp, ep, dp, pp). Decides which
  /// GPUs share a node, leaf and rail.
  std::string order = "tp-cp-ep-dp-pp";
  int cp = 1;                     ///< context-parallel size (GPUs sharing one sequence)
  CpComm cp_comm = CpComm::ring;  ///< how context parallelism exchanges keys and values
  int ep = 1;                     ///< expert-parallel size (divides dp; MoE models only)
  /// ZeRO sharding group (hybrid sharding, HSDP): shard over groups of `shard` of the dp x cp
  /// GPUs and replicate across groups; 0 = shard over all of them.
  int shard = 0;
  /// Overlap TP collectives with the GEMMs next to them (Megatron-LM --tp-comm-overlap).
  bool tp_overlap = false;
  /// With recompute=full: recompute only the first this many layers of every model chunk
  /// (Megatron-LM --recompute-method block --recompute-num-layers); 0 = every layer.
  int recompute_layers = 0;

  /// GPUs the plan occupies, tp x cp x pp x dp, in 64 bits and saturating at INT64_MAX: never
  /// wraps, whatever the fields hold.
  [[nodiscard]] std::int64_t gpus() const;
  /// GPUs over which gradients are reduced and ZeRO shards: dp x cp (saturating at INT_MAX; exact
  /// for every plan parse_plan accepts).
  [[nodiscard]] int dp_cp() const;
  /// GPUs one ZeRO shard group spans (shard, or dp x cp without hybrid sharding).
  [[nodiscard]] int shard_group() const { return shard > 0 ? shard : dp_cp(); }
  /// Whether layer `index` (0-based within its model chunk) is fully recomputed.
  [[nodiscard]] bool recomputes_layer(int index) const {
    return recompute == Recompute::full && (recompute_layers == 0 || index < recompute_layers);
  }
  /// Micro-batches per pipeline per step for `global_batch` sequences (0 if dp x micro_batch,
  /// formed in 64 bits, is not positive or does not divide it).
  [[nodiscard]] int microbatches(int global_batch) const;
  /// "tp=8 pp=8 dp=16 mbs=1 vpp=2 sp=on recompute=selective zero=1 schedule=interleaved-1f1b",
  /// then the keys that differ from their defaults (cp, cp_comm, ep, shard, tpo, rc_layers, order).
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const Plan&, const Plan&) = default;
};

/// Global rank of the GPU at tensor rank `t`, context rank `c`, data-parallel rank `d` and stage
/// `s` under the plan's order. The data-parallel rank counts expert ranks fastest: d = e + ep x
/// r for expert rank e. Throws std::invalid_argument if the order is not a permutation of tp,
/// cp, ep, dp, pp.
int placement_rank(const Plan& p, int t, int c, int d, int s);
/// Same with context rank 0.
inline int placement_rank(const Plan& p, int t, int d, int s) { return placement_rank(p, t, 0, d, s); }
/// Throws std::invalid_argument unless `order` is a permutation of tp-cp-ep-dp-pp.
void check_order(const std::string& order);
/// The dimensions of `order` whose size in `p` exceeds one, innermost first ("tp-dp" for
/// tp=8 pp=1 dp=4 in Megatron's order): two orders with the same effective order place alike.
std::string effective_order(const Plan& p, const std::string& order);

/// Layers of each virtual stage (pp x vpp of them, in pipeline order), as even as possible. The
/// layers left over by an uneven split go to the middle stages first: the first stage also holds
/// the embedding and the last one the output head. Throws std::invalid_argument if there are
/// fewer layers than virtual stages (pp x vpp formed in 64 bits) or pp or vpp is below 1.
std::vector<int> virtual_stage_layers(int layers, int pp, int vpp);

const char* to_string(Recompute r);
const char* to_string(Schedule s);
const char* to_string(CpComm c);

/// Parses the `to_string` form; keys may come in any order and missing keys keep their
/// defaults. Throws std::invalid_argument naming the bad key or value (clipped): an unknown or
/// repeated key, a size below 1 or above kMaxPlanDimension, tp x cp x pp x dp above
/// kMaxPlanDimension, pp x vpp above kMaxPlanChunks, rc_layers above kMaxPlanChunks.
Plan parse_plan(std::string_view text);

}  // namespace strata::strategy
