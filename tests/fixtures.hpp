#pragma once
// Synthetic hardware and a fixed-time op cost model for the model tests.

#include <array>
#include <string_view>

#include "strata/strategy/ops.hpp"
#include "strata/topo/cluster.hpp"

namespace strata::test {

/// A DGX-A100-like GPU with round numbers.
inline topo::GpuSpec test_gpu() {
  topo::GpuSpec g;
  g.name = "test-gpu";
  g.memory = sim::Bytes(80.0 * sim::kGiB);
  g.reserved_memory = sim::Bytes(2.0 * sim::kGiB);
  g.memory_bw = sim::ByteRate(2e12);
  g.sms = 108;
  g.nvlink_bw = sim::ByteRate(300e9);
  g.peak[static_cast<int>(topo::Precision::fp16)] = sim::FlopRate(312e12);
  g.peak[static_cast<int>(topo::Precision::bf16)] = sim::FlopRate(312e12);
  g.matmul_efficiency = 0.8;
  g.attention_efficiency = 0.6;
  g.memory_efficiency = 0.8;
  g.kernel_overhead = sim::Seconds(4e-6);
  g.host_overhead = sim::Seconds(0);
  return g;
}

/// A cluster of `gpus` test GPUs, 8 per node, 8 x 25 GB/s NICs per node.
inline topo::ClusterSpec test_cluster(int gpus) {
  topo::ClusterSpec c;
  c.name = "test-cluster";
  c.gpu = test_gpu();
  c.gpus = gpus;
  c.gpus_per_node = 8;
  c.scale_up = {sim::ByteRate(300e9), sim::Seconds(2e-6)};
  c.scale_out.nics_per_node = 8;
  c.scale_out.nic_bandwidth = sim::ByteRate(25e9);
  c.scale_out.efficiency = 1.0;
  c.scale_out.latency = sim::Seconds(5e-6);
  c.collectives = {sim::Seconds(40e-6), 4.0, sim::Seconds(10e-6), sim::Bytes(0), 1.0};
  return c;
}

/// Op costs by kind: every layer GEMM takes `gemm` seconds, everything else `other`; the
/// embedding, output head and optimizer take `edges` (0 makes the stages uniform); the
/// framework's gradient-buffer and accumulation passes nothing.
class FixedCost final : public strategy::OpCostModel {
 public:
  FixedCost(double gemm, double other, double edges = 0) : gemm_(gemm), other_(other), edges_(edges) {}
  [[nodiscard]] std::string_view name() const override { return "fixed"; }
  [[nodiscard]] sim::Seconds device_time(const strategy::Op& op) const override {
    static const std::array<std::string_view, 9> edge_ops{"embedding", "embedding_dropout", "embedding_bwd",
                                                          "final_norm", "logits", "cross_entropy",
                                                          "cross_entropy_bwd", "final_norm_bwd", "adam"};
    for (auto e : edge_ops)
      if (op.name == e) return sim::Seconds(edges_);
    // The framework's gradient-buffer and accumulation passes (StepTraffic) cost nothing here,
    // so that the closed forms count layers only; tests of those passes price them on their own.
    if (op.name == "grad_buffer" || op.name == "grad_accumulate") return sim::Seconds(0);
    return sim::Seconds(std::holds_alternative<strategy::Gemm>(op.kind) ? gemm_ : other_);
  }

 private:
  double gemm_, other_, edges_;
};

}  // namespace strata::test
