// The bundled scenarios that show off one dimension each: the dimension wins (or is the only way
// to fit), and taking it away from the search costs what the ranking says.

#include <doctest/doctest.h>

#include <string>

#include "strata/scenario/loader.hpp"
#include "strata/strategy/search.hpp"
#include "support.hpp"

using namespace strata;

namespace {

struct Ranked {
  strategy::SearchResult result;
  [[nodiscard]] const strategy::PlanResult& best() const { return result.ranked.front(); }
};

// Ranks a bundled scenario with `edit` applied to its search space (SimGrid finalists).
template <class Edit>
Ranked rank(const char* file, Edit edit) {
  auto sc = scenario::load_scenario(test::source_dir() / "scenarios" / file,
                                    scenario::DataDirs::under(test::source_dir()));
  edit(sc.search);
  const strategy::RooflineCost cost(sc.cluster.gpu, sc.training.precision);
  const strategy::Problem pb{sc.model, sc.training, sc.cluster, &cost};
  strategy::SearchOptions o;
  o.finalists = 3;
  return {strategy::search(pb, sc.search, o)};
}

void keep(strategy::SearchSpace&) {}

}  // namespace

TEST_CASE("scenarios: at 128K tokens context parallelism wins over splitting the sequence with TP") {
  const Ranked with = rank("llama3-8b-128k-64xh100.yaml", keep);
  const Ranked without = rank("llama3-8b-128k-64xh100.yaml", [](auto& s) { s.cp.values = {1}; });
  REQUIRE(!with.result.ranked.empty());
  REQUIRE(!without.result.ranked.empty());
  INFO(with.best().plan.to_string() << " vs " << without.best().plan.to_string());
  CHECK(with.best().plan.cp > 1);
  CHECK(with.best().step_time().value() < 0.95 * without.best().step_time().value());
  // Without CP, only plans that shard the sequence over TP (sequence parallelism) or pipeline it fit.
  CHECK(without.best().plan.tp * without.best().plan.pp > 1);
}

TEST_CASE("scenarios: Mixtral 8x7B trains fastest with expert parallelism") {
  const Ranked with = rank("mixtral-8x7b-128xh100.yaml", keep);
  const Ranked without = rank("mixtral-8x7b-128xh100.yaml", [](auto& s) { s.ep.values = {1}; });
  REQUIRE(!with.result.ranked.empty());
  REQUIRE(!without.result.ranked.empty());
  INFO(with.best().plan.to_string() << " vs " << without.best().plan.to_string());
  CHECK(with.best().plan.ep > 1);
  CHECK(with.best().step_time().value() < 0.95 * without.best().step_time().value());
  CHECK(with.best().breakdown.mean.exposed_ep.value() > 0);
}

TEST_CASE("scenarios: Llama 3 70B on 16 A100s fits only with ZeRO-3 or full recomputation") {
  const auto sc = scenario::load_scenario(test::source_dir() / "scenarios" / "llama3-70b-16xa100.yaml",
                                          scenario::DataDirs::under(test::source_dir()));
  const strategy::RooflineCost cost(sc.cluster.gpu, sc.training.precision);
  const auto en = strategy::enumerate_plans({sc.model, sc.training, sc.cluster, &cost}, sc.search);
  REQUIRE(!en.feasible.empty());
  for (const auto& c : en.feasible) {
    INFO(c.plan.to_string());
    CHECK((c.plan.zero == 3 || c.plan.recompute == strategy::Recompute::full));
  }
  CHECK(!rank("llama3-70b-16xa100.yaml", keep).result.ranked.empty());
  const Ranked neither = rank("llama3-70b-16xa100.yaml", [](auto& s) {
    s.zero.values = {0, 1, 2};
    s.recompute = {strategy::Recompute::none, strategy::Recompute::selective};
  });
  CHECK(neither.result.ranked.empty());
  CHECK(neither.result.stats.infeasible.at("out of memory") > 0);
}
