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
  return precision == topo::Precision::fp16 ? 2 : 4;
}

const char* to_string(Framework f) { return f == Framework::megatron ? "megatron" : "torchtitan"; }

const char* to_string(Activation a) { return a == Activation::gelu ? "gelu" : "swiglu"; }
const char* to_string(AttentionKernel a) { return a == AttentionKernel::flash ? "flash" : "unfused"; }

}  // namespace strata::strategy
