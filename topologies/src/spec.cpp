#include <stdexcept>

#include <memory>

#include "strata/topo/cluster.hpp"
#include "strata/topo/fabric.hpp"
#include "strata/topo/gpu.hpp"

namespace strata::topo {

std::string_view to_string(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::fp16: return "fp16";
    case Precision::bf16: return "bf16";
    case Precision::fp8: return "fp8";
  }
  return "unknown";
}

std::optional<Precision> parse_precision(std::string_view s) {
  for (int i = 0; i < kPrecisionCount; ++i)
    if (to_string(static_cast<Precision>(i)) == s) return static_cast<Precision>(i);
  return std::nullopt;
}

FlopRate GpuSpec::peak_at(Precision p) const {
  const auto& v = peak[static_cast<int>(p)];
  if (!v) throw std::invalid_argument("GPU " + name + " has no " + std::string(to_string(p)) + " matrix units");
  return *v;
}

namespace {
void need(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}
bool fraction(double x) { return x > 0 && x <= 1; }
}  // namespace

void GpuSpec::check() const {
  need(!name.empty(), "gpu: name is empty");
  need(memory.value() > 0, "gpu " + name + ": memory must be positive");
  need(reserved_memory.value() >= 0 && reserved_memory < memory,
       "gpu " + name + ": reserved_memory must be below memory");
  need(memory_bw.value() > 0, "gpu " + name + ": memory_bandwidth must be positive");
  need(sms > 0, "gpu " + name + ": sms must be positive");
  need(nvlink_bw.value() > 0, "gpu " + name + ": nvlink must be positive");
  need(fraction(matmul_efficiency), "gpu " + name + ": efficiency.matmul must be in (0, 1]");
  need(fraction(attention_efficiency), "gpu " + name + ": efficiency.attention must be in (0, 1]");
  need(fraction(memory_efficiency), "gpu " + name + ": efficiency.memory must be in (0, 1]");
  need(kernel_overhead.value() >= 0, "gpu " + name + ": efficiency.kernel_overhead must be >= 0");
  need(host_overhead.value() >= 0, "gpu " + name + ": efficiency.host_overhead must be >= 0");
  need(gemm_tile_m > 0 && gemm_tile_n > 0, "gpu " + name + ": gemm tiles must be positive");
  bool any = false;
  for (const auto& p : peak) {
    if (p) {
      need(p->value() > 0, "gpu " + name + ": peak rates must be positive");
      any = true;
    }
  }
  need(any, "gpu " + name + ": no peak rate given");
}

std::string_view to_string(Topology t) { return t == Topology::fat_tree ? "fat-tree" : "rail-optimized"; }

int ClusterSpec::domain() const { return std::min(scale_up.domain > 0 ? scale_up.domain : gpus_per_node, gpus); }

ByteRate ClusterSpec::scale_out_per_gpu() const {
  return scale_out.nic_bandwidth * (scale_out.efficiency * scale_out.nics_per_node / gpus_per_node);
}

void ClusterSpec::check() const {
  gpu.check();
  need(gpus > 0, "cluster " + name + ": gpus must be positive");
  need(gpus_per_node > 0, "cluster " + name + ": gpus_per_node must be positive");
  need(gpus % gpus_per_node == 0 || gpus < gpus_per_node,
       "cluster " + name + ": gpus (" + std::to_string(gpus) +
           ") must be a multiple of gpus_per_node (" + std::to_string(gpus_per_node) + ")");
  need(scale_up.bandwidth.value() > 0, "cluster " + name + ": scale_up.bandwidth must be positive");
  need(scale_up.latency.value() >= 0, "cluster " + name + ": scale_up.latency must be >= 0");
  need(scale_out.nics_per_node > 0, "cluster " + name + ": scale_out.nics_per_node must be positive");
  need(scale_out.nic_bandwidth.value() > 0, "cluster " + name + ": scale_out.nic_bandwidth must be positive");
  need(fraction(scale_out.efficiency), "cluster " + name + ": scale_out.efficiency must be in (0, 1]");
  need(scale_out.latency.value() >= 0, "cluster " + name + ": scale_out.latency must be >= 0");
  need(scale_up.efficiency > 0 && scale_up.efficiency <= 1, "cluster " + name + ": scale_up.efficiency must be in (0, 1]");
  need(scale_up.nvls_efficiency >= 0 && scale_up.nvls_efficiency <= 1,
       "cluster " + name + ": scale_up.nvls_efficiency must be in [0, 1]");
  need(scale_up.domain >= 0 && (scale_up.domain == 0 || scale_up.domain % gpus_per_node == 0),
       "cluster " + name + ": scale_up.domain must be a multiple of gpus_per_node");
  need(gpus <= domain() || gpus % domain() == 0,
       "cluster " + name + ": gpus (" + std::to_string(gpus) + ") must be a multiple of scale_up.domain (" +
           std::to_string(domain()) + ")");
  need(scale_out.switch_radix >= 2, "cluster " + name + ": scale_out.switch_radix must be at least 2");
  need(scale_out.oversubscription >= 1, "cluster " + name + ": scale_out.oversubscription must be >= 1");
  need(scale_out.planes >= 1, "cluster " + name + ": scale_out.planes must be positive");
  need(scale_out.levels == 0 || scale_out.levels == 2 || scale_out.levels == 3,
       "cluster " + name + ": scale_out.levels must be 2 or 3");
  need(collectives.loop_bytes.value() >= 0, "cluster " + name + ": collectives.loop_bytes must be >= 0");
  need(fraction(collectives.partial_loop_efficiency),
       "cluster " + name + ": collectives.partial_loop_efficiency must be in (0, 1]");
  need(collectives.launch.value() >= 0, "cluster " + name + ": collectives.launch must be >= 0");
  need(collectives.reduction_passes > 0, "cluster " + name + ": collectives.reduction_passes must be positive");
  need(collectives.p2p_launch.value() >= 0, "cluster " + name + ": collectives.p2p_launch must be >= 0");
}

sim::NetworkSpec ClusterSpec::network(bool fabric) const {
  sim::NetworkSpec n;
  n.gpus = gpus;
  n.gpus_per_node = domain();
  n.scale_up_bw = scale_up.bandwidth * scale_up.efficiency;
  n.nvls_bw = scale_up.bandwidth * scale_up.nvls_efficiency;
  n.loop_bytes = collectives.loop_bytes;
  n.partial_loop_efficiency = collectives.partial_loop_efficiency;
  n.scale_up_latency = scale_up.latency;
  n.scale_out_bw = scale_out_per_gpu();
  n.scale_out_latency = scale_out.latency;
  n.collective_launch = collectives.launch;
  n.reduction_bw = gpu.memory_bw / collectives.reduction_passes;
  n.p2p_launch = collectives.p2p_launch;
  if (fabric) n.fabric = std::make_shared<const sim::Fabric>(build_fabric(*this).fabric);
  return n;
}

}  // namespace strata::topo
