#pragma once
// What the replay backends need to know about a cluster's network: per-GPU port bandwidths and
// the constants of the NCCL-like collective cost model. Built by topologies/ from a cluster spec.

#include <string>

#include "strata/sim/units.hpp"

namespace strata::sim {

/// Network of a homogeneous cluster, seen from one GPU. All bandwidths are per direction.
///
/// Every GPU has two ports: a scale-up port into its node's switch (NVLink/NVSwitch) and a
/// scale-out port into a non-blocking fabric (InfiniBand/RoCE). When a node has fewer NICs than
/// GPUs, `scale_out_bw` is the GPU's share of the node's NIC bandwidth.
struct NetworkSpec {
  int gpus = 0;           ///< GPUs in the cluster
  int gpus_per_node = 0;  ///< GPUs behind one scale-up switch
  ByteRate scale_up_bw;   ///< per-GPU scale-up bandwidth, bytes/s per direction
  Seconds scale_up_latency;    ///< one step of a collective inside a node, s
  ByteRate scale_out_bw;       ///< per-GPU scale-out bandwidth, bytes/s per direction
  Seconds scale_out_latency;   ///< one step of a collective across nodes, s
  Seconds collective_launch;   ///< fixed cost of launching and synchronising a collective, s
  ByteRate reduction_bw;       ///< local copy/reduce throughput of a collective's buffer, bytes/s
  Seconds p2p_launch;          ///< fixed cost of one point-to-point transfer, s

  /// Node index of global GPU rank `gpu`.
  [[nodiscard]] int node_of(int gpu) const { return gpu / gpus_per_node; }
  /// Nodes in the cluster (rounded up).
  [[nodiscard]] int nodes() const { return (gpus + gpus_per_node - 1) / gpus_per_node; }
  /// Throws std::invalid_argument naming the first field that is not positive.
  void check() const;
};

}  // namespace strata::sim
