#pragma once
// Lowering of collectives to per-port traffic, the way NCCL's ring algorithm moves data.
//
// Collectives in strata run over groups whose members behave identically (DP replicas, TP ranks),
// so a collective is described by what one member pushes through each of its two ports: the
// replay backends turn that into flows on the representative GPU's ports (SimGrid) or into a
// bottleneck time (analytical), and both add the same fixed latency.

#include <string_view>

#include "strata/sim/network.hpp"
#include "strata/sim/units.hpp"

namespace strata::sim {

/// The collective operations strata lowers.
enum class CollectiveOp { all_reduce, reduce_scatter, all_gather, all_to_all };

/// Short lowercase name ("all_reduce", ...).
std::string_view to_string(CollectiveOp op);

/// Shape of a communicator: `size` ranks, `per_node` of them in each node they occupy.
struct GroupShape {
  int size = 1;      ///< ranks in the group
  int per_node = 1;  ///< ranks of the group inside one node (divides size)
  [[nodiscard]] int nodes() const { return size / per_node; }
};

/// One collective call: `buffer` is the full buffer per rank (all-reduce input, reduce-scatter
/// input, all-gather output, all-to-all input).
struct Collective {
  CollectiveOp op = CollectiveOp::all_reduce;
  Bytes buffer;
  GroupShape group;
};

/// What one member of the group sends out of (and, by symmetry, receives into) each port.
struct PortLoad {
  Bytes scale_up;   ///< bytes through the member's scale-up (NVLink) port, each direction
  Bytes scale_out;  ///< bytes through the member's scale-out (NIC) port, each direction
};

/// Lowered cost of a collective: port traffic plus the latency and local work that do not
/// depend on bandwidth sharing.
struct CollectiveCost {
  PortLoad load;
  Seconds fixed;  ///< launch + per-step latency + local reduction, s
  int steps = 0;  ///< sequential communication steps of the algorithm
};

/// Lowers `c` with the ring algorithm (channels spread over the NICs of the group's members).
/// A group of one rank costs nothing. Throws std::invalid_argument if the shape is inconsistent.
CollectiveCost lower(const Collective& c, const NetworkSpec& net);

/// Time of a lowered collective when its ports carry nothing else: fixed + slowest port.
Seconds isolated_time(const CollectiveCost& cost, const NetworkSpec& net);

/// Time of one point-to-point transfer of `bytes` between two GPUs on idle ports, s.
Seconds p2p_time(Bytes bytes, bool same_node, const NetworkSpec& net);

}  // namespace strata::sim
