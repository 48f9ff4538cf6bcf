#include <doctest/doctest.h>

#include <stdexcept>

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
