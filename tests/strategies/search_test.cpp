#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <stdexcept>

#include "common.hpp"
#include "strata/strategy/search.hpp"

using namespace strata;
using strategy::Recompute;
using strategy::Schedule;

namespace {
struct Fixture {
  strategy::ModelSpec model = test::gpt(8, 1024, 8, 512);
  strategy::TrainingSpec training = test::training(64, 512);
  topo::ClusterSpec cluster = test::test_cluster(8);
  strategy::RooflineCost cost{test::test_gpu(), topo::Precision::bf16};
  strategy::Problem pb() const { return {model, training, cluster, &cost}; }
};

strategy::SearchSpace fixed_except_shape() {
  strategy::SearchSpace sp;
  sp.micro_batch.values = {1};
  sp.sequence_parallel = {false};
  sp.recompute = {Recompute::none};
  sp.zero.values = {0};
  return sp;
}
}  // namespace

TEST_CASE("search: enumeration counts follow the plan space") {
  Fixture f;
  auto sp = fixed_except_shape();
  sp.pp.values = {1};
  // tp over the divisors of 8 GPUs, one schedule when pp = 1.
  auto en = strategy::enumerate_plans(f.pb(), sp);
  CHECK(en.enumerated == 4);
  CHECK(en.feasible.size() == 4);

  // tp = 1, pp over {1, 2, 4, 8}: pp = 1 has one schedule; otherwise GPipe, 1F1B, ZB-H1 and
  // interleaved with 2..4 chunks (or any that split the 8 layers evenly) while pp x vpp <= 8, or
  // one interleaved plan that cannot fill its stages.
  sp.pp = {};
  sp.tp.values = {1};
  en = strategy::enumerate_plans(f.pb(), sp);
  CHECK(en.enumerated == 1 + (3 + 3) + (3 + 1) + (3 + 1));
  CHECK(en.infeasible.at("fewer layers than stages") == 1);

  // Everything free: every rejected plan is counted under a reason.
  en = strategy::enumerate_plans(f.pb(), strategy::SearchSpace{});
  std::int64_t rejected = 0;
  for (const auto& [reason, n] : en.infeasible) rejected += n;
  CHECK(static_cast<std::int64_t>(en.feasible.size()) + rejected == en.enumerated);
}

TEST_CASE("search: rank orders are a dimension; orders that place a plan alike count once") {
  Fixture f;
  auto sp = fixed_except_shape();
  sp.schedule = {Schedule::one_f_one_b};
  sp.order = {"tp-cp-ep-dp-pp", "tp-cp-ep-pp-dp", "cp-ep-tp-dp-pp"};
  // 8 GPUs: (tp, pp, dp) over the 10 ways to split 8 into three factors. The second order differs
  // from the first only when pp > 1 and dp > 1 (tp1 pp2 dp4, tp1 pp4 dp2, tp2 pp2 dp2); the third
  // places every plan as the first does (cp and ep have size 1).
  const auto en = strategy::enumerate_plans(f.pb(), sp);
  CHECK(en.enumerated == 10 + 3);
  int strided = 0;
  for (const auto& c : en.feasible)
    if (c.plan.order == "tp-cp-ep-pp-dp") {
      ++strided;
      CHECK(c.plan.pp > 1);
      CHECK(c.plan.dp > 1);
    }
  CHECK(strided == 3);
  CHECK(strategy::effective_order(strategy::parse_plan("tp=2 pp=2 dp=2 order=tp-cp-ep-pp-dp"), "tp-cp-ep-pp-dp") ==
        "tp-pp-dp");
  CHECK(strategy::effective_order(strategy::parse_plan("tp=8 pp=1 dp=4"), "tp-cp-ep-dp-pp") == "tp-dp");
}

TEST_CASE("search: infeasible plans come with their reason") {
  Fixture f;
  const auto pb = f.pb();
  CHECK(strategy::check_plan(pb, test::plan(3, 1, 1))->first == "gpus mismatch");
  f.model.heads = 6;
  f.model.kv_heads = 6;
  CHECK(strategy::check_plan(f.pb(), test::plan(4, 1, 2))->first == "tp does not divide heads");
  Fixture g;
  g.training.global_batch = 3;
  CHECK(strategy::check_plan(g.pb(), test::plan(1, 1, 8))->first == "batch does not divide");
  auto p = test::plan(1, 2, 4);
  p.vpp = 2;
  CHECK(strategy::check_plan(Fixture{}.pb(), p)->first == "vpp needs the interleaved schedule");
  Fixture big;
  big.model = test::gpt(96, 12288, 96, 2048);
  big.training = test::training(64);
  const auto oom = strategy::check_plan(big.pb(), test::plan(1, 1, 8));
  REQUIRE(oom);
  CHECK(oom->first == "out of memory");
  CHECK(oom->second.find("GiB") != std::string::npos);
  // The shortfall: what the stage needs less the GPU's memory.
  const auto mem = strategy::plan_memory(big.model, big.training, test::plan(1, 1, 8), big.cluster.gpu.reserved_memory);
  char shortfall[64];
  std::snprintf(shortfall, sizeof shortfall, "%.1f GiB short", (mem.peak.total() - big.cluster.gpu.memory).value() / sim::kGiB);
  CHECK(oom->second.find(shortfall) != std::string::npos);
  CHECK(strategy::check_plan(big.pb(), test::plan(16, 1, 1), true)->first == "gpus mismatch");
}

TEST_CASE("search: the lower-bound pruning keeps the exact analytical top plans") {
  Fixture f;
  f.cluster = test::test_cluster(16);
  f.model = test::gpt(16, 2048, 16, 1024);
  f.training = test::training(64, 1024);
  strategy::SearchOptions all;
  all.use_simgrid = false;
  all.finalists = 100000;  // screens everything
  const auto full = strategy::search(f.pb(), {}, all);
  CHECK(full.stats.bounded == 0);
  strategy::SearchOptions pruned = all;
  pruned.finalists = 3;
  const auto fast = strategy::search(f.pb(), {}, pruned);
  CHECK(fast.stats.bounded > 0);
  CHECK(fast.stats.screened < full.stats.screened);
  for (int i = 0; i < 3; ++i) {
    CHECK(fast.ranked[static_cast<std::size_t>(i)].plan == full.ranked[static_cast<std::size_t>(i)].plan);
    CHECK(fast.ranked[static_cast<std::size_t>(i)].step_time().value() ==
          full.ranked[static_cast<std::size_t>(i)].step_time().value());
  }
  for (std::size_t i = 1; i < full.ranked.size(); ++i)
    CHECK(full.ranked[i - 1].step_time() <= full.ranked[i].step_time());
}

TEST_CASE("search: finalists are replayed on SimGrid and ranked by it") {
  Fixture f;
  f.cluster = test::test_cluster(16);
  strategy::SearchOptions opt;
  opt.finalists = 2;
  opt.jobs = 2;
  const auto r = strategy::search(f.pb(), {}, opt);
  CHECK(r.stats.simulated == 2);
  REQUIRE(r.ranked.size() >= 2);
  CHECK(r.ranked[0].backend == "simgrid");
  CHECK(r.ranked[1].backend == "simgrid");
  CHECK(r.ranked[0].step_time() <= r.ranked[1].step_time());
  // A result survives the trip through a child process exactly.
  const auto back = strategy::deserialize(strategy::serialize(r.ranked[0]), r.ranked[0].plan, r.ranked[0].memory);
  CHECK(back.step_time().value() == r.ranked[0].step_time().value());
  CHECK(back.breakdown.mean.idle.value() == r.ranked[0].breakdown.mean.idle.value());
  CHECK(back.breakdown.per_gpu.size() == r.ranked[0].breakdown.per_gpu.size());
}

TEST_CASE("search: plans that cannot use cp, ep, shard, TP overlap, ZB-H1 or rc_layers say why") {
  Fixture f;
  auto reason = [&](const std::string& plan) {
    const auto why = strategy::check_plan(f.pb(), strategy::parse_plan(plan));
    return why ? why->first : std::string("ok");
  };
  CHECK(reason("tp=1 pp=1 dp=8") == "ok");
  CHECK(reason("tp=1 cp=2 pp=1 dp=4") == "cp needs fused attention");  // the fixture trains unfused
  CHECK(reason("tp=1 pp=1 dp=8 ep=2") == "ep needs a MoE model");
  CHECK(reason("tp=1 pp=1 dp=8 shard=4") == "shard needs ZeRO");
  CHECK(reason("tp=1 pp=1 dp=8 zero=3 shard=3") == "shard does not divide dp x cp");
  CHECK(reason("tp=1 pp=1 dp=8 zero=3 shard=4") == "ok");
  CHECK(reason("tp=1 pp=1 dp=8 tpo=on") == "tp overlap needs tp > 1");
  CHECK(reason("tp=1 pp=1 dp=8 schedule=zb-h1") == "zb-h1 needs pp >= 2");
  CHECK(reason("tp=1 pp=2 dp=4 schedule=zb-h1") == "ok");
  CHECK(reason("tp=1 pp=1 dp=8 rc_layers=2") == "rc_layers needs recompute=full");
  CHECK(reason("tp=1 pp=1 dp=8 recompute=full rc_layers=8") == "rc_layers covers every layer");
  CHECK(reason("tp=1 pp=1 dp=8 recompute=full rc_layers=2") == "ok");
  CHECK(reason("tp=1 cp=3 pp=1 dp=1") == "gpus mismatch");

  f.training.attention = strategy::AttentionKernel::flash;
  CHECK(reason("tp=1 cp=2 pp=1 dp=4") == "ok");
  CHECK(reason("tp=8 cp=1 pp=1 dp=1") == "ok");
  CHECK(reason("tp=4 cp=2 pp=1 dp=1 cp_comm=a2a") == "ok");  // 8 heads / 4 = 2 per rank, split in 2
  CHECK(reason("tp=2 cp=4 pp=1 dp=1 cp_comm=a2a") == "ok");
  f.model.heads = f.model.kv_heads = 4;
  f.model.hidden = 1024;
  CHECK(reason("tp=2 cp=4 pp=1 dp=1 cp_comm=a2a") == "cp does not divide the heads");
  f.training.seq_len = 500;
  CHECK(reason("tp=1 cp=8 pp=1 dp=1") == "cp does not divide the sequence");

  // MoE: ep must divide the experts and the data-parallel size.
  Fixture g;
  g.model.activation = strategy::Activation::swiglu;
  g.model.experts = 4;
  g.model.top_k = 1;
  g.model.moe_ffn = 1024;
  auto r = [&](const std::string& plan) {
    const auto why = strategy::check_plan(g.pb(), strategy::parse_plan(plan));
    return why ? why->first : std::string("ok");
  };
  CHECK(r("tp=1 pp=1 dp=8 ep=4") == "ok");
  CHECK(r("tp=1 pp=1 dp=8 ep=8") == "ep does not divide experts");
  CHECK(r("tp=2 pp=2 dp=2 ep=4") == "ep does not divide dp");
}

TEST_CASE("search: cp, ep and the sharding group are enumerated where they apply") {
  Fixture f;
  f.training.attention = strategy::AttentionKernel::flash;
  f.training.seq_len = 8192;
  auto sp = fixed_except_shape();
  sp.tp.values = {1};
  sp.pp.values = {1};
  sp.min_cp_tokens = 2048;  // cp up to 4 for 8,192 tokens
  auto en = strategy::enumerate_plans(f.pb(), sp);
  std::set<int> cps;
  for (const auto& c : en.feasible) cps.insert(c.plan.cp);
  CHECK(cps == std::set<int>{1, 2, 4});
  // Both CP variants for every cp > 1: (cp=1) + 2 x (cp=2) + 2 x (cp=4).
  CHECK(en.enumerated == 1 + 2 + 2);

  // ZeRO-3 tries hybrid sharding over a node beside full sharding once dp x cp spans nodes.
  f.cluster = test::test_cluster(16);
  sp.cp.values = {1};
  sp.zero.values = {3};
  en = strategy::enumerate_plans(f.pb(), sp);
  std::set<int> shards;
  for (const auto& c : en.feasible) shards.insert(c.plan.shard);
  CHECK(shards == std::set<int>{0, 8});

  // A MoE model tries every ep that divides dp and the experts.
  f.model.activation = strategy::Activation::swiglu;
  f.model.experts = 4;
  f.model.top_k = 2;
  f.model.moe_ffn = 1024;
  sp.zero.values = {1};
  en = strategy::enumerate_plans(f.pb(), sp);
  std::set<int> eps;
  for (const auto& c : en.feasible) eps.insert(c.plan.ep);
  CHECK(eps == std::set<int>{1, 2, 4});
}

TEST_CASE("search: a finalist whose replay fails is reported as failed, never ranked on its analytical time") {
  Fixture f;
  auto sp = fixed_except_shape();
  strategy::SearchOptions opt;
  opt.finalists = 3;
  opt.jobs = 2;
  opt.use_simgrid = true;
  const strategy::SearchResult good = strategy::search(f.pb(), sp, opt);
  REQUIRE(good.complete());
  REQUIRE(good.stats.simulated == 3);
  REQUIRE(good.ranked.size() > 3);

  // No SimGrid replay finishes in a microsecond: every finalist times out and is killed.
  opt.replay_timeout_s = 1e-6;
  const strategy::SearchResult s = strategy::search(f.pb(), sp, opt);
  CHECK_FALSE(s.complete());
  CHECK(s.stats.simulated == 0);
  CHECK(s.stats.failed == 3);
  REQUIRE(s.failed.size() == 3);
  REQUIRE(s.stats.errors.size() == 3);
  std::set<std::string> failed;
  for (const auto& fp : s.failed) {
    CHECK(fp.backend == "simgrid");
    CHECK(fp.error.find("timed out") != std::string::npos);
    REQUIRE(fp.analytical.has_value());
    failed.insert(fp.plan.to_string());
  }
  // The failed plans are the three analytically best ones, and none of them is in the ranking.
  CHECK(s.ranked.size() + 3 == good.ranked.size());
  for (const auto& r : s.ranked) {
    CHECK(r.backend == "analytical");
    CHECK(failed.count(r.plan.to_string()) == 0);
  }
}
