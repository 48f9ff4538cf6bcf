#include <doctest/doctest.h>

#include <stdexcept>

#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "network.hpp"
#include "strata/sim/collective.hpp"
#include "support.hpp"

using namespace strata::sim;

namespace {
NetworkSpec net() { return strata::test::network(1024); }
}  // namespace

TEST_CASE("collective: ring all-reduce moves 2(n-1)/n of the buffer per rank") {
  for (int n : {2, 3, 4, 8}) {
    const auto c = lower({CollectiveOp::all_reduce, Bytes(1e9), {n, n}}, net());
    CHECK(c.load.scale_up.value() == doctest::Approx(2.0 * (n - 1) / n * 1e9));
    CHECK(c.load.scale_out.value() == 0.0);
    CHECK(c.steps == 2 * (n - 1));
  }
}

TEST_CASE("collective: across nodes a member's NIC carries 1/g of what it sends") {
  // 32 ranks, 8 per node: each rank sends 2*31/32 S; 7/8 of it stays on NVLink.
  const auto c = lower({CollectiveOp::all_reduce, Bytes(1e9), {32, 8}}, net());
  const double sent = 2.0 * 31 / 32 * 1e9;
  CHECK(c.load.scale_up.value() == doctest::Approx(sent * 7 / 8));
  CHECK(c.load.scale_out.value() == doctest::Approx(sent / 8));
  // One rank per node: everything crosses the NIC.
  const auto rail = lower({CollectiveOp::all_reduce, Bytes(1e9), {16, 1}}, net());
  CHECK(rail.load.scale_up.value() == 0.0);
  CHECK(rail.load.scale_out.value() == doctest::Approx(2.0 * 15 / 16 * 1e9));
}

TEST_CASE("collective: all-gather and reduce-scatter move (n-1)/n; together they equal an all-reduce") {
  const auto ag = lower({CollectiveOp::all_gather, Bytes(8e8), {8, 8}}, net());
  const auto rs = lower({CollectiveOp::reduce_scatter, Bytes(8e8), {8, 8}}, net());
  const auto ar = lower({CollectiveOp::all_reduce, Bytes(8e8), {8, 8}}, net());
  CHECK(ag.load.scale_up.value() == doctest::Approx(7.0 / 8 * 8e8));
  CHECK((ag.load.scale_up + rs.load.scale_up).value() == doctest::Approx(ar.load.scale_up.value()));
  CHECK(ag.steps + rs.steps == ar.steps);
}

TEST_CASE("collective: a one-rank group and an empty buffer cost nothing") {
  const auto one = lower({CollectiveOp::all_reduce, Bytes(1e9), {1, 1}}, net());
  CHECK(isolated_time(one, net()).value() == 0.0);
  const auto empty = lower({CollectiveOp::all_gather, Bytes(0), {8, 8}}, net());
  CHECK(isolated_time(empty, net()).value() == 0.0);
  CHECK(p2p_time(Bytes(0), false, net()).value() == 0.0);
}

TEST_CASE("collective: isolated time is latency plus the slower port") {
  const NetworkSpec n = net();
  const auto c = lower({CollectiveOp::all_reduce, Bytes(1e9), {16, 8}}, n);
  const double sent = 2.0 * 15 / 16 * 1e9;
  const double up = sent * 7 / 8 / 300e9, out = sent / 8 / 25e9;
  const double fixed = 40e-6 + 30 * 5e-6 + 1e9 / 500e9;
  CHECK(isolated_time(c, n).value() == doctest::Approx(fixed + std::max(up, out)));
  CHECK(p2p_time(Bytes(25e6), false, n).value() == doctest::Approx(10e-6 + 5e-6 + 1e-3));
  CHECK(p2p_time(Bytes(30e6), true, n).value() == doctest::Approx(10e-6 + 2e-6 + 1e-4));
}

TEST_CASE("collective: inconsistent group shapes are rejected") {
  CHECK_THROWS_AS(lower({CollectiveOp::all_reduce, Bytes(1), {12, 8}}, net()), std::invalid_argument);
  CHECK_THROWS_AS(lower({CollectiveOp::all_reduce, Bytes(1), {0, 1}}, net()), std::invalid_argument);
}

// The bundled A100 constants against nccl-tests all-reduce on 2-8 A100s in one node
// (shared/validation/vtrain/nccl-allreduce-a100): the model must track the measured curve.
TEST_CASE("collective: A100 all-reduce matches nccl-tests within 5% on average, 30% at worst") {
  NetworkSpec n = net();
  n.scale_up_bw = ByteRate(300e9);  // NVLink 3, per direction
  n.scale_up_latency = Seconds(2.45e-6);
  n.collective_launch = Seconds(41e-6);
  n.reduction_bw = ByteRate(2039e9 / 3.78);
  const auto dir = strata::test::validation_dir() / "vtrain" / "nccl-allreduce-a100";
  for (int g = 2; g <= 8; ++g) {
    std::ifstream in(dir / ("allreduce_" + std::to_string(g) + "gpu.csv"));
    REQUIRE(in);
    std::string line;
    std::getline(in, line);
    double sum = 0, worst = 0;
    int count = 0;
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::stringstream ss(line);
      std::string x;
      while (std::getline(ss, x, ',')) f.push_back(x);
      const double bytes = std::stod(f[0]);
      const double measured = (std::stod(f[3]) + std::stod(f[5])) / 2 * 1e-9;
      const auto c = lower({CollectiveOp::all_reduce, Bytes(bytes), {g, g}}, n);
      const double err = std::fabs(isolated_time(c, n).value() - measured) / measured;
      sum += err;
      worst = std::max(worst, err);
      ++count;
    }
    INFO("gpus=" << g << " mean error " << sum / count << " worst " << worst);
    CHECK(count > 1000);
    CHECK(sum / count < 0.05);
    CHECK(worst < 0.30);
  }
}
