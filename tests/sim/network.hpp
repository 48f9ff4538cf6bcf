#pragma once
// The network the sim tests run on: 8 GPUs per node, 300 GB/s NVLink, 25 GB/s per GPU to the
// fabric, round latencies.

#include "strata/sim/network.hpp"

namespace strata::test {

inline sim::NetworkSpec network(int gpus = 16) {
  sim::NetworkSpec n;
  n.gpus = gpus;
  n.gpus_per_node = 8;
  n.scale_up_bw = sim::ByteRate(300e9);
  n.scale_up_latency = sim::Seconds(2e-6);
  n.scale_out_bw = sim::ByteRate(25e9);
  n.scale_out_latency = sim::Seconds(5e-6);
  n.collective_launch = sim::Seconds(40e-6);
  n.reduction_bw = sim::ByteRate(500e9);
  n.p2p_launch = sim::Seconds(10e-6);
  return n;
}

}  // namespace strata::test
