#include "strata/strategy/model.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace strata::strategy {

namespace {
void need(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}
// GPT-family cards (GELU) carry biases and LayerNorm; Llama-family cards (SwiGLU) carry neither
// bias nor LayerNorm's shift.
bool has_bias(const ModelSpec& m) { return m.activation == Activation::gelu; }

// Attention projections and the two norms of a layer.
double attention_and_norms(const ModelSpec& m) {
  const double h = m.hidden, kv = static_cast<double>(m.kv_width());
  const bool bias = has_bias(m);
  double attn = h * (h + 2 * kv) + h * h;
  if (bias) attn += (h + 2 * kv) + h;
  return attn + (bias ? 4 * h : 2 * h);
}

// One MLP (dense, or one expert) of inner size f.
double mlp_params(const ModelSpec& m, double f) {
  const double h = m.hidden;
  double mlp = m.activation == Activation::swiglu ? 3 * h * f : 2 * h * f;
  if (has_bias(m)) mlp += f + h;
  return mlp;
}
}  // namespace

double ModelSpec::layer_params() const { return attention_and_norms(*this) + mlp_params(*this, ffn); }

double ModelSpec::moe_layer_dense_params() const {
  return attention_and_norms(*this) + static_cast<double>(experts) * hidden +  // router
         shared_experts * mlp_params(*this, moe_ffn);
}

double ModelSpec::moe_layer_expert_params() const { return experts * mlp_params(*this, moe_ffn); }

double ModelSpec::params_of_layer(int l) const {
  return moe_layer(l) ? moe_layer_dense_params() + moe_layer_expert_params() : layer_params();
}

double ModelSpec::embedding_params(int seq) const {
  return static_cast<double>(vocab) * hidden + (learned_positions ? static_cast<double>(seq) * hidden : 0.0);
}

double ModelSpec::output_params() const {
  return tied_embeddings ? 0.0 : static_cast<double>(vocab) * hidden;
}

double ModelSpec::total_params(int seq) const {
  const double final_norm = has_bias(*this) ? 2.0 * hidden : hidden;
  double body = 0;
  for (int l = 0; l < layers; ++l) body += params_of_layer(l);
  return body + embedding_params(seq) + output_params() + final_norm;
}

void ModelSpec::check() const {
  need(name.size() <= topo::limits::max_name && topo::clean_text(name),
       "model " + topo::printable(name) + ": the name must be at most 256 printable characters");
  const std::string n = "model " + name + ": ";
  const auto in = [&](int v, int lo, int hi, const char* field) {
    need(v >= lo && v <= hi, n + field + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                                 ", got " + std::to_string(v));
  };
  in(layers, 1, limits::max_layers, "layers");
  in(hidden, 1, limits::max_hidden, "hidden");
  in(heads, 1, limits::max_heads, "heads");
  need(hidden % heads == 0, n + "hidden (" + std::to_string(hidden) + ") must be a multiple of heads (" +
                                std::to_string(heads) + ")");
  need(kv_heads > 0 && heads % kv_heads == 0,
       n + "kv_heads must divide heads (" + std::to_string(heads) + ")");
  in(ffn, 1, limits::max_ffn, "ffn");
  in(vocab, 1, limits::max_vocab, "vocab");
  in(seq_len, 1, limits::max_seq_len, "seq_len");
  if (experts != 0 || top_k != 0 || moe_ffn != 0 || shared_experts != 0 || dense_layers != 0) {
    need(experts > 0, n + "experts must be positive for a mixture-of-experts model");
    in(experts, 1, limits::max_experts, "experts");
    need(top_k > 0 && top_k <= experts, n + "top_k must be between 1 and experts (" + std::to_string(experts) + ")");
    need(moe_ffn > 0, n + "moe_ffn must be positive for a mixture-of-experts model");
    in(moe_ffn, 1, limits::max_ffn, "moe_ffn");
    in(shared_experts, 0, limits::max_shared_experts, "shared_experts");
    need(dense_layers >= 0 && dense_layers < layers, n + "dense_layers must be below layers");
  }
}

void TrainingSpec::check() const {
  need(global_batch > 0 && global_batch <= limits::max_global_batch,
       "training: global_batch must be between 1 and " + std::to_string(limits::max_global_batch));
  need(seq_len > 0 && seq_len <= limits::max_seq_len,
       "training: seq_len must be between 1 and " + std::to_string(limits::max_seq_len));
  need(static_cast<std::int64_t>(global_batch) * seq_len <= limits::max_tokens_per_step,
       "training: global_batch x seq_len must be at most " + std::to_string(limits::max_tokens_per_step) +
           " tokens per step");
  // NaN fails the comparison; infinity would make every expert's memory and time infinite.
  need(capacity_factor >= 1.0 && std::isfinite(capacity_factor), "training: capacity_factor must be finite and at least 1");
  step_traffic.check();
}

double model_flops_per_step(const ModelSpec& m, const TrainingSpec& t) {
  const double tokens = static_cast<double>(t.global_batch) * t.seq_len;
  double dense = static_cast<double>(m.vocab) * m.hidden;
  for (int l = 0; l < m.layers; ++l) {
    if (!m.moe_layer(l)) {
      dense += m.layer_params();
    } else {
      dense += m.moe_layer_dense_params() + m.moe_layer_expert_params() * m.top_k / m.experts;
    }
  }
  return 6 * dense * tokens + 12.0 * m.layers * m.hidden * static_cast<double>(t.seq_len) * tokens;
}

int TrainingSpec::grad_reduce_bytes() const {
  if (framework == Framework::torchtitan) return 4;
  if (framework == Framework::megatron_deepspeed) return 2;
  return precision == topo::Precision::fp16 ? 2 : 4;
}

void StepTraffic::check() const {
  for (const auto& [v, name] : {std::pair{accumulate, "accumulate"}, {buffer, "buffer"}, {optimizer, "optimizer"}})
    need(std::isfinite(v) && v >= 0 && v <= 1000,
         std::string("training: step_traffic.") + name + " must be between 0 and 1000 bytes per parameter");
}

StepTraffic StepTraffic::of(Framework f, topo::Precision precision) {
  const bool fp16 = precision == topo::Precision::fp16;
  switch (f) {
    case Framework::torchtitan:
      // FSDP2 keeps only the fp32 gradient shard: clip_grad_norm_ reads it and scales it (4 + 8),
      // fused AdamW reads 16 and writes 12 bytes per shard parameter.
      return {0, 0, 40};
    case Framework::megatron_deepspeed:
      // BF16_Optimizer (deepspeed/runtime/bf16_optimizer.py, 2022): each micro-batch casts the
      // bf16 gradient to fp32 and adds it to the full fp32 buffer (2 + 4, then 4 + 4 + 4); per
      // step it takes the norm of the full buffer (4), casts it to bf16 for the all-reduce (4 +
      // 2), copies the scaled result back (2 + 4) and zeroes it (4); the shard gets fused Adam
      // (28) and its copy to bf16 (4 + 2).
      if (!fp16) return {18, 20, 34};
      // FP16_Optimizer (deepspeed/runtime/fp16/fused_optimizer.py, 2023): autograd sums each
      // micro-batch's fp16 gradients (2 + 2 + 2); the engine flattens them for the all-reduce,
      // divides them by dp and copies them back (3 x (2 + 2)); the step checks every gradient for
      // overflow (x.float().sum(): 2 + 4 + 4), casts and flattens them into fp32 (2 + 4, 4 + 4),
      // takes their norm (4), unscales and clips (4 + 4), runs fused Adam (28) and unflattens and
      // copies the weights back (4 + 4, 4 + 2).
      return {6, 12, 78};
    case Framework::megatron: break;
  }
  // Megatron-LM 2024 (distributed optimizer, gradient_accumulation_fusion): the fp32 gradient
  // buffer is zeroed (4), scaled by 1/dp (4 + 4) and its norm checked for NaN (4); the shard gets
  // the clipping norm (4), fused Adam (16 + 12) and the copy to the model's weights (4 + 2), and
  // under fp16 its unscaling (4 + 4).
  return {0, 16, fp16 ? 46.0 : 38.0};
}

const char* to_string(Framework f) {
  switch (f) {
    case Framework::megatron: return "megatron";
    case Framework::torchtitan: return "torchtitan";
    case Framework::megatron_deepspeed: return "megatron-deepspeed";
  }
  return "?";
}

const char* to_string(Activation a) { return a == Activation::gelu ? "gelu" : "swiglu"; }
const char* to_string(AttentionKernel a) { return a == AttentionKernel::flash ? "flash" : "unfused"; }

}  // namespace strata::strategy
