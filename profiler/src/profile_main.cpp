// strata-profile: measures the kernels of a plan's transformer layer on the local GPU and writes
// an op table (docs/op-tables.md); or turns the op calls recorded by libstrata_inject into one.
//
//   strata-profile bench SCENARIO --plan "tp=8 sp=on ..." [--dtype bf16] [--repeats 50]
//                  [--warmup 10] [--gpu PRESET] [-o TABLE.csv]
//   (options parsed by CLI11: each once, --opt=value or --opt value, unknown ones refused)
//   strata-profile from-calls CALLS.csv --gpu PRESET [--dtype bf16] [-o TABLE.csv]
//
// bench runs, for every distinct kernel strata prices for the plan (the layer's forward and
// backward for dense and MoE layers, the embedding, the output layer and loss, the optimizer):
// GEMMs with cuBLASLt at their exact shape (M, N, K, batch; input-gradient and weight-gradient
// forms are distinct shapes, and the unfused attention's batched GEMMs are among them), and the
// memory-bound kernels as fused kernels of the same work (kernels.cu: norms, GELU/SwiGLU,
// dropout-add, rotary, softmax, embedding and MoE row gathers, cross-entropy, Adam); a kernel
// without one is timed as a device-to-device copy moving its bytes. Each launch is tagged with its
// own external correlation id; CUPTI records the kernels serialized; a row's time is the median
// over the repeats. FlashAttention is not run here (no attention library is linked): its rows
// come from the injection path (PyTorch's SDPA under emit_nvtx), else the roofline.

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.cuh"
#include "strata/profiler/recorder.hpp"
#include "strata/profiler/tables.hpp"
#include "strata/scenario/loader.hpp"
#include "strata/strategy/memory.hpp"
#include "strata/strategy/ops.hpp"
#include "strata/topo/gpu.hpp"

namespace {

using namespace strata;

const char* kHelp = R"(usage: strata-profile bench SCENARIO --plan "PLAN" [OPTIONS]
       strata-profile from-calls CALLS.csv --gpu PRESET [--dtype bf16] [-o TABLE.csv]
       strata-profile -h | strata-profile COMMAND --help

bench: measures on this machine's GPU, with CUPTI, every GEMM (cuBLASLt at its exact shape:
forward, input- and weight-gradient forms, unfused attention) and memory-bound kernel (norms,
activations, dropout-add, rotary, softmax, embedding, MoE permutes, cross-entropy, Adam as fused
kernels at the plan's shapes) that strata prices for the plan, and writes an op table.
FlashAttention rows come from the injection path (profiler/scripts/profile_layer.py).
from-calls: turns the op calls libstrata_inject recorded under PyTorch's
emit_nvtx into an op table (no GPU needed).

options (each at most once; '--opt VALUE' or '--opt=VALUE'; unknown options are errors):
  --plan "PLAN"     the plan whose shapes to measure (bench; strata simulate --help for keys)
  --dtype D         bf16 (default), fp16 or fp8 (fp8 GEMMs: e4m3 inputs, bf16 output)
  --repeats N       timed runs per kernel, 1..100000 (default 50); --warmup N untimed runs
                    first, 0..100000 (default 10)
  --gpu PRESET      the strata GPU preset the table is for (default: the scenario's GPU)
  -o, --out FILE    where to write the table (default: stdout)
  -h, --help        this help
Exit codes: 0 success, 2 bad input, 1 a CUDA, CUPTI or cuBLASLt failure.
)";

/// A bad command line: exit code 2.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

std::string in_quotes(const std::string& s) { return "'" + topo::printable(s) + "'"; }

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
};

// The words after COMMAND, parsed by CLI11 with strata's rules: `names` are the options that take
// a value ("out" also as -o), each at most once; anything else starting with '-' is refused.
// Nullopt when -h or --help asks for the help.
std::optional<Args> parse(const std::string& command, const std::vector<std::string>& names,
                          const std::vector<std::string>& words) {
  const std::string see = " (see strata-profile " + command + " --help)";
  auto declared = [&](const std::string& w) -> std::optional<std::string> {
    if (w == "-o") return "out";
    for (const std::string& n : names)
      if (w == "--" + n) return n;
    return std::nullopt;
  };
  // What CLI11 would take silently: "--opt=" with nothing after it, a missing value, another
  // option as a value.
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--") break;
    if (w == "-h" || w == "--help") return std::nullopt;
    if (w.rfind("--", 0) == 0 && w.size() > 2 && w.back() == '=' && declared(w.substr(0, w.size() - 1)))
      throw UsageError(w.substr(0, w.size() - 1) + " needs a value after '='");
    const auto name = declared(w);
    if (!name) continue;
    if (i + 1 >= words.size()) throw UsageError(w + " needs a value" + see);
    const std::string next = words[i + 1].substr(0, words[i + 1].find('='));
    if (declared(next) || next == "-h" || next == "--help")
      throw UsageError(w + " needs a value, got the option " + in_quotes(next) + see);
    ++i;
  }
  CLI::App app("", "strata-profile " + command);
  app.set_help_flag();
  app.allow_extras();  // collected and refused below, naming the option
  Args a;
  app.add_option("arguments", a.positional);
  std::map<std::string, CLI::Option*> opts;
  for (const std::string& n : names)
    opts[n] = app.add_option(n == "out" ? "-o,--out" : "--" + n)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  std::vector<std::string> reversed(words.rbegin(), words.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw UsageError(topo::printable(e.what()) + see);
  }
  for (const std::string& extra : app.remaining()) {
    if (extra == "--") continue;
    if (extra.size() > 1 && extra[0] == '-')
      throw UsageError("unknown option " + in_quotes(extra.substr(0, extra.find('='))) + " for " + command + see);
    throw UsageError("unexpected argument " + in_quotes(extra) + see);
  }
  for (const auto& [n, o] : opts) {
    if (o->count() > 1) throw UsageError("--" + n + " given twice");
    if (o->count() == 1) a.options[n] = o->results().front();
  }
  return a;
}

std::string option(const Args& a, const std::string& k, const std::string& fallback) {
  const auto it = a.options.find(k);
  return it == a.options.end() ? fallback : it->second;
}

// Option `k` as an integer in [lo, hi] (fallback when absent); anything else is a UsageError.
int int_option(const Args& a, const std::string& k, int fallback, int lo, int hi) {
  const auto it = a.options.find(k);
  if (it == a.options.end()) return fallback;
  const std::string& t = it->second;
  long long v = 0;
  const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  if (t.empty() || ec == std::errc::invalid_argument || p != t.data() + t.size())
    throw UsageError("--" + k + " needs an integer in " + range + ", got " + in_quotes(t));
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    throw UsageError("--" + k + " " + topo::printable(t) + " is out of range (" + range + ")");
  return static_cast<int>(v);
}

// -o FILE is checked before any measurement: not a folder, in a folder that exists. Nothing is
// created or truncated until the table is written.
void check_out(const Args& a) {
  const auto it = a.options.find("out");
  if (it == a.options.end()) return;
  const std::filesystem::path p(it->second);
  if (it->second.empty()) throw UsageError("-o needs a file name");
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) throw UsageError("-o " + in_quotes(it->second) + " is a folder, not a file");
  const auto parent = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(parent, ec))
    throw UsageError("-o " + in_quotes(it->second) + ": folder " + in_quotes(parent.string()) + " does not exist");
}

void write(const Args& a, const std::string& text) {
  const std::string out = option(a, "out", "");
  if (out.empty()) {
    std::cout << text;
    return;
  }
  std::ofstream f(out);
  if (!(f << text) || !f.flush()) throw UsageError("cannot write " + in_quotes(out));
  std::cerr << "strata-profile: wrote " << out << "\n";
}

topo::Precision precision_of(const Args& a) {
  const auto p = topo::parse_precision(option(a, "dtype", "bf16"));
  if (!p || (*p != topo::Precision::bf16 && *p != topo::Precision::fp16 && *p != topo::Precision::fp8))
    throw UsageError("--dtype must be bf16, fp16 or fp8, got " + in_quotes(option(a, "dtype", "")));
  return *p;
}

int from_calls(const Args& a) {
  if (a.positional.size() != 1) throw UsageError("from-calls needs one CALLS.csv");
  const std::string gpu = option(a, "gpu", "");
  if (gpu.empty()) throw UsageError("from-calls needs --gpu PRESET (the strata GPU preset measured)");
  const topo::Precision precision = precision_of(a);
  check_out(a);
  // A regular file of bounded size (a FIFO or /dev/zero would block or grow without end).
  const std::string text = scenario::read_input_file(a.positional[0], scenario::kMaxTableBytes);
  const auto calls = profiler::parse_op_calls_csv(text, a.positional[0]);
  const auto table = profiler::table_from_calls(
      calls, precision, {{"gpu", gpu}, {"made_by", "strata-profile from-calls " + a.positional[0]}});
  std::cerr << "strata-profile: " << calls.size() << " op calls -> " << table.samples.size() << " rows\n";
  write(a, strategy::format_op_table(table));
  return 0;
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string(what) + ": cuBLASLt status " + std::to_string(s));
}

// Device memory reused across measurements (grown as needed).
struct Arena {
  void* ptr = nullptr;
  std::size_t size = 0;
  void* get(std::size_t bytes) {
    if (bytes > size) {
      if (ptr != nullptr) cudaFree(ptr);
      check(cudaMalloc(&ptr, bytes), "cudaMalloc");
      check(cudaMemset(ptr, 0, bytes), "cudaMemset");
      size = bytes;
    }
    return ptr;
  }
  ~Arena() {
    if (ptr != nullptr) cudaFree(ptr);
  }
};

// One cuBLASLt GEMM C[m x n] = A[m x k] B[k x n], `batch` times (strided), ready to launch.
class LtGemm {
 public:
  LtGemm(cublasLtHandle_t h, const strategy::Gemm& g, topo::Precision p, Arena& a, Arena& b, Arena& c, Arena& ws)
      : handle_(h) {
    const bool fp8 = p == topo::Precision::fp8;
    const cudaDataType_t in = fp8 ? CUDA_R_8F_E4M3 : p == topo::Precision::fp16 ? CUDA_R_16F : CUDA_R_16BF;
    const cudaDataType_t out = fp8 ? CUDA_R_16BF : in;
    const std::size_t ein = fp8 ? 1 : 2, eout = 2;
    // Column-major: D (n x m) = B^T (n x k) op A^T: compute with TN (FP8 needs A transposed).
    check(cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    const cublasOperation_t t = CUBLAS_OP_T, n = CUBLAS_OP_N;
    check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t), "TRANSA");
    check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &n, sizeof n), "TRANSB");
    const auto M = static_cast<std::uint64_t>(g.n), N = static_cast<std::uint64_t>(g.m), K = static_cast<std::uint64_t>(g.k);
    check(cublasLtMatrixLayoutCreate(&la_, in, K, M, static_cast<std::int64_t>(K)), "layout A");
    check(cublasLtMatrixLayoutCreate(&lb_, in, K, N, static_cast<std::int64_t>(K)), "layout B");
    check(cublasLtMatrixLayoutCreate(&lc_, out, M, N, static_cast<std::int64_t>(M)), "layout C");
    const std::int32_t batch = static_cast<std::int32_t>(g.batch);
    if (batch > 1) {
      const std::int64_t sa = static_cast<std::int64_t>(K * M), sb = static_cast<std::int64_t>(K * N),
                         sc = static_cast<std::int64_t>(M * N);
      for (auto [l, s] : {std::pair{la_, sa}, {lb_, sb}, {lc_, sc}}) {
        check(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch), "batch");
        check(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &s, sizeof s), "stride");
      }
    }
    a_ = a.get(K * M * ein * g.batch);
    b_ = b.get(K * N * ein * g.batch);
    c_ = c.get(M * N * eout * g.batch);
    ws_bytes_ = 64u << 20;
    ws_ = ws.get(ws_bytes_);
    cublasLtMatmulPreference_t pref = nullptr;
    check(cublasLtMatmulPreferenceCreate(&pref), "preference");
    check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes_, sizeof ws_bytes_),
          "workspace");
    int found = 0;
    const auto s = cublasLtMatmulAlgoGetHeuristic(handle_, desc_, la_, lb_, lc_, lc_, pref, 1, &heuristic_, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS || found == 0)
      throw std::runtime_error("cuBLASLt has no algorithm for this GEMM");
  }
  ~LtGemm() {
    cublasLtMatrixLayoutDestroy(la_);
    cublasLtMatrixLayoutDestroy(lb_);
    cublasLtMatrixLayoutDestroy(lc_);
    cublasLtMatmulDescDestroy(desc_);
  }
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;
  void run(cudaStream_t s) const {
    const float alpha = 1.0f, beta = 0.0f;
    check(cublasLtMatmul(handle_, desc_, &alpha, a_, la_, b_, lb_, &beta, c_, lc_, c_, lc_, &heuristic_.algo, ws_,
                         ws_bytes_, s),
          "cublasLtMatmul");
  }

 private:
  cublasLtHandle_t handle_;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t la_ = nullptr, lb_ = nullptr, lc_ = nullptr;
  cublasLtMatmulHeuristicResult_t heuristic_{};
  void *a_ = nullptr, *b_ = nullptr, *c_ = nullptr, *ws_ = nullptr;
  std::size_t ws_bytes_ = 0;
};

// Device buffers one measurement owns (freed with it).
class Buffers {
 public:
  template <class T>
  T* get(long count) {
    void* p = nullptr;
    check(cudaMalloc(&p, static_cast<std::size_t>(std::max(count, 1L)) * sizeof(T)), "cudaMalloc");
    check(cudaMemset(p, 0, static_cast<std::size_t>(std::max(count, 1L)) * sizeof(T)), "cudaMemset");
    owned_.push_back(p);
    return static_cast<T*>(p);
  }
  Buffers() = default;
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
  ~Buffers() {
    for (void* p : owned_) cudaFree(p);
  }

 private:
  std::vector<void*> owned_;
};

// A memory-bound kernel of strata's op list as a real kernel at the plan's shape: norms,
// activations, dropout and residual adds, rotary embedding, softmax (unfused attention), the
// embedding lookup and its backward, the MoE permutations, cross-entropy and Adam. Nullptr for
// a name without one (measured as device traffic of its bytes instead).
using Launch = std::function<void(cudaStream_t)>;
Launch memory_kernel(const std::string& name, const strategy::LayerShape& x, const strategy::Op& op, Buffers& mem) {
  namespace g = profiler::gpu;
  using bf16 = g::bf16;
  const long T = x.tokens(), t = x.tp;
  const long Tn = x.sequence_parallel ? T / t : T;
  const int h = static_cast<int>(x.hidden);
  const bool swiglu = x.activation == strategy::Activation::swiglu;
  const bool rms = swiglu;  // Llama-family cards use RMSNorm, GPT-family LayerNorm
  const float p = x.dropout ? 0.1f : 0.f;
  const std::string base = strategy::kernel_family(name);
  auto norm = [&](bool backward) -> Launch {
    bf16* in = mem.get<bf16>(Tn * h);
    bf16* w = mem.get<bf16>(h);
    bf16* dy = mem.get<bf16>(Tn * h);
    bf16* out = mem.get<bf16>(Tn * h);
    float* stats = mem.get<float>(2 * Tn);
    if (!backward) return [=](cudaStream_t s) { g::norm_forward(in, w, out, stats, Tn, h, rms, s); };
    return [=](cudaStream_t s) { g::norm_backward(in, w, dy, stats, out, Tn, h, rms, s); };
  };
  auto activation = [&](long rows, long width, bool backward) -> Launch {
    const int fw = static_cast<int>(width);
    if (swiglu) {
      bf16* in = mem.get<bf16>(rows * 2 * width);
      bf16* dy = mem.get<bf16>(rows * width);
      bf16* out = mem.get<bf16>(rows * (backward ? 2 : 1) * width);
      if (!backward) return [=](cudaStream_t s) { g::swiglu_forward(in, out, rows, fw, s); };
      return [=](cudaStream_t s) { g::swiglu_backward(in, dy, out, rows, fw, s); };
    }
    const long n = rows * width;
    bf16* in = mem.get<bf16>(n);
    bf16* dy = mem.get<bf16>(n);
    bf16* out = mem.get<bf16>(n);
    if (!backward) return [=](cudaStream_t s) { g::gelu_forward(in, out, n, s); };
    return [=](cudaStream_t s) { g::gelu_backward(in, dy, out, n, s); };
  };
  auto dropout_add = [&](long n, float prob, bool backward) -> Launch {
    bf16* in = mem.get<bf16>(n);
    bf16* res = mem.get<bf16>(n);
    bf16* out = mem.get<bf16>(n);
    auto* mask = mem.get<std::uint8_t>(n);
    if (!backward) return [=](cudaStream_t s) { g::dropout_add_forward(in, res, mask, out, n, prob, 1234, s); };
    return [=](cudaStream_t s) { g::dropout_add_backward(in, mask, out, n, prob, s); };
  };
  auto rows_of = [&](long rows, int width, bool backward) -> Launch {  // gather or scatter-add
    bf16* table = mem.get<bf16>(rows * width);
    int* ids = mem.get<int>(rows);  // zeros: every row hits row 0 (worst-case atomics in backward)
    bf16* out = mem.get<bf16>(rows * width);
    if (!backward) return [=](cudaStream_t s) { g::gather_rows(table, ids, out, rows, width, s); };
    float* dtable = mem.get<float>(rows * width);
    return [=](cudaStream_t s) { g::scatter_add_rows(out, ids, dtable, rows, width, s); };
  };
  const long ff = x.ffn / t;
  if (base == "norm") return norm(false);
  if (base == "norm_bwd") return norm(true);
  if (base == "activation") return activation(T, ff, false);
  if (base == "activation_bwd") return activation(T, ff, true);
  if (base == "expert_activation" || base == "expert_activation_bwd")
    return activation(static_cast<long>(x.routed_tokens()), x.moe_ffn / t, base.find("_bwd") != std::string::npos);
  if (base == "shared_activation" || base == "shared_activation_bwd")
    return activation(T, x.shared_experts * x.moe_ffn / t, base.find("_bwd") != std::string::npos);
  if (base == "residual" || base == "embedding_dropout") return dropout_add(Tn * h, p, false);
  if (base == "residual_bwd") return dropout_add(Tn * h, p, true);
  if (base == "attn_dropout" || base == "attn_dropout_bwd") {
    const long n = x.micro_batch * x.heads / t * x.seq * x.seq;
    return dropout_add(n, 0.1f, base.find("_bwd") != std::string::npos);
  }
  if (base == "softmax" || base == "softmax_bwd") {
    const long rows = x.micro_batch * x.heads / t * x.seq;
    const int cols = static_cast<int>(x.seq);
    bf16* in = mem.get<bf16>(rows * cols);
    bf16* dy = mem.get<bf16>(rows * cols);
    bf16* out = mem.get<bf16>(rows * cols);
    if (base == "softmax") return [=](cudaStream_t s) { g::softmax_forward(in, out, rows, cols, s); };
    return [=](cudaStream_t s) { g::softmax_backward(in, dy, out, rows, cols, s); };
  }
  if (base == "rotary" || base == "rotary_bwd") {
    const int d = static_cast<int>(x.hidden / x.heads);
    const int heads = static_cast<int>((x.hidden + x.kv_width) / d / t);
    bf16* in = mem.get<bf16>(T * heads * d);
    return [=](cudaStream_t s) { g::rotary(in, T, heads, d, s); };
  }
  if (base == "embedding") return rows_of(T, h, false);
  if (base == "embedding_bwd") return rows_of(T, h, true);
  if (base == "moe_permute" || base == "moe_unpermute" || base == "moe_permute_bwd" || base == "moe_unpermute_bwd")
    return rows_of(static_cast<long>(x.routed_tokens()), h, false);
  if (base == "cross_entropy" || base == "cross_entropy_bwd") {
    const int vocab = static_cast<int>(x.vocab / t);
    bf16* logits = mem.get<bf16>(T * vocab);
    int* labels = mem.get<int>(T);
    float* lse = mem.get<float>(T);
    float* loss = mem.get<float>(T);
    bf16* dlogits = mem.get<bf16>(T * vocab);
    if (base == "cross_entropy") return [=](cudaStream_t s) { g::cross_entropy_forward(logits, labels, lse, loss, T, vocab, s); };
    return [=](cudaStream_t s) { g::cross_entropy_backward(logits, labels, lse, dlogits, T, vocab, s); };
  }
  if (base == "adam") {
    const long n = static_cast<long>(op.bytes.value() / 34.0);  // strata's Adam moves 34 bytes/param
    float* pp = mem.get<float>(n);
    float* gg = mem.get<float>(n);
    float* m = mem.get<float>(n);
    float* v = mem.get<float>(n);
    bf16* out = mem.get<bf16>(n);
    return [=](cudaStream_t s) { g::adam(pp, gg, m, v, out, n, s); };
  }
  return nullptr;
}

// A kernel strata prices, with the layer shape it belongs to.
struct Measured {
  strategy::Op op;
  strategy::LayerShape shape;
};

// The precision a GEMM runs in under --dtype: a scenario that trains in fp8 runs only its linear
// layers' GEMMs in FP8 (Gemm::fp8) and the others (attention scores, logits) in bf16.
topo::Precision gemm_precision(const scenario::Scenario& sc, const strategy::Gemm& g, topo::Precision dtype) {
  if (dtype == topo::Precision::fp8 && sc.training.precision == topo::Precision::fp8 && !g.fp8)
    return topo::Precision::bf16;
  return dtype;
}

// Every distinct kernel strata prices for the plan, keyed by what decides its time.
std::vector<Measured> plan_ops(const scenario::Scenario& sc, const strategy::Plan& p) {
  const auto dense = strategy::LayerShape::of(sc.model, sc.training, p);
  std::vector<Measured> all;
  auto add = [&](const std::vector<strategy::Op>& ops, const strategy::LayerShape& x) {
    for (const strategy::Op& op : ops) all.push_back({op, x});
  };
  for (const auto& x : {dense, dense.moe_layer(sc.model)}) {
    add(strategy::layer_forward(x), x);
    add(strategy::layer_backward(x), x);
    add(strategy::layer_recompute(x, p.recompute), x);
  }
  add(strategy::embedding_forward(dense), dense);
  add(strategy::embedding_backward(dense), dense);
  add(strategy::head_forward(dense), dense);
  add(strategy::head_backward(dense), dense);
  add(strategy::optimizer_ops(sc.model, sc.training, p, 0), dense);
  std::vector<Measured> out;
  std::set<std::string> seen;
  for (const Measured& m : all) {
    const strategy::Op& op = m.op;
    char key[160];
    if (const auto* g = std::get_if<strategy::Gemm>(&op.kind))
      std::snprintf(key, sizeof key, "gemm %ld %ld %ld %ld %d", g->m, g->n, g->k, g->batch, g->fp8 ? 1 : 0);
    else if (std::holds_alternative<strategy::FusedAttention>(op.kind))
      continue;  // no attention library linked: measured through the injection path
    else
      std::snprintf(key, sizeof key, "%.100s %.17g", std::string(op.name).c_str(), op.bytes.value());
    if (seen.insert(key).second) out.push_back(m);
  }
  return out;
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

int bench(const Args& a, const std::string& command_line) {
  if (a.positional.size() != 1) throw UsageError("bench needs one SCENARIO");
  const auto plan_text = option(a, "plan", "");
  if (plan_text.empty()) throw UsageError("bench needs --plan \"tp=.. ...\"");
  const topo::Precision precision = precision_of(a);
  const int repeats = int_option(a, "repeats", 50, 1, 100000), warmup = int_option(a, "warmup", 10, 0, 100000);
  if (a.options.count("gpu") && a.options.at("gpu").empty()) throw UsageError("--gpu needs a preset name");
  check_out(a);
  const auto sc = scenario::load_scenario(a.positional[0], scenario::default_data_dirs());
  strategy::Plan plan;
  try {
    plan = strategy::parse_plan(plan_text);
  } catch (const std::invalid_argument& e) {
    std::string why = e.what();
    if (why.rfind("plan: ", 0) == 0) why.erase(0, 6);  // the option names it already
    throw UsageError("--plan: " + why);
  }

  profiler::RecorderOptions ro;
  ro.serialize_kernels = true;  // isolated kernel times
  ro.nvtx = false;
  if (const std::string err = profiler::start_recording(ro); !err.empty()) throw std::runtime_error(err);
  check(cudaFree(nullptr), "cuda init");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  cublasLtHandle_t lt = nullptr;
  check(cublasLtCreate(&lt), "cublasLtCreate");
  cudaStream_t stream = nullptr;
  check(cudaStreamCreate(&stream), "cudaStreamCreate");
  Arena A, B, C, W;

  const std::vector<Measured> ops = plan_ops(sc, plan);
  std::cerr << "strata-profile: " << prop.name << ", " << ops.size() << " kernels x " << repeats << " repeats, "
            << profiler::cupti_version_line() << "\n";
  // External ids: op index x 1e6 + repeat.
  constexpr std::uint64_t kStride = 1000000;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const strategy::Op& op = ops[i].op;
    std::function<void()> launch;
    std::unique_ptr<LtGemm> gemm;
    Buffers buffers;
    if (const auto* g = std::get_if<strategy::Gemm>(&op.kind)) {
      gemm = std::make_unique<LtGemm>(lt, *g, gemm_precision(sc, *g, precision), A, B, C, W);
      launch = [&] { gemm->run(stream); };
    } else if (Launch k = memory_kernel(std::string(op.name), ops[i].shape, op, buffers)) {
      launch = [k, &stream] {
        k(stream);
        check(cudaGetLastError(), "kernel launch");
      };
    } else {
      const std::size_t half = static_cast<std::size_t>(op.bytes.value() / 2);
      void* src = A.get(std::max<std::size_t>(half, 1));
      void* dst = B.get(std::max<std::size_t>(half, 1));
      launch = [=] { check(cudaMemcpyAsync(dst, src, half, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync"); };
    }
    for (int w = 0; w < warmup; ++w) launch();
    for (int r = 0; r < repeats; ++r) {
      profiler::push_external_id(i * kStride + static_cast<std::uint64_t>(r) + 1);
      launch();
      profiler::pop_external_id();
    }
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  }
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  const profiler::TraceData trace = profiler::stop_recording();
  const auto times = profiler::time_by_external_id(profiler::attribute(trace));

  strategy::OpTable table;
  table.meta = {{"gpu", option(a, "gpu", sc.cluster.gpu.name)},
                {"device", prop.name},
                {"driver", std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10)},
                {"cuda", std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10)},
                {"cublaslt", std::to_string(cublasLtGetVersion())},
                {"cupti", profiler::cupti_version_line()},
                {"dropped_records", std::to_string(trace.dropped)},
                {"date", today()},
                {"made_by", command_line}};
  for (std::size_t i = 0; i < ops.size(); ++i) {
    std::vector<double> samples;
    for (int r = 0; r < repeats; ++r)
      if (auto it = times.find(i * kStride + static_cast<std::uint64_t>(r) + 1); it != times.end())
        samples.push_back(static_cast<double>(it->second) * 1e-9);
    if (samples.empty()) continue;
    const strategy::Op& op = ops[i].op;
    strategy::OpSample s;
    s.name = std::string(op.name);
    const auto* gemm_op = std::get_if<strategy::Gemm>(&op.kind);
    s.dtype = gemm_op ? gemm_precision(sc, *gemm_op, precision) : precision;
    s.flops = op.flops;
    s.bytes = op.bytes;
    s.time = sim::Seconds(profiler::median(samples));
    s.repeats = static_cast<int>(samples.size());
    if (const auto* g = std::get_if<strategy::Gemm>(&op.kind)) {
      s.kind = strategy::OpClass::gemm;
      s.m = g->m, s.n = g->n, s.k = g->k, s.batch = g->batch;
    } else {
      s.kind = strategy::OpClass::elementwise;
    }
    table.samples.push_back(s);
  }
  cudaStreamDestroy(stream);
  cublasLtDestroy(lt);
  std::cerr << "strata-profile: " << table.samples.size() << " rows, " << trace.dropped << " dropped records\n";
  write(a, strategy::format_op_table(table));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc >= 2 ? argv[1] : "";
  if (argc < 2 || command == "--help" || command == "-h" || command == "help") {
    (argc < 2 ? std::cerr : std::cout) << kHelp;
    return argc < 2 ? 2 : 0;
  }
  std::string command_line = "strata-profile";
  for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
  try {
    const std::vector<std::string> words(argv + 2, argv + argc);
    int (*run)(const Args&, const std::string&) = nullptr;
    std::vector<std::string> names;
    if (command == "bench") {
      run = bench;
      names = {"plan", "dtype", "repeats", "warmup", "gpu", "out"};
    } else if (command == "from-calls") {
      run = [](const Args& a, const std::string&) { return from_calls(a); };
      names = {"gpu", "dtype", "out"};
    } else {
      throw UsageError("unknown command " + in_quotes(command) + " (bench or from-calls; see --help)");
    }
    const std::optional<Args> a = parse(command, names, words);
    if (!a) {
      std::cout << kHelp;
      return 0;
    }
    return run(*a, command_line);
  } catch (const scenario::InputError& e) {
    std::cerr << "strata-profile: error: " << e.what() << "\n";
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "strata-profile: error: " << e.what() << "\n";
    return 2;
  } catch (const std::runtime_error& e) {
    std::cerr << "strata-profile: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "strata-profile: error: " << e.what() << "\n";
    return 2;
  }
}
