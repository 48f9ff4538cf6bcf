#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

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

TEST_CASE("cluster and gpu: NaN, infinity and magnitudes outside the ranges are rejected for specs built in code") {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<std::string, std::function<void(topo::ClusterSpec&)>>> bad{
      {"memory_bandwidth", [&](topo::ClusterSpec& c) { c.gpu.memory_bw = sim::ByteRate(nan); }},
      {"memory_bandwidth", [&](topo::ClusterSpec& c) { c.gpu.memory_bw = sim::ByteRate(1e300); }},
      {"nvlink", [&](topo::ClusterSpec& c) { c.gpu.nvlink_bw = sim::ByteRate(1e-300); }},
      {"memory must", [&](topo::ClusterSpec& c) { c.gpu.memory = sim::Bytes(inf); }},
      {"peak rates", [&](topo::ClusterSpec& c) { c.gpu.peak[static_cast<int>(topo::Precision::bf16)] = sim::FlopRate(inf); }},
      {"efficiency.matmul", [&](topo::ClusterSpec& c) { c.gpu.matmul_efficiency = nan; }},
      {"kernel_overhead", [&](topo::ClusterSpec& c) { c.gpu.kernel_overhead = sim::Seconds(inf); }},
      {"host_overhead", [&](topo::ClusterSpec& c) { c.gpu.host_overhead = sim::Seconds(-1); }},
      {"sms", [&](topo::ClusterSpec& c) { c.gpu.sms = 1 << 20; }},
      {"gpus must", [&](topo::ClusterSpec& c) { c.gpus = (1 << 20) + 8; }},
      {"gpus_per_node", [&](topo::ClusterSpec& c) { c.gpus_per_node = 4096; }},
      {"nic_bandwidth", [&](topo::ClusterSpec& c) { c.scale_out.nic_bandwidth = sim::ByteRate(1e300); }},
      {"scale_out.latency", [&](topo::ClusterSpec& c) { c.scale_out.latency = sim::Seconds(nan); }},
      {"scale_up.bandwidth", [&](topo::ClusterSpec& c) { c.scale_up.bandwidth = sim::ByteRate(inf); }},
      {"scale_up.efficiency", [&](topo::ClusterSpec& c) { c.scale_up.efficiency = nan; }},
      {"nvls_efficiency", [&](topo::ClusterSpec& c) { c.scale_up.nvls_efficiency = nan; }},
      {"oversubscription", [&](topo::ClusterSpec& c) { c.scale_out.oversubscription = nan; }},
      {"oversubscription", [&](topo::ClusterSpec& c) { c.scale_out.oversubscription = inf; }},
      {"switch_radix", [&](topo::ClusterSpec& c) { c.scale_out.switch_radix = 100000; }},
      {"planes", [&](topo::ClusterSpec& c) { c.scale_out.planes = 1000; }},
      {"nics_per_node", [&](topo::ClusterSpec& c) { c.scale_out.nics_per_node = 5000; }},
      {"NICs exceed", [&](topo::ClusterSpec& c) { c.gpus = 1 << 20, c.gpus_per_node = 1, c.scale_out.nics_per_node = 8; }},
      {"reduction_passes", [&](topo::ClusterSpec& c) { c.collectives.reduction_passes = inf; }},
      {"reduction_passes", [&](topo::ClusterSpec& c) { c.collectives.reduction_passes = 1e-300; }},
      {"loop_bytes", [&](topo::ClusterSpec& c) { c.collectives.loop_bytes = sim::Bytes(nan); }},
      {"loop_bytes", [&](topo::ClusterSpec& c) { c.collectives.loop_bytes = sim::Bytes(0.25); }},
      {"partial_loop_efficiency", [&](topo::ClusterSpec& c) { c.collectives.partial_loop_efficiency = nan; }},
      {"collectives.launch", [&](topo::ClusterSpec& c) { c.collectives.launch = sim::Seconds(1e-300); }},
      {"printable", [&](topo::ClusterSpec& c) { c.name = std::string("a\nb"); }},
  };
  REQUIRE_NOTHROW(test::test_cluster(64).check());
  for (const auto& b : bad) {
    INFO(b.first);
    topo::ClusterSpec c = test::test_cluster(64);
    b.second(c);
    CHECK_THROWS_WITH_AS(c.check(), doctest::Contains(b.first.c_str()), std::invalid_argument);
  }
  // Zero where zero means "none" stays accepted.
  topo::ClusterSpec z = test::test_cluster(64);
  z.collectives.loop_bytes = sim::Bytes(0);
  z.scale_up.latency = sim::Seconds(0);
  z.scale_up.nvls_efficiency = 0;
  CHECK_NOTHROW(z.check());
}

TEST_CASE("text: printable escapes control characters and clips at a character boundary") {
  CHECK(topo::printable("plain") == "plain");
  CHECK(topo::printable(std::string("a\0b\n\t\r\x7f", 7), 0) == "a\\0b\\n\\t\\r\\x7f");
  CHECK(topo::printable("\xc3\xa9\xc3\xa9", 3) == "\xc3\xa9...");  // not cut inside the second é
  CHECK(topo::printable("\xed\xa0\x80", 0) == "\\xed\\xa0\\x80");  // a UTF-16 surrogate is not UTF-8
  CHECK(topo::printable(std::string(1000, 'x')).size() == 83);
  CHECK(topo::clean_text("H100 \xc3\xa9"));
  CHECK_FALSE(topo::clean_text("a\tb"));
  CHECK_FALSE(topo::clean_text("\xff"));
}
