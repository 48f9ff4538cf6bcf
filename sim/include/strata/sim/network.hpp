#pragma once
// What the replay backends need to know about a cluster's network: per-GPU port bandwidths and
// the constants of the NCCL-like collective cost model. Built by topologies/ from a cluster spec.

#include <memory>
#include <string>

#include "strata/sim/fabric.hpp"
#include "strata/sim/units.hpp"

namespace strata::sim {

/// Network of a homogeneous cluster, seen from one GPU. All bandwidths are per direction.
///
/// Every GPU has two ports: a scale-up port into its domain's switch (NVLink/NVSwitch) and a
/// scale-out port into the fabric (InfiniBand/RoCE). When a node has fewer NICs than GPUs,
/// `scale_out_bw` is the GPU's share of the node's NIC bandwidth. `fabric`, when set, holds the
/// switches above the NICs (oversubscription, rails); without it the fabric is non-blocking.
struct NetworkSpec {
  int gpus = 0;           ///< GPUs in the cluster
  int gpus_per_node = 0;  ///< GPUs behind one scale-up switch (the NVLink domain)
  ByteRate scale_up_bw;   ///< per-GPU scale-up bandwidth, bytes/s per direction
  Seconds scale_up_latency;    ///< one step of a collective inside a node, s
  ByteRate scale_out_bw;       ///< per-GPU scale-out bandwidth, bytes/s per direction
  Seconds scale_out_latency;   ///< one step of a collective across nodes, s
  Seconds collective_launch;   ///< fixed cost of launching and synchronising a collective, s
  ByteRate reduction_bw;       ///< local copy/reduce throughput of a collective's buffer, bytes/s
  Seconds p2p_launch;          ///< fixed cost of one point-to-point transfer, s
  ByteRate nvls_bw;            ///< per-GPU NVLS (NVSwitch reduction) bandwidth; 0: no NVLS
  Bytes loop_bytes;            ///< bytes per rank one loop of NCCL's kernels moves; 0: no penalty
  double partial_loop_efficiency = 1;  ///< bandwidth fraction when the buffer is under one loop
  Seconds tree_latency;        ///< one hop of a tree across nodes, s (0: scale_out_latency)
  // NCCL's NVLSTree: a tree across domains whose heads reduce and broadcast through the
  // NVSwitch. Tree all-reduce is costed so when nvls_channels > 0 and the domain has NVLS.
  int nvls_channels = 0;       ///< NVLSTree channels; 0: no NVLSTree (chains inside domains)
  Seconds nvls_tree_latency;   ///< NVLSTree's fixed latency inside the domains, s
  Bytes nvls_tree_chunk;       ///< NVLSTree's largest chunk, bytes (> 0 with nvls_channels)
  std::shared_ptr<const Fabric> fabric;  ///< links and routes; null: non-blocking, private ports

  /// Node index of global GPU rank `gpu`.
  [[nodiscard]] int node_of(int gpu) const { return gpu / gpus_per_node; }
  /// Nodes in the cluster (rounded up).
  [[nodiscard]] int nodes() const { return (gpus + gpus_per_node - 1) / gpus_per_node; }
  /// The fabric, or a non-blocking one with private ports built from the fields above.
  [[nodiscard]] std::shared_ptr<const Fabric> links() const;
  /// Throws std::invalid_argument naming the first field that is not positive.
  void check() const;
};

/// Whether `a` and `b` describe the same network: every field equal and the fabrics equal link
/// for link (not only the same object), so what was timed on one holds on the other.
bool same_network(const NetworkSpec& a, const NetworkSpec& b);

}  // namespace strata::sim
