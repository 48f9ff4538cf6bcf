#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "strata/scenario/loader.hpp"
#include "strata/sim/collective.hpp"
#include "support.hpp"

using namespace strata;

// The bundled DGX A100 preset against nccl-tests all-reduce on 2-8 A100s in one node
// (shared/validation/vtrain/nccl-allreduce-a100, 1 MiB to 1 GiB in 1 MiB steps, two runs per
// size): within 10% of the measured time from 8 MiB up and 25% from 1 MiB, for every GPU count.
TEST_CASE("nccl: the A100 preset predicts nccl-tests all-reduce within 10% from 8 MiB, 25% from 1 MiB") {
  const auto dirs = scenario::DataDirs::under(test::source_dir());
  const auto dir = test::validation_dir() / "vtrain" / "nccl-allreduce-a100";
  for (int g = 2; g <= 8; ++g) {
    const topo::ClusterSpec cluster = scenario::load_cluster(dirs.clusters / "dgx-a100-hdr.yaml", dirs, g);
    const sim::NetworkSpec net = cluster.network();
    std::ifstream in(dir / ("allreduce_" + std::to_string(g) + "gpu.csv"));
    REQUIRE(in);
    std::string line;
    std::getline(in, line);
    double sum = 0, worst_small = 0, worst_large = 0;
    int count = 0;
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::stringstream ss(line);
      std::string x;
      while (std::getline(ss, x, ',')) f.push_back(x);
      const double bytes = std::stod(f[0]);
      const double measured = (std::stod(f[3]) + std::stod(f[5])) / 2 * 1e-9;
      const auto cost = sim::lower({sim::CollectiveOp::all_reduce, sim::Bytes(bytes), {g, g}}, net);
      CHECK(cost.algorithm == sim::Algorithm::ring);
      const double err = std::fabs(sim::isolated_time(cost, net).value() - measured) / measured;
      sum += err;
      (bytes >= 8 * sim::kMiB ? worst_large : worst_small) = std::max(bytes >= 8 * sim::kMiB ? worst_large : worst_small, err);
      ++count;
    }
    INFO("gpus=" << g << " mean error " << sum / count << ", worst below 8 MiB " << worst_small
                 << ", worst from 8 MiB " << worst_large);
    CHECK(count == 1024);
    CHECK(sum / count < 0.04);
    CHECK(worst_large <= 0.10);
    CHECK(worst_small <= 0.25);
  }
}
