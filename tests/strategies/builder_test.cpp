#include <doctest/doctest.h>

#include <stdexcept>

#include "common.hpp"
#include "strata/strategy/builder.hpp"

using namespace strata;
using sim::Category;

namespace {
std::map<Category, int> count(const sim::TaskGraph& g) {
  std::map<Category, int> n;
  for (sim::TaskId v = 0; v < g.size(); ++v) ++n[g.task(v).category];
  return n;
}
}  // namespace

TEST_CASE("builder: one replica without pipeline has a forward and backward per micro-batch") {
  const auto m = test::gpt(4, 1024, 16, 256);
  const auto t = test::training(8, 256);
  const test::FixedCost cost(1e-3, 1e-4);
  const auto c = test::test_cluster(1);
  const auto chunk = strategy::build_task_graph(m, t, c, test::plan(1, 1, 1), cost, strategy::Granularity::chunk);
  auto n = count(chunk);
  CHECK(n[Category::forward] == 8);
  // The last backward keeps one task per layer (plus embedding and head) so that its gradient
  // buckets can be reduced during it.
  CHECK(n[Category::backward] == 7 + (4 + 2));
  CHECK(n[Category::optimizer] == 1);
  CHECK(n[Category::tp_comm] == 0);
  // Per layer, plus the embedding (first stage) and the head (last stage).
  const auto layer = strategy::build_task_graph(m, t, c, test::plan(1, 1, 1), cost, strategy::Granularity::layer);
  n = count(layer);
  CHECK(n[Category::forward] == 8 * (4 + 2));
  CHECK(n[Category::backward] == 8 * (4 + 2));
}

TEST_CASE("builder: TP adds its collectives, recomputation its forward, pipelines their sends") {
  const auto m = test::gpt(4, 1024, 16, 256);
  const auto t = test::training(8, 256);
  const test::FixedCost cost(1e-3, 1e-4);
  auto p = test::plan(2, 2, 2);
  p.recompute = strategy::Recompute::full;
  const auto g = strategy::build_task_graph(m, t, test::test_cluster(8), p, cost, strategy::Granularity::layer);
  auto n = count(g);
  const int mb = 8 / 2;  // micro-batches per pipeline
  // Per stage 2 layers; per layer 2 all-reduces forward, 2 backward, 2 in the recomputed forward,
  // plus the embedding's reduction on the first stage.
  CHECK(n[Category::tp_comm] == mb * (4 * 6 + 1));
  CHECK(n[Category::recompute] == mb * 4);
  CHECK(n[Category::pp_comm] == mb * 2);
  CHECK(g.gpus() == std::vector<int>{0, 4});  // stage representatives: rank = stage x tp x dp
}

TEST_CASE("builder: the step-time bound never exceeds a replay and equals the compute stream") {
  const auto m = test::gpt(8, 2048, 16, 512);
  auto t = test::training(32, 512);
  t.blocking_p2p = false;  // sends off the compute stream: the stream holds only the bound's work
  const strategy::RooflineCost cost(test::test_gpu(), topo::Precision::bf16);
  const auto c = test::test_cluster(16);
  strategy::Problem pb{m, t, c, &cost};
  for (auto [tp, pp, dp, mbs] : {std::tuple{1, 1, 16, 1}, {2, 2, 4, 2}, {4, 4, 1, 1}, {8, 2, 1, 4}}) {
    auto p = test::plan(tp, pp, dp, mbs);
    p.recompute = strategy::Recompute::selective;
    const auto g = strategy::build_task_graph(m, t, c, p, cost, strategy::Granularity::chunk);
    const auto r = sim::make_analytical_backend()->replay(g, c.network());
    std::map<int, double> lane;
    for (sim::TaskId v = 0; v < g.size(); ++v)
      if (g.task(v).lane == sim::Lane::compute) lane[g.task(v).gpu] += r.timings[v].finish - r.timings[v].start;
    double busiest = 0;
    for (auto [gpu, s] : lane) busiest = std::max(busiest, s);
    INFO(p.to_string());
    CHECK(strategy::step_time_bound(pb, p).value() == doctest::Approx(busiest));
    CHECK(strategy::step_time_bound(pb, p).value() <= r.step_time.value() * (1 + 1e-12));
  }
}

TEST_CASE("builder: chunk and layer granularity give the same step") {
  // Chunk granularity folds passes but keeps per-layer tasks where overlap happens (the last
  // backward of a chunk, ZeRO-3), so the two agree.
  const auto m = test::gpt(8, 2048, 16, 512);
  const strategy::RooflineCost cost(test::test_gpu(), topo::Precision::bf16);
  const auto c = test::test_cluster(8);
  const auto backend = sim::make_analytical_backend();
  for (bool overlap : {false, true}) {
    for (int zero : {0, 1, 3}) {
      for (auto [tp, pp, dp] : {std::tuple{2, 2, 2}, {1, 1, 8}, {2, 1, 4}}) {
        auto t = test::training(16, 512);
        t.overlap_grad_reduce = overlap;
        auto p = test::plan(tp, pp, dp, 2);
        p.zero = zero;
        INFO(p.to_string() << " overlap=" << overlap);
        const double coarse =
            backend->replay(strategy::build_task_graph(m, t, c, p, cost, strategy::Granularity::chunk), c.network()).step_time.value();
        const double fine =
            backend->replay(strategy::build_task_graph(m, t, c, p, cost, strategy::Granularity::layer), c.network()).step_time.value();
        CHECK(fine == doctest::Approx(coarse).epsilon(1e-9));
      }
    }
  }
}

TEST_CASE("builder: overlapping gradient reduction with backward never slows the step") {
  const auto m = test::gpt(16, 4096, 32, 2048);
  const strategy::RooflineCost cost(test::test_gpu(), topo::Precision::bf16);
  const auto c = test::test_cluster(64);
  const auto p = test::plan(1, 1, 64, 1);
  auto t = test::training(64);
  const auto backend = sim::make_analytical_backend();
  t.overlap_grad_reduce = false;
  const double serial = backend->replay(strategy::build_task_graph(m, t, c, p, cost, strategy::Granularity::layer), c.network()).step_time.value();
  t.overlap_grad_reduce = true;
  const double overlapped = backend->replay(strategy::build_task_graph(m, t, c, p, cost, strategy::Granularity::layer), c.network()).step_time.value();
  CHECK(overlapped < serial);
}
