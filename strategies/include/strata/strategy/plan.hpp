#pragma once
// A parallelism plan: how one step is split over the cluster.

#include <string>
#include <string_view>
#include <vector>

namespace strata::strategy {

/// Activation recomputation: none, the attention core only (Korthikanti et al. 2022), or whole layers.
enum class Recompute { none, selective, full };
/// Pipeline schedule.
enum class Schedule { gpipe, one_f_one_b, interleaved };

/// Parallelism plan, Megatron-LM names. Ranks are placed in `order` (tp fastest by default).
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
  /// Rank order, innermost dimension first (Megatron-LM: tp, cp, ep, dp, pp); sizes of cp and
  /// ep are 1 until those dimensions exist. Decides which GPUs share a node, leaf and rail.
  std::string order = "tp-cp-ep-dp-pp";

  /// GPUs the plan occupies.
  [[nodiscard]] int gpus() const { return tp * pp * dp; }
  /// Micro-batches per pipeline per step for `global_batch` sequences (0 if it does not divide).
  [[nodiscard]] int microbatches(int global_batch) const;
  /// "tp=8 pp=8 dp=16 mbs=1 vpp=2 sp=on recompute=selective zero=1 schedule=interleaved-1f1b".
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const Plan&, const Plan&) = default;
};

/// Global rank of the GPU at tensor rank `t`, data-parallel rank `d` and stage `s` under the
/// plan's order. Throws std::invalid_argument if the order is not a permutation of
/// tp, cp, ep, dp, pp.
int placement_rank(const Plan& p, int t, int d, int s);
/// Throws std::invalid_argument unless `order` is a permutation of tp-cp-ep-dp-pp.
void check_order(const std::string& order);
/// The dimensions of `order` whose size in `p` exceeds one, innermost first ("tp-dp" for
/// tp=8 pp=1 dp=4 in Megatron's order): two orders with the same effective order place alike.
std::string effective_order(const Plan& p, const std::string& order);

/// Layers of each virtual stage (pp x vpp of them, in pipeline order), as even as possible. The
/// layers left over by an uneven split go to the middle stages first: the first stage also holds
/// the embedding and the last one the output head. Throws std::invalid_argument if there are
/// fewer layers than virtual stages.
std::vector<int> virtual_stage_layers(int layers, int pp, int vpp);

const char* to_string(Recompute r);
const char* to_string(Schedule s);

/// Parses the `to_string` form; keys may come in any order and missing keys keep their
/// defaults. Throws std::invalid_argument naming the bad key or value.
Plan parse_plan(std::string_view text);

}  // namespace strata::strategy
