#include "strata/strategy/ops.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace strata::strategy {

LayerShape LayerShape::of(const ModelSpec& m, const TrainingSpec& t, const Plan& p) {
  LayerShape s;
  s.micro_batch = p.micro_batch;
  s.seq = t.seq_len;
  s.hidden = m.hidden;
  s.heads = m.heads;
  s.kv_width = m.kv_width();
  s.ffn = m.ffn;
  s.vocab = m.vocab;
  s.tp = p.tp;
  s.sequence_parallel = p.sequence_parallel && p.tp > 1;
  s.activation = m.activation;
  s.dropout = m.dropout;
  s.bias = m.activation == Activation::gelu;
  s.rotary = !m.learned_positions;
  s.attention = t.attention;
  s.framework = t.framework;
  s.element_bytes = t.precision == topo::Precision::fp32 ? 4 : 2;
  s.fp8 = t.precision == topo::Precision::fp8;
  s.cp = p.cp;
  s.cp_comm = p.cp_comm;
  s.ep = p.ep;
  s.capacity_factor = t.capacity_factor;
  return s;
}

LayerShape LayerShape::moe_layer(const ModelSpec& m) const {
  LayerShape s = *this;
  if (!m.moe()) return s;
  s.moe = true;
  s.experts = m.experts;
  s.top_k = m.top_k;
  s.moe_ffn = m.moe_ffn;
  s.shared_experts = m.shared_experts;
  return s;
}

namespace {

Op gemm(std::string_view name, long m, long n, long k, long batch, int element_bytes, bool fp8 = false,
        bool token_rows = false) {
  const double flops = 2.0 * m * n * k * batch;
  // FP8 inputs are one byte per element; the output stays in the training precision.
  const double in = fp8 ? 1.0 : static_cast<double>(element_bytes);
  const double bytes = (in * (static_cast<double>(m) * k + static_cast<double>(k) * n) +
                        static_cast<double>(element_bytes) * m * n) * batch;
  return Op{name, Gemm{m, n, k, batch, fp8, token_rows, element_bytes}, Flops(flops), Bytes(bytes)};
}

// A linear layer's GEMM: FP8 under FP8 training (Transformer Engine runs only these in FP8:
// not the attention core, the router or the output layer).
Op linear(std::string_view name, long m, long n, long k, long batch, const LayerShape& x) {
  return gemm(name, m, n, k, batch, x.element_bytes, x.fp8);
}

// The same, for a GEMM whose rows are the tokens next to a TP collective.
Op token_linear(std::string_view name, long m, long n, long k, long batch, const LayerShape& x) {
  return gemm(name, m, n, k, batch, x.element_bytes, x.fp8, true);
}

// Bytes per element of casting a bf16 tensor to FP8 for a GEMM: read it, write the FP8 copy and
// its transpose (Hopper's FP8 GEMMs take only the TN layout, so the weight-gradient GEMM needs
// the transposed copy; Transformer Engine's fused cast-transpose writes both and the amax).
// Delayed scaling (Transformer Engine) takes the scale from the amax history: one read; dynamic
// scaling (torchao's Float8Linear, torchtitan) first reduces the tensor's amax: a second read.
double fp8_cast_bytes(const LayerShape& x) {
  const double E = x.element_bytes;
  return (x.framework == Framework::torchtitan ? 2 * E : E) + 2;
}

Op elementwise(std::string_view name, double bytes) {
  return Op{name, Elementwise{}, Flops(0), Bytes(bytes)};
}

// A linear layer's forward: under FP8 the casts of its input X first and, with dynamic scaling
// (torchtitan's Float8Linear, no cache), of its weight W on every call.
void push_linear(std::vector<Op>& ops, std::string_view name, long m, long n, long k, long batch,
                 const LayerShape& x) {
  if (x.fp8) {
    const double cast = fp8_cast_bytes(x) * static_cast<double>(batch);
    ops.push_back(elementwise("fp8_cast", cast * static_cast<double>(m) * static_cast<double>(k)));
    if (x.framework == Framework::torchtitan)
      ops.push_back(elementwise("fp8_weight_cast", cast * static_cast<double>(k) * static_cast<double>(n)));
  }
  ops.push_back(token_linear(name, m, n, k, batch, x));
}

// A linear layer's backward, from its forward GEMM `g`: `input` the input gradient dX = dY W^T
// (m, k, n), `weight` the weight gradient dW = X^T dY (k, n, m). Under FP8 the output gradient dY
// is cast once (with its transpose) for both GEMMs.
void push_linear_backward(std::vector<Op>& ops, std::string_view name, const Gemm& g, const LayerShape& x,
                          bool input, bool weight) {
  if (input && g.fp8)
    ops.push_back(elementwise("fp8_cast_bwd", fp8_cast_bytes(x) * static_cast<double>(g.m) *
                                                  static_cast<double>(g.n) * static_cast<double>(g.batch)));
  if (input) ops.push_back(gemm(name, g.m, g.k, g.n, g.batch, x.element_bytes, g.fp8, g.token_rows));
  if (weight) ops.push_back(gemm(name, g.k, g.n, g.m, g.batch, x.element_bytes, g.fp8));
}

// Forward and backward of one GEMM: dX = dY W^T is (m, k, n), dW = X^T dY is (k, n, m).
void add_gemm_backward(std::vector<Op>& ops, const Op& fwd, int element_bytes) {
  const auto& g = std::get<Gemm>(fwd.kind);
  ops.push_back(gemm(fwd.name, g.m, g.k, g.n, g.batch, element_bytes, g.fp8));
  ops.push_back(gemm(fwd.name, g.k, g.n, g.m, g.batch, element_bytes, g.fp8));
}

struct Dims {
  double E, T, Tn, h, kv, f, t, b, s, heads_local, d;
};

Dims dims(const LayerShape& x) {
  Dims d{};
  d.E = x.element_bytes;
  d.T = static_cast<double>(x.tokens());
  d.t = x.tp;
  d.Tn = x.sequence_parallel ? d.T / d.t : d.T;
  d.h = static_cast<double>(x.hidden);
  d.kv = static_cast<double>(x.kv_width);
  d.f = static_cast<double>(x.ffn);
  d.b = static_cast<double>(x.micro_batch);
  d.s = static_cast<double>(x.seq);
  d.heads_local = static_cast<double>(x.heads) / x.tp;
  d.d = static_cast<double>(x.hidden) / static_cast<double>(x.heads);
  return d;
}

// HBM bytes per element of the memory-bound kernels, forward and backward. Megatron-LM fuses
// each into one kernel (2-byte elements). torchtitan without torch.compile runs them as eager
// PyTorch ops: RMSNorm upcasts to fp32 and takes six kernels (cast, pow, mean, mul, cast back,
// weight), rotary embedding three per tensor in fp32, SwiGLU two, the loss runs in fp32; their
// backward passes move about twice the forward bytes.
struct ElementBytes {
  double norm, norm_bwd, rope, rope_bwd, swiglu, swiglu_bwd, loss, loss_bwd;
};

ElementBytes element_bytes(const LayerShape& x) {
  const double E = x.element_bytes;
  if (x.framework == Framework::torchtitan)
    return {36, 72, 20, 40, 10, 18, 18, 18};
  return {2 * E, 3 * E, 2 * E, 3 * E, 3 * E, 5 * E, 2 * E + 4, 4 + E};
}

// The fused kernel's shape. Transformer Engine (Megatron-LM, NeMo) prefers cuDNN's fused
// attention on Hopper and later; torchtitan calls PyTorch SDPA, whose flash backend is
// FlashAttention-2. Ring attention runs cp kernels per pass, each over the rank's s/cp queries
// and one block of s/cp keys, all but the diagonal one unmasked; all-to-all (Ulysses) runs the
// whole causal sequence over heads/cp.
FusedAttention fused_attention(const LayerShape& x, bool backward) {
  FusedAttention a;
  a.backward = backward;
  a.head_dim = static_cast<int>(x.hidden / x.heads);
  const bool ring = x.cp > 1 && x.cp_comm == CpComm::ring;
  a.keys = static_cast<double>(x.seq) / (ring ? x.cp : 1);
  a.causal = !ring;
  a.library = x.framework == Framework::torchtitan ? topo::AttentionLibrary::flash2 : topo::AttentionLibrary::cudnn;
  return a;
}

}  // namespace

std::vector<Op> attention_forward(const LayerShape& x) {
  const Dims d = dims(x);
  std::vector<Op> ops;
  const long bh = x.micro_batch * x.heads / x.tp;
  const long hd = x.hidden / x.heads;
  if (x.attention == AttentionKernel::flash) {
    // Causal: half of the s x s score matrix is computed. Context parallelism balances it
    // (zig-zag chunks for ring attention, whole heads for all-to-all): 1/cp per rank.
    const double flops = 4.0 * d.b * d.heads_local * d.s * d.s * d.d * 0.5 / x.cp;
    const double bytes = d.E * d.T * (2 * d.h + 2 * d.kv) / d.t;
    ops.push_back(Op{"flash_attention", fused_attention(x, false), Flops(flops), Bytes(bytes)});
    return ops;
  }
  // Megatron's unfused path computes the whole score matrix.
  const double scores = d.b * d.heads_local * d.s * d.s;
  ops.push_back(gemm("attn_scores", x.seq, x.seq, hd, bh, x.element_bytes));
  ops.push_back(elementwise("softmax", scores * 2 * d.E));
  if (x.dropout) ops.push_back(elementwise("attn_dropout", scores * (2 * d.E + 1)));
  ops.push_back(gemm("attn_context", x.seq, hd, x.seq, bh, x.element_bytes));
  return ops;
}

std::vector<Op> attention_backward(const LayerShape& x) {
  const Dims d = dims(x);
  std::vector<Op> ops;
  if (x.attention == AttentionKernel::flash) {
    // Backward recomputes the scores: 5 matmuls of the forward's 2.
    const double flops = 4.0 * d.b * d.heads_local * d.s * d.s * d.d * 0.5 * 2.5 / x.cp;
    const double bytes = 2 * d.E * d.T * (2 * d.h + 2 * d.kv) / d.t;
    ops.push_back(Op{"flash_attention_bwd", fused_attention(x, true), Flops(flops), Bytes(bytes)});
    return ops;
  }
  const double scores = d.b * d.heads_local * d.s * d.s;
  for (const Op& f : attention_forward(x)) {
    if (std::holds_alternative<Gemm>(f.kind)) add_gemm_backward(ops, f, x.element_bytes);
  }
  ops.push_back(elementwise("softmax_bwd", scores * 3 * d.E));
  if (x.dropout) ops.push_back(elementwise("attn_dropout_bwd", scores * (2 * d.E + 1)));
  return ops;
}

namespace {

double residual_bytes(const LayerShape& x, const Dims& d) {
  return d.Tn * d.h * (3 * d.E + (x.dropout ? 1 : 0));
}

}  // namespace

namespace {

// Elementwise bytes per element of the activation between the MLP's up and down projections.
double activation_bytes(const LayerShape& x) {
  return x.activation == Activation::swiglu ? element_bytes(x).swiglu : 2.0 * x.element_bytes;
}
double activation_bwd_bytes(const LayerShape& x) {
  return x.activation == Activation::swiglu ? element_bytes(x).swiglu_bwd : 3.0 * x.element_bytes;
}
long up_width(const LayerShape& x, long f) { return x.activation == Activation::swiglu ? 2 * f : f; }

// A dense MLP; or a MoE MLP: router, permutation of the token copies to their experts, the
// local experts as one grouped GEMM each way, the shared experts, and the weighted combine.
void mlp_forward(const LayerShape& x, std::vector<Op>& ops) {
  const Dims d = dims(x);
  const long T = x.tokens(), tp = x.tp;
  const int E = x.element_bytes;
  if (!x.moe) {
    push_linear(ops, "mlp_up", T, up_width(x, x.ffn) / tp, x.hidden, 1, x);
    ops.push_back(elementwise("activation", activation_bytes(x) * d.T * d.f / d.t));
    push_linear(ops, "mlp_down", T, x.hidden, x.ffn / tp, 1, x);
    return;
  }
  const double routed = x.routed_tokens();
  const long local = std::max(1L, x.experts / x.ep);
  const long rows = std::max(1L, static_cast<long>(std::ceil(routed / static_cast<double>(local))));
  const double fm = static_cast<double>(x.moe_ffn);
  ops.push_back(gemm("router", static_cast<long>(d.Tn), x.experts, x.hidden, 1, E));
  ops.push_back(elementwise("moe_permute", 2 * routed * d.h * d.E));
  push_linear(ops, "expert_up", rows, up_width(x, x.moe_ffn) / tp, x.hidden, local, x);
  ops.push_back(elementwise("expert_activation", activation_bytes(x) * routed * fm / d.t));
  push_linear(ops, "expert_down", rows, x.hidden, x.moe_ffn / tp, local, x);
  ops.push_back(elementwise("moe_unpermute", 2 * routed * d.h * d.E));
  if (x.shared_experts > 0) {
    const long fs = x.shared_experts * x.moe_ffn;
    push_linear(ops, "shared_up", T, up_width(x, fs) / tp, x.hidden, 1, x);
    ops.push_back(elementwise("shared_activation", activation_bytes(x) * d.T * static_cast<double>(fs) / d.t));
    push_linear(ops, "shared_down", T, x.hidden, fs / tp, 1, x);
  }
}

// Backward of the MLP's memory-bound kernels (the GEMMs come from the forward list).
void mlp_backward_elementwise(const LayerShape& x, std::vector<Op>& ops) {
  const Dims d = dims(x);
  if (!x.moe) {
    ops.push_back(elementwise("activation_bwd", activation_bwd_bytes(x) * d.T * d.f / d.t));
    return;
  }
  const double routed = x.routed_tokens();
  ops.push_back(elementwise("moe_permute_bwd", 2 * routed * d.h * d.E));
  ops.push_back(elementwise("expert_activation_bwd", activation_bwd_bytes(x) * routed * static_cast<double>(x.moe_ffn) / d.t));
  ops.push_back(elementwise("moe_unpermute_bwd", 2 * routed * d.h * d.E));
  if (x.shared_experts > 0)
    ops.push_back(elementwise("shared_activation_bwd", activation_bwd_bytes(x) * d.T *
                                                           static_cast<double>(x.shared_experts * x.moe_ffn) / d.t));
}

bool attention_gemm(const Op& op) { return op.name == "attn_scores" || op.name == "attn_context"; }

// The backward pass in its usual order; `input` keeps the input-gradient kernels, `weight` the
// weight-gradient GEMMs.
std::vector<Op> backward_ops(const LayerShape& x, bool input, bool weight) {
  const Dims d = dims(x);
  std::vector<Op> ops;
  for (const Op& f : layer_forward(x)) {
    if (!std::holds_alternative<Gemm>(f.kind) || attention_gemm(f)) continue;
    push_linear_backward(ops, f.name, std::get<Gemm>(f.kind), x, input, weight);
  }
  if (!input) return ops;
  for (const Op& op : attention_backward(x)) ops.push_back(op);
  // Norms: read x and dy, write dx. Residual/dropout: read dy and mask, write dx.
  const ElementBytes eb = element_bytes(x);
  ops.push_back(elementwise("norm1_bwd", eb.norm_bwd * d.Tn * d.h));
  ops.push_back(elementwise("norm2_bwd", eb.norm_bwd * d.Tn * d.h));
  if (x.rotary) ops.push_back(elementwise("rotary_bwd", eb.rope_bwd * d.T * (d.h + d.kv) / d.t));
  const double res = d.Tn * d.h * (2 * d.E + (x.dropout ? 1 : 0));
  ops.push_back(elementwise("residual1_bwd", res));
  ops.push_back(elementwise("residual2_bwd", res));
  mlp_backward_elementwise(x, ops);
  return ops;
}

}  // namespace

std::vector<Op> tp_overlap_split(const std::vector<Op>& ops, int tp) {
  if (tp <= 1) return ops;
  std::vector<Op> out;
  out.reserve(ops.size());
  for (const Op& op : ops) {
    const auto* g = std::get_if<Gemm>(&op.kind);
    if (!g || !g->token_rows) {
      out.push_back(op);
      continue;
    }
    // tp chunks of ceil(m / tp) rows, each reading the whole weight again.
    const long rows = (g->m + tp - 1) / tp;
    for (int i = 0; i < tp; ++i)
      out.push_back(gemm(op.name, rows, g->n, g->k, g->batch, g->element_bytes, g->fp8, true));
  }
  return out;
}

std::vector<Op> layer_forward(const LayerShape& x) {
  const Dims d = dims(x);
  const long T = x.tokens();
  const long tp = x.tp;
  const int E = x.element_bytes;
  const ElementBytes eb = element_bytes(x);
  std::vector<Op> ops;
  ops.push_back(elementwise("norm1", eb.norm * d.Tn * d.h));
  push_linear(ops, "qkv", T, (x.hidden + 2 * x.kv_width) / tp, x.hidden, 1, x);
  if (x.rotary) ops.push_back(elementwise("rotary", eb.rope * d.T * (d.h + d.kv) / d.t));
  for (const Op& op : attention_forward(x)) ops.push_back(op);
  push_linear(ops, "attn_out", T, x.hidden, x.hidden / tp, 1, x);
  ops.push_back(elementwise("residual1", residual_bytes(x, d)));
  ops.push_back(elementwise("norm2", eb.norm * d.Tn * d.h));
  mlp_forward(x, ops);
  ops.push_back(elementwise("residual2", residual_bytes(x, d)));
  return ops;
}

std::vector<Op> linear_forward(const LayerShape& x, std::string_view name, long m, long n, long k) {
  std::vector<Op> ops;
  push_linear(ops, name, m, n, k, 1, x);
  return ops;
}

std::vector<Op> linear_backward(const LayerShape& x, std::string_view name, long m, long n, long k) {
  std::vector<Op> ops;
  push_linear_backward(ops, name, std::get<Gemm>(linear(name, m, n, k, 1, x).kind), x, true, true);
  return ops;
}

std::vector<Op> layer_backward(const LayerShape& x) { return backward_ops(x, true, true); }
std::vector<Op> layer_backward_input(const LayerShape& x) { return backward_ops(x, true, false); }
std::vector<Op> layer_backward_weight(const LayerShape& x) { return backward_ops(x, false, true); }

std::vector<Op> layer_forward_gemms(const LayerShape& x) {
  std::vector<Op> ops;
  for (const Op& op : layer_forward(x))
    if (std::holds_alternative<Gemm>(op.kind) && !attention_gemm(op)) ops.push_back(op);
  return ops;
}

std::vector<Op> layer_recompute(const LayerShape& x, Recompute r) {
  switch (r) {
    case Recompute::none: return {};
    case Recompute::full: return layer_forward(x);
    case Recompute::selective: break;
  }
  if (x.framework == Framework::torchtitan) {
    // Per-op checkpointing keeps every other matmul output and the attention output, and
    // recomputes the other matmuls and every memory-bound kernel.
    const long T = x.tokens(), tp = x.tp;
    const int E = x.element_bytes;
    std::vector<Op> ops;
    for (const Op& op : layer_forward(x))
      if (std::holds_alternative<Elementwise>(op.kind)) ops.push_back(op);
    ops.push_back(linear("k_proj", T, x.kv_width / tp, x.hidden, 1, x));
    ops.push_back(linear("attn_out", T, x.hidden, x.hidden / tp, 1, x));
    if (x.activation == Activation::swiglu)
      ops.push_back(linear("mlp_gate", T, x.ffn / tp, x.hidden, 1, x));
    else
      ops.push_back(linear("mlp_down", T, x.hidden, x.ffn / tp, 1, x));
    return ops;
  }
  // Megatron: the attention core. FlashAttention never stores the scores: nothing to redo.
  if (x.attention == AttentionKernel::flash) return {};
  return attention_forward(x);
}

std::vector<Op> embedding_forward(const LayerShape& x) {
  const Dims d = dims(x);
  return {elementwise("embedding", 2 * d.T * d.h * d.E),
          elementwise("embedding_dropout", d.Tn * d.h * (2 * d.E + (x.dropout ? 1 : 0)))};
}

std::vector<Op> embedding_backward(const LayerShape& x) {
  const Dims d = dims(x);
  // Scatter-add of token gradients into the fp32 embedding gradient.
  return {elementwise("embedding_bwd", d.T * d.h * (d.E + 8))};
}

std::vector<Op> head_forward(const LayerShape& x) {
  const Dims d = dims(x);
  const long V = x.vocab / x.tp;
  const ElementBytes eb = element_bytes(x);
  return {elementwise("final_norm", eb.norm * d.Tn * d.h),
          gemm("logits", x.tokens(), V, x.hidden, 1, x.element_bytes),
          // Vocabulary-parallel cross-entropy: read logits, keep fp32 softmax for backward.
          elementwise("cross_entropy", d.T * static_cast<double>(V) * eb.loss)};
}

std::vector<Op> head_backward(const LayerShape& x) {
  const Dims d = dims(x);
  const long V = x.vocab / x.tp;
  const ElementBytes eb = element_bytes(x);
  std::vector<Op> ops;
  ops.push_back(elementwise("cross_entropy_bwd", d.T * static_cast<double>(V) * eb.loss_bwd));
  add_gemm_backward(ops, gemm("logits", x.tokens(), V, x.hidden, 1, x.element_bytes), x.element_bytes);
  ops.push_back(elementwise("final_norm_bwd", eb.norm_bwd * d.Tn * d.h));
  return ops;
}

Op fp8_weight_cast(double params) {
  // Read the bf16 weight, write its FP8 copy and the transposed copy.
  return elementwise("fp8_weight_cast", params * 4.0);
}

Op optimizer_step(double params, double bytes) { return elementwise("adam", params * bytes); }

Op gradient_buffer_passes(double params, double bytes) { return elementwise("grad_buffer", params * bytes); }

Op gradient_accumulation(double params, double bytes) { return elementwise("grad_accumulate", params * bytes); }

std::vector<sim::Collective> layer_tp_collectives(const LayerShape& x, sim::GroupShape group) {
  if (x.tp <= 1) return {};
  const Bytes act(static_cast<double>(x.tokens()) * static_cast<double>(x.hidden) * x.element_bytes);
  // A MoE MLP's TP collectives carry the routed token copies: the experts' TP shards all see
  // every copy (Megatron-LM gathers them over the TP group after the dispatch and reduce-scatters
  // the expert outputs before the combine).
  const Bytes mlp = x.moe ? act * (x.routed_tokens() / static_cast<double>(x.tokens())) : act;
  if (!x.sequence_parallel)
    return {{sim::CollectiveOp::all_reduce, act, group}, {sim::CollectiveOp::all_reduce, mlp, group}};
  return {{sim::CollectiveOp::all_gather, act, group},
          {sim::CollectiveOp::reduce_scatter, act, group},
          {sim::CollectiveOp::all_gather, mlp, group},
          {sim::CollectiveOp::reduce_scatter, mlp, group}};
}

std::vector<sim::Collective> layer_cp_collectives(const LayerShape& x, sim::GroupShape g) {
  if (x.cp <= 1) return {};
  const double E = x.element_bytes, t = x.tp;
  const double T = static_cast<double>(x.tokens()), h = static_cast<double>(x.hidden);
  const double kv = static_cast<double>(x.kv_width);
  if (x.cp_comm == CpComm::ring)  // every rank ends up with the whole sequence's K and V
    return {{sim::CollectiveOp::all_gather, Bytes(E * T * x.cp * 2 * kv / t), g}};
  return {{sim::CollectiveOp::all_to_all, Bytes(E * T * (h + 2 * kv) / t), g},
          {sim::CollectiveOp::all_to_all, Bytes(E * T * h / t), g}};
}

std::vector<sim::Collective> layer_cp_collectives_backward(const LayerShape& x, sim::GroupShape g) {
  if (x.cp <= 1) return {};
  const double E = x.element_bytes, t = x.tp;
  const double T = static_cast<double>(x.tokens()), h = static_cast<double>(x.hidden);
  const double kv = static_cast<double>(x.kv_width);
  if (x.cp_comm == CpComm::ring) {
    const Bytes block(E * T * x.cp * 2 * kv / t);
    return {{sim::CollectiveOp::all_gather, block, g}, {sim::CollectiveOp::reduce_scatter, block, g}};
  }
  return {{sim::CollectiveOp::all_to_all, Bytes(E * T * h / t), g},
          {sim::CollectiveOp::all_to_all, Bytes(E * T * (h + 2 * kv) / t), g}};
}

std::vector<sim::Collective> layer_ep_collectives(const LayerShape& x, sim::GroupShape g) {
  if (!x.moe || x.ep <= 1) return {};
  // Each TP rank exchanges its 1/tp share of the token copies (Megatron-LM's all-to-all
  // dispatcher: the TP group splits the tokens before the exchange).
  const Bytes copies(x.routed_tokens() * static_cast<double>(x.hidden) * x.element_bytes / x.tp);
  return {{sim::CollectiveOp::all_to_all, copies, g}, {sim::CollectiveOp::all_to_all, copies, g}};
}

std::optional<sim::Collective> embedding_tp_collective(const LayerShape& x, sim::GroupShape group) {
  if (x.tp <= 1) return std::nullopt;
  const Bytes act(static_cast<double>(x.tokens()) * static_cast<double>(x.hidden) * x.element_bytes);
  return sim::Collective{x.sequence_parallel ? sim::CollectiveOp::reduce_scatter : sim::CollectiveOp::all_reduce,
                         act, group};
}

Seconds OpCostModel::host_time(const Op&) const { return Seconds(0); }

Seconds OpCostModel::time(const Op& op) const { return std::max(device_time(op), host_time(op)); }

Seconds OpCostModel::total(const std::vector<Op>& ops) const {
  Seconds sum;
  for (const Op& op : ops) sum += time(op);
  return sum;
}

RooflineCost::RooflineCost(topo::GpuSpec gpu, topo::Precision precision)
    : gpu_(std::move(gpu)),
      // FP8 training runs everything but the linear layers' GEMMs in bf16.
      peak_(gpu_.peak_at(precision == topo::Precision::fp8 ? topo::Precision::bf16 : precision)) {
  if (precision == topo::Precision::fp8) fp8_peak_ = gpu_.peak_at(topo::Precision::fp8);
}

double RooflineCost::gemm_efficiency(const Gemm& g) const {
  // cuBLAS picks among tile shapes: a large tile is faster per FLOP but quantises worse over
  // the SMs. Candidates are the GPU's base tile and three smaller ones, with relative speeds.
  struct Tile {
    long m, n;
    double speed;
  };
  const long tm = gpu_.gemm_tile_m, tn = gpu_.gemm_tile_n;
  const Tile tiles[] = {{tm, tn, 1.0}, {tm, tn / 2, 0.95}, {tm / 2, tn / 2, 0.85}, {tm / 2, tn / 4, 0.7}};
  double best = 0;
  for (const Tile& tile : tiles) {
    const double rows = std::ceil(static_cast<double>(g.m) / static_cast<double>(tile.m));
    const double cols = std::ceil(static_cast<double>(g.n) / static_cast<double>(tile.n));
    const double count = rows * cols * static_cast<double>(g.batch);
    const double waves = std::ceil(count / gpu_.sms);
    const double occupancy = count / (waves * gpu_.sms);
    const double fill = (static_cast<double>(g.m) / (rows * static_cast<double>(tile.m))) *
                        (static_cast<double>(g.n) / (cols * static_cast<double>(tile.n)));
    best = std::max(best, tile.speed * occupancy * fill);
  }
  // Short reductions leave the pipeline's prologue and epilogue exposed: a fixed number of bytes
  // of the reduction, so twice the elements in FP8.
  const double k = static_cast<double>(g.k);
  const double depth = k / (k + (g.fp8 ? 128.0 : 64.0));
  return (g.fp8 ? gpu_.matmul_fp8_efficiency : gpu_.matmul_efficiency) * best * depth;
}

double RooflineCost::attention_efficiency(const FusedAttention& a) const {
  const auto& spec = gpu_.attention[static_cast<int>(a.library)];
  if (!spec) return gpu_.attention_efficiency;
  return (a.backward ? spec->backward : spec->forward).at(a.head_dim, a.keys, a.causal);
}

Seconds RooflineCost::host_time(const Op&) const { return gpu_.host_overhead; }

Seconds RooflineCost::device_time(const Op& op) const {
  const Seconds memory = op.bytes / (gpu_.memory_bw * gpu_.memory_efficiency);
  Seconds compute;
  if (const auto* g = std::get_if<Gemm>(&op.kind)) {
    if (g->fp8 && !fp8_peak_)
      throw std::invalid_argument("RooflineCost: an FP8 GEMM ('" + std::string(op.name) +
                                  "') in a model built for another precision");
    compute = op.flops / ((g->fp8 ? *fp8_peak_ : peak_) * gemm_efficiency(*g));
  } else if (const auto* a = std::get_if<FusedAttention>(&op.kind)) {
    compute = op.flops / (peak_ * attention_efficiency(*a));
  }
  return std::max(compute, memory) + gpu_.kernel_overhead;
}

}  // namespace strata::strategy
