// Speed of strata's own machinery (Google Benchmark; build with -DSTRATA_BUILD_BENCHMARKS=ON,
// run build/bin/strata_bench). Counters: tasks or events per second of host time.

#include <benchmark/benchmark.h>

#include "strata/scenario/loader.hpp"
#include "strata/sim/replay.hpp"
#include "strata/strategy/builder.hpp"
#include "strata/strategy/search.hpp"

using namespace strata;

namespace {

struct Gpt3 {
  scenario::Scenario sc = scenario::load_scenario(std::string(STRATA_SOURCE_DIR) + "/scenarios/gpt3-175b-1024xa100.yaml",
                                                  scenario::DataDirs::under(STRATA_SOURCE_DIR));
  strategy::RooflineCost cost{sc.cluster.gpu, sc.training.precision};
  strategy::Plan plan = strategy::parse_plan("tp=8 pp=8 dp=16 mbs=1 vpp=2 sp=on recompute=selective zero=1 schedule=interleaved-1f1b");
  strategy::Problem pb() const { return {sc.model, sc.training, sc.cluster, &cost}; }
};

const Gpt3& gpt3() {
  static const Gpt3 g;
  return g;
}

void BM_BuildGraph(benchmark::State& state) {
  const auto& g = gpt3();
  const auto gran = state.range(0) ? strategy::Granularity::layer : strategy::Granularity::chunk;
  std::size_t tasks = 0;
  for (auto _ : state) {
    auto graph = strategy::build_task_graph(g.sc.model, g.sc.training, g.sc.cluster, g.plan, g.cost, gran);
    tasks = graph.size();
    benchmark::DoNotOptimize(graph);
  }
  state.counters["tasks"] = static_cast<double>(tasks);
  state.counters["tasks/s"] = benchmark::Counter(static_cast<double>(tasks), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_BuildGraph)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_Replay(benchmark::State& state) {
  const auto& g = gpt3();
  const auto graph = strategy::build_task_graph(g.sc.model, g.sc.training, g.sc.cluster, g.plan, g.cost,
                                                strategy::Granularity::layer);
  const auto backend = state.range(0) ? sim::make_simgrid_backend() : sim::make_analytical_backend();
  const auto net = g.sc.cluster.network();
  std::uint64_t events = 0;
  for (auto _ : state) {
    const auto r = backend->replay(graph, net);
    events = r.events;
    benchmark::DoNotOptimize(r.step_time);
  }
  state.SetLabel(std::string(backend->name()));
  state.counters["tasks"] = static_cast<double>(graph.size());
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Replay)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Many small simulations in one process: engine and platform set-up per replay.
void BM_SimGridSmallReplays(benchmark::State& state) {
  sim::NetworkSpec net = gpt3().sc.cluster.network();
  sim::TaskGraph g;
  for (int i = 0; i < 8; ++i) g.add(sim::Task{sim::ComputeWork{sim::Seconds(1e-3)}, i * 8, sim::Lane::compute, sim::Category::forward});
  const auto backend = sim::make_simgrid_backend();
  for (auto _ : state) benchmark::DoNotOptimize(backend->replay(g, net).step_time);
  state.counters["replays/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SimGridSmallReplays)->Unit(benchmark::kMicrosecond);

// Cost of concurrent flows: N GPUs of other nodes each send 10 transfers, one after another, to
// GPU 0, so N flows share GPU 0's NIC at any time.
void BM_SimGridConcurrentFlows(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  sim::NetworkSpec net = gpt3().sc.cluster.network();
  sim::TaskGraph g;
  for (int wave = 0; wave < 10; ++wave)
    for (int i = 0; i < n; ++i)
      g.add(sim::Task{sim::TransferWork{0, sim::Bytes(1e6 * (1 + i % 7)), {}}, 8 * (1 + i), sim::Lane::p2p,
                      sim::Category::pp_comm});
  const auto backend = sim::make_simgrid_backend();
  std::uint64_t events = 0;
  for (auto _ : state) events = backend->replay(g, net).events;
  state.counters["flows"] = static_cast<double>(n);
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SimGridConcurrentFlows)->Arg(4)->Arg(64)->Arg(127)->Unit(benchmark::kMillisecond);

// The whole plan search of the bundled GPT-3 scenario, analytical screening only.
void BM_SearchScreening(benchmark::State& state) {
  const auto& g = gpt3();
  strategy::SearchOptions opt;
  opt.use_simgrid = false;
  opt.finalists = 10;
  std::int64_t screened = 0;
  for (auto _ : state) screened = strategy::search(g.pb(), g.sc.search, opt).stats.screened;
  state.counters["screened"] = static_cast<double>(screened);
}
BENCHMARK(BM_SearchScreening)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
