#pragma once
// Builds the fabric of a cluster preset: NVLink domains, NICs, leaf, spine and core switches,
// and the links between them, sized by the cluster's GPU count.

#include <string>
#include <vector>

#include "strata/sim/fabric.hpp"
#include "strata/topo/cluster.hpp"

namespace strata::topo {

/// What a cluster's fabric is made of, for `strata topo`.
struct FabricSummary {
  int gpus = 0, nodes = 0, domains = 0, nics = 0, planes = 1, levels = 1;
  int leaves = 0;  ///< leaf (or rail) switches, all planes
  int spines = 0;  ///< second-level switches, all planes
  int cores = 0;   ///< third-level switches, all planes
  int pods = 1;    ///< leaf groups under one set of spines (three levels)
  int nvswitch_domains = 0;
  long nvlink_links = 0;     ///< GPU-to-NVSwitch attachments
  long nic_links = 0;        ///< NIC-to-leaf cables, all planes
  long leaf_spine_links = 0;
  long spine_core_links = 0;
  int leaf_down = 0, leaf_up = 0;  ///< ports of a leaf facing NICs and spines
  sim::ByteRate nic_per_gpu;       ///< scale-out bandwidth of one GPU when all send, per direction
  sim::ByteRate bisection_per_gpu; ///< per GPU when half the nodes send to the other half
};

/// A fabric and its description.
struct BuiltFabric {
  sim::Fabric fabric;
  FabricSummary summary;
};

/// Builds the cluster's fabric. Throws std::invalid_argument naming the field when the switches
/// cannot hold the cluster (too few levels for the radix, ...).
BuiltFabric build_fabric(const ClusterSpec& c);

}  // namespace strata::topo
