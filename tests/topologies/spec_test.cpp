#include <doctest/doctest.h>

#include <stdexcept>

#include "fixtures.hpp"
#include "support.hpp"
#include "strata/topo/cluster.hpp"

using namespace strata;

TEST_CASE("cluster: a GPU's scale-out share is its node's NIC bandwidth over its GPUs") {
  topo::ClusterSpec c = test::test_cluster(64);
  c.scale_out.nics_per_node = 4;
  c.scale_out.nic_bandwidth = sim::ByteRate(100e9 / 8);  // 4 x 100 Gb/s, like Omni-Path nodes
  c.scale_out.efficiency = 0.9;
  CHECK(c.scale_out_per_gpu().value() == doctest::Approx(4 * 12.5e9 * 0.9 / 8));
  const sim::NetworkSpec n = c.network();
  CHECK(n.scale_out_bw.value() == doctest::Approx(c.scale_out_per_gpu().value()));
  CHECK(n.reduction_bw.value() == doctest::Approx(2e12 / 4.0));
  CHECK(n.node_of(15) == 1);
  CHECK(n.nodes() == 8);
}

TEST_CASE("cluster: fewer GPUs than a node keeps a one-node network") {
  const topo::ClusterSpec c = test::test_cluster(2);
  CHECK(c.network().gpus_per_node == 2);
  CHECK_NOTHROW(c.check());
}

TEST_CASE("cluster: impossible values are rejected with the field's name") {
  topo::ClusterSpec c = test::test_cluster(64);
  c.scale_out.nic_bandwidth = sim::ByteRate(0);
  CHECK_THROWS_WITH_AS(c.check(), doctest::Contains("nic_bandwidth"), std::invalid_argument);
  c = test::test_cluster(60);
  CHECK_THROWS_WITH_AS(c.check(), doctest::Contains("multiple of gpus_per_node"), std::invalid_argument);
  c = test::test_cluster(64);
  c.gpu.matmul_efficiency = 1.5;
  CHECK_THROWS_WITH_AS(c.check(), doctest::Contains("efficiency.matmul"), std::invalid_argument);
  c = test::test_cluster(64);
  c.scale_out.oversubscription = 0.5;
  CHECK_THROWS_WITH_AS(c.check(), doctest::Contains("oversubscription"), std::invalid_argument);
}

TEST_CASE("gpu: precisions without matrix units are reported") {
  const topo::GpuSpec g = test::test_gpu();
  CHECK(g.supports(topo::Precision::bf16));
  CHECK_FALSE(g.supports(topo::Precision::fp8));
  CHECK_THROWS_AS((void)g.peak_at(topo::Precision::fp8), std::invalid_argument);
  CHECK(topo::parse_precision("bf16") == topo::Precision::bf16);
  CHECK_FALSE(topo::parse_precision("int4").has_value());
}
