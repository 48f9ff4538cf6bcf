// The A100 preset against vTrain's measured Megatron-DeepSpeed runs
// (shared/validation/vtrain: 1,440 single-node and 109 multi-node iteration times). The A100
// efficiencies were fitted to these runs by fit_vtrain (docs/modeling.md); this test keeps the
// fit honest.

#include <doctest/doctest.h>

#include "support.hpp"
#include "vtrain.hpp"

using namespace strata;

namespace {

test::vtrain::Error replay_file(const std::string& name, bool multi) {
  const auto dirs = scenario::DataDirs::under(test::source_dir());
  const auto runs = test::vtrain::read_runs(test::validation_dir() / "vtrain" / name, multi);
  const topo::ClusterSpec base = test::vtrain::cluster(dirs, multi);
  return test::vtrain::predict(runs, base, base.gpu);
}

}  // namespace

TEST_CASE("vtrain: single-node A100 runs within 10% on average") {
  const auto e = replay_file("ground_truth_single.csv", false);
  MESSAGE("single-node: " << e.runs << " runs, MAPE " << e.mape << " %, mean error " << e.bias << " %");
  CHECK(e.runs == 1440);
  CHECK(e.mape < 10.0);
  CHECK(std::fabs(e.bias) < 5.0);
}

TEST_CASE("vtrain: multi-node A100 runs within 10% on average") {
  const auto e = replay_file("ground_truth_multi.csv", true);
  MESSAGE("multi-node: " << e.runs << " runs, MAPE " << e.mape << " %, mean error " << e.bias << " %");
  CHECK(e.runs == 109);
  CHECK(e.mape < 10.0);
  CHECK(std::fabs(e.bias) < 6.0);
}
