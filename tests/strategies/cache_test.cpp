// What a search keeps between plans must not change any plan's answer: the layout cache (groups
// and pipeline pairs shared by plans of one layout), the analytical backend's flow memory (flow
// times kept across replays and networks), and the data-parallel part of the lower bound that
// orders the screen (its group shapes are the task graphs', and no replay beats it).
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common.hpp"
#include "strata/strategy/builder.hpp"
#include "strata/strategy/memory.hpp"
#include "strata/strategy/search.hpp"

using namespace strata;
using strategy::Plan;

namespace {

// A small mixture of experts: 8 experts, top-2, on every layer.
strategy::ModelSpec small_moe() {
  strategy::ModelSpec m = test::gpt(8, 1024, 16, 1024);
  m.ffn = 2816;
  m.activation = strategy::Activation::swiglu;
  m.tied_embeddings = false;
  m.experts = 8;
  m.top_k = 2;
  m.moe_ffn = 2816;
  return m;
}

// Plans over ZeRO 0-3, hybrid and full sharding, expert parallelism and three rank orders.
std::vector<Plan> plans_of(const strategy::Problem& pb) {
  strategy::SearchSpace sp;
  sp.micro_batch.values = {1};
  sp.recompute = {strategy::Recompute::none};
  sp.zero.values = {0, 1, 2, 3};
  sp.tp_overlap = {false};
  sp.sequence_parallel = {true};
  sp.schedule = {strategy::Schedule::one_f_one_b, strategy::Schedule::interleaved};
  sp.order = {"tp-cp-ep-dp-pp", "tp-cp-ep-pp-dp", "dp-tp-cp-ep-pp"};
  std::vector<Plan> out;
  for (const strategy::Candidate& c : strategy::enumerate_plans(pb, sp).feasible) out.push_back(c.plan);
  return out;
}

std::string shape_text(const sim::GroupShape& g) {
  return std::to_string(g.size) + "/" + std::to_string(g.per_node) + "/" + std::to_string(g.nodes()) + "/" +
         std::to_string(g.max_per_node());
}

// Everything a replay reads from a task, as text.
std::string describe(const sim::Task& t) {
  char head[160];
  std::snprintf(head, sizeof head, "%d %d %d %d %d %d |", t.gpu, static_cast<int>(t.lane),
                static_cast<int>(t.category), t.stage, t.microbatch, t.layer);
  std::string s = head;
  if (const auto* c = std::get_if<sim::ComputeWork>(&t.work)) {
    s += " compute " + std::to_string(c->duration.value());
  } else if (const auto* w = std::get_if<sim::CollectiveWork>(&t.work)) {
    s += " collective " + std::to_string(static_cast<int>(w->collective.op)) + " " +
         std::to_string(w->collective.buffer.value()) + " " + shape_text(w->collective.group) + " " +
         std::to_string(static_cast<int>(w->collective.algorithm)) + (w->contends ? " c" : " f");
    if (w->groups)
      for (const auto& g : *w->groups) {
        s += " [";
        for (int r : g) s += std::to_string(r) + ",";
        s += "]";
      }
  } else {
    const auto& x = std::get<sim::TransferWork>(t.work);
    s += " transfer " + std::to_string(x.dst_gpu) + " " + std::to_string(x.bytes.value());
    if (x.siblings)
      for (auto [a, b] : *x.siblings) s += " " + std::to_string(a) + ">" + std::to_string(b);
  }
  return s;
}

}  // namespace

TEST_CASE("cache: the bound's data-parallel shapes are the ones the task graphs price") {
  const strategy::ModelSpec model = small_moe();
  const test::FixedCost cost(1e-3, 2e-4, 1e-4);
  int plans = 0, sharded = 0, hybrid = 0, experts = 0;
  for (int gpus : {16, 24, 48}) {
    const topo::ClusterSpec cluster = test::test_cluster(gpus);
    const strategy::TrainingSpec training = test::training(48, 1024, strategy::AttentionKernel::flash);
    const strategy::Problem pb{model, training, cluster, &cost};
    const sim::NetworkSpec net = cluster.network(false);
    for (const Plan& p : plans_of(pb)) {
      if (p.dp_cp() <= 1) continue;
      INFO(gpus << " GPUs: " << p.to_string());
      const std::vector<strategy::DataShapes> shapes = strategy::data_group_shapes(p, net);
      REQUIRE(shapes.size() == static_cast<std::size_t>(p.pp));
      const sim::TaskGraph g = strategy::build_task_graph(model, training, cluster, p, cost, strategy::Granularity::chunk);
      // Per stage and operation, the shapes the graph's data-parallel collectives use.
      std::vector<std::set<std::string>> reduce(p.pp), scatter(p.pp), across(p.pp), gather(p.pp);
      for (sim::TaskId v = 0; v < g.size(); ++v) {
        const sim::Task& t = g.task(v);
        const auto* w = std::get_if<sim::CollectiveWork>(&t.work);
        // The tied embeddings' two-rank all-reduce has no instances; it is not a DP group.
        if (t.category != sim::Category::dp_comm || !w || !w->groups) continue;
        const std::string shape = shape_text(w->collective.group);
        auto& into = w->collective.op == sim::CollectiveOp::all_gather       ? gather
                     : w->collective.op == sim::CollectiveOp::reduce_scatter ? scatter
                     : p.zero == 0                                           ? reduce
                                                                             : across;
        into[static_cast<std::size_t>(t.stage)].insert(shape);
      }
      for (int s = 0; s < p.pp; ++s) {
        const auto& d = shapes[static_cast<std::size_t>(s)];
        const strategy::StageParams sp = strategy::stage_param_split(model, training, p, s);
        std::set<std::string> want_reduce, want_scatter, want_across;
        for (auto [params, x] : {std::pair{sp.dense, &d.dense}, std::pair{sp.expert, &d.expert}}) {
          if (params <= 0) continue;
          if (p.zero == 0) {
            want_reduce.insert(shape_text(x->all));
            continue;
          }
          want_scatter.insert(shape_text(x->shard));
          if (x->hybrid) want_across.insert(shape_text(x->replica));
        }
        CAPTURE(s);
        CHECK(reduce[static_cast<std::size_t>(s)] == want_reduce);
        CHECK(scatter[static_cast<std::size_t>(s)] == want_scatter);
        CHECK(across[static_cast<std::size_t>(s)] == want_across);
        // Weights are gathered over the dense shard group (experts' too).
        if (!gather[static_cast<std::size_t>(s)].empty())
          CHECK(gather[static_cast<std::size_t>(s)] == std::set<std::string>{shape_text(d.dense.shard)});
        // Without sharding the groups are the whole groups.
        if (!d.dense.hybrid) CHECK(d.dense.shard == d.dense.all);
        if (sp.expert > 0) ++experts;
      }
      ++plans;
      sharded += p.zero > 0 ? 1 : 0;
      hybrid += shapes[0].dense.hybrid ? 1 : 0;
    }
  }
  MESSAGE(plans << " plans: " << sharded << " sharded, " << hybrid << " hybrid, " << experts << " stages with experts");
  CHECK(plans > 200);
  CHECK(sharded > 100);
  CHECK(hybrid > 4);
  CHECK(experts > 100);
}

TEST_CASE("cache: no replay beats the bound, with or without overlapped reductions; DP traffic raises it") {
  const strategy::ModelSpec model = small_moe();
  const test::FixedCost cost(1e-3, 2e-4, 1e-4);
  const auto analytical = sim::make_analytical_backend();
  int plans = 0, raised = 0;
  for (int gpus : {16, 48}) {
    for (bool overlap : {false, true}) {
      const topo::ClusterSpec cluster = test::test_cluster(gpus);
      strategy::TrainingSpec training = test::training(48, 1024, strategy::AttentionKernel::flash);
      training.overlap_grad_reduce = overlap;
      const strategy::Problem pb{model, training, cluster, &cost};
      // The same problem on a free network: only the pipeline's part of the bound is left.
      const topo::ClusterSpec free = test::free_network(gpus);
      const strategy::Problem pipeline_only{model, training, free, &cost};
      for (const Plan& p : plans_of(pb)) {
        INFO(gpus << " GPUs, overlap " << overlap << ": " << p.to_string());
        const double bound = strategy::step_time_bound(pb, p).value();
        const double step = strategy::evaluate(pb, p, *analytical, strategy::Granularity::chunk).step_time().value();
        CHECK(bound > 0);
        CHECK(bound <= step * (1 + 1e-12));
        if (bound > strategy::step_time_bound(pipeline_only, p).value() * 1.05) ++raised;
        ++plans;
      }
    }
  }
  MESSAGE(plans << " plans, " << raised << " bounded above the pipeline by their data-parallel traffic");
  CHECK(plans > 200);
  CHECK(raised > plans / 10);
}

TEST_CASE("cache: graphs built from a layout cache are the graphs built without one") {
  const strategy::ModelSpec model = small_moe();
  const test::FixedCost cost(1e-3, 2e-4, 1e-4);
  const topo::ClusterSpec cluster = test::test_cluster(48);
  const strategy::TrainingSpec training = test::training(48, 1024, strategy::AttentionKernel::flash);
  const strategy::Problem pb{model, training, cluster, &cost};
  const auto analytical = sim::make_analytical_backend();
  strategy::LayoutCache cache;
  const std::vector<Plan> plans = plans_of(pb);
  REQUIRE(plans.size() > 50);
  for (int pass = 0; pass < 2; ++pass) {  // the second pass finds every layout built
    for (const Plan& p : plans) {
      INFO(p.to_string());
      for (auto gran : {strategy::Granularity::chunk, strategy::Granularity::layer}) {
        const sim::TaskGraph a = strategy::build_task_graph(model, training, cluster, p, cost, gran);
        const sim::TaskGraph b = strategy::build_task_graph(model, training, cluster, p, cost, gran, &cache);
        REQUIRE(a.size() == b.size());
        REQUIRE(a.edge_count() == b.edge_count());
        bool same = true;
        for (sim::TaskId v = 0; v < a.size() && same; ++v) same = describe(a.task(v)) == describe(b.task(v));
        CHECK(same);
        const sim::Adjacency& x = a.adjacency();
        const sim::Adjacency& y = b.adjacency();
        CHECK(x.offsets == y.offsets);
        CHECK(x.targets == y.targets);
        if (gran == strategy::Granularity::chunk)
          CHECK(analytical->replay(a, cluster.network()).step_time.value() ==
                analytical->replay(b, cluster.network()).step_time.value());
      }
    }
  }
  MESSAGE(cache.built() << " layouts built, " << cache.reused() << " reused");
  CHECK(cache.reused() > cache.built());
  CHECK(cache.built() < plans.size());
  // The cache serves one cluster shape.
  const topo::ClusterSpec other = test::test_cluster(24);
  CHECK_THROWS_AS(strategy::build_task_graph(model, training, other, strategy::parse_plan("tp=2 pp=2 dp=6"), cost,
                                             strategy::Granularity::chunk, &cache),
                  std::invalid_argument);
}

TEST_CASE("cache: a replay gives the same times whatever the backend replayed before, on any network") {
  const strategy::ModelSpec model = small_moe();
  const test::FixedCost cost(1e-3, 2e-4, 1e-4);
  const topo::ClusterSpec slow = test::test_cluster(48);
  topo::ClusterSpec fast = slow;
  fast.scale_out.nic_bandwidth = sim::ByteRate(4 * slow.scale_out.nic_bandwidth.value());
  fast.scale_up.bandwidth = sim::ByteRate(2 * slow.scale_up.bandwidth.value());
  const strategy::TrainingSpec training = test::training(48, 1024, strategy::AttentionKernel::flash);
  const strategy::Problem pb{model, training, slow, &cost};
  std::vector<Plan> plans = plans_of(pb);
  REQUIRE(plans.size() > 20);
  plans.resize(20);
  std::vector<sim::TaskGraph> graphs;
  for (const Plan& p : plans)
    graphs.push_back(strategy::build_task_graph(model, training, slow, p, cost, strategy::Granularity::layer));
  const sim::NetworkSpec nets[] = {slow.network(), fast.network(), slow.network()};
  const auto shared = sim::make_analytical_backend();
  int differ = 0;
  for (const sim::NetworkSpec& net : nets) {
    for (std::size_t i = 0; i < graphs.size(); ++i) {
      INFO(plans[i].to_string());
      const sim::ReplayResult fresh = sim::make_analytical_backend()->replay(graphs[i], net);
      const sim::ReplayResult kept = shared->replay(graphs[i], net);
      REQUIRE(fresh.timings.size() == kept.timings.size());
      bool same = fresh.step_time.value() == kept.step_time.value();
      for (std::size_t v = 0; v < fresh.timings.size() && same; ++v)
        same = fresh.timings[v].start == kept.timings[v].start && fresh.timings[v].finish == kept.timings[v].finish;
      CHECK(same);
    }
  }
  // The two networks do time the plans differently (the memory must tell them apart).
  for (const sim::TaskGraph& g : graphs)
    differ += shared->replay(g, slow.network()).step_time.value() != shared->replay(g, fast.network()).step_time.value();
  CHECK(differ > 10);
}
