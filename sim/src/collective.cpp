#include "strata/sim/collective.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>

namespace strata::sim {

std::string_view to_string(CollectiveOp op) {
  switch (op) {
    case CollectiveOp::all_reduce: return "all_reduce";
    case CollectiveOp::reduce_scatter: return "reduce_scatter";
    case CollectiveOp::all_gather: return "all_gather";
    case CollectiveOp::all_to_all: return "all_to_all";
    case CollectiveOp::broadcast: return "broadcast";
    case CollectiveOp::send_recv: return "send_recv";
  }
  return "unknown";
}

std::optional<CollectiveOp> parse_collective_op(std::string_view s) {
  std::string k(s);
  std::replace(k.begin(), k.end(), '-', '_');
  for (auto op : {CollectiveOp::all_reduce, CollectiveOp::reduce_scatter, CollectiveOp::all_gather,
                  CollectiveOp::all_to_all, CollectiveOp::broadcast, CollectiveOp::send_recv})
    if (to_string(op) == k) return op;
  return std::nullopt;
}

std::string_view to_string(Algorithm a) {
  switch (a) {
    case Algorithm::automatic: return "auto";
    case Algorithm::ring: return "ring";
    case Algorithm::tree: return "tree";
    case Algorithm::nvls: return "nvls";
    case Algorithm::hierarchical: return "hierarchical";
    case Algorithm::direct: return "direct";
  }
  return "unknown";
}

std::optional<Algorithm> parse_algorithm(std::string_view s) {
  for (auto a : {Algorithm::automatic, Algorithm::ring, Algorithm::tree, Algorithm::nvls,
                 Algorithm::hierarchical, Algorithm::direct})
    if (to_string(a) == s) return a;
  return std::nullopt;
}

void NetworkSpec::check() const {
  auto need = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("network: ") + what + " must be finite and positive");
  };
  auto positive = [](double v) { return v > 0 && std::isfinite(v); };
  auto nonnegative = [](double v) { return v >= 0 && std::isfinite(v); };
  need(gpus > 0, "gpus");
  need(gpus_per_node > 0, "gpus_per_node");
  need(positive(scale_up_bw.value()), "scale_up_bw");
  need(positive(scale_out_bw.value()), "scale_out_bw");
  need(positive(reduction_bw.value()), "reduction_bw");
  need(nonnegative(scale_up_latency.value()) && nonnegative(scale_out_latency.value()) &&
           nonnegative(collective_launch.value()) && nonnegative(p2p_launch.value()) &&
           nonnegative(tree_latency.value()) && nonnegative(nvls_tree_latency.value()),
       "latency");
  need(nonnegative(nvls_bw.value()) && nonnegative(loop_bytes.value()), "nvls_bw and loop_bytes");
  need(partial_loop_efficiency > 0 && partial_loop_efficiency <= 1, "partial_loop_efficiency");
  need(nvls_channels >= 0 && nonnegative(nvls_tree_chunk.value()), "nvls_channels and nvls_tree_chunk");
  need(nvls_channels == 0 || positive(nvls_tree_chunk.value()), "nvls_tree_chunk (with nvls_channels)");
  if (fabric) {
    fabric->check();
    if (fabric->gpus() < gpus || fabric->gpus_per_domain != gpus_per_node)
      throw std::invalid_argument("network: fabric does not match the GPU count or domain size");
  }
}

bool same_network(const NetworkSpec& a, const NetworkSpec& b) {
  // A field added to NetworkSpec must be compared here: the analytical backend reuses flow
  // times across replays on the same network.
  // Three ints and one int's padding.
  static_assert(sizeof(NetworkSpec) == 4 * sizeof(int) + 13 * sizeof(double) + sizeof(std::shared_ptr<const Fabric>),
                "compare every NetworkSpec field in same_network");
  const bool fabrics = a.fabric == b.fabric || (a.fabric && b.fabric && *a.fabric == *b.fabric);
  return a.gpus == b.gpus && a.gpus_per_node == b.gpus_per_node && a.scale_up_bw == b.scale_up_bw &&
         a.scale_up_latency == b.scale_up_latency && a.scale_out_bw == b.scale_out_bw &&
         a.scale_out_latency == b.scale_out_latency && a.collective_launch == b.collective_launch &&
         a.reduction_bw == b.reduction_bw && a.p2p_launch == b.p2p_launch && a.nvls_bw == b.nvls_bw &&
         a.loop_bytes == b.loop_bytes && a.partial_loop_efficiency == b.partial_loop_efficiency &&
         a.tree_latency == b.tree_latency && a.nvls_channels == b.nvls_channels &&
         a.nvls_tree_latency == b.nvls_tree_latency && a.nvls_tree_chunk == b.nvls_tree_chunk && fabrics;
}

std::shared_ptr<const Fabric> NetworkSpec::links() const {
  if (fabric) return fabric;
  return std::make_shared<const Fabric>(make_flat_fabric(gpus, gpus_per_node, scale_up_bw, scale_out_bw));
}

namespace {

bool reduces(CollectiveOp op) {
  return op == CollectiveOp::all_reduce || op == CollectiveOp::reduce_scatter ||
         op == CollectiveOp::all_gather;
}

// Most tree edges any domain has in NCCL's double binary tree (second tree mirrored).
int tree_degree(int m) {
  auto deg = [m](int i) { return (i > 0 ? 1 : 0) + (2 * i + 1 < m ? 1 : 0) + (2 * i + 2 < m ? 1 : 0); };
  int worst = 0;
  for (int i = 0; i < m; ++i) worst = std::max(worst, deg(i) + deg(m - 1 - i));
  return worst;
}

int ceil_log2(int m) {
  int k = 0;
  while ((1 << k) < m) ++k;
  return k;
}

// The chunk NCCL's NVLSTree moves a buffer of `s` bytes in, from its largest chunk `largest`,
// with `ops` = channels x heads chunks in flight: NCCL halves it down to 32 KiB for buffers of
// few chunks (src/enqueue.cc, computeCollChunkInfo, NVLS_TREE branch, NCCL 2.20.3 b6475625;
// the same ladder at 5067397c), and a head's channel never holds more than its share.
double nvls_tree_chunk(double s, double ops, double largest) {
  constexpr double KiB = 1024;
  double c = largest;
  if (s < 32 * ops * c && c > 256 * KiB) c = 256 * KiB;
  if (s < 16 * ops * c && c > 128 * KiB) c = 128 * KiB;
  if (s < 4 * ops * c && c > 64 * KiB) c = 64 * KiB;
  if (s < 1 * ops * c && c > 32 * KiB) c = 32 * KiB;
  return std::min(c, s / ops);
}

}  // namespace

GroupShape shape_of_sorted(const int* members, std::size_t count, std::size_t stride, int offset,
                           const NetworkSpec& net) {
  if (count == 0) throw std::invalid_argument("a collective group needs at least one member");
  int fewest = static_cast<int>(count), most = 0, domains = 0, here = 0, previous = -1, domain = -1;
  for (std::size_t i = 0; i < count; ++i) {
    const long long r = static_cast<long long>(members[i * stride]) + offset;
    if (r < 0 || r >= net.gpus)
      throw std::invalid_argument("collective member " + std::to_string(r) + " is outside the cluster of " +
                                  std::to_string(net.gpus) + " GPUs");
    if (r <= previous) throw std::invalid_argument("shape_of_sorted: members not in ascending order");
    previous = static_cast<int>(r);
    const int d = net.node_of(previous);
    if (d != domain) {
      if (here > 0) fewest = std::min(fewest, here), most = std::max(most, here);
      domain = d, here = 0, ++domains;
    }
    ++here;
  }
  fewest = std::min(fewest, here), most = std::max(most, here);
  const int n = static_cast<int>(count);
  if (fewest == most) return GroupShape{n, most};
  return GroupShape{n, fewest, domains, most};
}

GroupShape shape_of(const std::vector<int>& members, const NetworkSpec& net) {
  if (members.empty()) throw std::invalid_argument("a collective group needs at least one member");
  for (int r : members)
    if (r < 0 || r >= net.gpus)
      throw std::invalid_argument("collective member " + std::to_string(r) + " is outside the cluster of " +
                                  std::to_string(net.gpus) + " GPUs");
  // Groups come ordered by rank (duplicates aside); others are sorted first.
  if (std::adjacent_find(members.begin(), members.end(), std::greater_equal<int>()) == members.end())
    return shape_of_sorted(members.data(), members.size(), 1, 0, net);
  std::vector<int> domains;
  domains.reserve(members.size());
  for (int r : members) domains.push_back(net.node_of(r));
  std::sort(domains.begin(), domains.end());
  int fewest = static_cast<int>(members.size()), most = 0, count = 0;
  for (std::size_t i = 0; i < domains.size();) {
    std::size_t j = i;
    while (j < domains.size() && domains[j] == domains[i]) ++j;
    const int here = static_cast<int>(j - i);
    fewest = std::min(fewest, here);
    most = std::max(most, here);
    ++count;
    i = j;
  }
  const int n = static_cast<int>(members.size());
  if (fewest == most) return GroupShape{n, most};
  return GroupShape{n, fewest, count, most};
}

bool slower(const GroupShape& a, const GroupShape& b) {
  const auto rank = [](const GroupShape& x) { return std::make_tuple(x.nodes(), -x.per_node, x.max_per_node()); };
  return rank(a) > rank(b);
}

GroupShape slowest_shape(const std::vector<std::vector<int>>& instances, const NetworkSpec& net) {
  if (instances.empty()) throw std::invalid_argument("a collective needs at least one group instance");
  GroupShape worst = shape_of(instances.front(), net);
  for (std::size_t i = 1; i < instances.size(); ++i) {
    const GroupShape g = shape_of(instances[i], net);
    if (g.size != worst.size) throw std::invalid_argument("collective instances differ in size");
    if (slower(g, worst)) worst = g;
  }
  return worst;
}

bool applicable(Algorithm a, CollectiveOp op, GroupShape group, const NetworkSpec& net) {
  const int m = group.nodes(), g = group.per_node;
  const bool pairwise = op == CollectiveOp::all_to_all || op == CollectiveOp::send_recv;
  switch (a) {
    case Algorithm::automatic: return true;
    case Algorithm::ring: return !pairwise;
    case Algorithm::tree: return op == CollectiveOp::all_reduce && m > 1;
    case Algorithm::nvls: return reduces(op) && m == 1 && g > 1 && net.nvls_bw.value() > 0;
    // Per-rail collectives across domains need the same ranks in every domain.
    case Algorithm::hierarchical: return reduces(op) && m > 1 && g > 1 && group.even();
    case Algorithm::direct: return pairwise;
  }
  return false;
}

namespace {

CollectiveCost lower_with(Algorithm a, const Collective& c, const NetworkSpec& net) {
  // An uneven group's NVLink loads are those of its fullest domain, its NIC loads those of its
  // emptiest: `g` counts the ranks sharing the NVLink traffic, `gn` those sharing the NIC
  // traffic (the same for an even group).
  const int n = c.group.size, g = c.group.max_per_node(), gn = c.group.per_node, m = c.group.nodes();
  const double s = c.buffer.value();
  const double frac = static_cast<double>(n - 1) / n;
  const bool ar = c.op == CollectiveOp::all_reduce;
  // NCCL moves a buffer in loops of loop_bytes per rank; below one loop its chunks are short and
  // the pipeline runs at a lower rate (the staircase nccl-tests shows at small sizes). A ring's
  // rank holds 1/n of the buffer, a tree's domain head 1/g of it (NVLSTree: a loop is channels x
  // heads x chunk), so 16 GiB over 8,192 GPUs is a full loop on the tree, not 2 MiB per rank.
  const double per_rank = a == Algorithm::tree ? s / g : s / n;
  const bool partial = net.loop_bytes.value() > 0 && per_rank < net.loop_bytes.value();
  const double eff = partial ? net.partial_loop_efficiency : 1.0;
  const Seconds up_hop = net.scale_up_latency, out_hop = net.scale_out_latency;
  const Seconds tree_hop = net.tree_latency.value() > 0 ? net.tree_latency : out_hop;

  CollectiveCost cost;
  cost.algorithm = a;
  double up = 0, out = 0, local = 0;
  Seconds latency;
  switch (a) {
    case Algorithm::automatic: throw std::logic_error("lower_with: automatic");
    case Algorithm::ring: {
      double sent = 0;
      if (ar) {
        sent = 2 * frac * s, cost.steps = 2 * (n - 1), local = s;
      } else if (c.op == CollectiveOp::broadcast) {
        sent = s, cost.steps = n - 1;
      } else {
        sent = frac * s, cost.steps = n - 1, local = s / 2;
      }
      // One ring per channel; each member is the domain's exit for 1/g of the channels, so its
      // NIC carries 1/g of what it sends and NVLink the rest.
      if (m == 1) {
        up = sent;
      } else {
        up = sent * (g - 1) / g, out = sent / gn;
      }
      // Only the hops between domains run at the scale-out latency: 2(m-1) of an all-reduce's,
      // m-1 of the others' (NCCL's tuner, src/graph/tuning.cc, nInterSteps, NCCL 2.24.3 6aae3792).
      const int across = m > 1 ? (ar ? 2 : 1) * (m - 1) : 0;
      latency = up_hop * (cost.steps - across) + out_hop * across;
      up /= eff, out /= eff;
      break;
    }
    case Algorithm::hierarchical: {
      // Reduce-scatter inside the domain, the collective across domains on every rail with 1/g
      // of the buffer, all-gather inside the domain (all-reduce); half of it for RS or AG.
      const double k = ar ? 2 : 1;
      up = k * s * (g - 1) / g, out = k * s * (m - 1) / m / g;
      cost.steps = static_cast<int>(k) * ((g - 1) + (m - 1));
      latency = up_hop * (k * (g - 1)) + out_hop * (k * (m - 1));
      local = ar ? s : s / 2;
      up /= eff, out /= eff;
      break;
    }
    case Algorithm::tree: {
      // Double binary tree across domains: each tree carries half the buffer up and down its
      // edges, spread over the domain's g NICs; the busiest domain has tree_degree edges (2S for
      // large trees, like a ring). A chain inside each domain.
      out = tree_degree(m) * s / (2.0 * gn), up = g > 1 ? 2 * s * (g - 1) / g : 0;
      const int depth = ceil_log2(m);
      local = s;
      if (net.nvls_channels > 0 && net.nvls_bw.value() > 0 && g > 1) {
        // NVLSTree: the domain reduces and broadcasts through the NVSwitch in nvls_tree_latency,
        // and each of the 2 x depth hops between domains costs tree_hop (NCCL's tuner:
        // hwLat[NVLINK] + 2 log2(nNodes) hwLat[NET] of NVLS_TREE, src/graph/tuning.cc) plus
        // one chunk on its channel's share of the NIC, the pipeline filling once per hop, which
        // NCCL's tuner leaves out (the measured busbw drops where the chunk doubles at 8 MiB).
        const int channels = net.nvls_channels;
        const double chunk = nvls_tree_chunk(s, static_cast<double>(channels) * gn, net.nvls_tree_chunk.value());
        const Seconds fill = Bytes(chunk * channels) / net.scale_out_bw;
        cost.steps = 2 * (depth + 1);
        latency = net.nvls_tree_latency + (tree_hop + fill) * (2 * depth);
      } else {
        cost.steps = 2 * (depth + (g - 1));
        latency = tree_hop * (2 * depth) + up_hop * (2 * (g - 1));
      }
      up /= eff, out /= eff;
      break;
    }
    case Algorithm::nvls: {
      // The switch reduces and multicasts: a member sends its buffer (share) once and receives
      // the result once, at the NVLS rate.
      const double ratio = net.scale_up_bw / net.nvls_bw;
      up = (ar ? s : frac * s) * ratio;
      cost.steps = ar ? 2 : 1;
      latency = up_hop * cost.steps;
      break;
    }
    case Algorithm::direct: {
      if (c.op == CollectiveOp::send_recv) {
        (m == 1 ? up : out) = s;
      } else {
        // Pairwise exchange: the share for ranks of the same domain stays on NVLink; the rest
        // leaves through the member's NIC (aggregated per destination domain, as PXN does).
        up = s * (g - 1) / n, out = s * (n - gn) / n;
      }
      cost.steps = 1;
      latency = m > 1 ? out_hop : up_hop;
      break;
    }
  }
  cost.load.scale_up = Bytes(up);
  cost.load.scale_out = Bytes(out);
  cost.fixed = net.collective_launch + latency + Bytes(local) / net.reduction_bw;
  return cost;
}

}  // namespace

namespace {

// Throws unless `g` describes a possible layout of its ranks over domains.
void check_shape(const GroupShape& g) {
  const int n = g.size, fewest = g.per_node, most = g.max_per_node(), m = g.nodes();
  const bool declared_even = g.domains == 0 && g.most == 0;
  const bool ok = n >= 1 && fewest >= 1 && (declared_even ? n % fewest == 0
                                                          : m >= 1 && most >= fewest && most <= n &&
                                                                static_cast<long long>(fewest) * m <= n &&
                                                                static_cast<long long>(most) * m >= n &&
                                                                (m > 1 || fewest == n));
  if (!ok)
    throw std::invalid_argument("collective group of " + std::to_string(n) + " ranks cannot have " +
                                std::to_string(fewest) + (most != fewest ? "-" + std::to_string(most) : std::string()) +
                                " per domain over " + std::to_string(m) + " domain(s)");
}

}  // namespace

CollectiveCost lower(const Collective& c, const NetworkSpec& net) {
  const int n = c.group.size;
  check_shape(c.group);
  if (c.op == CollectiveOp::send_recv && n != 2)
    throw std::invalid_argument("send/recv needs a group of 2 ranks, not " + std::to_string(n));
  if (n == 1 || c.buffer.value() <= 0) return CollectiveCost{{}, Seconds(0), 0, Algorithm::ring};
  if (c.algorithm != Algorithm::automatic) {
    if (!applicable(c.algorithm, c.op, c.group, net))
      throw std::invalid_argument("algorithm " + std::string(to_string(c.algorithm)) + " does not apply to " +
                                  std::string(to_string(c.op)) + " over " + std::to_string(n) + " ranks in " +
                                  std::to_string(c.group.nodes()) + (c.group.even() ? "" : " uneven") +
                                  " domain(s)");
    return lower_with(c.algorithm, c, net);
  }
  CollectiveCost best;
  Seconds best_time(0);
  bool found = false;
  for (auto a : {Algorithm::ring, Algorithm::nvls, Algorithm::hierarchical, Algorithm::tree, Algorithm::direct}) {
    if (!applicable(a, c.op, c.group, net)) continue;
    const CollectiveCost cost = lower_with(a, c, net);
    const Seconds t = isolated_time(cost, net);
    if (!found || t < best_time) best = cost, best_time = t, found = true;
  }
  return best;
}

Seconds sequence_bound(CollectiveOp op, Bytes total, GroupShape group, const NetworkSpec& net) {
  check_shape(group);
  if (group.size == 1 || total.value() <= 0) return Seconds(0);
  if (op == CollectiveOp::send_recv && group.size != 2) throw std::invalid_argument("send/recv needs 2 ranks");
  Seconds best;
  bool found = false;
  for (auto a : {Algorithm::ring, Algorithm::nvls, Algorithm::hierarchical, Algorithm::tree, Algorithm::direct}) {
    if (!applicable(a, op, group, net)) continue;
    const CollectiveCost cost = lower_with(a, Collective{op, total, group, a}, net);
    const Seconds t = std::max(cost.load.scale_up / net.scale_up_bw, cost.load.scale_out / net.scale_out_bw);
    if (!found || t < best) best = t, found = true;
  }
  return net.collective_launch + best;
}

Seconds isolated_time(const CollectiveCost& cost, const NetworkSpec& net) {
  if (cost.steps == 0) return Seconds(0);
  const Seconds up = cost.load.scale_up / net.scale_up_bw;
  const Seconds out = cost.load.scale_out / net.scale_out_bw;
  return cost.fixed + std::max(up, out);
}

double bus_factor(CollectiveOp op, int ranks) {
  const double n = ranks;
  switch (op) {
    case CollectiveOp::all_reduce: return 2 * (n - 1) / n;
    case CollectiveOp::reduce_scatter:
    case CollectiveOp::all_gather:
    case CollectiveOp::all_to_all: return (n - 1) / n;
    case CollectiveOp::broadcast:
    case CollectiveOp::send_recv: return 1;
  }
  return 1;
}

namespace {

// The members of one instance by domain, domains in order of first appearance, members in the
// order given.
std::vector<std::vector<int>> by_domain(const std::vector<int>& members, const NetworkSpec& net) {
  std::vector<std::vector<int>> doms;
  std::vector<int> ids;
  for (int r : members) {
    const int d = net.node_of(r);
    const auto it = std::find(ids.begin(), ids.end(), d);
    if (it == ids.end()) {
      ids.push_back(d);
      doms.push_back({r});
    } else {
      doms[static_cast<std::size_t>(it - ids.begin())].push_back(r);
    }
  }
  return doms;
}

// Flows of an instance whose layout is the collective's even shape: rings inside domains, and
// across domains rail to rail (local index k to local index k), as NCCL builds them.
void even_flows(const Collective& c, const CollectiveCost& cost, const std::vector<std::vector<int>>& doms,
                std::vector<Flow>& out) {
  const int g = c.group.per_node, m = c.group.nodes();
  auto at = [&](int j, int k) { return doms[static_cast<std::size_t>(j)][static_cast<std::size_t>(k)]; };
  const double up = cost.load.scale_up.value(), nic = cost.load.scale_out.value();
  if (cost.algorithm == Algorithm::direct) {
    for (int j = 0; j < m; ++j)
      for (int k = 0; k < g; ++k) {
        for (int k2 = 0; k2 < g && g > 1; ++k2)
          if (k2 != k) out.push_back({at(j, k), at(j, k2), up / (g - 1)});
        for (int j2 = 0; j2 < m && m > 1; ++j2)
          if (j2 != j) out.push_back({at(j, k), at(j2, k), nic / (m - 1)});
      }
    return;
  }
  // Inside domains: each member streams its NVLink share to the next member of the domain.
  if (g > 1 && up > 0)
    for (int j = 0; j < m; ++j)
      for (int k = 0; k < g; ++k) out.push_back({at(j, k), at(j, (k + 1) % g), up});
  if (m == 1 || nic <= 0) return;
  if (cost.algorithm == Algorithm::tree) {
    const double edge = nic / tree_degree(m);
    // Two binary trees over the domains, the second mirrored so that the inner nodes of one are
    // leaves of the other; every edge carries its tree's half of the buffer each way, spread over the rails.
    for (int t = 0; t < 2; ++t)
      for (int i = 1; i < m; ++i) {
        const int child = t == 0 ? i : m - 1 - i;
        const int parent = t == 0 ? (i - 1) / 2 : m - 1 - (i - 1) / 2;
        for (int k = 0; k < g; ++k) {
          out.push_back({at(child, k), at(parent, k), edge});
          out.push_back({at(parent, k), at(child, k), edge});
        }
      }
    return;
  }
  // Rings across domains, one per rail.
  for (int j = 0; j < m; ++j)
    for (int k = 0; k < g; ++k) out.push_back({at(j, k), at((j + 1) % m, k), nic});
}

// `total` bytes from the members of domain a to those of domain b: rail to rail when the two
// domains hold as many members, else spread over every pair.
void between(const std::vector<int>& a, const std::vector<int>& b, double total, std::vector<Flow>& out) {
  if (total <= 0) return;
  if (a.size() == b.size()) {
    for (std::size_t k = 0; k < a.size(); ++k) out.push_back({a[k], b[k], total / static_cast<double>(a.size())});
    return;
  }
  const double each = total / static_cast<double>(a.size() * b.size());
  for (int x : a)
    for (int y : b) out.push_back({x, y, each});
}

// Flows of an instance laid out unevenly (or unlike its collective's shape): every domain's
// members carry the loads a group of their domain's size would, over the instance's own domains.
void uneven_flows(const Collective& c, const CollectiveCost& cost, const std::vector<std::vector<int>>& doms,
                  const NetworkSpec& net, std::vector<Flow>& out) {
  const int n = c.group.size, m = static_cast<int>(doms.size());
  auto load_of = [&](const std::vector<int>& d) {
    const int here = static_cast<int>(d.size());
    Collective one = c;
    one.group = m == 1 ? GroupShape{n, n} : GroupShape{n, here, m, here};
    return lower_with(cost.algorithm, one, net).load;
  };
  std::vector<PortLoad> loads;
  for (const auto& d : doms) loads.push_back(load_of(d));
  auto size = [&](int j) { return static_cast<int>(doms[static_cast<std::size_t>(j)].size()); };
  auto load = [&](int j) { return loads[static_cast<std::size_t>(j)]; };
  auto dom = [&](int j) -> const std::vector<int>& { return doms[static_cast<std::size_t>(j)]; };
  if (cost.algorithm == Algorithm::direct) {
    // Pairwise exchange: an equal share of each member's buffer for every other member.
    for (int j = 0; j < m; ++j)
      for (int x : dom(j)) {
        const double up = load(j).scale_up.value(), nic = load(j).scale_out.value();
        for (int y : dom(j))
          if (y != x && up > 0) out.push_back({x, y, up / (size(j) - 1)});
        for (int j2 = 0; j2 < m; ++j2)
          if (j2 != j && nic > 0)
            for (int y : dom(j2)) out.push_back({x, y, nic / (n - size(j))});
      }
    return;
  }
  for (int j = 0; j < m; ++j) {
    const double up = load(j).scale_up.value();
    const int g = size(j);
    if (g > 1 && up > 0)
      for (int k = 0; k < g; ++k) out.push_back({dom(j)[static_cast<std::size_t>(k)], dom(j)[static_cast<std::size_t>((k + 1) % g)], up});
  }
  if (m == 1) return;
  // What leaves a domain: its members' NIC loads together.
  auto leaving = [&](int j) { return load(j).scale_out.value() * size(j); };
  if (cost.algorithm == Algorithm::tree) {
    const int degree = tree_degree(m);
    for (int t = 0; t < 2; ++t)
      for (int i = 1; i < m; ++i) {
        const int child = t == 0 ? i : m - 1 - i;
        const int parent = t == 0 ? (i - 1) / 2 : m - 1 - (i - 1) / 2;
        between(dom(child), dom(parent), leaving(child) / degree, out);
        between(dom(parent), dom(child), leaving(parent) / degree, out);
      }
    return;
  }
  for (int j = 0; j < m; ++j) between(dom(j), dom((j + 1) % m), leaving(j), out);
}

}  // namespace

void append_flows(const Collective& c, const CollectiveCost& cost, const std::vector<int>& members,
                  const NetworkSpec& net, std::vector<Flow>& out) {
  const int n = c.group.size;
  if (static_cast<int>(members.size()) != n)
    throw std::invalid_argument("collective over " + std::to_string(n) + " ranks given " +
                                std::to_string(members.size()) + " members");
  if (cost.steps == 0) return;
  const std::vector<std::vector<int>> doms = by_domain(members, net);
  if (c.op == CollectiveOp::send_recv) {
    out.push_back({members[0], members[1], cost.load.scale_up.value() + cost.load.scale_out.value()});
    return;
  }
  bool matches = c.group.even() && static_cast<int>(doms.size()) == c.group.nodes();
  for (const auto& d : doms) matches = matches && static_cast<int>(d.size()) == c.group.per_node;
  if (matches) {
    even_flows(c, cost, doms, out);
  } else {
    uneven_flows(c, cost, doms, net, out);
  }
}

Seconds fabric_time(const CollectiveCost& cost, const std::vector<Flow>& flows, LinkLoads& loads) {
  if (cost.steps == 0) return Seconds(0);
  loads.clear();
  for (const Flow& f : flows) loads.add(f.src, f.dst, f.bytes);
  return cost.fixed + loads.bottleneck();
}

Seconds p2p_time(Bytes bytes, bool same_node, const NetworkSpec& net) {
  if (bytes.value() <= 0) return Seconds(0);
  return same_node ? net.p2p_launch + net.scale_up_latency + bytes / net.scale_up_bw
                   : net.p2p_launch + net.scale_out_latency + bytes / net.scale_out_bw;
}

}  // namespace strata::sim
