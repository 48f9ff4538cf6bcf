#include <doctest/doctest.h>

#include <stdexcept>
#include <variant>

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

TEST_CASE("builder: the step-time bound never exceeds a replay: compute stream plus the pipeline's fill and drain") {
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
    // Per stage: its compute stream, its optimizer step, and the first micro-batch's forward and
    // backward kernels.
    std::map<int, double> lane, optimizer, forward0, backward0;
    for (sim::TaskId v = 0; v < g.size(); ++v) {
      const sim::Task& task = g.task(v);
      if (task.lane != sim::Lane::compute) continue;
      const double d = r.timings[v].finish - r.timings[v].start;
      lane[task.stage] += d;
      if (task.category == sim::Category::optimizer) optimizer[task.stage] += d;
      if (task.microbatch == 0 && task.category == sim::Category::forward) forward0[task.stage] += d;
      if (task.microbatch == 0 && task.category == sim::Category::backward) backward0[task.stage] += d;
    }
    // Stage s waits for the forward through stages before it, and its last backward has to go
    // back through them.
    double expected = 0, before_f = 0, before_b = 0;
    for (int s = 0; s < pp; ++s) {
      expected = std::max({expected, before_f + lane[s], before_f + lane[s] - optimizer[s] + before_b});
      before_f += forward0[s];
      before_b += backward0[s];
    }
    INFO(p.to_string());
    const double bound = strategy::step_time_bound(pb, p).value();
    CHECK(bound == doctest::Approx(expected));
    if (pp == 1) CHECK(bound == doctest::Approx(lane[0]));
    CHECK(bound <= r.step_time.value() * (1 + 1e-12));
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

TEST_CASE("builder: DeepSpeed's 2021 ZeRO-3 gathers every weight matrix apart and no gather overlaps compute") {
  // 8 layers of 12 x 4096^2 = 201M parameters: above the 5e7-element prefetch bucket, so each
  // layer's gathers wait for the previous layer's kernels; quarter-layer reuse distances
  // (2 x 3 x 50M at most) stay under 1e9, so the backward reuses the recompute's gathers.
  const auto m = test::gpt(8, 4096, 32, 2048);
  const strategy::RooflineCost cost(test::test_gpu(), topo::Precision::bf16);
  const auto c = test::test_cluster(64);
  auto p = test::plan(1, 1, 64, 1);
  p.zero = 3;
  p.recompute = strategy::Recompute::full;
  auto t = test::training(64);
  const auto backend = sim::make_analytical_backend();
  struct Seen {
    int gathers = 0, reduce_scatters = 0, overlapping = 0;
    double step = 0;
  };
  const auto run = [&](bool blocking) {
    t.zero3_blocking_fetch = blocking;
    const auto g = strategy::build_task_graph(m, t, c, p, cost, strategy::Granularity::layer);
    const auto r = backend->replay(g, c.network());
    Seen s;
    s.step = r.step_time.value();
    for (sim::TaskId v = 0; v < g.size(); ++v) {
      const auto* w = std::get_if<sim::CollectiveWork>(&g.task(v).work);
      if (!w || g.task(v).gpu != 0) continue;
      if (w->collective.op == sim::CollectiveOp::all_gather) {
        ++s.gathers;
        for (sim::TaskId u = 0; u < g.size(); ++u) {
          const auto& k = g.task(u);
          const bool kernel = k.gpu == 0 && k.lane == sim::Lane::compute &&
                              (k.category == Category::forward || k.category == Category::backward ||
                               k.category == Category::recompute);
          if (kernel && r.timings[u].start < r.timings[v].finish && r.timings[v].start < r.timings[u].finish) {
            ++s.overlapping;
            break;
          }
        }
      }
      if (w->collective.op == sim::CollectiveOp::reduce_scatter) ++s.reduce_scatters;
    }
    return s;
  };
  const Seen fsdp = run(false), ds = run(true);
  // FSDP-style: one gather per layer for the forward and one for recompute + backward.
  CHECK(fsdp.gathers == 2 * 8);
  CHECK(fsdp.reduce_scatters == 8 + 1);  // and the embedding's
  CHECK(fsdp.overlapping > 0);
  CHECK(ds.gathers == 2 * 8 * strategy::kDeepSpeedLayerMatrices);
  CHECK(ds.reduce_scatters == 8 * strategy::kDeepSpeedLayerMatrices + 1);
  CHECK(ds.overlapping == 0);
  CHECK(ds.step > fsdp.step);
}

TEST_CASE("builder: the framework's step traffic: accumulation per micro-batch and chunk, buffer and optimizer per step") {
  const auto m = test::gpt(8, 2048, 16, 512);
  const strategy::RooflineCost cost(test::test_gpu(), topo::Precision::bf16);
  const auto c = test::test_cluster(8);
  const auto backend = sim::make_analytical_backend();
  for (int zero : {1, 3}) {
    auto p = test::plan(1, 2, 4, 2);
    p.zero = zero;
    const double bw = 2e12 * 0.8, launch = 4e-6;  // the test GPU's streaming rate and kernel overhead
    auto compute = [&](const strategy::TrainingSpec& t, strategy::Granularity g) {
      const auto graph = strategy::build_task_graph(m, t, c, p, cost, g);
      const auto b = sim::summarize(graph, backend->replay(graph, c.network()));
      std::vector<double> out;
      for (const auto& s : b.per_gpu) out.push_back(s.compute().value());
      return out;
    };
    auto t = test::training(16, 512);
    t.step_traffic = {0, 0, 0};
    const int mb = 16 / (4 * 2);
    const auto none = compute(t, strategy::Granularity::layer);
    t.step_traffic = {18, 20, 34};
    for (auto g : {strategy::Granularity::layer, strategy::Granularity::chunk}) {
      const auto with = compute(t, g);
      REQUIRE(with.size() == 2);
      for (int s = 0; s < 2; ++s) {
        INFO("stage " << s << (g == strategy::Granularity::layer ? " layer" : " chunk"));
        const double shard = strategy::optimizer_params(m, t, p, s);
        // ZeRO-1 keeps the whole gradient: one accumulation per micro-batch and one buffer pass over
        // the stage's parameters; ZeRO-3 keeps only its shard. The optimizer runs over the shard.
        const double grads = zero == 1 ? strategy::stage_params(m, t, p, s) : shard;
        INFO("zero " << zero);
        const double expected = mb * (grads * 18 / bw + launch) + (grads * 20 / bw + launch) + shard * 34 / bw;
        CHECK(with[static_cast<std::size_t>(s)] - none[static_cast<std::size_t>(s)] == doctest::Approx(expected).epsilon(1e-9));
      }
    }
  }
}

TEST_CASE("builder: DeepSpeed's BF16_Optimizer all-reduces the whole gradient under ZeRO-1, Megatron-LM reduce-scatters") {
  const auto m = test::gpt(4, 1024, 16, 256);
  const test::FixedCost cost(1e-3, 1e-4);
  const auto c = test::test_cluster(8);
  auto p = test::plan(1, 1, 8);
  p.zero = 1;
  auto ops = [&](strategy::Framework f, topo::Precision precision) {
    auto t = test::training(8, 256);
    t.framework = f;
    t.precision = precision;
    const auto g = strategy::build_task_graph(m, t, c, p, cost, strategy::Granularity::layer);
    std::map<sim::CollectiveOp, int> n;
    for (sim::TaskId v = 0; v < g.size(); ++v)
      if (const auto* w = std::get_if<sim::CollectiveWork>(&g.task(v).work); w && g.task(v).category == Category::dp_comm)
        ++n[w->collective.op];
    return n;
  };
  auto ds = ops(strategy::Framework::megatron_deepspeed, topo::Precision::bf16);
  CHECK(ds[sim::CollectiveOp::all_reduce] > 0);
  CHECK(ds[sim::CollectiveOp::reduce_scatter] == 0);
  CHECK(ds[sim::CollectiveOp::all_gather] == 1);  // the partitions, after the optimizer
  auto mg = ops(strategy::Framework::megatron, topo::Precision::bf16);
  CHECK(mg[sim::CollectiveOp::all_reduce] == 0);
  CHECK(mg[sim::CollectiveOp::reduce_scatter] > 0);
  // DeepSpeed's fp16 path is its ZeRO-1 optimizer proper: reduce-scatter.
  CHECK(ops(strategy::Framework::megatron_deepspeed, topo::Precision::fp16)[sim::CollectiveOp::reduce_scatter] > 0);
  // Its gradients travel in the training precision, Megatron-LM's in fp32 under bf16.
  auto t = test::training(8, 256);
  t.framework = strategy::Framework::megatron_deepspeed;
  CHECK(t.grad_reduce_bytes() == 2);
  t.framework = strategy::Framework::megatron;
  CHECK(t.grad_reduce_bytes() == 4);
}
