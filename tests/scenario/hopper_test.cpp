// The Hopper and Blackwell GPU presets against the public kernel measurements in
// shared/validation/hopper (README there: sources, reading methods, caveats). Each test states
// its tolerance; the fits behind the presets are tools/calibration/fit_*.py.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "strata/scenario/loader.hpp"
#include "strata/sim/collective.hpp"
#include "strata/strategy/op_table.hpp"
#include "strata/strategy/ops.hpp"
#include "support.hpp"

using namespace strata;

namespace {

// A CSV file with a header row: cells by column name.
struct Table {
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
};

Table read_table(const std::string& name) {
  const auto path = test::validation_dir() / "hopper" / name;
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot read " << path);
  Table t;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto cells = strategy::csv_cells(line, path.string(), n);
    if (t.header.empty()) {
      t.header = cells;
      continue;
    }
    REQUIRE(cells.size() == t.header.size());
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < cells.size(); ++i) row[t.header[i]] = cells[i];
    t.rows.push_back(std::move(row));
  }
  return t;
}

topo::GpuSpec preset(const std::string& name) {
  const auto dirs = scenario::DataDirs::under(test::source_dir());
  return scenario::load_gpu(dirs.gpus / (name + ".yaml"));
}

bool starts(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool has(const std::string& s, const std::string& p) { return s.find(p) != std::string::npos; }
bool digits(const std::string& s) { return !s.empty() && std::all_of(s.begin(), s.end(), ::isdigit); }

// Relative errors of one group of rows: their sum, the worst and where it was.
struct ErrorGroup {
  double sum = 0, worst = 0;
  int n = 0;
  std::string worst_case;
  void add(double err, const std::string& what) {
    sum += err;
    ++n;
    if (err > worst) {
      worst = err;
      worst_case = what;
    }
  }
};

// What a group must hold: its row count, mean and worst relative error.
struct GroupLimit {
  int rows;
  double mean, worst;
};

// Every group of `limits` has its rows and stays within its errors, and no other group exists.
void check_groups(const std::map<std::string, ErrorGroup>& stats, const std::map<std::string, GroupLimit>& limits) {
  for (const auto& entry : limits) {  // no structured binding: clang 14's INFO cannot capture one
    const std::string& group = entry.first;
    const GroupLimit& limit = entry.second;
    REQUIRE(stats.count(group));
    const ErrorGroup& st = stats.at(group);
    INFO(group << ": " << st.n << " rows, mean error " << 100 * st.sum / st.n << " %, worst " << 100 * st.worst
               << " % (" << st.worst_case << ")");
    CHECK(st.n == limit.rows);
    CHECK(st.sum / st.n <= limit.mean);
    CHECK(st.worst <= limit.worst);
  }
  CHECK(stats.size() == limits.size());
}

// The rows tools/calibration/fit_attention.py fits and the preset that stands for their GPU:
// BF16/FP16, a numeric head dim, a stated mask, not deterministic, not attention sinks.
struct AttentionRow {
  std::string preset;
  topo::AttentionLibrary library;
  std::string direction;  // fwd, bwd, fwd+bwd
  int head_dim = 0;
  double seq = 0;
  bool causal = false;
  double tflops = 0;
  std::string what;
};

std::vector<AttentionRow> attention_rows() {
  std::vector<AttentionRow> out;
  for (const auto& r : read_table("attention.csv").rows) {
    const std::string &gpu = r.at("gpu"), &impl = r.at("impl"), &dir = r.at("direction");
    std::string dtype = r.at("dtype");
    std::transform(dtype.begin(), dtype.end(), dtype.begin(), ::tolower);
    if (has(dtype, "fp8") || !digits(r.at("head_dim")) || (r.at("causal") != "True" && r.at("causal") != "False"))
      continue;
    if ((dir != "fwd" && dir != "bwd" && dir != "fwd+bwd") || has(impl, "determinis") || has(r.at("note"), "gpt_oss"))
      continue;
    AttentionRow a;
    if (starts(gpu, "H100 SXM5") || starts(gpu, "H200"))
      a.preset = "h100-sxm-80gb";
    else if (starts(gpu, "GB200"))
      a.preset = "b200";
    else
      continue;
    if (impl == "FlashAttention-2" || impl == "PyTorch SDPA (flash)" || impl == "PyTorch SDPA flash (FA2)" ||
        starts(impl, "FlashAttention-2 2.7"))
      a.library = topo::AttentionLibrary::flash2;
    else if (impl == "cuDNN" || impl == "cuDNN SDPA")
      a.library = topo::AttentionLibrary::cudnn;
    else
      continue;
    a.direction = dir;
    a.head_dim = std::stoi(r.at("head_dim"));
    a.seq = std::stod(r.at("seq_len"));
    a.causal = r.at("causal") == "True";
    a.tflops = std::stod(r.at("tflops"));
    a.what = gpu + " " + impl + " " + dir + " hd" + r.at("head_dim") + " s" + r.at("seq_len") +
             (a.causal ? " causal" : "");
    out.push_back(a);
  }
  return out;
}

double predicted_tflops(const strategy::RooflineCost& cost, const AttentionRow& a) {
  auto eff = [&](bool backward) {
    strategy::FusedAttention k;
    k.backward = backward;
    k.head_dim = a.head_dim;
    k.keys = a.seq;
    k.causal = a.causal;
    k.library = a.library;
    return cost.attention_efficiency(k);
  };
  const double peak = cost.gpu().peak_at(topo::Precision::bf16).value() / 1e12;
  if (a.direction == "fwd") return eff(false) * peak;
  if (a.direction == "bwd") return eff(true) * peak;
  // fwd+bwd: FLOPs 1 + 2.5 of the forward's, time the sum of the two kernels'.
  return 3.5 / (1 / eff(false) + 2.5 / eff(true)) * peak;
}

}  // namespace

// Per GPU, library and direction: the mean error over the measured shapes and the worst one.
// Forward and backward rows are what the curves were fitted to (forward 5 % mean, backward 6 %:
// its fit also takes the backward rows derived from fwd+bwd runs, which this test scores
// separately; 15 % worst; the model has 3-5 numbers per curve against 10-56 rows over
// sequence length, head dim and mask);
// the fwd+bwd rows check the two curves together (H100 FlashAttention-2 2023 figure, H200
// cuDNN 2024 runs; 8 % mean, 25 % worst, the worst at 512 tokens).
TEST_CASE("hopper: the fused-attention curves reproduce the measured kernels") {
  const std::vector<AttentionRow> rows = attention_rows();
  REQUIRE(rows.size() > 200);
  std::map<std::string, strategy::RooflineCost> costs;
  for (const char* p : {"h100-sxm-80gb", "b200"}) costs.emplace(p, strategy::RooflineCost(preset(p), topo::Precision::bf16));
  std::map<std::string, ErrorGroup> stats;
  for (const AttentionRow& a : rows) {
    const double p = predicted_tflops(costs.at(a.preset), a);
    const double err = std::fabs(p / a.tflops - 1);
    stats[a.preset + " " + std::string(topo::to_string(a.library)) + " " + a.direction].add(
        err, a.what + ": measured " + std::to_string(a.tflops) + ", predicted " + std::to_string(p));
  }
  for (const auto& entry : stats) {
    const std::string& group = entry.first;
    const ErrorGroup& s = entry.second;
    const bool combined = has(group, "fwd+bwd");
    INFO(group << ": " << s.n << " rows, mean error " << 100 * s.sum / s.n << " %, worst " << 100 * s.worst
               << " % (" << s.worst_case << ")");
    CHECK(s.sum / s.n <= (combined ? 0.08 : has(group, " bwd") ? 0.06 : 0.05));
    CHECK(s.worst <= (combined ? 0.25 : 0.15));
  }
  CHECK(stats.count("h100-sxm-80gb cudnn fwd"));
  CHECK(stats.count("h100-sxm-80gb flash2 bwd"));
  CHECK(stats.count("b200 cudnn bwd"));
}

// H200 has H100's compute die and clocks: the same curves. The 500 W H100 scales them by its
// power limit's clock factor. A GPU without curves (A100) keeps its flat efficiency.
TEST_CASE("hopper: curves are shared by H100 and H200, scaled at 500 W, absent on A100") {
  const strategy::RooflineCost h100(preset("h100-sxm-80gb"), topo::Precision::bf16);
  const strategy::RooflineCost h200(preset("h200-sxm-141gb"), topo::Precision::bf16);
  const strategy::RooflineCost h100_500w(preset("h100-sxm-96gb-500w"), topo::Precision::bf16);
  const strategy::RooflineCost a100(preset("a100-sxm-80gb"), topo::Precision::bf16);
  for (auto lib : {topo::AttentionLibrary::flash2, topo::AttentionLibrary::cudnn}) {
    for (bool bwd : {false, true}) {
      for (double s : {512.0, 4096.0, 65536.0}) {
        strategy::FusedAttention k;
        k.backward = bwd;
        k.keys = s;
        k.library = lib;
        CAPTURE(s);
        CHECK(h200.attention_efficiency(k) == doctest::Approx(h100.attention_efficiency(k)));
        CHECK(h100_500w.attention_efficiency(k) == doctest::Approx(0.874 * h100.attention_efficiency(k)).epsilon(0.005));
        CHECK(a100.attention_efficiency(k) == a100.gpu().attention_efficiency);
      }
    }
  }
}

// The curve's shape as a property over sequence lengths and head dims: efficiency rises with
// the sequence towards E(head dim) (causal: towards E x causal), is interpolated between
// measured head dims and held at the nearest outside them.
TEST_CASE("hopper: attention curve properties") {
  topo::AttentionCurve c;
  c.efficiency = {{64, 0.3}, {256, 0.6}};
  c.causal = 0.9;
  c.fixed_blocks = 1.0;
  CHECK(c.at(128, 1e9, false) == doctest::Approx(0.45).epsilon(1e-6));
  CHECK(c.at(32, 1e9, false) == doctest::Approx(0.3).epsilon(1e-6));
  CHECK(c.at(512, 1e9, false) == doctest::Approx(0.6).epsilon(1e-6));
  CHECK(c.at(256, 1e9, true) == doctest::Approx(0.54).epsilon(1e-6));
  CHECK(c.at(64, 128 * 4, false) == doctest::Approx(0.3 * 4 / 5.0));
  CHECK(c.at(64, 128 * 4, true) == doctest::Approx(0.3 * 0.9 * 4 / 7.0));
  for (int hd : {1, 16, 64, 100, 128, 256, 1024}) {
    double last = 0;
    for (double s = 1; s < 1e7; s *= 1.7) {
      for (bool causal : {false, true}) {
        const double e = c.at(hd, s, causal);
        CHECK(e > 0);
        CHECK(e <= 0.6);
      }
      const double e = c.at(hd, s, false);
      CHECK(e >= last);
      last = e;
    }
  }
}

// BF16 GEMMs on H100 SXM (700 W) from hopper/gemm.csv: torch.matmul squares (zzc0721 issue #79),
// cuBLAS squares (fast.cu README) and the best shape of mamf-finder (ml-engineering). A
// back-to-back benchmark hides the host, so the device time is compared: max(FLOPs / (peak x
// efficiency), A+B+C bytes / bandwidth) + the kernel overhead. Shapes of 2048 and more are
// within 15 % (the preset's 0.75 is the sustained rate under training load, the 10240^3 point
// that runs into the power limit; shorter microbenchmarks reach ~0.80, so most rows come out
// 10-12 % slow). 1024^3 is a known gap (docs/modeling.md): the generic small-tile speeds
// predict 278 against 177 measured; it is checked to stay on the fast side of the measurement
// so that a change of the tile model shows here.
TEST_CASE("hopper: GEMM TFLOPS against measured H100 BF16 shapes") {
  struct Row {
    long m, n, k;
    double tflops;
  };
  const Row rows[] = {{1024, 1024, 1024, 176.62}, {2048, 2048, 2048, 676.59}, {4096, 4096, 4096, 788.72},
                      {8192, 8192, 8192, 797.51}, {10240, 10240, 10240, 719.72}, {4096, 4096, 4096, 716},
                      {8192, 8192, 8192, 795},     {2048, 2048, 13312, 794.5}};
  const strategy::RooflineCost cost(preset("h100-sxm-80gb"), topo::Precision::bf16);
  const auto& gpu = cost.gpu();
  const double peak = gpu.peak_at(topo::Precision::bf16).value();
  for (const Row& r : rows) {
    const strategy::Gemm g{r.m, r.n, r.k, 1};
    const double flops = 2.0 * r.m * r.n * r.k;
    const double bytes = 2.0 * (r.m * r.k + r.k * r.n + r.m * r.n);
    const double t = std::max(flops / (peak * cost.gemm_efficiency(g)),
                              bytes / (gpu.memory_bw.value() * gpu.memory_efficiency)) +
                     gpu.kernel_overhead.value();
    const double predicted = flops / t / 1e12;
    INFO(r.m << "x" << r.n << "x" << r.k << ": measured " << r.tflops << " TFLOP/s, predicted " << predicted);
    if (r.m >= 2048)
      CHECK(std::fabs(predicted / r.tflops - 1) <= 0.15);
    else
      CHECK((predicted > r.tflops && predicted < 1.7 * r.tflops));
  }
}

// Memory-bound kernels from hopper/memory.csv: fused norms and softmax (cuDNN, QuACK, Liger,
// torch.compile; the kernels a framework's fused path runs) on H100, H200 and GB200, at 64 MiB
// and more (smaller tensors may sit in L2). Predicted time bytes / (HBM x memory efficiency) +
// kernel overhead against the measured one: the median per GPU within 10 %. The spread is
// wide (cuDNN falls to 10-30 % of HBM at reduction dims of 32K-256K; eager PyTorch is left
// out), so the median, not each row, is what one memory efficiency can match.
TEST_CASE("hopper: memory-bound kernels at the measured bandwidths") {
  const std::map<std::string, std::string> gpus = {
      {"H100 SXM 80GB HBM3", "h100-sxm-80gb"}, {"H200", "h200-sxm-141gb"}, {"GB200", "b200"}};
  std::map<std::string, std::vector<double>> errors;
  for (const auto& r : read_table("memory.csv").rows) {
    const auto g = gpus.find(r.at("gpu"));
    const std::string& kernel = r.at("kernel");
    if (g == gpus.end() || r.at("bytes").empty() || r.at("gbps").empty() || has(kernel, "Cross-Entropy")) continue;
    if (!has(kernel, "cudnn") && !has(kernel, "cuDNN") && !has(kernel, "QuACK") && !has(kernel, "Liger") &&
        !has(kernel, "torch_compile") && !has(kernel, "torch.compile"))
      continue;
    const double bytes = std::stod(r.at("bytes"));
    if (bytes < 64.0 * 1024 * 1024) continue;
    const topo::GpuSpec gpu = preset(g->second);
    const double measured = bytes / (std::stod(r.at("gbps")) * 1e9);
    const double predicted = bytes / (gpu.memory_bw.value() * gpu.memory_efficiency) + gpu.kernel_overhead.value();
    errors[g->second].push_back(predicted / measured - 1);
  }
  REQUIRE(errors.size() == 3);
  for (auto& entry : errors) {
    const std::string& gpu = entry.first;
    std::vector<double>& e = entry.second;
    std::sort(e.begin(), e.end());
    const double median = e.size() % 2 ? e[e.size() / 2] : (e[e.size() / 2 - 1] + e[e.size() / 2]) / 2;
    INFO(gpu << ": " << e.size() << " rows, median error " << 100 * median << " %");
    CHECK(e.size() >= 20);
    CHECK(std::fabs(median) <= 0.10);
  }
}

// nccl-tests all-reduce on DGX/HGX H100 from hopper/collectives.csv against the dgx-h100-ndr
// preset: one node (NVLS, NCCL's default; vpbenchmarking, 1 KiB-8 GiB), four nodes over NDR
// (NCCL's default, 1 KiB-8 GiB), and NVIDIA's NVLSTree runs on 4-1,024 nodes (1 MiB-16 GiB).
// Predicted busbw = algbw x 2(n-1)/n of strata's lowered collective, time as isolated_time.
TEST_CASE("hopper: nccl-tests all-reduce bus bandwidth on H100 nodes and NDR clusters") {
  const auto dirs = scenario::DataDirs::under(test::source_dir());
  std::map<std::string, ErrorGroup> stats;
  for (const auto& r : read_table("collectives.csv").rows) {
    if (r.at("op") != "all_reduce" || r.at("size_bytes").empty() || r.at("busbw_gbps").empty()) continue;
    const std::string& gpu = r.at("gpu");
    std::string group;
    if (starts(gpu, "H100 80GB HBM3 (SXM5)"))
      group = r.at("nodes") == "1" ? "1 node" : "multi-node default";
    else if (starts(gpu, "H100 (NVIDIA cluster"))
      group = "NVLSTree";
    else
      continue;
    const int nodes = std::stoi(r.at("nodes")), per_node = std::stoi(r.at("gpus_per_node"));
    const int g = nodes * per_node;
    const double bytes = std::stod(r.at("size_bytes"));
    const double measured = std::stod(r.at("busbw_gbps"));
    const topo::ClusterSpec cluster = scenario::load_cluster(dirs.clusters / "dgx-h100-ndr.yaml", dirs, g);
    const sim::NetworkSpec net = cluster.network();
    // NVIDIA ran NCCL_ALGO=NVLSTree: strata's tree, with the preset's NVLSTree constants.
    const sim::Algorithm algo = group == "NVLSTree" ? sim::Algorithm::tree : sim::Algorithm::automatic;
    const auto cost =
        sim::lower({sim::CollectiveOp::all_reduce, sim::Bytes(bytes), {g, std::min(g, per_node)}, algo}, net);
    const double t = sim::isolated_time(cost, net).value();
    const double busbw = bytes / t * 2.0 * (g - 1) / g / 1e9;
    const double err = std::fabs(busbw / measured - 1);
    const std::string size_class = bytes >= 256.0 * 1024 * 1024 ? " >=256MiB" : bytes >= 1 << 20 ? " 1-256MiB" : " <1MiB";
    std::vector<std::string> keys{group + size_class};
    // Rows under 20 GB/s were read off a raster plot to +-4 GB/s: also scored without them.
    if (group == "NVLSTree" && size_class == " 1-256MiB" && measured >= 20) keys.push_back(keys.front() + " >=20GB/s");
    for (const std::string& key : keys)
      stats[key].add(err, std::to_string(g) + " GPUs, " + r.at("size_bytes") + " B: measured " + r.at("busbw_gbps") +
                              " GB/s, predicted " + std::to_string(busbw));
  }
  // Rows, mean and worst relative error of busbw per group: what the preset matches today
  // (measured in the comments), with a little room. NVLSTree is NCCL 2.20.3's own latency
  // (23 us + 2 log2(nodes) x 14 us) plus one 32-64 KiB chunk per tree hop on 1/16 of a NIC.
  // On the four-node NCCL-default rows strata picks hierarchical at every size: below 1 MiB
  // NCCL ran the LL protocol, which strata does not model (a Simple-protocol floor of 98 us
  // against 40 us measured at 1 KiB); hierarchical is too fast from 2 MiB; at 256 MiB that
  // cluster's fabric reached 240 GB/s (its "3 active ports"), which no latency explains.
  const std::map<std::string, GroupLimit> tolerance = {
      {"1 node >=256MiB", {6, 0.035, 0.10}},    // 3.2 %, 9.1 %
      {"1 node 1-256MiB", {8, 0.15, 0.23}},     // 14.6 %, 22.7 % (too fast at 16 MiB)
      {"1 node <1MiB", {10, 0.19, 0.22}},       // 18.7 %, 21.4 % (41 us floor against 33 us)
      {"NVLSTree >=256MiB", {55, 0.12, 0.19}},  // 11.6 %, 18.7 % (too slow from 8 nodes: ~310 against 360-380 GB/s)
      {"NVLSTree 1-256MiB", {66, 0.095, 0.49}},  // 9.1 %, 48.1 % (1 MiB on 8,192 GPUs: 3.5 GB/s against 5.2)
      {"NVLSTree 1-256MiB >=20GB/s", {49, 0.07, 0.20}},  // 6.5 %, 19.9 % (4 MiB on 32 GPUs: 54.4 against 43.6)
      {"multi-node default >=256MiB", {6, 0.20, 0.45}},  // 19.3 %, 44.4 % (256 MiB: 346 against 240)
      {"multi-node default 1-256MiB", {8, 0.30, 0.56}},  // 29.3 %, 55.5 % (8 MiB: 110 against 70.6)
      {"multi-node default <1MiB", {10, 0.44, 0.60}}};   // 43.5 %, 59.5 % (2 KiB: 0.04 against 0.1)
  check_groups(stats, tolerance);
}

// All-reduce on Blackwell from hopper/collectives.csv: one HGX B200 node of AWS p6-b200
// (nccl-tests at 8 GiB over 4-8 GPUs, NCCL's default and Ring, NCCL 2.27.7; all_reduce_bench.py
// 32 KiB-16 GiB) against hgx-b200, four such nodes over 8 x 400 Gb/s EFA (all_reduce_bench.py)
// against p6-b200-efa, CoreWeave's GB200 NVL72 on 1, 2 and 20 racks (nccl-tests, NCCL 2.26.2)
// against gb200-nvl72, and GTC25's bars (message size not stated, scored at 8 GiB). hgx-b200's
// efficiency and nvls_efficiency were fitted to the 8 GiB rows, p6-b200-efa's scale-out
// efficiency and latency to the EFA rows, gb200-nvl72's nvls_efficiency to the one-rack rows
// (the fits: docs/modeling.md). Busbw as in the H100 case above.
TEST_CASE("hopper: Blackwell nccl-tests all-reduce bus bandwidth on HGX B200, p6-b200 EFA and GB200 NVL72") {
  const auto dirs = scenario::DataDirs::under(test::source_dir());
  std::map<std::string, ErrorGroup> stats;
  for (const auto& r : read_table("collectives.csv").rows) {
    if (r.at("op") != "all_reduce" || r.at("busbw_gbps").empty()) continue;
    const std::string &gpu = r.at("gpu"), &note = r.at("algo_or_note");
    const int nodes = std::stoi(r.at("nodes")), per_node = std::stoi(r.at("gpus_per_node"));
    const int g = nodes * per_node;
    // GTC25's bars give no size; the plateau they show is reached by 8 GiB.
    const double bytes = r.at("size_bytes").empty() ? 8.0 * (1 << 30) : std::stod(r.at("size_bytes"));
    std::string group, preset;
    int domain = per_node;
    sim::Algorithm algo = sim::Algorithm::automatic;
    if (starts(gpu, "B200 SXM (AWS p6-b200.48xlarge)")) {
      // NCCL (with AWS's tuner) ran Ring up to 5 GPUs and NVLS from 6; the other half forced Ring.
      const bool ring = has(note, "Ring");
      group = ring ? "B200 1 node Ring 8GiB" : "B200 1 node NVLS 8GiB";
      preset = "hgx-b200";
      if (ring) algo = sim::Algorithm::ring;
    } else if (starts(gpu, "B200 SXM (AWS p6-b200)")) {
      // The EFA run's 32 and 64 KiB took 6.3 and 3.2 ms, 10-17x its 256 KiB-2 MiB floor.
      if (nodes == 4 && bytes < 128 * 1024) continue;
      group = nodes == 1 ? "B200 1 node bench" : "B200 EFA 4 nodes";
      preset = nodes == 1 ? "hgx-b200" : "p6-b200-efa";
    } else if (starts(gpu, "GB200 (CoreWeave")) {
      group = g == 72 ? "GB200 1 rack" : g == 144 ? "GB200 2 racks" : "GB200 20 racks";
      preset = "gb200-nvl72";
      domain = std::min(g, 72);
    } else if (gpu == "B200" || gpu == "GB200 NVL72") {
      group = "GTC25 bars";
      preset = gpu == "B200" ? "hgx-b200" : "gb200-nvl72";
      domain = g;
      algo = note == "NVLS" ? sim::Algorithm::nvls : sim::Algorithm::ring;
    } else {
      continue;
    }
    const double measured = std::stod(r.at("busbw_gbps"));
    const topo::ClusterSpec cluster = scenario::load_cluster(dirs.clusters / (preset + ".yaml"), dirs, g);
    const sim::NetworkSpec net = cluster.network();
    const auto cost = sim::lower({sim::CollectiveOp::all_reduce, sim::Bytes(bytes), {g, domain}, algo}, net);
    const double t = sim::isolated_time(cost, net).value();
    const double busbw = bytes / t * 2.0 * (g - 1) / g / 1e9;
    const double err = std::fabs(busbw / measured - 1);
    if (group == "B200 1 node bench" || group == "B200 EFA 4 nodes")
      group += bytes >= 256.0 * 1024 * 1024 ? " >=256MiB" : bytes >= 1 << 20 ? " 1-256MiB" : " <1MiB";
    stats[group].add(err, std::to_string(g) + " GPUs, " + std::to_string(static_cast<long long>(bytes)) +
                              " B: measured " + r.at("busbw_gbps") + " GB/s, predicted " + std::to_string(busbw) + " (" +
                              std::string(sim::to_string(cost.algorithm)) + ")");
  }
  // Rows, mean and worst relative error of busbw per group: what the presets match today
  // (measured in the comments), with a little room.
  const std::map<std::string, GroupLimit> tolerance = {
      // Fitted (scale_up.efficiency 0.906, nvls_efficiency 0.527): Ring and NVLS over 4-8 GPUs.
      {"B200 1 node Ring 8GiB", {7, 0.01, 0.01}},  // 0.4 %, 0.7 %
      {"B200 1 node NVLS 8GiB", {3, 0.01, 0.02}},  // 0.8 %, 1.3 % (6 GPUs: 789 against 778)
      // The torch benchmark: from 256 MiB to 4 GiB it runs at ~745 GB/s, between Ring and the
      // 838 GB/s NVLS of nccl-tests (and of its own 8-16 GiB); from 2 MiB it pays ~100-160 us
      // more than NVLS's 41 us floor, below 2 MiB ~48 us against 41.5.
      {"B200 1 node bench >=256MiB", {7, 0.12, 0.21}},  // 10.8 %, 19.7 % (256 MiB: 773 against 646)
      {"B200 1 node bench 1-256MiB", {8, 0.55, 0.97}},  // 53.6 %, 96.3 % (8 MiB: 248 against 126)
      {"B200 1 node bench <1MiB", {5, 0.18, 0.28}},     // 17.0 %, 27.1 % (64 KiB: 2.8 against 2.2)
      // Fitted (scale-out efficiency 0.81, latency 74 us): strata runs tree then hierarchical;
      // NCCL ran Tree LL/LL128 to 17.5 MiB, NVLSTree to 415 MiB, Ring beyond.
      {"B200 EFA 4 nodes >=256MiB", {7, 0.05, 0.23}},   // 3.9 %, 22.0 % (256 MiB: 280 against 229)
      {"B200 EFA 4 nodes 1-256MiB", {8, 0.07, 0.18}},   // 6.1 %, 17.2 % (16 MiB: 53 against 64)
      {"B200 EFA 4 nodes <1MiB", {3, 0.22, 0.57}},      // 21.5 %, 56.6 % (128 KiB: 0.70 against 0.45)
      // One rack is NVLS (nvls_efficiency 0.43 fitted): measured 586-839 GB/s rising with size
      // (~500 us more than strata's 41 us up to 2 GiB), predicted 741-762.
      {"GB200 1 rack", {5, 0.12, 0.27}},  // 11.0 %, 26.5 % (512 MiB: 741 against 586)
      // Between racks strata runs NVLSTree (NCCL 2.26.2's constants) with the rack's ring rate
      // inside, 704 GB/s at 16 GiB against 810; 20 racks measure 151-406 GB/s, rising like
      // ~5 ms + bytes / 217 GB/s, which strata's 72 NICs per rack never limit: 495-703.
      {"GB200 2 racks", {6, 0.12, 0.28}},    // 11.9 %, 27.7 % (512 MiB: 631 against 494)
      {"GB200 20 racks", {6, 1.29, 2.29}},   // 128 %, 228 % (512 MiB: 495 against 151)
      // B200 Ring 700 / NVLS 850, NVL72 32 GPUs Ring 680 / NVLS 850.
      {"GTC25 bars", {4, 0.05, 0.125}}};  // 4.6 %, 12.0 % (NVL72 32 GPUs NVLS: 748 against 850)
  check_groups(stats, tolerance);
}

// FP8 training as Transformer Engine and torchao run it, against hopper/fp8.csv: only the linear
// layers' GEMMs in FP8, after casts of their inputs (and weights, and output gradients) that
// cost HBM time; attention and memory-bound kernels stay bf16. The speedups come out of the
// FP8 peak and matmul_fp8 efficiency (MAMF, hopper/gemm.csv) and the casts' bytes; nothing here
// is fitted to fp8.csv.
namespace {

strategy::LayerShape fp8_layer(long batch, long seq, long hidden, long heads, long ffn) {
  strategy::LayerShape x;
  x.micro_batch = batch, x.seq = seq, x.hidden = hidden, x.heads = heads, x.kv_width = hidden, x.ffn = ffn;
  x.vocab = 32000;
  return x;
}

double seconds(const strategy::OpCostModel& c, const std::vector<strategy::Op>& ops) { return c.total(ops).value(); }

// Forward and backward of a layer's four linear layers (QKV, output projection, MLP up and
// down): the 12 GEMMs and, under FP8, their casts; `gemms_only` leaves the casts out.
double linears(const strategy::OpCostModel& c, const strategy::LayerShape& x, bool gemms_only = false) {
  const long T = x.tokens(), h = x.hidden, f = x.ffn;
  double t = 0;
  for (const auto& [name, n, k] : {std::tuple{"qkv", 3 * h, h}, {"attn_out", h, h}, {"mlp_up", f, h}, {"mlp_down", h, f}}) {
    std::vector<strategy::Op> ops = strategy::linear_forward(x, name, T, n, k);
    for (const auto& op : strategy::linear_backward(x, name, T, n, k)) ops.push_back(op);
    for (const auto& op : ops)
      if (!gemms_only || std::holds_alternative<strategy::Gemm>(op.kind)) t += c.time(op).value();
  }
  return t;
}

}  // namespace

TEST_CASE("hopper: FP8 layer and GEMM speedups over BF16") {
  const topo::GpuSpec h100 = preset("h100-sxm-80gb"), h200 = preset("h200-sxm-141gb");
  const strategy::RooflineCost bf16(h100, topo::Precision::bf16), fp8(h100, topo::Precision::fp8);

  SUBCASE("Transformer Engine, one layer fwd+bwd on H100: 35.71 ms BF16, 23.41 ms FP8") {
    // TE's quickstart benchmark: hidden 4096, FFN 16384, 32 heads, sequence 2048, batch 8,
    // DelayedScaling. Each time within 15 %, the speedup (1.525) within 10 %.
    strategy::LayerShape x = fp8_layer(8, 2048, 4096, 32, 16384);
    const double b = seconds(bf16, strategy::layer_forward(x)) + seconds(bf16, strategy::layer_backward(x));
    x.fp8 = true;
    // The benchmark calls the layer without is_first_microbatch: the weights are cast every call.
    const double f = seconds(fp8, strategy::layer_forward(x)) + seconds(fp8, strategy::layer_backward(x)) +
                     fp8.time(strategy::fp8_weight_cast(12.0 * 4096 * 4096)).value();
    INFO("bf16 " << b * 1e3 << " ms, fp8 " << f * 1e3 << " ms, speedup " << b / f);
    CHECK(std::fabs(b / 35.71e-3 - 1) <= 0.15);
    CHECK(std::fabs(f / 23.41e-3 - 1) <= 0.15);
    CHECK(std::fabs((b / f) / (35.71 / 23.41) - 1) <= 0.10);
  }
  SUBCASE("torchao Float8Linear, tensorwise dynamic scaling, fwd+bwd: 0.80x small, 1.39x large") {
    // Dynamic scaling reads each tensor twice (amax, then cast) and casts the weight every call.
    // The small shape is a slowdown in both; its size is set by the host's 20 us per kernel
    // (the GPU preset's eager issue time; torch.compile fuses and issues faster): predicted
    // 0.5x, so only the direction is checked. The large shape within 10 %.
    strategy::LayerShape x = fp8_layer(1, 1, 1, 1, 1);
    x.framework = strategy::Framework::torchtitan;
    auto speedup = [&](long m, long k, long n) {
      x.fp8 = false;
      const double b = seconds(bf16, strategy::linear_forward(x, "l", m, n, k)) +
                       seconds(bf16, strategy::linear_backward(x, "l", m, n, k));
      x.fp8 = true;
      const double f = seconds(fp8, strategy::linear_forward(x, "l", m, n, k)) +
                       seconds(fp8, strategy::linear_backward(x, "l", m, n, k));
      return b / f;
    };
    const double small = speedup(1024, 2048, 1024), large = speedup(4096, 8192, 16384);
    INFO("predicted " << small << "x and " << large << "x");
    CHECK(small < 1.0);
    CHECK(std::fabs(large / 1.39 - 1) <= 0.10);
  }
  SUBCASE("the 12 GEMMs of a 5B layer on H200 (M = 15872 tokens, hidden 4096, FFN 16384)") {
    // Measured on an H200 NVL (lower clocks than the SXM preset), so ratios only, each within
    // 10 %: 32.014 / 18.978 ms with DelayedScaling's quantization, 31.968 / 16.785 ms for the
    // pre-quantized GEMMs alone.
    const strategy::RooflineCost b2(h200, topo::Precision::bf16), f2(h200, topo::Precision::fp8);
    strategy::LayerShape x = fp8_layer(1, 15872, 4096, 32, 16384);
    const double b = linears(b2, x);
    x.fp8 = true;
    const double with_casts = linears(f2, x), gemms = linears(f2, x, true);
    INFO("bf16 " << b * 1e3 << " ms, fp8 " << with_casts * 1e3 << " ms, fp8 GEMMs " << gemms * 1e3 << " ms");
    CHECK(std::fabs((b / with_casts) / (32.014 / 18.978) - 1) <= 0.10);
    CHECK(std::fabs((b / gemms) / (31.968 / 16.785) - 1) <= 0.10);
    CHECK(gemms < with_casts);
  }
  SUBCASE("FP8 GEMMs need an FP8 peak") {
    strategy::LayerShape x = fp8_layer(1, 1024, 1024, 8, 4096);
    x.fp8 = true;
    CHECK_THROWS_AS((void)bf16.total(strategy::layer_forward(x)), std::invalid_argument);
  }
}
