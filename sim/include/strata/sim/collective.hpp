#pragma once
// Collectives the way NCCL runs them: ring, double binary tree, hierarchical (inside the NVLink
// domain, then across), NVLS (reduction in the NVSwitch) and direct all-to-all, with NCCL's
// choice among them as the default.
//
// A collective is lowered twice. `lower` gives what one member pushes through its two ports plus
// the latency and local work that no bandwidth sharing changes; that is the cost on an ideal
// fabric, used to choose the algorithm and to bound plans. `append_flows` turns the same cost
// into flows between concrete GPUs for one group instance; routed on a Fabric, those flows share
// links with every other group in flight (LinkLoads without a simulator, flows in SimGrid).

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "strata/sim/fabric.hpp"
#include "strata/sim/network.hpp"
#include "strata/sim/units.hpp"

namespace strata::sim {

/// The collective operations strata lowers.
enum class CollectiveOp : std::uint8_t { all_reduce, reduce_scatter, all_gather, all_to_all, broadcast, send_recv };

/// Short lowercase name ("all_reduce", ...).
std::string_view to_string(CollectiveOp op);
/// Parses "all-reduce" or "all_reduce" (and the other names); nullopt if unknown.
std::optional<CollectiveOp> parse_collective_op(std::string_view s);

/// How the data moves. `automatic` lets strata choose the fastest that applies, as NCCL's tuner
/// does from its own latency and bandwidth tables.
enum class Algorithm : std::uint8_t { automatic, ring, tree, nvls, hierarchical, direct };
/// "auto", "ring", "tree", "nvls", "hierarchical", "direct".
std::string_view to_string(Algorithm a);
/// Parses the names above; nullopt if unknown.
std::optional<Algorithm> parse_algorithm(std::string_view s);

/// Shape of a communicator: `size` ranks, `per_node` of them in each NVLink domain they occupy.
struct GroupShape {
  int size = 1;      ///< ranks in the group
  int per_node = 1;  ///< ranks of the group inside one domain (divides size)
  [[nodiscard]] int nodes() const { return size / per_node; }
};

/// One collective call: `buffer` is the full buffer per rank (all-reduce input, reduce-scatter
/// input, all-gather output, all-to-all input, broadcast buffer, message of a send/recv).
struct Collective {
  CollectiveOp op = CollectiveOp::all_reduce;
  Bytes buffer;
  GroupShape group;
  Algorithm algorithm = Algorithm::automatic;
};

/// What one member of the group sends out of (and, by symmetry, receives into) each port, in
/// bytes at the port's full bandwidth (protocol inefficiencies are folded in).
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
  Algorithm algorithm = Algorithm::ring;  ///< what runs (never automatic)
};

/// Whether `a` can run `op` on `group` (tree: all-reduce across domains; nvls: inside one
/// NVSwitch domain with NVLS; hierarchical: across domains with several ranks in each; direct:
/// all-to-all and send/recv, which have no other).
bool applicable(Algorithm a, CollectiveOp op, GroupShape group, const NetworkSpec& net);

/// Lowers `c`, choosing the algorithm when it is automatic. A group of one rank or an empty
/// buffer costs nothing. Throws std::invalid_argument if the shape is inconsistent or the
/// requested algorithm does not apply.
CollectiveCost lower(const Collective& c, const NetworkSpec& net);

/// Time of a lowered collective when its ports carry nothing else: fixed + slowest port.
Seconds isolated_time(const CollectiveCost& cost, const NetworkSpec& net);

/// nccl-tests' bus-bandwidth factor: busbw = algbw * factor (2(n-1)/n for all-reduce, ...).
double bus_factor(CollectiveOp op, int ranks);

/// A transfer between two GPUs (global ranks); src == dst loops through src's NVLink port.
struct Flow {
  int src = 0;
  int dst = 0;
  double bytes = 0;
};

/// Appends the flows of one instance of `c` (lowered to `cost`) whose members are the global
/// ranks `members`, grouped by NVLink domain in the order given. Ring edges follow the members'
/// order inside a domain and go rail to rail (local index k to local index k) across domains.
/// Throws std::invalid_argument if the members do not match the collective's shape.
void append_flows(const Collective& c, const CollectiveCost& cost, const std::vector<int>& members,
                  const NetworkSpec& net, std::vector<Flow>& out);

/// Time of a lowered collective whose flows (of every group in flight) share `loads`' fabric:
/// fixed + the most loaded link direction. `loads` is cleared first.
Seconds fabric_time(const CollectiveCost& cost, const std::vector<Flow>& flows, LinkLoads& loads);

/// Time of one point-to-point transfer of `bytes` between two GPUs on idle ports, s.
Seconds p2p_time(Bytes bytes, bool same_node, const NetworkSpec& net);

}  // namespace strata::sim
