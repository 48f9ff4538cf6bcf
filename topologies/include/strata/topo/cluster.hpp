#pragma once
// Cluster specifications: GPUs, nodes, scale-up and scale-out networks, collective constants.

#include <string>
#include <string_view>

#include "strata/sim/network.hpp"
#include "strata/topo/gpu.hpp"

namespace strata::topo {

/// Scale-up domain: GPUs behind NVSwitch (a node of 8, or a rack-scale domain of 72).
struct ScaleUp {
  ByteRate bandwidth;       ///< per GPU, bytes/s per direction (line rate)
  Seconds latency;          ///< per collective step, s
  double efficiency = 1.0;  ///< fraction of line rate a ring moves
  int domain = 0;           ///< GPUs per NVLink domain; 0: one node
  double nvls_efficiency = 0;  ///< NVLS rate as a fraction of line rate; 0: no NVLS
};

/// Fabric shapes strata builds.
enum class Topology { fat_tree, rail_optimized };

/// Scale-out network: NICs of every node into a fat tree of switches with `switch_radix` ports.
struct ScaleOut {
  int nics_per_node = 0;
  ByteRate nic_bandwidth;   ///< line rate of one NIC, bytes/s per direction
  double efficiency = 1.0;  ///< fraction of line rate NCCL moves (encoding, headers)
  Seconds latency;          ///< per collective step across nodes, s
  Topology topology = Topology::fat_tree;  ///< rail-optimized: NIC k of every node on rail leaf k
  int levels = 0;           ///< switch levels (2 or 3); 0: the fewest that hold the cluster
  int switch_radix = 64;    ///< ports per switch (at one plane's port speed)
  double oversubscription = 1;  ///< leaf down:up port ratio (2 = 2:1)
  int planes = 1;           ///< parallel fabric planes; each NIC splits its bandwidth over them
};

/// NCCL-like collective constants, measured once (nccl-tests).
struct CollectiveConstants {
  Seconds launch;           ///< fixed cost per collective, s
  double reduction_passes = 0;  ///< HBM passes per buffer byte for local copy/reduce
  Seconds p2p_launch;       ///< fixed cost per point-to-point transfer, s
  Bytes loop_bytes;         ///< bytes per rank in one loop of NCCL's kernels (channels x chunk)
  double partial_loop_efficiency = 1;  ///< bandwidth fraction below one loop
  Seconds tree_hop_latency{};   ///< one hop of a tree between domains, s; 0: scale_out.latency
  Seconds nvls_tree_latency{};  ///< NVLSTree's fixed latency inside the domains, s
  int nvls_channels = 0;        ///< NVLSTree channels; 0: no NVLSTree (trees chain inside domains)
  Bytes nvls_tree_chunk{};      ///< NVLSTree's largest chunk, bytes (set with nvls_channels only)
};

/// Accepted ranges of cluster sizes and network constants (docs/inputs.md). They bound every
/// product the fabric builder forms (leaves x uplinks x planes) well inside an int.
namespace limits {
inline constexpr int max_gpus = 1 << 20;           ///< GPUs in a cluster (1,048,576)
inline constexpr int max_gpus_per_node = 1024;     ///< GPUs per node
inline constexpr int max_nics_per_node = 1024;     ///< NICs per node
inline constexpr int max_nics = 1 << 20;           ///< NICs in the whole cluster
inline constexpr int max_switch_radix = 1024;      ///< ports per switch
inline constexpr int max_planes = 64;              ///< parallel fabric planes
inline constexpr double max_oversubscription = 1024;  ///< leaf down:up port ratio
inline constexpr double min_reduction_passes = 0.01;  ///< HBM passes per byte of a local reduction
inline constexpr double max_reduction_passes = 100;
inline constexpr int max_nvls_channels = 1024;     ///< NVLSTree channels
}  // namespace limits

/// "fat-tree" or "rail-optimized".
std::string_view to_string(Topology t);

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
  /// GPUs per NVLink domain (at most the cluster).
  [[nodiscard]] int domain() const;
  /// Scale-out bandwidth one GPU gets when every GPU of its node sends at once, bytes/s.
  [[nodiscard]] ByteRate scale_out_per_gpu() const;
  /// The network as the replay backends see it; with `fabric`, the switches and links too
  /// (build_fabric), else a non-blocking fabric with a private share of the NICs per GPU.
  [[nodiscard]] sim::NetworkSpec network(bool fabric = true) const;
  /// Throws std::invalid_argument naming the first impossible or out-of-range field (ranges:
  /// `limits` here and in gpu.hpp; NaN and infinity are never in range).
  void check() const;
};

}  // namespace strata::topo
