#pragma once
// The kernels one transformer layer (and the embedding and output head) runs on one tensor-
// parallel rank for one micro-batch, with their FLOPs and HBM bytes; and the source of their
// times (OpCostModel): a roofline now, the profiler's measured tables later.

#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "strata/sim/collective.hpp"
#include "strata/strategy/model.hpp"
#include "strata/strategy/plan.hpp"
#include "strata/topo/gpu.hpp"

namespace strata::strategy {

using sim::Bytes;
using sim::Flops;
using sim::Seconds;

/// A (batched) matrix multiply C[m x n] = A[m x k] B[k x n], `batch` times; `fp8`: its inputs
/// are FP8 (a linear layer under FP8 training), its output in the training precision.
struct Gemm {
  long m = 0, n = 0, k = 0, batch = 1;
  bool fp8 = false;
  /// A linear layer's forward or input-gradient GEMM: its rows are the micro-batch's tokens and
  /// it sits next to a TP collective, so TP overlap splits it along them (tp_overlap_split).
  bool token_rows = false;
  int element_bytes = 2;  ///< bytes per element of the output (and of the inputs unless FP8)
};
/// A fused attention kernel (FlashAttention-style); FLOPs are given by the op (the useful
/// ones: half the score matrix when causal). The shape sets its efficiency where the GPU has a
/// measured curve for the library (topo::AttentionCurve).
struct FusedAttention {
  bool backward = false;
  int head_dim = 128;
  double keys = 4096;   ///< key tokens each query attends over in one kernel
  bool causal = true;   ///< causal mask inside the kernel
  topo::AttentionLibrary library = topo::AttentionLibrary::cudnn;
};
/// A memory-bound kernel (norms, activations, dropout, softmax, optimizer).
struct Elementwise {};
using OpKind = std::variant<Gemm, FusedAttention, Elementwise>;

/// One kernel: what it computes and what it moves.
struct Op {
  std::string_view name;
  OpKind kind;
  Flops flops;
  Bytes bytes;  ///< HBM traffic, bytes
};

/// Shape of the work of one layer on one TP (and CP) rank for one micro-batch.
struct LayerShape {
  long micro_batch = 1;
  long seq = 0;  ///< whole sequence; a CP rank holds seq / cp of its tokens
  long hidden = 0;
  long heads = 0;
  long kv_width = 0;
  long ffn = 0;
  long vocab = 0;
  int tp = 1;
  bool sequence_parallel = false;
  Activation activation = Activation::gelu;
  bool dropout = true;
  bool bias = true;
  bool rotary = false;  ///< rotary position embedding applied to q and k in every layer
  AttentionKernel attention = AttentionKernel::flash;
  Framework framework = Framework::megatron;
  int element_bytes = 2;  ///< activations and weights in training precision
  /// FP8 training (Transformer Engine's recipe): the linear layers' GEMMs take FP8 inputs cast
  /// from the bf16 activations, weights and output gradients; everything else stays bf16.
  bool fp8 = false;
  int cp = 1;             ///< context-parallel size
  CpComm cp_comm = CpComm::ring;
  // Mixture of experts: set on the shape of a MoE layer (see `moe_layer`).
  bool moe = false;
  long experts = 0, top_k = 0, moe_ffn = 0, shared_experts = 0;
  int ep = 1;
  double capacity_factor = 1.0;

  /// Shape of a dense layer for a model, training settings and plan.
  static LayerShape of(const ModelSpec& m, const TrainingSpec& t, const Plan& p);
  /// The same shape for a MoE layer of `m` (unchanged if `m` is dense).
  [[nodiscard]] LayerShape moe_layer(const ModelSpec& m) const;
  /// Tokens of one micro-batch on this rank (a CP rank holds 1/cp of each sequence).
  [[nodiscard]] long tokens() const { return micro_batch * seq / cp; }
  /// Token copies one EP rank's experts process per micro-batch: tokens x top_k x capacity.
  [[nodiscard]] double routed_tokens() const {
    return static_cast<double>(tokens()) * static_cast<double>(top_k) * capacity_factor;
  }
};

/// The attention core (fused FlashAttention, or scores, softmax, dropout and context) of one
/// layer, forward and backward.
std::vector<Op> attention_forward(const LayerShape& s);
std::vector<Op> attention_backward(const LayerShape& s);
/// Kernels of one linear layer Y[m x n] = X[m x k] W[k x n] in the layers' precision: under FP8
/// the GEMM in FP8 after the casts of X (and, with torchtitan's dynamic scaling, of W); its
/// backward: the cast of dY, then dX and dW. What `layer_forward` and `layer_backward` use.
std::vector<Op> linear_forward(const LayerShape& s, std::string_view name, long m, long n, long k);
std::vector<Op> linear_backward(const LayerShape& s, std::string_view name, long m, long n, long k);
/// `ops` as TP communication overlap runs them: every token-row GEMM (Gemm::token_rows) split
/// into `tp` GEMMs of a tp-th of its rows, each computed while the next chunk of activations
/// travels (Transformer Engine's ring-exchange userbuffers, PyTorch's micro-pipelined async TP);
/// the other kernels as they are. Smaller GEMMs fill the SMs less well: what overlap costs.
std::vector<Op> tp_overlap_split(const std::vector<Op>& ops, int tp);
/// Kernels of one layer's forward pass.
std::vector<Op> layer_forward(const LayerShape& s);
/// Kernels of one layer's backward pass (activation and weight gradients).
std::vector<Op> layer_backward(const LayerShape& s);
/// The input-gradient part of `layer_backward` (B in the zero-bubble schedules): everything
/// but the weight-gradient GEMMs.
std::vector<Op> layer_backward_input(const LayerShape& s);
/// The weight-gradient GEMMs of `layer_backward` (W in the zero-bubble schedules).
std::vector<Op> layer_backward_weight(const LayerShape& s);
/// The GEMMs of one layer's forward pass whose neighbouring TP collectives Megatron-LM's
/// --tp-comm-overlap hides (QKV, output projection, MLP): what TP overlap can hide behind.
std::vector<Op> layer_forward_gemms(const LayerShape& s);
/// Kernels recomputed before a layer's backward pass.
std::vector<Op> layer_recompute(const LayerShape& s, Recompute r);
/// Token and position embedding, forward and backward (first stage).
std::vector<Op> embedding_forward(const LayerShape& s);
std::vector<Op> embedding_backward(const LayerShape& s);
/// Final norm, logits and vocabulary-parallel cross-entropy (last stage).
std::vector<Op> head_forward(const LayerShape& s);
std::vector<Op> head_backward(const LayerShape& s);
/// The optimizer's passes over `params` parameters of the GPU's shard, `bytes` each (gradient
/// norm, fused Adam on fp32 master weights and moments, the copy to the training precision).
Op optimizer_step(double params, double bytes);
/// The passes over every one of the GPU's `params` parameters that a step makes whatever the
/// optimizer shard (zeroing and scaling the gradient buffer, copies), `bytes` each.
Op gradient_buffer_passes(double params, double bytes);
/// Accumulating one micro-batch's gradients of `params` parameters outside the weight-gradient
/// GEMMs, `bytes` per parameter (a separate add, or DeepSpeed's cast and add into fp32).
Op gradient_accumulation(double params, double bytes);
/// FP8 training with Transformer Engine: the cast of `params` bf16 weights of the linear layers
/// to FP8 and its transpose, once per step (cached across the micro-batches). torchtitan's
/// Float8Linear casts the weight in every forward instead (see `linear_forward`).
Op fp8_weight_cast(double params);

/// Tensor-parallel collectives of one layer's forward (or backward) pass: two all-reduces of
/// the layer output, or with sequence parallelism two all-gathers and two reduce-scatters. For a
/// MoE layer the MLP's pair carries the routed copies (top_k x capacity times the tokens).
/// `group` is the TP group's layout (size s.tp; see line_shape).
std::vector<sim::Collective> layer_tp_collectives(const LayerShape& s, sim::GroupShape group);

/// Context-parallel collectives of one layer's forward pass over the cp group: ring attention
/// gathers every other rank's K and V block (an all-gather, overlapped with the attention of the
/// blocks already there); all-to-all (Ulysses) trades sequence shards for head shards of q, k, v
/// before the attention and back for its output. Empty without CP.
/// `group` is the CP group's layout (size s.cp).
std::vector<sim::Collective> layer_cp_collectives(const LayerShape& s, sim::GroupShape group);
/// The same for the backward pass: ring attention gathers K and V again and reduce-scatters
/// their gradients; all-to-all exchanges the output gradient and the q, k, v gradients.
std::vector<sim::Collective> layer_cp_collectives_backward(const LayerShape& s, sim::GroupShape group);

/// Expert-parallel all-to-alls of one MoE layer's forward pass (dispatch, combine) over the ep
/// group (layout `group`, size s.ep); the backward pass runs the same two. Empty for a dense
/// layer or without EP.
std::vector<sim::Collective> layer_ep_collectives(const LayerShape& s, sim::GroupShape group);

/// The vocabulary-parallel embedding's reduction of its partial lookups over the TP group
/// (reduce-scatter with sequence parallelism); nullopt without TP.
std::optional<sim::Collective> embedding_tp_collective(const LayerShape& s, sim::GroupShape group);

/// Source of kernel times on one GPU type. Implementations: RooflineCost, profiler op tables.
class OpCostModel {
 public:
  virtual ~OpCostModel() = default;
  /// Short name for reports ("roofline", "table:<file>").
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// GPU time of one kernel, launch and tail included, s.
  [[nodiscard]] virtual Seconds device_time(const Op& op) const = 0;
  /// Host time to issue one kernel (the framework's Python and the launch), s; 0 by default.
  [[nodiscard]] virtual Seconds host_time(const Op& op) const;
  /// Time of one kernel: the longer of its GPU and host times, s (docs/modeling.md: a host that
  /// runs ahead of the GPU fits vTrain's measured runs worse than this per-kernel floor).
  [[nodiscard]] Seconds time(const Op& op) const;
  /// Sum of `time` over `ops`, s.
  [[nodiscard]] Seconds total(const std::vector<Op>& ops) const;
};

/// Roofline with GEMM shape efficiency: max(FLOPs / (peak x efficiency), bytes / (HBM x
/// efficiency)) + kernel overhead on the GPU, the preset's host_overhead on the host. Efficiency of a GEMM falls with wave quantisation over the
/// SMs and with short reduction dimensions. Under fp8 training only FP8 GEMMs (Gemm::fp8) run at
/// the fp8 peak and matmul_fp8 efficiency; the other kernels at the bf16 peak.
class RooflineCost final : public OpCostModel {
 public:
  /// Throws std::invalid_argument if `gpu` has no matrix units for `precision`.
  RooflineCost(topo::GpuSpec gpu, topo::Precision precision);
  [[nodiscard]] std::string_view name() const override { return "roofline"; }
  [[nodiscard]] Seconds device_time(const Op& op) const override;
  /// The GPU preset's host_overhead.
  [[nodiscard]] Seconds host_time(const Op& op) const override;
  /// Fraction of peak a GEMM of this shape reaches (matmul efficiency included).
  [[nodiscard]] double gemm_efficiency(const Gemm& g) const;
  /// Fraction of peak a fused attention kernel of this shape reaches: the GPU's measured
  /// curve for its library, else the flat attention efficiency.
  [[nodiscard]] double attention_efficiency(const FusedAttention& a) const;
  [[nodiscard]] const topo::GpuSpec& gpu() const { return gpu_; }

 private:
  topo::GpuSpec gpu_;
  sim::FlopRate peak_;  ///< of everything but FP8 GEMMs (bf16 under FP8 training)
  std::optional<sim::FlopRate> fp8_peak_;
};

}  // namespace strata::strategy
