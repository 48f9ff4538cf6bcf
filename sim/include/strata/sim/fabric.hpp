#pragma once
// The links of a cluster and the route between any two GPUs, as the replay backends use them.
//
// A fabric is a tree above the GPUs: every GPU has an NVLink port into its scale-up domain
// (NVSwitch, non-blocking) and reaches the rest of the cluster through a NIC into a leaf switch;
// leaves connect upward through an aggregated uplink (ideal ECMP over their up ports), and in a
// three-level tree pods of leaves connect upward through a pod uplink. Rail-optimized networks
// are the same tree with the NIC of GPU k of every node on rail leaf k. Parallel planes are
// folded into the link capacities: every flow is spread evenly over identical planes, so one
// plane with P times the bandwidth carries the same per-plane load (an exact reduction).
// topologies/ builds fabrics from cluster presets; this header only stores and routes them.

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "strata/sim/units.hpp"

namespace strata::sim {

/// What a link connects.
enum class LinkKind : std::uint8_t { nvlink, nic, leaf_uplink, pod_uplink };

/// One full-duplex link (each direction has `bandwidth`); `index` numbers links of one kind.
struct FabricLink {
  LinkKind kind = LinkKind::nvlink;
  int index = 0;
  ByteRate bandwidth;
  /// "nvl3", "nic12", "leaf4-up", "pod1-up".
  [[nodiscard]] std::string name() const;
  friend bool operator==(const FabricLink&, const FabricLink&) = default;
};

/// How far apart two GPUs are: the lowest level of the tree they share.
enum class Level : std::uint8_t { self, domain, leaf, pod, top };
inline constexpr int kLevelCount = 5;

/// One link of a route and the direction it is crossed in (up = away from the source GPU).
struct Hop {
  int link = 0;
  bool up = true;
};

/// At most six hops: NIC, leaf uplink and pod uplink on each side.
struct Route {
  std::array<Hop, 6> hops{};
  int size = 0;
  void push(Hop h) { hops[static_cast<std::size_t>(size++)] = h; }
  [[nodiscard]] const Hop* begin() const { return hops.data(); }
  [[nodiscard]] const Hop* end() const { return hops.data() + size; }
};

/// The cluster's links with, for each GPU, where it attaches.
struct Fabric {
  int gpus_per_domain = 1;
  std::vector<FabricLink> links;
  std::vector<int> nvl;      ///< per GPU: its NVLink port
  std::vector<int> nic;      ///< per GPU: the NIC it sends through (shared when GPUs share NICs)
  std::vector<int> leaf;     ///< per GPU: leaf switch of its NIC
  std::vector<int> leaf_up;  ///< per leaf: aggregated uplink, -1 when the fabric has one leaf
  std::vector<int> pod;      ///< per leaf: its pod
  std::vector<int> pod_up;   ///< per pod: aggregated uplink, -1 in a two-level tree

  [[nodiscard]] int gpus() const { return static_cast<int>(nvl.size()); }
  [[nodiscard]] int domain_of(int gpu) const { return gpu / gpus_per_domain; }
  /// Lowest level shared by GPUs a and b.
  [[nodiscard]] Level level(int a, int b) const;
  /// Links from a to b: NVLink out of a and into b inside a domain; otherwise NIC, uplinks up
  /// to the shared level and down again. a == b crosses a's NVLink port out and back.
  [[nodiscard]] Route route(int a, int b) const;
  /// Links a flow from `gpu` to a GPU at `level` crosses on the source side (up) or destination
  /// side (down): the same hops route() uses, split at the top of the tree.
  [[nodiscard]] Route half_route(int gpu, Level level) const;
  /// Throws std::invalid_argument if the tables are inconsistent.
  void check() const;
  friend bool operator==(const Fabric&, const Fabric&) = default;
};

/// Accumulates bytes per link direction, for bottleneck times without a simulator.
class LinkLoads {
 public:
  explicit LinkLoads(const Fabric& f) : fabric_(f), bytes_(2 * f.links.size(), 0.0) {}
  void add(int src, int dst, double bytes);
  /// Time the most loaded link direction needs for its bytes, s.
  [[nodiscard]] Seconds bottleneck() const;
  /// Every loaded link direction with its bytes, in the order first loaded.
  [[nodiscard]] std::vector<std::pair<Hop, double>> loaded() const;
  void clear();

 private:
  const Fabric& fabric_;
  std::vector<double> bytes_;
  std::vector<std::uint32_t> touched_;
};

/// A fabric of `gpus` GPUs where every GPU has private NVLink and NIC ports into a non-blocking
/// switch: what a NetworkSpec without a fabric describes.
Fabric make_flat_fabric(int gpus, int gpus_per_domain, ByteRate nvlink, ByteRate nic);

}  // namespace strata::sim
