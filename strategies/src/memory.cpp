#include "strata/strategy/memory.hpp"

#include <algorithm>

namespace strata::strategy {

Bytes layer_activation_bytes(const LayerShape& x, Recompute r) {
  const double E = x.element_bytes;
  const double t = x.tp;
  const double sp_div = x.sequence_parallel ? t : 1.0;
  const double bs = static_cast<double>(x.micro_batch) * static_cast<double>(x.seq);
  const double h = static_cast<double>(x.hidden), kv = static_cast<double>(x.kv_width);
  const double f = static_cast<double>(x.ffn), heads = static_cast<double>(x.heads);
  const double sbh = bs * h;

  if (r == Recompute::full) return Bytes(E * sbh / sp_div);  // the layer's input only

  // Flash attention keeps its fp32 log-sum-exp per head and token.
  const double lse = x.attention == AttentionKernel::flash ? 4 * heads * bs / t : 0.0;

  if (r == Recompute::selective && x.framework == Framework::torchtitan) {
    // Layer input, every other matmul output (q, v, mlp-up and, for SwiGLU, mlp-down) and the
    // attention output.
    double kept = E * bs * (h + kv + f) / t + E * sbh / t;
    if (x.activation == Activation::swiglu) kept += E * sbh / sp_div;
    return Bytes(E * sbh / sp_div + kept + lse);
  }

  // Korthikanti et al. 2022, section 4: 34 sbh + 5 a s^2 b for GPT, split into what TP
  // replicates (norm inputs, QKV and MLP inputs, dropout masks: 10 sbh) and what it shards.
  const double replicated = 4 * E * sbh + (x.dropout ? 2 * sbh : 0.0);
  const double mlp = (x.activation == Activation::swiglu ? 3 : 2) * E * bs * f;
  const double sharded = E * bs * (h + 2 * kv) + E * sbh + mlp;
  double scores = lse;
  if (x.attention == AttentionKernel::unfused && r == Recompute::none) {
    const double s2 = heads * static_cast<double>(x.seq) * static_cast<double>(x.seq) *
                      static_cast<double>(x.micro_batch);
    scores = E * s2 + (x.dropout ? (1 + E) * s2 : 0.0);
    scores /= t;
  }
  return Bytes(replicated / sp_div + sharded / t + scores);
}

Bytes largest_activation(const LayerShape& x) {
  const double E = x.element_bytes;
  const double tokens = static_cast<double>(x.tokens());
  double biggest = std::max(E * tokens * static_cast<double>(x.hidden),
                            E * tokens * static_cast<double>(x.ffn) / x.tp);
  if (x.attention == AttentionKernel::unfused)
    biggest = std::max(biggest, E * static_cast<double>(x.micro_batch) * static_cast<double>(x.heads) / x.tp *
                                    static_cast<double>(x.seq) * static_cast<double>(x.seq));
  return Bytes(biggest);
}

int inflight_microbatches(const Plan& p, int stage, int m) {
  if (p.pp == 1) return 1;
  switch (p.schedule) {
    case Schedule::gpipe: return m;
    case Schedule::one_f_one_b: return std::min(p.pp - stage, m);
    case Schedule::interleaved:
      return std::min((p.pp - stage - 1) * 2 + (p.vpp - 1) * p.pp + 1, m * p.vpp);
  }
  return m;
}

int stage_layers(const ModelSpec& m, const Plan& p, int stage) {
  const std::vector<int> chunks = virtual_stage_layers(m.layers, p.pp, p.vpp);
  int n = 0;
  for (int c = 0; c < p.vpp; ++c) n += chunks[static_cast<std::size_t>(c * p.pp + stage)];
  return n;
}

double stage_params(const ModelSpec& m, const TrainingSpec& t, const Plan& p, int stage) {
  const double tp = p.tp;
  double params = stage_layers(m, p, stage) * m.layer_params() / tp;
  const double word = static_cast<double>(m.vocab) * m.hidden / tp;
  if (stage == 0) {
    params += word + (m.learned_positions ? static_cast<double>(t.seq_len) * m.hidden : 0.0);
  }
  if (stage == p.pp - 1) {
    // An untied head has its own matrix; a tied one needs a copy when it lives on another stage.
    if (!m.tied_embeddings || p.pp > 1) params += word;
  }
  return params;
}

MemoryReport plan_memory(const ModelSpec& m, const TrainingSpec& t, const Plan& p, Bytes reserved) {
  const LayerShape shape = LayerShape::of(m, t, p);
  const int mb = std::max(1, p.microbatches(t.global_batch));
  const double E = shape.element_bytes;
  const double dp = p.dp;
  const double layer_params = m.layer_params() / p.tp;
  const Bytes per_layer = layer_activation_bytes(shape, p.recompute);

  MemoryReport report;
  for (int s = 0; s < p.pp; ++s) {
    StageMemory mem;
    mem.stage = s;
    mem.params = stage_params(m, t, p, s);
    const double P = mem.params;
    switch (p.zero) {
      case 0:
        mem.weights = Bytes(E * P);
        mem.gradients = Bytes(4 * P);
        mem.optimizer = Bytes(12 * P);
        break;
      case 1:
        mem.weights = Bytes(E * P);
        mem.gradients = Bytes(4 * P);
        mem.optimizer = Bytes(12 * P / dp);
        break;
      case 2:
        mem.weights = Bytes(E * P);
        mem.gradients = Bytes(4 * P / dp);
        mem.optimizer = Bytes(12 * P / dp);
        break;
      default:
        mem.weights = Bytes(E * P / dp);
        mem.gradients = Bytes(4 * P / dp);
        mem.optimizer = Bytes(12 * P / dp);
        if (p.pp > 1) {
          // Gathered once per step and kept for every micro-batch: full weights and gradients.
          mem.weights += Bytes(E * P);
          mem.gradients += Bytes(E * P);
        } else {
          // Two layers gathered at a time (the current one and the prefetched one).
          mem.transient += Bytes(2 * layer_params * (E + 4));
        }
        break;
    }
    const int inflight = inflight_microbatches(p, s, mb);
    const double layers_per_chunk = static_cast<double>(stage_layers(m, p, s)) / p.vpp;
    mem.activations = per_layer * (inflight * layers_per_chunk);
    const double tokens = static_cast<double>(shape.tokens());
    if (s == 0 && m.dropout)
      mem.activations += Bytes(inflight * tokens * m.hidden / (shape.sequence_parallel ? p.tp : 1));
    // Backward works on one layer at a time: the largest activation of the layer and its
    // gradient are live together, and with full recomputation the layer's rematerialised
    // activations too.
    if (p.recompute == Recompute::full)
      mem.transient += layer_activation_bytes(shape, Recompute::none) + largest_activation(shape);
    else
      mem.transient += largest_activation(shape) * 2.0;
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
