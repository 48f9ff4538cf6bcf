#pragma once
// Transformer model cards and training settings: the shapes every cost in strata derives from.

#include <cstdint>
#include <string>

#include "strata/topo/gpu.hpp"

namespace strata::strategy {

/// Largest model and batch sizes strata accepts (docs/inputs.md). Well beyond any published
/// model, and small enough that every product strata forms from them (tokens x hidden x ffn for
/// a GEMM's bytes, in 64-bit) cannot overflow.
namespace limits {
inline constexpr int max_layers = 1 << 16;
inline constexpr int max_hidden = 1 << 20;
inline constexpr int max_heads = 1 << 16;
inline constexpr int max_ffn = 1 << 22;
inline constexpr int max_vocab = 1 << 24;
inline constexpr int max_seq_len = 1 << 24;          ///< tokens per sequence
inline constexpr int max_experts = 1 << 16;
inline constexpr int max_shared_experts = 1 << 10;
inline constexpr int max_global_batch = 1 << 24;     ///< sequences per step
inline constexpr std::int64_t max_tokens_per_step = std::int64_t{1} << 32;  ///< global_batch x seq_len
}  // namespace limits

/// Feed-forward non-linearity: GELU (two matrices) or SwiGLU (gate, up and down matrices).
enum class Activation { gelu, swiglu };

/// A decoder-only transformer. Derived counts are in elements (parameters), not bytes.
struct ModelSpec {
  std::string name;
  int layers = 0;
  int hidden = 0;
  int heads = 0;
  int kv_heads = 0;  ///< equal to heads without grouped-query attention
  int ffn = 0;       ///< feed-forward inner size
  int vocab = 0;
  int seq_len = 0;   ///< context length the card was published with
  Activation activation = Activation::gelu;
  bool dropout = true;            ///< GPT-style dropout (masks are stored as activations)
  bool tied_embeddings = true;    ///< output layer shares the input embedding
  bool learned_positions = true;  ///< a position-embedding table (GPT-2/3), else rotary
  // Mixture of experts (all zero for a dense model).
  int experts = 0;         ///< routed experts per MoE layer
  int top_k = 0;           ///< experts each token is routed to
  int moe_ffn = 0;         ///< inner size of one expert (and of one shared expert)
  int shared_experts = 0;  ///< experts every token goes through (DeepSeek)
  int dense_layers = 0;    ///< leading layers with a dense MLP of size ffn (DeepSeek-V3: 3)

  [[nodiscard]] bool moe() const { return experts > 0; }
  /// Whether layer `l` (0-based over the whole model) has a MoE MLP.
  [[nodiscard]] bool moe_layer(int l) const { return moe() && l >= dense_layers; }
  [[nodiscard]] int head_dim() const { return hidden / heads; }
  /// Width of K (and of V): kv_heads x head_dim.
  [[nodiscard]] long kv_width() const { return static_cast<long>(kv_heads) * head_dim(); }
  /// Parameters of one dense transformer layer (attention, MLP, norms, biases).
  [[nodiscard]] double layer_params() const;
  /// Parameters of one MoE layer outside its routed experts (attention, norms, router, shared
  /// experts): what every data-parallel rank holds whole.
  [[nodiscard]] double moe_layer_dense_params() const;
  /// Parameters of the routed experts of one MoE layer (all of them).
  [[nodiscard]] double moe_layer_expert_params() const;
  /// Parameters of layer `l`, dense or MoE.
  [[nodiscard]] double params_of_layer(int l) const;
  /// Parameters of the input embedding (tokens and learned positions for `seq`).
  [[nodiscard]] double embedding_params(int seq) const;
  /// Parameters of the output projection when it is not tied to the input embedding.
  [[nodiscard]] double output_params() const;
  /// All parameters for sequence length `seq`.
  [[nodiscard]] double total_params(int seq) const;
  /// Throws std::invalid_argument naming the first impossible or out-of-range field (`limits`).
  void check() const;
};

/// Attention kernels: fused FlashAttention-style, or Megatron-LM's unfused
/// batched-GEMM + fused-softmax + dropout path that materialises the s x s scores.
enum class AttentionKernel { flash, unfused };

/// Training framework whose conventions a plan follows where frameworks differ:
/// - megatron: selective recomputation = the attention core (Korthikanti et al. 2022); data-
///   parallel gradients reduced in fp32 under bf16 and in fp16 under fp16;
/// - torchtitan: selective recomputation = per-op checkpointing that keeps every other matmul
///   output and the attention output; gradients reduced in fp32; ZeRO-3 is FSDP2;
/// - megatron_deepspeed: Megatron-LM's layers under DeepSpeed's engine (BigScience, vTrain):
///   gradients reduced in the training precision (DeepSpeed's communication_data_type), and
///   ZeRO-1 under bf16 is its BF16_Optimizer, which all-reduces the whole gradient before each
///   rank updates its partition (deepspeed/runtime/bf16_optimizer.py, 2022).
enum class Framework { megatron, torchtitan, megatron_deepspeed };

/// HBM bytes per parameter that a framework's training step moves outside the layers' kernels
/// (read + written), from the frameworks' code (docs/modeling.md, "What frameworks add").
struct StepTraffic {
  /// Each micro-batch's backward, per parameter of the GPU (of its gradient shard under ZeRO-2/3):
  /// gradients accumulated by a kernel of their own (autograd's or a hook's add, DeepSpeed's fp32
  /// copy); 0 when the weight-gradient GEMM accumulates them itself (Megatron-LM's
  /// gradient_accumulation_fusion).
  double accumulate = 0;
  /// Once per step, per parameter of the GPU (of its gradient shard under ZeRO-2/3): the gradient
  /// buffer zeroed and scaled by 1/dp, and the copies every rank makes whatever its optimizer shard.
  double buffer = 16;
  /// Once per step, per parameter of the GPU's optimizer shard: gradient norm, fused Adam (16
  /// bytes read, 12 written) and the copy back to the training precision.
  double optimizer = 38;
  /// Throws std::invalid_argument if a value is negative, above 1,000 or not finite.
  void check() const;
  /// The framework's current release at `precision` (docs/modeling.md lists the passes):
  /// Megatron-LM 2024 {0, 16, 38} (+8 for unscaling under fp16), torchtitan {0, 0, 40},
  /// DeepSpeed's BF16_Optimizer {18, 20, 34}, its FP16_Optimizer {6, 12, 78}.
  static StepTraffic of(Framework f, topo::Precision precision);
};

/// What one training step processes and how.
struct TrainingSpec {
  int global_batch = 0;  ///< sequences per step
  /// MoE: tokens an expert takes, as a multiple of an even share (Switch Transformer / GShard
  /// capacity factor). The busiest expert sets the pace, so expert work and all-to-all traffic
  /// scale with it; 1 = perfectly balanced routing.
  double capacity_factor = 1.0;
  int seq_len = 0;       ///< tokens per sequence
  topo::Precision precision = topo::Precision::bf16;
  AttentionKernel attention = AttentionKernel::flash;
  Framework framework = Framework::megatron;
  /// Start each gradient bucket's data-parallel reduction as soon as its last backward pass ends
  /// (overlapping the rest of the backward), instead of reducing everything after it.
  bool overlap_grad_reduce = true;
  /// Pipeline sends block the sending stage's compute stream until they complete, as the
  /// send/receive calls of Megatron-LM's and PyTorch's pipeline schedules do.
  bool blocking_p2p = true;
  /// Each TP rank sends only its 1/tp share of a pipeline activation and the receivers
  /// all-gather it over NVLink (Megatron-LM's scatter/gather optimisation); without it every TP
  /// rank sends the whole activation (DeepSpeed's pipeline engine). Always true with sequence
  /// parallelism, where activations are sharded anyway.
  bool p2p_scatter_gather = true;
  /// ZeRO-3 as DeepSpeed ran it before v0.6.0 (March 2022), runtime/zero/stage3.py and
  /// partition_parameters.py: one NCCL all-gather per partitioned weight matrix, each after a
  /// torch.cuda.synchronize() (so no gather overlaps compute beyond a prefetch bucket of
  /// kDeepSpeedPrefetchElements), each through PyTorch's list all_gather (one copy kernel per rank),
  /// and one reduce-scatter per weight matrix. Without it ZeRO-3 is FSDP-style: one gather per
  /// layer, up to two layers in flight beside compute.
  bool zero3_blocking_fetch = false;
  /// What the framework's step moves per parameter beyond the layers (StepTraffic::of the
  /// framework and precision; the defaults are Megatron-LM's of 2024 under bf16).
  StepTraffic step_traffic;
  /// Bytes per element of data-parallel gradient reduction.
  [[nodiscard]] int grad_reduce_bytes() const;
  /// Throws std::invalid_argument naming the first impossible or out-of-range field: sizes over
  /// `limits`, more than limits::max_tokens_per_step tokens, a capacity factor below 1, NaN or
  /// infinite.
  void check() const;
};

/// Model FLOPs of one training step (forward + backward, no recomputation), PaLM convention:
/// 6 x active parameters x tokens + 12 x layers x hidden x seq x tokens. The active parameters
/// of a MoE layer are its attention, router, shared experts and top_k routed experts.
double model_flops_per_step(const ModelSpec& m, const TrainingSpec& t);

const char* to_string(Activation a);
const char* to_string(AttentionKernel a);
const char* to_string(Framework f);

}  // namespace strata::strategy
