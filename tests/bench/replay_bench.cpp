// Speed and memory of strata's own machinery (Google Benchmark; built with the tests, run
// build/bin/strata_bench [--benchmark_filter=REGEX]).
//
// Only the read-only DoNotOptimize(const T&) is used: the read-write form of Debian's 1.7.1
// clobbered a replay result's step time under GCC 12.
//
// Counters: tasks, flows or events per second of host time, and `peak_MiB`, the most heap a
// case held at once, its set-up (cluster, fabric, task graph) included (C++ allocations,
// SimGrid's too, counted by the operator new below; run one case per process for a clean
// figure, since SimGrid keeps some state between replays). The cluster sizes are 64, 1,024 and 8,192 GPUs of the bundled
// dgx-a100-hdr fat tree (and its -rail variant where the placement on rails matters).

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <numeric>
#include <string>
#include <utility>

#include "strata/scenario/loader.hpp"
#include "strata/sim/collective.hpp"
#include "strata/sim/fabric.hpp"
#include "strata/sim/replay.hpp"
#include "strata/strategy/builder.hpp"
#include "strata/strategy/search.hpp"

// Heap accounting: every C++ allocation of the process, with its usable size.
namespace {
std::atomic<std::int64_t> g_heap{0};
std::atomic<std::int64_t> g_heap_peak{0};

void* counted_alloc(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  const auto now = g_heap.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed) +
                   static_cast<std::int64_t>(malloc_usable_size(p));
  auto peak = g_heap_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_heap_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  return p;
}
void counted_free(void* p) noexcept {
  if (p == nullptr) return;
  g_heap.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }

using namespace strata;

namespace {

// Peak heap of one benchmark case: construct before the loop, report() after it.
class PeakHeap {
 public:
  PeakHeap() : base_(g_heap.load()) { g_heap_peak.store(base_); }
  void report(benchmark::State& state) const {
    state.counters["peak_MiB"] = static_cast<double>(g_heap_peak.load() - base_) / (1024.0 * 1024.0);
  }

 private:
  std::int64_t base_;
};

const scenario::DataDirs& dirs() {
  static const scenario::DataDirs d = scenario::DataDirs::under(STRATA_SOURCE_DIR);
  return d;
}

topo::ClusterSpec cluster(const char* preset, int gpus) {
  return scenario::load_cluster(dirs().clusters / (std::string(preset) + ".yaml"), dirs(), gpus);
}

struct Gpt3 {
  scenario::Scenario sc = scenario::load_scenario(std::string(STRATA_SOURCE_DIR) + "/scenarios/gpt3-175b-1024xa100.yaml",
                                                  dirs());
  strategy::RooflineCost cost{sc.cluster.gpu, sc.training.precision};
  strategy::Plan plan = strategy::parse_plan("tp=8 pp=8 dp=16 mbs=1 vpp=2 sp=on recompute=selective zero=1 schedule=interleaved-1f1b");
  strategy::Problem pb() const { return {sc.model, sc.training, sc.cluster, &cost}; }
};

const Gpt3& gpt3() {
  static const Gpt3 g;
  return g;
}

// `groups` concurrent instances of one collective over `gpus` GPUs: group i holds ranks
// i, i + groups, i + 2 groups, ... (groups = 8 puts each on one rail, as data parallelism does
// under tp = 8; groups = 1 is one communicator over the whole cluster).
sim::GroupInstances strided_groups(int gpus, int groups) {
  sim::GroupInstances out(static_cast<std::size_t>(groups));
  for (int r = 0; r < gpus; ++r) out[static_cast<std::size_t>(r % groups)].push_back(r);
  return out;
}

sim::Collective all_reduce(const sim::GroupInstances& groups, const topo::ClusterSpec& c) {
  const int size = static_cast<int>(groups.front().size());
  const int per_node = std::max(1, std::min(size, c.domain() / static_cast<int>(groups.size())));
  return sim::Collective{sim::CollectiveOp::all_reduce, sim::Bytes(1 << 30), sim::GroupShape{size, per_node},
                         sim::Algorithm::automatic};
}

// Lowering of a 1 GiB all-reduce: choose the algorithm, build every flow of every concurrent
// group, route them on the fabric and find the bottleneck. Args: GPUs, concurrent groups.
void BM_LowerAllReduce(benchmark::State& state) {
  const PeakHeap peak;
  const int gpus = static_cast<int>(state.range(0));
  const topo::ClusterSpec c = cluster("dgx-a100-hdr-rail", gpus);
  const sim::NetworkSpec net = c.network();
  const sim::GroupInstances groups = strided_groups(gpus, static_cast<int>(state.range(1)));
  const sim::Collective col = all_reduce(groups, c);
  std::size_t flows = 0;
  double seconds = 0;
  for (auto _ : state) {
    const sim::CollectiveCost cost = sim::lower(col, net);
    std::vector<sim::Flow> fl;
    for (const auto& g : groups) sim::append_flows(col, cost, g, net, fl);
    sim::LinkLoads loads(*net.fabric);
    seconds = sim::fabric_time(cost, fl, loads).value();
    flows = fl.size();
    benchmark::DoNotOptimize(std::as_const(seconds));
  }
  peak.report(state);
  state.counters["flows"] = static_cast<double>(flows);
  state.counters["flows/s"] = benchmark::Counter(static_cast<double>(flows), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["simulated_ms"] = seconds * 1e3;
}
BENCHMARK(BM_LowerAllReduce)
    ->ArgsProduct({{64, 1024, 8192}, {1, 8}})
    ->ArgNames({"gpus", "groups"})
    ->Unit(benchmark::kMillisecond);

// One 1 GiB all-reduce replayed by SimGrid: the reduced replay (symmetric link classes, arg 2 = 1)
// and the full one (every GPU pair routed as its own flow, arg 2 = 0). Args: GPUs, groups, reduce.
void BM_SimGridAllReduce(benchmark::State& state) {
  const PeakHeap peak;
  const int gpus = static_cast<int>(state.range(0));
  const topo::ClusterSpec c = cluster("dgx-a100-hdr-rail", gpus);
  const sim::NetworkSpec net = c.network();
  auto groups = std::make_shared<const sim::GroupInstances>(strided_groups(gpus, static_cast<int>(state.range(1))));
  sim::TaskGraph g;
  g.add(sim::Task{sim::CollectiveWork{all_reduce(*groups, c), true, groups}, 0, sim::Lane::reduce, sim::Category::dp_comm});
  const auto backend = sim::make_simgrid_backend(state.range(2) != 0);
  sim::ReplayResult r;
  for (auto _ : state) {
    r = backend->replay(g, net);
    benchmark::DoNotOptimize(r.step_time.value());
  }
  peak.report(state);
  state.SetLabel(state.range(2) ? "reduced" : "full");
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(r.events), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["simulated_ms"] = r.step_time.value() * 1e3;
}
BENCHMARK(BM_SimGridAllReduce)
    ->ArgsProduct({{64, 1024, 8192}, {1, 8}, {1}})
    ->ArgsProduct({{64, 1024, 8192}, {1, 8}, {0}})
    ->ArgNames({"gpus", "groups", "reduce"})
    ->Unit(benchmark::kMillisecond);

// A GPT-3 175B training step on `gpus` GPUs (tp = 8, pp = 8, interleaved 1F1B with 2 chunks,
// 96 micro-batches per pipeline, data parallelism over the rest): build the task graph and
// replay it. Args: GPUs, backend (0 analytical, 1 SimGrid). The graph holds one data-parallel
// replica's tasks whatever the GPU count; its gradient collectives carry every replica's groups,
// so the fabric sees all 8,192 GPUs' traffic while the task count stays that of 64.
void BM_ReplayStep(benchmark::State& state) {
  const PeakHeap peak;
  const auto& base = gpt3();
  const int gpus = static_cast<int>(state.range(0));
  const topo::ClusterSpec c = cluster("dgx-a100-hdr", gpus);
  strategy::Plan plan = base.plan;
  plan.dp = gpus / (plan.tp * plan.pp);
  strategy::TrainingSpec training = base.sc.training;
  training.global_batch = 96 * plan.dp;
  const strategy::RooflineCost cost(c.gpu, training.precision);
  const auto backend = state.range(1) ? sim::make_simgrid_backend() : sim::make_analytical_backend();
  const sim::NetworkSpec net = c.network();
  sim::ReplayResult r;
  std::size_t tasks = 0;
  for (auto _ : state) {
    const sim::TaskGraph graph = strategy::build_task_graph(base.sc.model, training, c, plan, cost, strategy::Granularity::layer);
    r = backend->replay(graph, net);
    tasks = graph.size();
    benchmark::DoNotOptimize(r.step_time.value());
  }
  peak.report(state);
  state.SetLabel(std::string(backend->name()));
  state.counters["tasks"] = static_cast<double>(tasks);
  state.counters["events"] = static_cast<double>(r.events);
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(r.events), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["simulated_s"] = r.step_time.value();
}
BENCHMARK(BM_ReplayStep)
    ->ArgsProduct({{64, 1024, 8192}, {0, 1}})
    ->ArgNames({"gpus", "simgrid"})
    ->Unit(benchmark::kMillisecond);

void BM_BuildGraph(benchmark::State& state) {
  const auto& g = gpt3();
  const auto gran = state.range(0) ? strategy::Granularity::layer : strategy::Granularity::chunk;
  std::size_t tasks = 0;
  for (auto _ : state) {
    auto graph = strategy::build_task_graph(g.sc.model, g.sc.training, g.sc.cluster, g.plan, g.cost, gran);
    tasks = graph.size();
    benchmark::DoNotOptimize(std::as_const(graph));
  }
  state.counters["tasks"] = static_cast<double>(tasks);
  state.counters["tasks/s"] = benchmark::Counter(static_cast<double>(tasks), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_BuildGraph)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

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
