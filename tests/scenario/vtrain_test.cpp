// The A100 preset against vTrain's measured Megatron-DeepSpeed runs
// (shared/validation/vtrain: 1,440 single-node and 109 multi-node iteration times). The A100
// efficiencies were fitted to these runs once (docs/modeling.md); this test keeps the fit honest.

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "strata/scenario/loader.hpp"
#include "strata/strategy/search.hpp"
#include "support.hpp"

using namespace strata;

namespace {

struct Error {
  double mape = 0, bias = 0;
  int runs = 0;
};

// Columns of the multi-node file, after its leading parameter count:
// gpus, global batch, micro batch, hidden, heads, layers, seq, tp, dp, pp, time (ms).
Error replay_file(const std::string& name, bool multi) {
  const auto dirs = scenario::DataDirs::under(test::source_dir());
  topo::ClusterSpec base = scenario::load_cluster(dirs.clusters / "dgx-a100-hdr.yaml", dirs, 8);
  if (multi) {  // vTrain's cluster: 800 Gb/s of inter-node bandwidth per node
    base.scale_out.nics_per_node = 4;
    base.scale_out.nic_bandwidth = sim::ByteRate(200e9 / 8);
  }
  std::ifstream in(test::validation_dir() / "vtrain" / name);
  REQUIRE(in);
  std::string line;
  std::getline(in, line);
  Error e;
  const auto backend = sim::make_analytical_backend();
  while (std::getline(in, line)) {
    std::vector<double> v;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, ',')) v.push_back(std::stod(x));
    const std::size_t o = multi ? 1 : 0;
    auto at = [&](std::size_t i) { return static_cast<int>(v.at(o + i)); };
    strategy::ModelSpec m;
    m.name = "vtrain";
    m.layers = at(5);
    m.hidden = at(3);
    m.heads = at(4);
    m.kv_heads = m.heads;
    m.ffn = 4 * m.hidden;
    m.vocab = 51200;
    m.seq_len = at(6);
    strategy::TrainingSpec t;
    t.global_batch = at(1);
    t.seq_len = m.seq_len;
    t.precision = topo::Precision::fp16;
    t.attention = strategy::AttentionKernel::unfused;  // Megatron-DeepSpeed, 2023
    t.overlap_grad_reduce = false;                     // vTrain: no gradient bucketing
    t.p2p_scatter_gather = false;                      // DeepSpeed's pipeline engine
    topo::ClusterSpec c = base;
    c.gpus = at(0);
    const strategy::RooflineCost cost(c.gpu, t.precision);
    const strategy::Problem pb{m, t, c, &cost};
    strategy::Plan p;
    p.tp = at(7);
    p.dp = at(8);
    p.pp = at(9);
    p.micro_batch = at(2);
    p.recompute = strategy::Recompute::full;  // vTrain's runs checkpoint activations
    const double measured = v.at(o + 10) / 1e3;
    const double predicted = strategy::evaluate(pb, p, *backend, strategy::Granularity::chunk).step_time().value();
    const double err = (predicted - measured) / measured;
    e.mape += std::fabs(err);
    e.bias += err;
    ++e.runs;
  }
  e.mape *= 100.0 / e.runs;
  e.bias *= 100.0 / e.runs;
  return e;
}

}  // namespace

TEST_CASE("vtrain: single-node A100 runs within 10% on average") {
  const Error e = replay_file("ground_truth_single.csv", false);
  MESSAGE("single-node: " << e.runs << " runs, MAPE " << e.mape << " %, mean error " << e.bias << " %");
  CHECK(e.runs == 1440);
  CHECK(e.mape < 10.0);
  CHECK(std::fabs(e.bias) < 5.0);
}

TEST_CASE("vtrain: multi-node A100 runs within 10% on average") {
  const Error e = replay_file("ground_truth_multi.csv", true);
  MESSAGE("multi-node: " << e.runs << " runs, MAPE " << e.mape << " %, mean error " << e.bias << " %");
  CHECK(e.runs == 109);
  CHECK(e.mape < 10.0);
  CHECK(std::fabs(e.bias) < 6.0);
}
