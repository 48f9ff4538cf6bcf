#include <doctest/doctest.h>

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/strategy/plan.hpp"

using namespace strata::strategy;

TEST_CASE("plan: the text form round-trips") {
  Plan p{8, 8, 16, 1, 2, true, Recompute::selective, 1, Schedule::interleaved};
  const std::string s = p.to_string();
  CHECK(s == "tp=8 pp=8 dp=16 mbs=1 vpp=2 sp=on recompute=selective zero=1 schedule=interleaved-1f1b");
  CHECK(parse_plan(s) == p);
  CHECK(parse_plan("schedule=gpipe pp=4 tp=2") == Plan{2, 4, 1, 1, 1, false, Recompute::none, 0, Schedule::gpipe});
}

TEST_CASE("plan: bad text names the key") {
  CHECK_THROWS_WITH_AS(parse_plan("tp=x"), doctest::Contains("tp=x"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("xp=2"), doctest::Contains("unknown key 'xp'"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("cp_comm=tree"), doctest::Contains("cp_comm=tree"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("ep=0"), doctest::Contains("ep must be at least 1"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("zero=4"), doctest::Contains("zero"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("recompute=some"), doctest::Contains("recompute"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("tp=0"), doctest::Contains("at least 1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_plan(""), std::invalid_argument);
  CHECK_THROWS_AS(parse_plan("tp"), std::invalid_argument);
}

TEST_CASE("plan: micro-batches per step") {
  Plan p{1, 1, 16, 2};
  CHECK(p.microbatches(1536) == 48);
  CHECK(p.microbatches(1000) == 0);
}

TEST_CASE("plan: uneven layer splits give the extra layers to middle stages") {
  CHECK(virtual_stage_layers(96, 8, 1) == std::vector<int>(8, 12));
  CHECK(virtual_stage_layers(70, 12, 1) == std::vector<int>{5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5});
  CHECK(virtual_stage_layers(5, 2, 1) == std::vector<int>{2, 3});
  CHECK(virtual_stage_layers(7, 2, 2) == std::vector<int>{1, 2, 2, 2});
  CHECK_THROWS_AS(virtual_stage_layers(3, 2, 2), std::invalid_argument);
  int total = 0;
  for (int n : virtual_stage_layers(126, 8, 2)) total += n;
  CHECK(total == 126);
}

TEST_CASE("plan: a key given twice is an error, aliases included") {
  CHECK_THROWS_WITH_AS(parse_plan("tp=2 tp=4"), doctest::Contains("plan: key 'tp' given twice"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("mbs=1 micro_batch=2"), doctest::Contains("key 'mbs' given twice"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("tpo=on tp_overlap=off"), doctest::Contains("key 'tpo' given twice"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("sp=on sp=on"), doctest::Contains("key 'sp' given twice"), std::invalid_argument);
}

TEST_CASE("plan: sizes are bounded and products never wrap") {
  CHECK_THROWS_WITH_AS(parse_plan("tp=65536 cp=65536"), doctest::Contains("tp x cp x pp x dp = 4294967296 GPUs is above 1048576"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("tp=2097152"), doctest::Contains("above 1048576"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("tp=99999999999"), doctest::Contains("tp=99999999999"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("pp=1024 vpp=1024"), doctest::Contains("pp x vpp = 1048576 model chunks"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_plan("rc_layers=70000"), doctest::Contains("above 65536"), std::invalid_argument);
  CHECK_THROWS_AS(parse_plan("tp=-1"), std::invalid_argument);
  CHECK(parse_plan("tp=1024 pp=1024").gpus() == 1048576);
  // Plans built in code: 64-bit products, saturating instead of wrapping.
  Plan p;
  p.tp = p.cp = p.pp = p.dp = 65536;
  CHECK(p.gpus() == INT64_MAX);
  p.tp = 65536, p.cp = 65536, p.pp = 1, p.dp = 1;
  CHECK(p.gpus() == 4294967296LL);
  CHECK(p.dp_cp() == 65536);
  p.dp = 65536;
  CHECK(p.dp_cp() == INT_MAX);
  // tp=4 dp=4 mbs=1073741832: dp x mbs wrapped to 32 in 32 bits and "divided" 1536.
  Plan w;
  w.tp = 4, w.dp = 4, w.micro_batch = 1073741832;
  CHECK(w.microbatches(1536) == 0);
  w.micro_batch = 8;
  CHECK(w.microbatches(1536) == 48);
  CHECK(w.microbatches(0) == 0);
  CHECK(w.microbatches(-32) == 0);
  CHECK_THROWS_AS(virtual_stage_layers(100, 65536, 65536), std::invalid_argument);  // pp x vpp wrapped to 0
  CHECK_THROWS_AS(virtual_stage_layers(100, 0, 4), std::invalid_argument);
}

TEST_CASE("plan: property: any string is a plan within bounds or std::invalid_argument") {
  std::uint64_t state = 7;
  const auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<unsigned>(state >> 33);
  };
  const std::vector<std::string> keys{"tp", "pp", "dp", "mbs", "vpp", "cp", "ep", "shard", "rc_layers", "zero", "sp",
                                      "tpo", "recompute", "schedule", "order", "cp_comm", "x", ""};
  const std::vector<std::string> values{"0", "1", "8", "1048576", "1048577", "4294967297", "-1", "on", "off",
                                        "full", "zb-h1", "tp-cp-ep-dp-pp", "ring", "", "1e3", "\x01", "99999999999999999999"};
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (unsigned n = next() % 5; n > 0; --n)
      s += keys[next() % keys.size()] + (next() % 8 ? "=" : "") + values[next() % values.size()] + " ";
    try {
      const Plan p = parse_plan(s);
      ++parsed;
      CHECK(p.gpus() >= 1);
      CHECK(p.gpus() <= kMaxPlanDimension);
      CHECK(static_cast<long long>(p.pp) * p.vpp <= kMaxPlanChunks);
      CHECK(parse_plan(p.to_string()) == p);
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).size() < 400);
    }
  }
  CHECK(parsed > 100);
}

TEST_CASE("plan: a context-parallel variant without context parallelism still round-trips") {
  // tests/fuzz/regressions/plan/cp-comm-without-cp: to_string dropped cp_comm when cp=1.
  const Plan p = parse_plan("cp_comm=a2a");
  CHECK(p.cp == 1);
  CHECK(p.cp_comm == CpComm::all_to_all);
  CHECK(parse_plan(p.to_string()) == p);
}
