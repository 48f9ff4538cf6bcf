#pragma once
// Collectives the way NCCL runs them: ring, double binary tree (NVLSTree, whose domain heads
// reduce in the NVSwitch, where the network gives its constants), hierarchical (inside the NVLink
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
///
/// An even group has the same number of ranks in every domain it occupies (`per_node` divides
/// `size`). A group laid over domains unevenly (tensor parallelism of 6 on 8-GPU nodes, the
/// data-parallel groups of such a plan, a partly filled rack) also records how many domains it
/// occupies and the most ranks it has in one of them; `per_node` is then the fewest. Such a
/// group is costed at its busiest ports: NVLink in its fullest domain, the NIC in its emptiest.
struct GroupShape {
  int size = 1;      ///< ranks in the group
  int per_node = 1;  ///< ranks of the group inside one domain (the fewest, if uneven)
  int domains = 0;   ///< domains the group occupies; 0: size / per_node (an even group)
  int most = 0;      ///< most ranks in one domain; 0: per_node (an even group)
  [[nodiscard]] int nodes() const { return domains > 0 ? domains : size / per_node; }
  [[nodiscard]] int max_per_node() const { return most > 0 ? most : per_node; }
  /// Every domain holds per_node ranks.
  [[nodiscard]] bool even() const { return max_per_node() == per_node && nodes() * per_node == size; }
  friend bool operator==(const GroupShape&, const GroupShape&) = default;
};

/// The shape of the group of global ranks `members` on `net`'s domains (even when it is).
/// Throws std::invalid_argument if `members` is empty or holds a rank outside the cluster.
GroupShape shape_of(const std::vector<int>& members, const NetworkSpec& net);

/// The shape that prices several concurrent instances of one communicator (they run in
/// lockstep, so the slowest sets the pace): the instance spread over the most domains, then the
/// one with the fewest ranks in a domain, then the most. Throws std::invalid_argument if
/// `instances` is empty or the instances differ in size.
GroupShape slowest_shape(const std::vector<std::vector<int>>& instances, const NetworkSpec& net);

/// Whether instance shape `a` prices slower than `b` in slowest_shape's order.
bool slower(const GroupShape& a, const GroupShape& b);

/// shape_of the `count` ranks members[0], members[stride], ..., each plus `offset`, given in
/// ascending order (checked: throws std::invalid_argument otherwise, or for a rank outside the
/// cluster). For the shapes of many translated copies of one group without building them.
GroupShape shape_of_sorted(const int* members, std::size_t count, std::size_t stride, int offset,
                           const NetworkSpec& net);

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

/// A lower bound on the time of `op` collectives over `group` run one after another whose
/// buffers add up to `total` (gradient buckets): one launch plus the port time of the applicable
/// algorithm that moves `total` in the least time. Holds on any fabric, because a collective's
/// flows load its members' ports at least as much as its isolated cost says, and because no
/// algorithm moves a byte of a smaller buffer faster than one of a larger.
Seconds sequence_bound(CollectiveOp op, Bytes total, GroupShape group, const NetworkSpec& net);

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
/// When the collective's shape is uneven, the instance may be laid out any way: each domain's
/// members carry the loads of their own domain size, and the traffic between two domains is
/// spread over every member pair. Throws std::invalid_argument if the members do not match the
/// collective's size, or an even shape's layout.
void append_flows(const Collective& c, const CollectiveCost& cost, const std::vector<int>& members,
                  const NetworkSpec& net, std::vector<Flow>& out);

/// Time of a lowered collective whose flows (of every group in flight) share `loads`' fabric:
/// fixed + the most loaded link direction. `loads` is cleared first.
Seconds fabric_time(const CollectiveCost& cost, const std::vector<Flow>& flows, LinkLoads& loads);

/// Time of one point-to-point transfer of `bytes` between two GPUs on idle ports, s.
Seconds p2p_time(Bytes bytes, bool same_node, const NetworkSpec& net);

}  // namespace strata::sim
