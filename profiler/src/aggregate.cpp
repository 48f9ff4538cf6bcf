#include <algorithm>
#include <map>
#include <tuple>

#include "strata/profiler/tables.hpp"

namespace strata::profiler {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

namespace {

// Largest GEMM dimension and traffic an op table holds (strategy::parse_op_table's ranges): a
// recorded call beyond them is left out, never wrapped.
constexpr double kMaxDimension = 4294967296.0;  // 2^32
constexpr double kMaxFlops = 1e24, kMaxBytes = 1e15;

// Product of v[from, to) in floating point (NVTX sizes are the program's, unchecked).
double product(const std::vector<long>& v, std::size_t from, std::size_t to) {
  double p = 1;
  for (std::size_t i = from; i < to && i < v.size(); ++i) p *= static_cast<double>(v[i]);
  return p;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::optional<strategy::OpSample> sample_of(const NvtxOp& op, int element_bytes) {
  strategy::OpSample s;
  const auto& z = op.sizes;
  const double E = element_bytes;
  auto gemm = [&](double m, double n, double k, double batch) {
    for (double d : {m, n, k, batch})
      if (!(d >= 1 && d <= kMaxDimension)) return std::optional<strategy::OpSample>();
    const double flops = 2.0 * m * n * k * batch, bytes = E * (m * k + k * n + m * n) * batch;
    if (flops > kMaxFlops || bytes > kMaxBytes) return std::optional<strategy::OpSample>();
    s.kind = strategy::OpClass::gemm;
    s.name = op.op;
    s.m = static_cast<long>(m), s.n = static_cast<long>(n), s.k = static_cast<long>(k);
    s.batch = static_cast<long>(batch);
    s.flops = sim::Flops(flops);
    s.bytes = sim::Bytes(bytes);
    return std::optional<strategy::OpSample>(s);
  };
  auto dim = [](long v) { return static_cast<double>(v); };
  if (op.op == "aten::mm" && z.size() >= 2 && z[0].size() == 2 && z[1].size() == 2) return gemm(dim(z[0][0]), dim(z[1][1]), dim(z[0][1]), 1);
  if (op.op == "aten::addmm" && z.size() >= 3 && z[1].size() == 2 && z[2].size() == 2)
    return gemm(dim(z[1][0]), dim(z[2][1]), dim(z[1][1]), 1);
  if (op.op == "aten::bmm" && z.size() >= 2 && z[0].size() == 3 && z[1].size() == 3)
    return gemm(dim(z[0][1]), dim(z[1][2]), dim(z[0][2]), dim(z[0][0]));
  if (op.op == "aten::linear" && z.size() >= 2 && !z[0].empty() && z[1].size() == 2)
    return gemm(product(z[0], 0, z[0].size() - 1), dim(z[1][0]), dim(z[1][1]), 1);
  const bool sdpa = op.op.find("scaled_dot_product") != std::string::npos && op.op.find("attention") != std::string::npos;
  if (sdpa && !z.empty() && z[0].size() == 4) {
    // q is [batch, heads, seq, head_dim]; causal attention computes half the scores.
    const double b = static_cast<double>(z[0][0]), h = static_cast<double>(z[0][1]);
    const double sq = static_cast<double>(z[0][2]), d = static_cast<double>(z[0][3]);
    const double sk = z.size() >= 2 && z[1].size() == 4 ? static_cast<double>(z[1][2]) : sq;
    const bool backward = ends_with(op.op, "_backward");
    for (double v : {b, h, sq, sk, d})
      if (!(v >= 1 && v <= kMaxDimension)) return std::nullopt;
    s.kind = strategy::OpClass::attention;
    s.name = backward ? "flash_attention_bwd" : "flash_attention";
    s.flops = sim::Flops(4.0 * b * h * sq * sk * d * 0.5 * (backward ? 2.5 : 1.0));
    s.bytes = sim::Bytes(E * b * h * (sq + 2 * sk) * d * (backward ? 2 : 1));
    if (!(s.flops.value() <= kMaxFlops && s.bytes.value() <= kMaxBytes)) return std::nullopt;
    return s;
  }
  // Single-kernel memory-bound ops whose traffic strata counts the same way (read and write the
  // first input's elements once): forward norms and GELU. Others (SwiGLU's halves, adds, the
  // backward passes) are left to the roofline rather than mis-scaled.
  static const std::map<std::string, std::string> names{
      {"aten::native_layer_norm", "norm"}, {"aten::_fused_rms_norm", "norm"}, {"aten::gelu", "activation"}};
  if (auto it = names.find(op.op); it != names.end() && !z.empty() && !z[0].empty()) {
    s.kind = strategy::OpClass::elementwise;
    s.name = it->second;
    for (long v : z[0])
      if (v < 1) return std::nullopt;
    s.bytes = sim::Bytes(2 * E * product(z[0], 0, z[0].size()));
    if (!(s.bytes.value() <= kMaxBytes)) return std::nullopt;
    return s;
  }
  return std::nullopt;
}

strategy::OpTable table_from_calls(const std::vector<OpCall>& calls, topo::Precision precision,
                                   std::map<std::string, std::string> meta) {
  const int E = precision == topo::Precision::fp32 ? 4 : precision == topo::Precision::fp8 ? 1 : 2;
  using Key = std::tuple<int, std::string, long, long, long, long, double>;
  std::map<Key, std::pair<strategy::OpSample, std::vector<double>>> rows;
  for (const OpCall& call : calls) {
    const double seconds = call.seconds;
    auto s = sample_of(parse_nvtx_op(call.op), E);
    if (!s) continue;
    s->dtype = precision;
    const Key k{static_cast<int>(s->kind), s->name, s->m, s->n, s->k, s->batch, s->kind == strategy::OpClass::gemm ? 0.0 : s->flops.value() + s->bytes.value()};
    auto& row = rows[k];
    row.first = *s;
    row.second.push_back(seconds);
  }
  strategy::OpTable out;
  out.meta = std::move(meta);
  for (auto& [k, row] : rows) {
    strategy::OpSample s = row.first;
    s.time = sim::Seconds(median(row.second));
    s.repeats = static_cast<int>(row.second.size());
    if (s.time.value() > 0) out.samples.push_back(s);
  }
  return out;
}

}  // namespace strata::profiler
