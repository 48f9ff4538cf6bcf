#include "strata/topo/fabric.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace strata::topo {

namespace {
int ceil_div(int a, int b) { return (a + b - 1) / b; }
}  // namespace

BuiltFabric build_fabric(const ClusterSpec& c) {
  const ScaleOut& so = c.scale_out;
  const int gpus = c.gpus;
  const int gpn = std::min(c.gpus_per_node, gpus);
  const int nodes = ceil_div(gpus, gpn);
  const int nics = so.nics_per_node;
  const int radix = so.switch_radix;
  const std::string where = "cluster " + c.name + ": scale_out.";
  const int down = static_cast<int>(std::floor(radix * so.oversubscription / (so.oversubscription + 1) + 1e-9));
  const int up = radix - down;
  if (down < 1 || up < 1)
    throw std::invalid_argument(where + "switch_radix " + std::to_string(radix) +
                                " leaves no up or down ports at oversubscription " + std::to_string(so.oversubscription));
  const bool rail = so.topology == Topology::rail_optimized;
  const double nic_bw = so.nic_bandwidth.value() * so.efficiency;

  BuiltFabric out;
  sim::Fabric& f = out.fabric;
  f.gpus_per_domain = c.domain();
  auto add_link = [&f](sim::LinkKind kind, int index, double bw) {
    f.links.push_back({kind, index, sim::ByteRate(bw)});
    return static_cast<int>(f.links.size()) - 1;
  };
  const double nvl_bw = c.scale_up.bandwidth.value() * c.scale_up.efficiency;
  for (int g = 0; g < gpus; ++g) f.nvl.push_back(add_link(sim::LinkKind::nvlink, g, nvl_bw));

  // Leaf of NIC k of a node: consecutive NIC ports fill a leaf (fat tree), or NIC k of `down`
  // consecutive nodes shares rail leaf k (rail-optimized).
  auto leaf_of = [&](int node, int k) { return rail ? (node / down) * nics + k : (node * nics + k) / down; };
  int leaves = 0;
  std::vector<int> nic_link(static_cast<std::size_t>(nodes) * nics);
  for (int node = 0; node < nodes; ++node)
    for (int k = 0; k < nics; ++k) {
      nic_link[static_cast<std::size_t>(node * nics + k)] = add_link(sim::LinkKind::nic, node * nics + k, nic_bw);
      leaves = std::max(leaves, leaf_of(node, k) + 1);
    }
  for (int g = 0; g < gpus; ++g) {
    const int node = g / gpn, k = (g % gpn) * nics / gpn;
    f.nic.push_back(nic_link[static_cast<std::size_t>(node * nics + k)]);
    f.leaf.push_back(leaf_of(node, k));
  }

  const int need = leaves <= 1 ? 1 : leaves <= radix ? 2 : 3;
  int levels = so.levels == 0 ? need : so.levels;
  if (levels < need)
    throw std::invalid_argument(where + "levels: " + std::to_string(leaves) + " leaf switches of radix " +
                                std::to_string(radix) + " need " + std::to_string(need) + " levels, not " +
                                std::to_string(levels));
  if (leaves <= 1) levels = 1;
  const int per_pod = std::max(1, radix / 2);
  const int pods = levels == 3 ? ceil_div(leaves, per_pod) : 1;
  if (levels == 3 && pods > radix)
    throw std::invalid_argument(where + "switch_radix: " + std::to_string(leaves) + " leaves do not fit a three-level tree of radix " +
                                std::to_string(radix));
  for (int l = 0; l < leaves; ++l) {
    f.leaf_up.push_back(levels >= 2 ? add_link(sim::LinkKind::leaf_uplink, l, up * nic_bw) : -1);
    f.pod.push_back(levels == 3 ? l / per_pod : 0);
  }
  for (int p = 0; p < pods; ++p) {
    const int in_pod = std::min(per_pod, leaves - p * per_pod);
    f.pod_up.push_back(levels == 3 && pods > 1 ? add_link(sim::LinkKind::pod_uplink, p, in_pod * up * nic_bw) : -1);
  }

  FabricSummary& s = out.summary;
  s.gpus = gpus;
  s.nodes = nodes;
  s.domains = ceil_div(gpus, f.gpus_per_domain);
  s.nvswitch_domains = s.domains;
  s.nics = nodes * nics;
  s.planes = so.planes;
  s.levels = levels;
  s.leaf_down = down;
  s.leaf_up = levels >= 2 ? up : 0;
  s.leaves = leaves * so.planes;
  s.pods = pods;
  s.nvlink_links = gpus;
  s.nic_links = static_cast<long>(s.nics) * so.planes;
  if (levels == 2) {
    s.spines = ceil_div(leaves * up, radix) * so.planes;
    s.leaf_spine_links = static_cast<long>(leaves) * up * so.planes;
  } else if (levels == 3) {
    s.spines = pods * up * so.planes;  // aggregation switches: one per leaf uplink in each pod
    s.cores = ceil_div(pods * up * per_pod, radix) * so.planes;
    s.leaf_spine_links = static_cast<long>(leaves) * up * so.planes;
    s.spine_core_links = static_cast<long>(pods) * up * per_pod * so.planes;
  }
  s.nic_per_gpu = sim::ByteRate(nic_bw * nics / c.gpus_per_node);
  // Half the nodes to the other half, rail to rail: traffic leaves the leaves (and is cut by the
  // oversubscription) unless the cluster has one leaf per rail.
  const int groups = rail ? ceil_div(nodes, down) : leaves;
  s.bisection_per_gpu = groups > 1 ? s.nic_per_gpu * std::min(1.0, 1.0 / so.oversubscription) : s.nic_per_gpu;
  return out;
}

}  // namespace strata::topo
