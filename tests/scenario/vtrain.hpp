#pragma once
// vTrain's measured Megatron-DeepSpeed iteration times (shared/validation/vtrain: 1,440
// single-node and 109 multi-node runs on A100s) and strata's predictions of them: what
// vtrain_test.cpp checks and what fit_gpu.cpp fits the A100 preset's efficiencies to.

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/scenario/loader.hpp"
#include "strata/strategy/search.hpp"

namespace strata::test::vtrain {

/// One measured run.
struct Run {
  strategy::ModelSpec model;
  strategy::TrainingSpec training;
  strategy::Plan plan;
  int gpus = 0;
  double measured_s = 0;
};

/// The runs of one file; `multi`: the multi-node file (a leading parameter-count column).
/// Columns: gpus, global batch, micro batch, hidden, heads, layers, seq, tp, dp, pp, time (ms).
inline std::vector<Run> read_runs(const std::filesystem::path& file, bool multi) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::string line;
  std::getline(in, line);
  std::vector<Run> runs;
  while (std::getline(in, line)) {
    std::vector<double> v;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, ',')) v.push_back(std::stod(x));
    const std::size_t o = multi ? 1 : 0;
    auto at = [&](std::size_t i) { return static_cast<int>(v.at(o + i)); };
    Run r;
    strategy::ModelSpec& m = r.model;
    m.name = "vtrain";
    m.layers = at(5);
    m.hidden = at(3);
    m.heads = at(4);
    m.kv_heads = m.heads;
    m.ffn = 4 * m.hidden;
    m.vocab = 51200;
    m.seq_len = at(6);
    strategy::TrainingSpec& t = r.training;
    t.global_batch = at(1);
    t.seq_len = m.seq_len;
    t.precision = topo::Precision::fp16;
    // Megatron-DeepSpeed of 2023: Megatron-LM's unfused attention under DeepSpeed's engine, whose
    // pipeline partitions activations over the TP ranks; vTrain's runs reduce gradients after the
    // backward (no bucketing) and checkpoint activations.
    t.framework = strategy::Framework::megatron_deepspeed;
    // vTrain publishes neither its precision nor its optimizer settings: the A100 fit keeps the
    // plain Adam step over every parameter it always assumed (28 bytes + a norm and a copy).
    t.step_traffic = strategy::StepTraffic{0, 0, 34};
    t.attention = strategy::AttentionKernel::unfused;
    t.overlap_grad_reduce = false;
    t.p2p_scatter_gather = true;
    r.gpus = at(0);
    r.plan.tp = at(7);
    r.plan.dp = at(8);
    r.plan.pp = at(9);
    r.plan.micro_batch = at(2);
    r.plan.recompute = strategy::Recompute::full;
    r.measured_s = v.at(o + 10) / 1e3;
    runs.push_back(r);
  }
  return runs;
}

/// vTrain's clusters: DGX A100 nodes; the multi-node runs with 800 Gb/s per node.
inline topo::ClusterSpec cluster(const scenario::DataDirs& dirs, bool multi) {
  topo::ClusterSpec c = scenario::load_cluster(dirs.clusters / "dgx-a100-hdr.yaml", dirs, 8);
  if (multi) {
    c.scale_out.nics_per_node = 4;
    c.scale_out.nic_bandwidth = sim::ByteRate(200e9 / 8);
  }
  return c;
}

/// Mean absolute and mean signed error of the predictions, %.
struct Error {
  double mape = 0, bias = 0;
  int runs = 0;
};

/// Predicts every run with `gpu` in `base` (analytical replay, one task per model chunk); with
/// `each`, appends every prediction, s.
inline Error predict(const std::vector<Run>& runs, topo::ClusterSpec base, const topo::GpuSpec& gpu,
                     std::vector<double>* each = nullptr) {
  base.gpu = gpu;
  const auto backend = sim::make_analytical_backend();
  Error e;
  for (const Run& r : runs) {
    topo::ClusterSpec c = base;
    c.gpus = r.gpus;
    const strategy::RooflineCost cost(c.gpu, r.training.precision);
    const strategy::Problem pb{r.model, r.training, c, &cost};
    const double predicted =
        strategy::evaluate(pb, r.plan, *backend, strategy::Granularity::chunk).step_time().value();
    if (each) each->push_back(predicted);
    const double err = (predicted - r.measured_s) / r.measured_s;
    e.mape += std::fabs(err);
    e.bias += err;
    ++e.runs;
  }
  e.mape *= 100.0 / e.runs;
  e.bias *= 100.0 / e.runs;
  return e;
}

}  // namespace strata::test::vtrain
