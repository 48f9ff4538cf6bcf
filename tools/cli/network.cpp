#include "network.hpp"

#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "json.hpp"
#include "strata/topo/fabric.hpp"

namespace strata::cli {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string gbps(sim::ByteRate r) { return fmt("%.1f GB/s", r.value() / 1e9); }

std::string size_text(double bytes) {
  if (bytes >= sim::kGiB && bytes / sim::kGiB == static_cast<long>(bytes / sim::kGiB))
    return fmt("%.0f GiB", bytes / sim::kGiB);
  if (bytes >= sim::kMiB) return fmt(bytes / sim::kMiB == static_cast<long>(bytes / sim::kMiB) ? "%.0f MiB" : "%.2f MiB", bytes / sim::kMiB);
  if (bytes >= 1024) return fmt("%.0f KiB", bytes / 1024);
  return fmt("%.0f B", bytes);
}

const char* level_name(sim::Level l) {
  switch (l) {
    case sim::Level::self: return "same GPU";
    case sim::Level::domain: return "same NVLink domain";
    case sim::Level::leaf: return "same leaf switch";
    case sim::Level::pod: return "same pod (through the spines)";
    case sim::Level::top: return "across pods (through the cores)";
  }
  return "";
}

void check_gpu(const topo::ClusterSpec& c, int g, const char* what) {
  if (g < 0 || g >= c.gpus)
    throw std::invalid_argument(std::string(what) + " GPU " + std::to_string(g) + " is outside the cluster (0.." +
                                std::to_string(c.gpus - 1) + ")");
}

// The slowest link of a route: what one flow alone can reach.
const sim::FabricLink& bottleneck(const sim::Fabric& f, const sim::Route& r) {
  const sim::FabricLink* worst = nullptr;
  for (const sim::Hop& h : r) {
    const sim::FabricLink& l = f.links[static_cast<std::size_t>(h.link)];
    if (worst == nullptr || l.bandwidth < worst->bandwidth) worst = &l;
  }
  return *worst;
}

}  // namespace

std::string topo_report(const topo::ClusterSpec& c, int from, int to) {
  check_gpu(c, from, "--from");
  check_gpu(c, to, "--to");
  const topo::BuiltFabric b = topo::build_fabric(c);
  const topo::FabricSummary& s = b.summary;
  const auto& so = c.scale_out;
  std::ostringstream o;
  o << c.name << ": " << s.gpus << " GPUs (" << c.gpu.name << ") in " << s.nodes << " nodes of " << c.gpus_per_node
    << ", " << s.domains << " NVLink domain(s) of " << c.domain() << "\n";
  o << "  scale-up     NVSwitch, " << gbps(c.scale_up.bandwidth) << " per GPU per direction ("
    << gbps(c.scale_up.bandwidth * c.scale_up.efficiency) << " for rings"
    << (c.scale_up.nvls_efficiency > 0 ? ", NVLS " + gbps(c.scale_up.bandwidth * c.scale_up.nvls_efficiency) : std::string())
    << ")\n";
  o << "  scale-out    " << topo::to_string(so.topology) << ", " << s.levels << " switch level(s), " << s.planes
    << " plane(s), " << so.nics_per_node << " x " << gbps(so.nic_bandwidth) << " NICs per node, radix "
    << so.switch_radix << " (" << s.leaf_down << " down / " << s.leaf_up << " up per leaf";
  if (so.oversubscription > 1) o << ", " << fmt("%.2f", static_cast<double>(s.leaf_down) / s.leaf_up) << ":1";
  o << ")\n";
  o << "  switches     " << s.nvswitch_domains << " NVSwitch domains, " << s.leaves << " leaf, " << s.spines
    << " spine, " << s.cores << " core" << (s.levels == 3 ? " (" + std::to_string(s.pods) + " pods)" : std::string())
    << "\n";
  o << "  links        " << s.nvlink_links << " GPU-NVSwitch, " << s.nic_links << " NIC-leaf, " << s.leaf_spine_links
    << " leaf-spine, " << s.spine_core_links << " spine-core\n";
  o << "  scale-out    " << gbps(s.nic_per_gpu) << " per GPU (all NICs busy), bisection " << gbps(s.bisection_per_gpu)
    << " per GPU (half the nodes to the other half)\n";
  const sim::Fabric& f = b.fabric;
  const sim::Route r = f.route(from, to);
  o << "path GPU " << from << " -> GPU " << to << " (" << level_name(f.level(from, to)) << "):";
  for (const sim::Hop& h : r) {
    const sim::FabricLink& l = f.links[static_cast<std::size_t>(h.link)];
    o << " " << l.name() << (h.up ? " up" : " down") << " [" << gbps(l.bandwidth) << "]";
  }
  const sim::FabricLink& worst = bottleneck(f, r);
  o << "\n  bottleneck " << gbps(worst.bandwidth) << " (" << worst.name()
    << "); uplinks are shared by every GPU under them\n";
  return o.str();
}

std::string topo_json(const topo::ClusterSpec& c, int from, int to) {
  check_gpu(c, from, "--from");
  check_gpu(c, to, "--to");
  const topo::BuiltFabric b = topo::build_fabric(c);
  const topo::FabricSummary& s = b.summary;
  JsonWriter j;
  j.begin_object();
  j.key("cluster").value(c.name);
  j.key("gpus").value(s.gpus).key("nodes").value(s.nodes).key("domains").value(s.domains);
  j.key("gpus_per_domain").value(c.domain());
  j.key("topology").value(topo::to_string(c.scale_out.topology));
  j.key("levels").value(s.levels).key("planes").value(s.planes);
  j.key("switches").begin_object().key("nvswitch_domains").value(s.nvswitch_domains).key("leaf").value(s.leaves)
      .key("spine").value(s.spines).key("core").value(s.cores).key("pods").value(s.pods).end_object();
  j.key("links").begin_object().key("gpu_nvswitch").value(static_cast<double>(s.nvlink_links))
      .key("nic_leaf").value(static_cast<double>(s.nic_links)).key("leaf_spine").value(static_cast<double>(s.leaf_spine_links))
      .key("spine_core").value(static_cast<double>(s.spine_core_links)).end_object();
  j.key("scale_out_per_gpu_Bps").value(s.nic_per_gpu.value());
  j.key("bisection_per_gpu_Bps").value(s.bisection_per_gpu.value());
  const sim::Route r = b.fabric.route(from, to);
  j.key("path").begin_object().key("from").value(from).key("to").value(to).key("hops").begin_array();
  for (const sim::Hop& h : r) {
    const sim::FabricLink& l = b.fabric.links[static_cast<std::size_t>(h.link)];
    j.begin_object().key("link").value(l.name()).key("direction").value(h.up ? "up" : "down")
        .key("bandwidth_Bps").value(l.bandwidth.value()).end_object();
  }
  j.end_array().key("bottleneck_Bps").value(bottleneck(b.fabric, r).bandwidth.value()).end_object();
  j.end_object();
  return j.str() + "\n";
}

std::vector<CollectiveRow> time_collective(const topo::ClusterSpec& c, const CollectiveSetup& setup,
                                           const std::vector<double>& sizes) {
  if (setup.ranks < 1 || setup.stride < 1) throw std::invalid_argument("--ranks and --stride must be positive");
  if (static_cast<long>(setup.ranks) * setup.stride > c.gpus)
    throw std::invalid_argument(std::to_string(setup.ranks) + " ranks at stride " + std::to_string(setup.stride) +
                                " need " + std::to_string(static_cast<long>(setup.ranks) * setup.stride) +
                                " GPUs; the cluster has " + std::to_string(c.gpus) + " (--gpus)");
  const sim::NetworkSpec net = c.network();
  const auto fabric = net.links();
  sim::LinkLoads loads(*fabric);
  std::vector<std::vector<int>> groups(static_cast<std::size_t>(setup.stride));
  for (int j = 0; j < setup.stride; ++j)
    for (int i = 0; i < setup.ranks; ++i) groups[static_cast<std::size_t>(j)].push_back(j + i * setup.stride);
  // Ranks per domain of the first group (all groups have the same shape).
  int per_domain = 0;
  for (int r : groups[0])
    if (net.node_of(r) == net.node_of(groups[0][0])) ++per_domain;
  std::vector<CollectiveRow> rows;
  for (double bytes : sizes) {
    const sim::Collective col{setup.op, sim::Bytes(bytes), {setup.ranks, per_domain}, setup.algorithm};
    const sim::CollectiveCost cost = sim::lower(col, net);
    std::vector<sim::Flow> flows;
    for (const auto& g : groups) sim::append_flows(col, cost, g, net, flows);
    CollectiveRow row;
    row.bytes = bytes;
    row.seconds = sim::fabric_time(cost, flows, loads).value();
    row.algbw = row.seconds > 0 ? bytes / row.seconds : 0;
    row.busbw = row.algbw * sim::bus_factor(setup.op, setup.ranks);
    row.algorithm = cost.algorithm;
    rows.push_back(row);
  }
  return rows;
}

std::string collective_table(const topo::ClusterSpec& c, const CollectiveSetup& setup,
                             const std::vector<CollectiveRow>& rows) {
  std::ostringstream o;
  o << "# " << sim::to_string(setup.op) << " over " << setup.ranks << " ranks on " << c.name << " (" << c.gpus
    << " GPUs, " << topo::to_string(c.scale_out.topology) << "), algorithm " << sim::to_string(setup.algorithm);
  if (setup.stride > 1) o << ", " << setup.stride << " concurrent groups at stride " << setup.stride;
  o << "\n#\n";
  o << "       size(B)       count    type      time(us)   algbw(GB/s)   busbw(GB/s)  algorithm\n";
  for (const CollectiveRow& r : rows)
    o << fmt("%14.0f", r.bytes) << fmt("%12.0f", r.bytes / 4) << "   float" << fmt("%14.1f", r.seconds * 1e6)
      << fmt("%14.2f", r.algbw / 1e9) << fmt("%14.2f", r.busbw / 1e9) << "  " << sim::to_string(r.algorithm) << "\n";
  if (rows.size() == 1)
    o << "\n" << sim::to_string(setup.op) << " of " << size_text(rows[0].bytes) << ": " << fmt("%.1f", rows[0].seconds * 1e6)
      << " us, bus bandwidth " << fmt("%.1f", rows[0].busbw / 1e9) << " GB/s (" << sim::to_string(rows[0].algorithm)
      << ")\n";
  return o.str();
}

std::string collective_json(const topo::ClusterSpec& c, const CollectiveSetup& setup,
                            const std::vector<CollectiveRow>& rows) {
  JsonWriter j;
  j.begin_object();
  j.key("cluster").value(c.name).key("gpus").value(c.gpus);
  j.key("op").value(sim::to_string(setup.op)).key("ranks").value(setup.ranks).key("stride").value(setup.stride);
  j.key("algorithm").value(sim::to_string(setup.algorithm));
  j.key("rows").begin_array();
  for (const CollectiveRow& r : rows)
    j.begin_object().key("bytes").value(r.bytes).key("seconds").value(r.seconds).key("algbw_Bps").value(r.algbw)
        .key("busbw_Bps").value(r.busbw).key("algorithm").value(sim::to_string(r.algorithm)).end_object();
  j.end_array().end_object();
  return j.str() + "\n";
}

}  // namespace strata::cli
