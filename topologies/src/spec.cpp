#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>

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

// Length of the UTF-8 sequence starting at s[i] (1-4), or 0 if the bytes there are not UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned c = b(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;
  else if (c >= 0xE1 && c <= 0xEC) n = 3;
  else if (c == 0xED) n = 3, hi = 0x9F;
  else if (c >= 0xEE && c <= 0xEF) n = 3;
  else if (c == 0xF0) n = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else if (c == 0xF4) n = 4, hi = 0x8F;
  else return 0;
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  return n;
}

bool control(unsigned char c) { return c < 0x20 || c == 0x7F; }

}  // namespace

std::string printable(std::string_view text, std::size_t max) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(std::min<std::size_t>(text.size(), max == 0 ? text.size() : max) + 8);
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_length(text, i);
    if (max > 0 && out.size() + std::max<std::size_t>(n, 1) > max) {
      out += "...";
      return out;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (n == 1 && !control(c)) {
      out += text[i];
    } else if (n > 1) {
      out.append(text.substr(i, n));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == 0) {
      out += "\\0";
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
    i += std::max<std::size_t>(n, 1);
  }
  return out;
}

bool clean_text(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_length(text, i);
    if (n == 0 || (n == 1 && control(static_cast<unsigned char>(text[i])))) return false;
    i += n;
  }
  return true;
}

namespace {
void need(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}
// NaN fails every comparison, so each of these is false for NaN.
bool fraction(double x) { return x > 0 && x <= 1; }
bool within(double x, double lo, double hi) { return x >= lo && x <= hi; }
// Zero, or a finite value in [lo, hi].
bool zero_or_within(double x, double lo, double hi) { return x == 0 || within(x, lo, hi); }
bool rate(ByteRate r) { return within(r.value(), limits::min_byte_rate, limits::max_byte_rate); }
bool duration(Seconds s) { return zero_or_within(s.value(), limits::min_seconds, limits::max_seconds); }
}  // namespace

std::string_view to_string(AttentionLibrary a) { return a == AttentionLibrary::flash2 ? "flash2" : "cudnn"; }

std::optional<AttentionLibrary> parse_attention_library(std::string_view s) {
  if (s == "flash2") return AttentionLibrary::flash2;
  if (s == "cudnn") return AttentionLibrary::cudnn;
  return std::nullopt;
}

double AttentionCurve::at(int head_dim, double keys, bool causal_mask) const {
  if (efficiency.empty()) return 0;
  double e = efficiency.front().second;
  if (head_dim >= efficiency.back().first) {
    e = efficiency.back().second;
  } else if (head_dim > efficiency.front().first) {
    for (std::size_t i = 1; i < efficiency.size(); ++i) {
      const auto [h1, e1] = efficiency[i];
      if (head_dim > h1) continue;
      const auto [h0, e0] = efficiency[i - 1];
      const double w = std::log2(static_cast<double>(head_dim) / h0) / std::log2(static_cast<double>(h1) / h0);
      e = e0 + w * (e1 - e0);
      break;
    }
  }
  const double n = std::max(keys, 1.0) / block;
  return causal_mask ? e * causal * n / (n + 1 + 2 * fixed_blocks) : e * n / (n + fixed_blocks);
}

namespace {
void check_curve(const AttentionCurve& c, const std::string& where) {
  need(!c.efficiency.empty(), where + ".efficiency is empty");
  int last = 0;
  for (const auto& [hd, e] : c.efficiency) {
    need(hd > last && hd <= 65536, where + ".efficiency: head dims must be ascending, 1 to 65536");
    need(fraction(e), where + ".efficiency: fractions must be in (0, 1]");
    last = hd;
  }
  need(c.causal > 0 && c.causal <= 2, where + ".causal must be in (0, 2]");
  need(within(c.fixed_blocks, 0, 1000), where + ".fixed_blocks must be between 0 and 1000");
  need(c.block > 0 && c.block <= 65536, where + ".block must be between 1 and 65536");
}
}  // namespace

void GpuSpec::check() const {
  need(!name.empty(), "gpu: name is empty");
  need(name.size() <= limits::max_name && clean_text(name),
       "gpu " + printable(name) + ": the name must be at most 256 printable characters");
  const std::string g = "gpu " + name + ": ";
  need(within(memory.value(), limits::min_bytes, limits::max_bytes), g + "memory must be between 1 B and 1 PiB");
  need(reserved_memory.value() >= 0 && reserved_memory < memory, g + "reserved_memory must be below memory");
  need(rate(memory_bw), g + "memory_bandwidth must be between 1 Kb/s and 1 PB/s");
  need(sms > 0 && sms <= limits::max_sms, g + "sms must be between 1 and " + std::to_string(limits::max_sms));
  need(rate(nvlink_bw), g + "nvlink must be between 1 Kb/s and 1 PB/s");
  need(pcie_generation == 0 || (pcie_generation >= 3 && pcie_generation <= 6), g + "pcie must be 3, 4, 5 or 6");
  need(fraction(matmul_efficiency), g + "efficiency.matmul must be in (0, 1]");
  if (supports(Precision::fp8))
    need(fraction(matmul_fp8_efficiency), g + "efficiency.matmul_fp8 must be in (0, 1] (the GPU has an fp8 peak)");
  else
    need(matmul_fp8_efficiency == 0, g + "efficiency.matmul_fp8 needs an fp8 peak");
  need(fraction(attention_efficiency), g + "efficiency.attention must be in (0, 1]");
  need(fraction(memory_efficiency), g + "efficiency.memory must be in (0, 1]");
  need(duration(kernel_overhead), g + "efficiency.kernel_overhead must be 0 or between 1 ns and 1 hour");
  need(duration(host_overhead), g + "efficiency.host_overhead must be 0 or between 1 ns and 1 hour");
  need(gemm_tile_m > 0 && gemm_tile_n > 0 && gemm_tile_m <= limits::max_gemm_tile &&
           gemm_tile_n <= limits::max_gemm_tile,
       g + "gemm tiles must be between 1 and " + std::to_string(limits::max_gemm_tile));
  bool any = false;
  for (const auto& p : peak) {
    if (p) {
      need(within(p->value(), limits::min_flop_rate, limits::max_flop_rate),
           g + "peak rates must be between 1 GFLOP/s and 1e18 FLOP/s");
      any = true;
    }
  }
  need(any, g + "no peak rate given");
  for (int i = 0; i < kAttentionLibraryCount; ++i) {
    if (!attention[i]) continue;
    const std::string a = g + "attention." + std::string(to_string(static_cast<AttentionLibrary>(i)));
    check_curve(attention[i]->forward, a + ".forward");
    check_curve(attention[i]->backward, a + ".backward");
  }
}

std::string_view to_string(Topology t) { return t == Topology::fat_tree ? "fat-tree" : "rail-optimized"; }

int ClusterSpec::domain() const { return std::min(scale_up.domain > 0 ? scale_up.domain : gpus_per_node, gpus); }

ByteRate ClusterSpec::scale_out_per_gpu() const {
  return scale_out.nic_bandwidth * (scale_out.efficiency * scale_out.nics_per_node / gpus_per_node);
}

void ClusterSpec::check() const {
  gpu.check();
  need(name.size() <= limits::max_name && clean_text(name),
       "cluster " + printable(name) + ": the name must be at most 256 printable characters");
  const std::string c = "cluster " + name + ": ";
  need(gpus > 0 && gpus <= limits::max_gpus, c + "gpus must be between 1 and " + std::to_string(limits::max_gpus));
  need(gpus_per_node > 0 && gpus_per_node <= limits::max_gpus_per_node,
       c + "gpus_per_node must be between 1 and " + std::to_string(limits::max_gpus_per_node));
  need(gpus % gpus_per_node == 0 || gpus < gpus_per_node,
       c + "gpus (" + std::to_string(gpus) + ") must be a multiple of gpus_per_node (" + std::to_string(gpus_per_node) +
           ")");
  need(rate(scale_up.bandwidth), c + "scale_up.bandwidth must be between 1 Kb/s and 1 PB/s");
  need(duration(scale_up.latency), c + "scale_up.latency must be 0 or between 1 ns and 1 hour");
  need(scale_out.nics_per_node > 0 && scale_out.nics_per_node <= limits::max_nics_per_node,
       c + "scale_out.nics_per_node must be between 1 and " + std::to_string(limits::max_nics_per_node));
  const std::int64_t nodes = std::max(1, gpus / gpus_per_node);
  need(nodes * scale_out.nics_per_node <= limits::max_nics,
       c + "scale_out: " + std::to_string(nodes * scale_out.nics_per_node) + " NICs exceed " +
           std::to_string(limits::max_nics));
  need(rate(scale_out.nic_bandwidth), c + "scale_out.nic_bandwidth must be between 1 Kb/s and 1 PB/s");
  need(fraction(scale_out.efficiency), c + "scale_out.efficiency must be in (0, 1]");
  need(duration(scale_out.latency), c + "scale_out.latency must be 0 or between 1 ns and 1 hour");
  need(fraction(scale_up.efficiency), c + "scale_up.efficiency must be in (0, 1]");
  need(within(scale_up.nvls_efficiency, 0, 1), c + "scale_up.nvls_efficiency must be in [0, 1]");
  need(scale_up.domain >= 0 && scale_up.domain <= limits::max_gpus &&
           (scale_up.domain == 0 || scale_up.domain % gpus_per_node == 0),
       c + "scale_up.domain must be a multiple of gpus_per_node");
  // The last NVLink domain may be partly filled (96 GPUs of 72-GPU racks): whole nodes suffice.
  need(scale_out.switch_radix >= 2 && scale_out.switch_radix <= limits::max_switch_radix,
       c + "scale_out.switch_radix must be between 2 and " + std::to_string(limits::max_switch_radix));
  need(within(scale_out.oversubscription, 1, limits::max_oversubscription),
       c + "scale_out.oversubscription must be between 1 and 1024");
  need(scale_out.planes >= 1 && scale_out.planes <= limits::max_planes,
       c + "scale_out.planes must be between 1 and " + std::to_string(limits::max_planes));
  need(scale_out.levels == 0 || scale_out.levels == 2 || scale_out.levels == 3, c + "scale_out.levels must be 2 or 3");
  need(zero_or_within(collectives.loop_bytes.value(), limits::min_bytes, limits::max_bytes),
       c + "collectives.loop_bytes must be 0 (no staircase) or between 1 B and 1 PiB");
  need(fraction(collectives.partial_loop_efficiency), c + "collectives.partial_loop_efficiency must be in (0, 1]");
  need(duration(collectives.launch), c + "collectives.launch must be 0 or between 1 ns and 1 hour");
  need(within(collectives.reduction_passes, limits::min_reduction_passes, limits::max_reduction_passes),
       c + "collectives.reduction_passes must be between 0.01 and 100");
  need(duration(collectives.p2p_launch), c + "collectives.p2p_launch must be 0 or between 1 ns and 1 hour");
  need(duration(collectives.tree_hop_latency), c + "collectives.tree_hop_latency must be 0 or between 1 ns and 1 hour");
  need(duration(collectives.nvls_tree_latency),
       c + "collectives.nvls_tree_latency must be 0 or between 1 ns and 1 hour");
  need(collectives.nvls_channels >= 0 && collectives.nvls_channels <= limits::max_nvls_channels,
       c + "collectives.nvls_channels must be between 0 and " + std::to_string(limits::max_nvls_channels));
  need(collectives.nvls_channels == 0
           ? collectives.nvls_tree_chunk.value() == 0
           : within(collectives.nvls_tree_chunk.value(), limits::min_bytes, limits::max_bytes),
       c + "collectives.nvls_tree_chunk must be between 1 B and 1 PiB with nvls_channels, and absent without");
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
  n.tree_latency = collectives.tree_hop_latency;
  n.nvls_channels = collectives.nvls_channels;
  n.nvls_tree_latency = collectives.nvls_tree_latency;
  n.nvls_tree_chunk = collectives.nvls_tree_chunk;
  if (fabric) n.fabric = std::make_shared<const sim::Fabric>(build_fabric(*this).fabric);
  return n;
}

}  // namespace strata::topo
