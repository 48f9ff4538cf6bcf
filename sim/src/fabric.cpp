#include "strata/sim/fabric.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace strata::sim {

std::string FabricLink::name() const {
  switch (kind) {
    case LinkKind::nvlink: return "nvl" + std::to_string(index);
    case LinkKind::nic: return "nic" + std::to_string(index);
    case LinkKind::leaf_uplink: return "leaf" + std::to_string(index) + "-up";
    case LinkKind::pod_uplink: return "pod" + std::to_string(index) + "-up";
  }
  return "link";
}

Level Fabric::level(int a, int b) const {
  if (a == b) return Level::self;
  if (domain_of(a) == domain_of(b)) return Level::domain;
  const int la = leaf[static_cast<std::size_t>(a)], lb = leaf[static_cast<std::size_t>(b)];
  if (la == lb) return Level::leaf;
  if (pod[static_cast<std::size_t>(la)] == pod[static_cast<std::size_t>(lb)]) return Level::pod;
  return Level::top;
}

Route Fabric::half_route(int gpu, Level lv) const {
  Route r;
  const auto g = static_cast<std::size_t>(gpu);
  if (lv == Level::self || lv == Level::domain) {
    r.push({nvl[g], true});
    return r;
  }
  r.push({nic[g], true});
  const auto l = static_cast<std::size_t>(leaf[g]);
  if (lv >= Level::pod && leaf_up[l] >= 0) r.push({leaf_up[l], true});
  if (lv == Level::top && pod_up[static_cast<std::size_t>(pod[l])] >= 0)
    r.push({pod_up[static_cast<std::size_t>(pod[l])], true});
  return r;
}

Route Fabric::route(int a, int b) const {
  const Level lv = level(a, b);
  Route r = half_route(a, lv);
  const Route down = half_route(b, lv);
  for (int i = down.size - 1; i >= 0; --i) r.push({down.hops[static_cast<std::size_t>(i)].link, false});
  return r;
}

void Fabric::check() const {
  const std::size_t n = nvl.size();
  const auto nlinks = static_cast<int>(links.size());
  auto valid = [&](int id, bool optional) { return (optional && id == -1) || (id >= 0 && id < nlinks); };
  if (gpus_per_domain < 1 || n == 0 || nic.size() != n || leaf.size() != n)
    throw std::invalid_argument("fabric: per-GPU tables are inconsistent");
  if (pod.size() != leaf_up.size()) throw std::invalid_argument("fabric: per-leaf tables are inconsistent");
  for (std::size_t g = 0; g < n; ++g)
    if (!valid(nvl[g], false) || !valid(nic[g], false) || leaf[g] < 0 ||
        static_cast<std::size_t>(leaf[g]) >= leaf_up.size())
      throw std::invalid_argument("fabric: GPU " + std::to_string(g) + " is not attached");
  for (std::size_t l = 0; l < leaf_up.size(); ++l)
    if (!valid(leaf_up[l], true) || pod[l] < 0 || static_cast<std::size_t>(pod[l]) >= pod_up.size())
      throw std::invalid_argument("fabric: leaf " + std::to_string(l) + " is not attached");
  for (int p : pod_up)
    if (!valid(p, true)) throw std::invalid_argument("fabric: pod uplink out of range");
  for (const FabricLink& l : links)
    if (!(l.bandwidth.value() > 0) || !std::isfinite(l.bandwidth.value()))
      throw std::invalid_argument("fabric: link " + l.name() + " has no finite, positive bandwidth");
}

void LinkLoads::add(int src, int dst, double bytes) {
  if (bytes <= 0) return;
  for (const Hop& h : fabric_.route(src, dst)) {
    const auto i = static_cast<std::uint32_t>(2 * h.link + (h.up ? 0 : 1));
    if (bytes_[i] == 0) touched_.push_back(i);
    bytes_[i] += bytes;
  }
}

Seconds LinkLoads::bottleneck() const {
  double worst = 0;
  for (std::uint32_t i : touched_)
    worst = std::max(worst, bytes_[i] / fabric_.links[i / 2].bandwidth.value());
  return Seconds(worst);
}

std::vector<std::pair<Hop, double>> LinkLoads::loaded() const {
  std::vector<std::pair<Hop, double>> out;
  out.reserve(touched_.size());
  for (std::uint32_t i : touched_) out.push_back({Hop{static_cast<int>(i / 2), i % 2 == 0}, bytes_[i]});
  return out;
}

void LinkLoads::clear() {
  for (std::uint32_t i : touched_) bytes_[i] = 0;
  touched_.clear();
}

Fabric make_flat_fabric(int gpus, int gpus_per_domain, ByteRate nvlink, ByteRate nic) {
  Fabric f;
  f.gpus_per_domain = gpus_per_domain;
  for (int g = 0; g < gpus; ++g) {
    f.nvl.push_back(static_cast<int>(f.links.size()));
    f.links.push_back({LinkKind::nvlink, g, nvlink});
    f.nic.push_back(static_cast<int>(f.links.size()));
    f.links.push_back({LinkKind::nic, g, nic});
    f.leaf.push_back(0);
  }
  f.leaf_up = {-1};
  f.pod = {0};
  f.pod_up = {-1};
  return f;
}

}  // namespace strata::sim
