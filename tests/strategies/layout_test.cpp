// Plans laid over nodes unevenly: every plan that passes the checks builds, replays and keeps the
// lower bound, on clusters whose sizes and node shapes make groups straddle nodes (tp=3 or 6 on
// 8-GPU nodes, stages of 12 GPUs, odd pipeline placements).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common.hpp"
#include "strata/strategy/builder.hpp"
#include "strata/strategy/search.hpp"

using namespace strata;
using strategy::Plan;

TEST_CASE("layout: the slowest group of a dimension, from the placement order") {
  const sim::NetworkSpec net = test::test_cluster(96).network(false);
  Plan p = strategy::parse_plan("tp=6 pp=4 dp=4");
  // TP groups of 6 on 8-GPU nodes: 0-5 fits a node, 6-11 has 2 GPUs in node 0 and 4 in node 1.
  CHECK(strategy::line_shape(p, "tp", net) == sim::GroupShape{6, 2, 2, 4});
  // Data-parallel groups are 6 apart: 0, 6 share a node, 12 and 18 do not.
  CHECK(strategy::line_shape(p, "dp", net) == sim::GroupShape{4, 1, 3, 2});
  CHECK(strategy::line_shape(p, "pp", net) == sim::GroupShape{4, 1});
  CHECK(strategy::line_shape(p, "cp", net) == sim::GroupShape{1, 1});
  p = strategy::parse_plan("tp=4 pp=4 dp=6");
  CHECK(strategy::line_shape(p, "tp", net) == sim::GroupShape{4, 4});
  CHECK(strategy::line_shape(p, "dp", net) == sim::GroupShape{6, 2});
  // Data parallelism innermost: the TP groups are 6 apart.
  p.order = "dp-tp-cp-ep-pp";
  CHECK(strategy::line_shape(p, "dp", net) == sim::GroupShape{6, 2, 2, 4});
  CHECK(strategy::line_shape(p, "tp", net) == sim::GroupShape{4, 1, 3, 2});
  CHECK_THROWS_AS(strategy::line_shape(p, "xp", net), std::invalid_argument);
}

namespace {

// A 12-layer, 12-head model: tp and cp of 3 and 6 divide it.
strategy::ModelSpec twelve() { return test::gpt(12, 768, 12, 1024); }

}  // namespace

TEST_CASE("layout: every plan that passes the checks builds and replays, however its groups lie over nodes") {
  const strategy::ModelSpec model = twelve();
  const test::FixedCost cost(1e-3, 2e-4, 1e-4);
  int plans = 0, uneven = 0;
  for (int gpus : {12, 24, 40, 96}) {
    const topo::ClusterSpec cluster = test::test_cluster(gpus);
    const strategy::TrainingSpec training = test::training(24, 1024, strategy::AttentionKernel::flash);
    const strategy::Problem pb{model, training, cluster, &cost};
    strategy::SearchSpace sp;
    sp.micro_batch.values = {1};
    sp.recompute = {strategy::Recompute::none};
    sp.zero.values = {0, 3};
    sp.tp_overlap = {false};
    sp.schedule = {strategy::Schedule::one_f_one_b, strategy::Schedule::interleaved};
    sp.cp.values = {1, 2, 3};
    sp.min_cp_tokens = 1;
    sp.order = {"tp-cp-ep-dp-pp", "tp-cp-ep-pp-dp", "dp-tp-cp-ep-pp"};
    const strategy::Enumeration en = strategy::enumerate_plans(pb, sp);
    REQUIRE(en.feasible.size() > 0);
    const sim::NetworkSpec net = cluster.network(false);
    const auto analytical = sim::make_analytical_backend();
    for (const strategy::Candidate& c : en.feasible) {
      const Plan& p = c.plan;
      INFO(gpus << " GPUs: " << p.to_string());
      for (const char* dim : {"tp", "cp", "dp", "pp"})
        if (!strategy::line_shape(p, dim, net).even()) {
          ++uneven;
          break;
        }
      strategy::PlanResult chunk;
      REQUIRE_NOTHROW(chunk = strategy::evaluate(pb, p, *analytical, strategy::Granularity::chunk));
      CHECK(std::isfinite(chunk.step_time().value()));
      CHECK(chunk.step_time().value() > 0);
      // No replay beats the compute lower bound the search prunes with.
      const double bound = strategy::step_time_bound(pb, p).value();
      CHECK(chunk.step_time().value() >= bound * (1 - 1e-9));
      if (plans++ % 5 == 0) {  // layer granularity (the finalists') for a fifth of them
        strategy::PlanResult layer;
        REQUIRE_NOTHROW(layer = strategy::evaluate(pb, p, *analytical, strategy::Granularity::layer));
        CHECK(layer.step_time().value() >= bound * (1 - 1e-9));
      }
    }
  }
  MESSAGE(plans << " plans, " << uneven << " with groups laid over nodes unevenly");
  CHECK(plans > 500);
  CHECK(uneven > 100);
}

TEST_CASE("layout: a TP group that straddles two nodes costs its NIC traffic, in both backends") {
  const strategy::ModelSpec model = twelve();
  const topo::ClusterSpec cluster = test::test_cluster(24);
  const strategy::TrainingSpec training = test::training(48, 1024, strategy::AttentionKernel::flash);
  const strategy::RooflineCost cost(cluster.gpu, topo::Precision::bf16);
  const strategy::Problem pb{model, training, cluster, &cost};
  const auto analytical = sim::make_analytical_backend();
  const auto simgrid = sim::make_simgrid_backend();
  // tp=4 keeps every TP group inside a node; tp=6 and tp=3 put some across two.
  const Plan inside = strategy::parse_plan("tp=4 pp=1 dp=6");
  const Plan across = strategy::parse_plan("tp=6 pp=1 dp=4");
  const auto a = strategy::evaluate(pb, inside, *analytical, strategy::Granularity::layer);
  const auto b = strategy::evaluate(pb, across, *analytical, strategy::Granularity::layer);
  // TP over NICs at 25 GB/s instead of NVLink at 300 GB/s (launch latencies are the same).
  CHECK(b.breakdown.mean.exposed_tp.value() > 2 * a.breakdown.mean.exposed_tp.value());
  for (const Plan& p : {inside, across, strategy::parse_plan("tp=3 pp=2 dp=4"), strategy::parse_plan("tp=6 pp=2 dp=2")}) {
    INFO(p.to_string());
    const auto x = strategy::evaluate(pb, p, *analytical, strategy::Granularity::layer);
    const auto y = strategy::evaluate(pb, p, *simgrid, strategy::Granularity::layer);
    // SimGrid adds contention to the same graph; it can only be slower, and not by much here.
    CHECK(y.step_time().value() >= x.step_time().value() * (1 - 1e-6));
    CHECK(y.step_time().value() <= x.step_time().value() * 1.5);
  }
}
