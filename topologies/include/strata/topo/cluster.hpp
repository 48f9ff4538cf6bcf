#pragma once
// Cluster specifications: GPUs, nodes, scale-up and scale-out networks, collective constants.

#include <string>

#include "strata/sim/network.hpp"
#include "strata/topo/gpu.hpp"

namespace strata::topo {

/// Scale-up domain: GPUs of a node behind NVSwitch.
struct ScaleUp {
  ByteRate bandwidth;  ///< per GPU, bytes/s per direction
  Seconds latency;     ///< per collective step, s
};

/// Scale-out network: NICs of every node into a fabric (non-blocking fat tree).
struct ScaleOut {
  int nics_per_node = 0;
  ByteRate nic_bandwidth;   ///< line rate of one NIC, bytes/s per direction
  double efficiency = 1.0;  ///< fraction of line rate NCCL moves (encoding, headers)
  Seconds latency;          ///< per collective step across nodes, s
  std::string fabric = "fat-tree";  ///< only non-blocking fat trees are modelled
};

/// NCCL-like collective constants, measured once (nccl-tests).
struct CollectiveConstants {
  Seconds launch;           ///< fixed cost per collective, s
  double reduction_passes = 0;  ///< HBM passes per buffer byte for local copy/reduce
  Seconds p2p_launch;       ///< fixed cost per point-to-point transfer, s
};

/// A homogeneous cluster sized by its GPU count.
struct ClusterSpec {
  std::string name;
  GpuSpec gpu;
  int gpus = 0;
  int gpus_per_node = 0;
  ScaleUp scale_up;
  ScaleOut scale_out;
  CollectiveConstants collectives;

  /// Nodes in the cluster.
  [[nodiscard]] int nodes() const { return gpus / gpus_per_node; }
  /// Scale-out bandwidth one GPU gets when every GPU of its node sends at once, bytes/s.
  [[nodiscard]] ByteRate scale_out_per_gpu() const;
  /// The network as the replay backends see it.
  [[nodiscard]] sim::NetworkSpec network() const;
  /// Throws std::invalid_argument naming the first impossible field.
  void check() const;
};

}  // namespace strata::topo
