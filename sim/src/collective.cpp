#include "strata/sim/collective.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace strata::sim {

std::string_view to_string(CollectiveOp op) {
  switch (op) {
    case CollectiveOp::all_reduce: return "all_reduce";
    case CollectiveOp::reduce_scatter: return "reduce_scatter";
    case CollectiveOp::all_gather: return "all_gather";
    case CollectiveOp::all_to_all: return "all_to_all";
  }
  return "unknown";
}

void NetworkSpec::check() const {
  auto need = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("network: ") + what + " must be positive");
  };
  need(gpus > 0, "gpus");
  need(gpus_per_node > 0, "gpus_per_node");
  need(scale_up_bw.value() > 0, "scale_up_bw");
  need(scale_out_bw.value() > 0, "scale_out_bw");
  need(reduction_bw.value() > 0, "reduction_bw");
  need(scale_up_latency.value() >= 0 && scale_out_latency.value() >= 0 &&
           collective_launch.value() >= 0 && p2p_launch.value() >= 0,
       "latency");
}

CollectiveCost lower(const Collective& c, const NetworkSpec& net) {
  const int n = c.group.size;
  const int g = c.group.per_node;
  if (n < 1 || g < 1 || n % g != 0)
    throw std::invalid_argument("collective group of " + std::to_string(n) + " ranks cannot have " +
                                std::to_string(g) + " per node");
  if (n == 1 || c.buffer.value() <= 0) return {};
  const int nodes = n / g;
  const double s = c.buffer.value();
  const double frac = static_cast<double>(n - 1) / n;

  // Bytes each rank sends in total, and how many sequential ring steps that takes.
  double sent = 0;
  int steps = 0;
  double local_work = 0;  // bytes of buffer copied/reduced locally
  switch (c.op) {
    case CollectiveOp::all_reduce:
      sent = 2 * frac * s;
      steps = 2 * (n - 1);
      local_work = s;
      break;
    case CollectiveOp::reduce_scatter:
    case CollectiveOp::all_gather:
      sent = frac * s;
      steps = n - 1;
      local_work = s / 2;
      break;
    case CollectiveOp::all_to_all:
      sent = frac * s;
      steps = 1;
      local_work = 0;
      break;
  }

  CollectiveCost cost;
  cost.steps = steps;
  if (c.op == CollectiveOp::all_to_all) {
    // Pairwise exchange: the share destined to ranks of the same node stays on NVLink.
    cost.load.scale_up = Bytes(s * (g - 1) / n);
    cost.load.scale_out = Bytes(s * (n - g) / n);
  } else if (nodes == 1) {
    cost.load.scale_up = Bytes(sent);
  } else {
    // One ring per channel; each member is the node's exit for 1/g of the channels, so its NIC
    // carries 1/g of what it sends and NVLink the rest.
    cost.load.scale_up = Bytes(sent * (g - 1) / g);
    cost.load.scale_out = Bytes(sent / g);
  }
  const Seconds hop = nodes > 1 ? std::max(net.scale_up_latency, net.scale_out_latency)
                                : net.scale_up_latency;
  cost.fixed = net.collective_launch + hop * steps + Bytes(local_work) / net.reduction_bw;
  return cost;
}

Seconds isolated_time(const CollectiveCost& cost, const NetworkSpec& net) {
  if (cost.steps == 0) return Seconds(0);
  const Seconds up = cost.load.scale_up / net.scale_up_bw;
  const Seconds out = cost.load.scale_out / net.scale_out_bw;
  return cost.fixed + std::max(up, out);
}

Seconds p2p_time(Bytes bytes, bool same_node, const NetworkSpec& net) {
  if (bytes.value() <= 0) return Seconds(0);
  return same_node ? net.p2p_launch + net.scale_up_latency + bytes / net.scale_up_bw
                   : net.p2p_launch + net.scale_out_latency + bytes / net.scale_out_bw;
}

}  // namespace strata::sim
