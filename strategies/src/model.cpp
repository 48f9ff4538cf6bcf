#include "strata/strategy/model.hpp"

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
}  // namespace

double ModelSpec::layer_params() const {
  const double h = hidden, kv = static_cast<double>(kv_width()), f = ffn;
  const bool bias = has_bias(*this);
  double attn = h * (h + 2 * kv) + h * h;
  double mlp = activation == Activation::swiglu ? 3 * h * f : 2 * h * f;
  double norms = bias ? 4 * h : 2 * h;
  if (bias) {
    attn += (h + 2 * kv) + h;
    mlp += f + h;
  }
  return attn + mlp + norms;
}

double ModelSpec::embedding_params(int seq) const {
  return static_cast<double>(vocab) * hidden + (learned_positions ? static_cast<double>(seq) * hidden : 0.0);
}

double ModelSpec::output_params() const {
  return tied_embeddings ? 0.0 : static_cast<double>(vocab) * hidden;
}

double ModelSpec::total_params(int seq) const {
  const double final_norm = has_bias(*this) ? 2.0 * hidden : hidden;
  return layers * layer_params() + embedding_params(seq) + output_params() + final_norm;
}

void ModelSpec::check() const {
  const std::string n = "model " + name + ": ";
  need(layers > 0, n + "layers must be positive");
  need(hidden > 0, n + "hidden must be positive");
  need(heads > 0, n + "heads must be positive");
  need(hidden % heads == 0, n + "hidden (" + std::to_string(hidden) + ") must be a multiple of heads (" +
                                std::to_string(heads) + ")");
  need(kv_heads > 0 && heads % kv_heads == 0,
       n + "kv_heads must divide heads (" + std::to_string(heads) + ")");
  need(ffn > 0, n + "ffn must be positive");
  need(vocab > 0, n + "vocab must be positive");
  need(seq_len > 0, n + "seq_len must be positive");
}

void TrainingSpec::check() const {
  need(global_batch > 0, "training: global_batch must be positive");
  need(seq_len > 0, "training: seq_len must be positive");
}

double model_flops_per_step(const ModelSpec& m, const TrainingSpec& t) {
  const double tokens = static_cast<double>(t.global_batch) * t.seq_len;
  const double dense = m.layers * m.layer_params() + static_cast<double>(m.vocab) * m.hidden;
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
