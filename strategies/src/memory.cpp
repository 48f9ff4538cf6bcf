#include "strata/strategy/memory.hpp"

#include <algorithm>

namespace strata::strategy {

namespace {

// Bytes per element the MLP stores between its projections: GELU keeps its input and output
// (2), SwiGLU its gate, up and product (3).
double mlp_factor(const LayerShape& x) { return x.activation == Activation::swiglu ? 3 : 2; }

// Activations of the MLP (dense or MoE) stored for backward, without its input (counted with
// the replicated part).
double mlp_activations(const LayerShape& x) {
  const double E = x.element_bytes, t = x.tp;
  const double T = static_cast<double>(x.tokens());
  if (!x.moe) return mlp_factor(x) * E * T * static_cast<double>(x.ffn) / t;
  const double routed = x.routed_tokens(), h = static_cast<double>(x.hidden);
  // Router probabilities (fp32), the permuted token copies, the experts' intermediates and
  // outputs, and the shared experts like a dense MLP.
  double bytes = 4 * T * static_cast<double>(x.experts) + 2 * E * routed * h +
                 mlp_factor(x) * E * routed * static_cast<double>(x.moe_ffn) / t;
  bytes += mlp_factor(x) * E * T * static_cast<double>(x.shared_experts * x.moe_ffn) / t;
  return bytes;
}

}  // namespace

Bytes layer_activation_bytes(const LayerShape& x, Recompute r) {
  const double E = x.element_bytes;
  const double t = x.tp;
  const double sp_div = x.sequence_parallel ? t : 1.0;
  const double bs = static_cast<double>(x.tokens());
  const double h = static_cast<double>(x.hidden), kv = static_cast<double>(x.kv_width);
  const double f = static_cast<double>(x.ffn), heads = static_cast<double>(x.heads);
  const double sbh = bs * h;

  if (r == Recompute::full) return Bytes(E * sbh / sp_div);  // the layer's input only

  // Flash attention keeps its fp32 log-sum-exp per head and token.
  const double lse = x.attention == AttentionKernel::flash ? 4 * heads * bs / t : 0.0;

  if (r == Recompute::selective && x.framework == Framework::torchtitan) {
    // Layer input, every other matmul output (q, v, mlp-up and, for SwiGLU, mlp-down) and the
    // attention output.
    double kept = E * bs * (h + kv + (x.moe ? 0.0 : f)) / t + E * sbh / t;
    if (x.activation == Activation::swiglu) kept += E * sbh / sp_div;
    if (x.moe) kept += mlp_activations(x) / 2;
    return Bytes(E * sbh / sp_div + kept + lse);
  }

  // Korthikanti et al. 2022, section 4: 34 sbh + 5 a s^2 b for GPT, split into what TP
  // replicates (norm inputs, QKV and MLP inputs, dropout masks: 10 sbh) and what it shards.
  const double replicated = 4 * E * sbh + (x.dropout ? 2 * sbh : 0.0);
  const double sharded = E * bs * (h + 2 * kv) + E * sbh;
  double scores = lse;
  if (x.attention == AttentionKernel::unfused && r == Recompute::none) {
    const double s2 = heads * static_cast<double>(x.seq) * static_cast<double>(x.seq) *
                      static_cast<double>(x.micro_batch);
    scores = E * s2 + (x.dropout ? (1 + E) * s2 : 0.0);
    scores /= t;
  }
  return Bytes(replicated / sp_div + sharded / t + mlp_activations(x) + scores);
}

Bytes layer_weight_grad_bytes(const LayerShape& x) {
  const double E = x.element_bytes, t = x.tp;
  const double sp_div = x.sequence_parallel ? t : 1.0;
  const double T = static_cast<double>(x.tokens()), h = static_cast<double>(x.hidden);
  const double kv = static_cast<double>(x.kv_width);
  // Inputs: the two norm outputs (gathered, as the weight GEMMs read them), the attention output
  // and the MLP's intermediate; output gradients: q, k, v, the projection and both MLP GEMMs.
  double bytes = E * T * (2 * h / sp_div + h / t) + E * T * ((h + 2 * kv) / t + h / sp_div);
  const double f = x.moe ? 0.0 : static_cast<double>(x.ffn);
  const double up = x.activation == Activation::swiglu ? 2 : 1;
  bytes += E * T * (f * (1 + up) / t + h / sp_div);
  if (x.moe) {
    const double routed = x.routed_tokens(), fm = static_cast<double>(x.moe_ffn);
    bytes += E * routed * (2 * h + fm * (1 + up) / t);
    bytes += E * T * static_cast<double>(x.shared_experts) * fm * (1 + up) / t;
  }
  return Bytes(bytes);
}

Bytes largest_activation(const LayerShape& x) {
  const double E = x.element_bytes;
  const double tokens = static_cast<double>(x.tokens());
  double biggest = std::max(E * tokens * static_cast<double>(x.hidden),
                            E * tokens * static_cast<double>(x.ffn) / x.tp);
  if (x.moe)
    biggest = std::max(biggest, E * x.routed_tokens() * std::max(static_cast<double>(x.hidden),
                                                                  static_cast<double>(2 * x.moe_ffn) / x.tp));
  if (x.attention == AttentionKernel::unfused)
    biggest = std::max(biggest, E * static_cast<double>(x.micro_batch) * static_cast<double>(x.heads) / x.tp *
                                    static_cast<double>(x.seq) * static_cast<double>(x.seq));
  return Bytes(biggest);
}

int inflight_microbatches(const Plan& p, int stage, int m) {
  if (p.pp == 1) return 1;
  switch (p.schedule) {
    case Schedule::gpipe: return m;
    case Schedule::one_f_one_b:
    case Schedule::zb_h1: return std::min(p.pp - stage, m);
    case Schedule::interleaved:
      return std::min((p.pp - stage - 1) * 2 + (p.vpp - 1) * p.pp + 1, m * p.vpp);
  }
  return m;
}

int deferred_weight_microbatches(const Plan& p, int stage, int m) {
  if (p.pp == 1 || p.schedule != Schedule::zb_h1) return 0;
  return std::min(stage, m);
}

int stage_layers(const ModelSpec& m, const Plan& p, int stage) {
  const std::vector<int> chunks = virtual_stage_layers(m.layers, p.pp, p.vpp);
  int n = 0;
  for (int c = 0; c < p.vpp; ++c) n += chunks[static_cast<std::size_t>(c * p.pp + stage)];
  return n;
}

int first_layer_of(const ModelSpec& m, const Plan& p, int vs) {
  const std::vector<int> chunks = virtual_stage_layers(m.layers, p.pp, p.vpp);
  int first = 0;
  for (int i = 0; i < vs; ++i) first += chunks[static_cast<std::size_t>(i)];
  return first;
}

StageParams stage_layer_split(const ModelSpec& m, const Plan& p, int stage) {
  const double tp = p.tp;
  const std::vector<int> chunks = virtual_stage_layers(m.layers, p.pp, p.vpp);
  StageParams out;
  for (int c = 0; c < p.vpp; ++c) {
    const int vs = c * p.pp + stage;
    const int first = first_layer_of(m, p, vs);
    for (int l = first; l < first + chunks[static_cast<std::size_t>(vs)]; ++l) {
      if (m.moe_layer(l)) {
        out.dense += m.moe_layer_dense_params() / tp;
        out.expert += m.moe_layer_expert_params() / (tp * p.ep);
      } else {
        out.dense += m.layer_params() / tp;
      }
    }
  }
  return out;
}

StageParams stage_param_split(const ModelSpec& m, const TrainingSpec& t, const Plan& p, int stage) {
  StageParams out = stage_layer_split(m, p, stage);
  const double word = static_cast<double>(m.vocab) * m.hidden / p.tp;
  if (stage == 0) {
    out.dense += word + (m.learned_positions ? static_cast<double>(t.seq_len) * m.hidden : 0.0);
  }
  if (stage == p.pp - 1) {
    // An untied head has its own matrix; a tied one needs a copy when it lives on another stage.
    if (!m.tied_embeddings || p.pp > 1) out.dense += word;
  }
  return out;
}

double stage_params(const ModelSpec& m, const TrainingSpec& t, const Plan& p, int stage) {
  return stage_param_split(m, t, p, stage).total();
}

int expert_shard_group(const Plan& p) {
  const int replicas = std::max(1, p.dp_cp() / std::max(1, p.ep));
  return p.shard > 0 ? std::max(1, std::min(p.shard, replicas)) : replicas;
}

double optimizer_params(const ModelSpec& m, const TrainingSpec& t, const Plan& p, int stage) {
  const StageParams sp = stage_param_split(m, t, p, stage);
  if (p.zero == 0) return sp.total();
  return sp.dense / p.shard_group() + sp.expert / expert_shard_group(p);
}

std::vector<Op> optimizer_ops(const ModelSpec& m, const TrainingSpec& t, const Plan& p, int stage) {
  std::vector<Op> ops{optimizer_step(optimizer_params(m, t, p, stage), t.step_traffic.optimizer)};
  // The gradient buffer is the stage's whole gradient, or under ZeRO-2/3 the GPU's shard of it.
  if (t.step_traffic.buffer > 0)
    ops.push_back(gradient_buffer_passes(p.zero >= 2 ? optimizer_params(m, t, p, stage) : stage_params(m, t, p, stage),
                                         t.step_traffic.buffer));
  if (t.precision == topo::Precision::fp8 && t.framework != Framework::torchtitan)
    ops.push_back(fp8_weight_cast(stage_layer_split(m, p, stage).total()));
  return ops;
}

MemoryReport plan_memory(const ModelSpec& m, const TrainingSpec& t, const Plan& p, Bytes reserved) {
  const LayerShape dense = LayerShape::of(m, t, p);
  const LayerShape moe = dense.moe_layer(m);
  const int mb = std::max(1, p.microbatches(t.global_batch));
  const double E = dense.element_bytes;
  const double zd = p.shard_group(), ze = expert_shard_group(p);
  const std::vector<int> chunks = virtual_stage_layers(m.layers, p.pp, p.vpp);

  MemoryReport report;
  for (int s = 0; s < p.pp; ++s) {
    StageMemory mem;
    mem.stage = s;
    const StageParams sp = stage_param_split(m, t, p, s);
    mem.params = sp.total();
    const double P = mem.params;
    const double shard = sp.dense / zd + sp.expert / ze;  // one ZeRO shard of the stage
    switch (p.zero) {
      case 0:
        mem.weights = Bytes(E * P);
        mem.gradients = Bytes(4 * P);
        mem.optimizer = Bytes(12 * P);
        break;
      case 1:
        mem.weights = Bytes(E * P);
        mem.gradients = Bytes(4 * P);
        mem.optimizer = Bytes(12 * shard);
        break;
      case 2:
        mem.weights = Bytes(E * P);
        mem.gradients = Bytes(4 * shard);
        mem.optimizer = Bytes(12 * shard);
        break;
      default:
        mem.weights = Bytes(E * shard);
        mem.gradients = Bytes(4 * shard);
        mem.optimizer = Bytes(12 * shard);
        if (p.pp > 1) {
          // Gathered once per step and kept for every micro-batch: full weights, and full
          // gradients accumulated over the micro-batches in the reduction precision (FSDP2
          // upcasts unsharded gradients to its reduce dtype while gradient sync is off).
          mem.weights += Bytes(E * P);
          mem.gradients += Bytes(t.grad_reduce_bytes() * P);
        } else if (t.zero3_blocking_fetch) {
          // DeepSpeed before v0.6: at most one layer's matrices gathered (a matrix is released
          // after use unless reused soon, and prefetch is below a matrix), and the gradient
          // bucket its reduce-scatters read from (reduce_bucket_size's default, 5e8 elements).
          mem.transient += Bytes((m.layer_params() / p.tp + std::min(5e8, m.layer_params() / p.tp)) * E);
        } else {
          // Two layers gathered at a time (the current one and the prefetched one).
          const double biggest = m.moe() ? m.moe_layer_dense_params() + m.moe_layer_expert_params() / p.ep
                                         : m.layer_params();
          mem.transient += Bytes(2 * std::max(biggest, m.layer_params()) / p.tp * (E + 4));
        }
        break;
    }
    // Transformer Engine keeps the FP8 copy of every linear weight and its transpose from the
    // first micro-batch's forward to the step's last backward.
    if (dense.fp8 && t.framework != Framework::torchtitan)
      mem.weights += Bytes(2 * stage_layer_split(m, p, s).total());
    // Activations of one micro-batch through all the stage's chunks, layer by layer (dense or
    // MoE, recomputed or not), and what a deferred weight-gradient pass keeps of them.
    double per_mb = 0, residue = 0;
    for (int c = 0; c < p.vpp; ++c) {
      const int vs = c * p.pp + s;
      const int first = first_layer_of(m, p, vs);
      for (int i = 0; i < chunks[static_cast<std::size_t>(vs)]; ++i) {
        const LayerShape& x = m.moe_layer(first + i) ? moe : dense;
        const Recompute r = p.recompute == Recompute::full && !p.recomputes_layer(i) ? Recompute::none : p.recompute;
        per_mb += layer_activation_bytes(x, r).value();
        residue += layer_weight_grad_bytes(x).value();
      }
    }
    const int inflight = inflight_microbatches(p, s, mb);
    mem.activations = Bytes(per_mb / p.vpp * inflight + residue * deferred_weight_microbatches(p, s, mb));
    const double tokens = static_cast<double>(dense.tokens());
    if (s == 0 && m.dropout)
      mem.activations += Bytes(inflight * tokens * m.hidden / (dense.sequence_parallel ? p.tp : 1));
    // Backward works on one layer at a time: the largest activation of the layer and its
    // gradient are live together, and with full recomputation the layer's rematerialised
    // activations too.
    const LayerShape& widest = m.moe() ? moe : dense;
    if (p.recompute == Recompute::full)
      mem.transient += layer_activation_bytes(widest, Recompute::none) + largest_activation(widest);
    else
      mem.transient += largest_activation(widest) * 2.0;
    if (p.cp > 1 && p.cp_comm == CpComm::ring)  // the K, V block in use and the one arriving
      mem.transient += Bytes(2 * 2 * E * tokens * static_cast<double>(dense.kv_width) / p.tp);
    if (m.moe() && p.ep > 1)  // all-to-all send and receive buffers
      mem.transient += Bytes(2 * E * moe.routed_tokens() * m.hidden / p.tp);
    if (s == p.pp - 1)  // logits of one micro-batch, their fp32 softmax and fp32 gradient
      mem.transient += Bytes(tokens * static_cast<double>(m.vocab) / p.tp * (E + 8));
    mem.reserved = reserved;
    report.stages.push_back(mem);
  }
  report.peak = *std::max_element(report.stages.begin(), report.stages.end(),
                                  [](const StageMemory& a, const StageMemory& b) {
                                    return a.total() < b.total();
                                  });
  return report;
}

}  // namespace strata::strategy
