#pragma once
// `strata topo` and `strata collective`: what a cluster preset builds, and how long collectives
// take on it.

#include <string>
#include <vector>

#include "strata/sim/collective.hpp"
#include "strata/topo/cluster.hpp"

namespace strata::cli {

/// Text report of the cluster's fabric and the path between GPUs `from` and `to`.
std::string topo_report(const topo::ClusterSpec& c, int from, int to);
/// The same as JSON.
std::string topo_json(const topo::ClusterSpec& c, int from, int to);

/// One collective measurement, the way nccl-tests reports it.
struct CollectiveRow {
  double bytes = 0;
  double seconds = 0;
  double algbw = 0;  ///< bytes / seconds, bytes/s
  double busbw = 0;  ///< algbw * bus factor, bytes/s
  sim::Algorithm algorithm = sim::Algorithm::ring;
};

/// Concurrent groups of `ranks` ranks: rank i of group j on GPU j + i * stride (stride 1: one
/// group on GPUs 0..ranks-1; stride 8 with tensor-parallel 8: the eight DP groups of a node row).
struct CollectiveSetup {
  sim::CollectiveOp op = sim::CollectiveOp::all_reduce;
  sim::Algorithm algorithm = sim::Algorithm::automatic;
  int ranks = 8;
  int stride = 1;
};

/// Times `setup` at every size on the cluster's fabric; all `stride` groups run at once.
std::vector<CollectiveRow> time_collective(const topo::ClusterSpec& c, const CollectiveSetup& setup,
                                           const std::vector<double>& sizes);
/// nccl-tests-like table.
std::string collective_table(const topo::ClusterSpec& c, const CollectiveSetup& setup,
                             const std::vector<CollectiveRow>& rows);
std::string collective_json(const topo::ClusterSpec& c, const CollectiveSetup& setup,
                            const std::vector<CollectiveRow>& rows);

}  // namespace strata::cli
