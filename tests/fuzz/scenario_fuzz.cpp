// Fuzzes the scenario loader (scenario::load_scenario), then pushes what it accepts one stage on:
// the feasibility check and the compute lower bound of a few plans. A scenario that loads must
// never make them throw, nor give a feasible plan a bound that is not a finite positive time.
#include <cmath>
#include <string>
#include <vector>

#include "fuzz.hpp"
#include "strata/strategy/ops.hpp"
#include "strata/strategy/search.hpp"

using namespace strata;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = fuzz::as_file(data, size, "scenario.yaml");
  scenario::Scenario s;
  try {
    s = scenario::load_scenario(file, fuzz::data_dirs());
  } catch (const scenario::InputError&) {
    return 0;
  }
  const strategy::RooflineCost cost(s.cluster.gpu, s.training.precision);
  const strategy::Problem pb{s.model, s.training, s.cluster, &cost};
  // Pure data parallelism, TP over a node, and TP over a node with a two-stage pipeline.
  std::vector<strategy::Plan> plans;
  const int g = s.cluster.gpus, node = s.cluster.gpus_per_node;
  strategy::Plan p;
  p.dp = g;
  plans.push_back(p);
  if (node > 1 && g % node == 0) {
    p.tp = node;
    p.dp = g / node;
    p.sequence_parallel = true;
    plans.push_back(p);
    if (p.dp % 2 == 0) {
      p.pp = 2;
      p.dp /= 2;
      p.recompute = strategy::Recompute::selective;
      plans.push_back(p);
    }
  }
  for (const strategy::Plan& plan : plans) {
    if (strategy::check_plan(pb, plan)) continue;
    const double t = strategy::step_time_bound(pb, plan).value();
    if (!std::isfinite(t) || t <= 0)
      fuzz::finding("feasible plan " + plan.to_string() + " has a step-time bound of " + std::to_string(t) + " s");
  }
  return 0;
}
