#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>

#include "common.hpp"
#include "strata/strategy/ops.hpp"

using namespace strata;
using strategy::LayerShape;

namespace {
double gemm_flops(const std::vector<strategy::Op>& ops) {
  double f = 0;
  for (const auto& op : ops)
    if (std::holds_alternative<strategy::Gemm>(op.kind)) f += op.flops.value();
  return f;
}
double all_flops(const std::vector<strategy::Op>& ops) {
  double f = 0;
  for (const auto& op : ops) f += op.flops.value();
  return f;
}
}  // namespace

TEST_CASE("ops: a GPT layer's forward is 24 T h^2 + 4 T s h FLOPs (Narayanan et al. eq. 3)") {
  const auto m = test::gpt(1, 4096, 32);
  for (int tp : {1, 2, 8}) {
    auto p = test::plan(tp, 1, 1, 2);
    const LayerShape s = LayerShape::of(m, test::training(8), p);
    const double T = 2.0 * 2048, h = 4096;
    CHECK(all_flops(strategy::layer_forward(s)) == doctest::Approx((24 * T * h * h + 4 * T * 2048 * h) / tp));
    // Backward computes two GEMMs per forward GEMM.
    CHECK(gemm_flops(strategy::layer_backward(s)) == doctest::Approx(2 * gemm_flops(strategy::layer_forward(s))));
  }
}

TEST_CASE("ops: FlashAttention skips the masked half; GQA and SwiGLU change the projections") {
  auto m = test::gpt(1, 4096, 32);
  const auto flash = LayerShape::of(m, test::training(8, 2048, strategy::AttentionKernel::flash), test::plan(1, 1, 1));
  const double T = 2048, h = 4096;
  CHECK(all_flops(strategy::layer_forward(flash)) == doctest::Approx(24 * T * h * h + 2 * T * 2048 * h));
  m.kv_heads = 8;
  m.ffn = 14336;
  m.activation = strategy::Activation::swiglu;
  const auto llama = LayerShape::of(m, test::training(8, 2048, strategy::AttentionKernel::flash), test::plan(1, 1, 1));
  const double kv = 1024, f = 14336;
  CHECK(gemm_flops(strategy::layer_forward(llama)) ==
        doctest::Approx(2 * T * h * (h + 2 * kv) + 2 * T * h * h + 2 * T * h * 3 * f));
}

TEST_CASE("ops: selective recomputation redoes the attention core only; full redoes the layer") {
  const auto m = test::gpt(1, 4096, 32);
  const auto s = LayerShape::of(m, test::training(8), test::plan(1, 1, 1));
  CHECK(strategy::layer_recompute(s, strategy::Recompute::none).empty());
  CHECK(all_flops(strategy::layer_recompute(s, strategy::Recompute::selective)) == doctest::Approx(4.0 * 2048 * 2048 * 4096));
  CHECK(all_flops(strategy::layer_recompute(s, strategy::Recompute::full)) == doctest::Approx(all_flops(strategy::layer_forward(s))));
  const auto fs = LayerShape::of(m, test::training(8, 2048, strategy::AttentionKernel::flash), test::plan(1, 1, 1));
  CHECK(strategy::layer_recompute(fs, strategy::Recompute::selective).empty());
}

TEST_CASE("ops: TP collectives are two all-reduces, or with SP two all-gathers and two reduce-scatters") {
  const auto m = test::gpt(1, 4096, 32);
  auto p = test::plan(8, 1, 1);
  const auto s = LayerShape::of(m, test::training(8), p);
  const auto ar = strategy::layer_tp_collectives(s, test::tp_group(s));
  REQUIRE(ar.size() == 2);
  CHECK(ar[0].op == sim::CollectiveOp::all_reduce);
  CHECK(ar[0].buffer.value() == doctest::Approx(2048.0 * 4096 * 2));
  p.sequence_parallel = true;
  const auto sp = strategy::layer_tp_collectives(LayerShape::of(m, test::training(8), p), test::tp_group(LayerShape::of(m, test::training(8), p)));
  REQUIRE(sp.size() == 4);
  CHECK(sp[0].op == sim::CollectiveOp::all_gather);
  CHECK(sp[1].op == sim::CollectiveOp::reduce_scatter);
  CHECK(strategy::layer_tp_collectives(LayerShape::of(m, test::training(8), test::plan(1, 1, 1)), test::tp_group(LayerShape::of(m, test::training(8), test::plan(1, 1, 1)))).empty());
}

TEST_CASE("roofline: large GEMMs run at the matmul efficiency, small ones lose to quantisation") {
  const strategy::RooflineCost cost(test::test_gpu(), topo::Precision::bf16);
  const strategy::Gemm big{16384, 16384, 16384, 1};
  CHECK(cost.gemm_efficiency(big) == doctest::Approx(0.8 * 16384 / (16384 + 64.0)).epsilon(0.01));
  const strategy::Gemm thin{64, 64, 4096, 1};
  CHECK(cost.gemm_efficiency(thin) < 0.1);
  // A memory-bound op takes bytes / (bandwidth x efficiency) plus the kernel overhead.
  const strategy::Op copy{"copy", strategy::Elementwise{}, sim::Flops(0), sim::Bytes(1.6e9)};
  CHECK(cost.time(copy).value() == doctest::Approx(1.6e9 / (2e12 * 0.8) + 4e-6));
  // Nothing beats the datasheet peak.
  const strategy::Op g{"g", big, sim::Flops(2.0 * 16384 * 16384 * 16384), sim::Bytes(0)};
  CHECK(cost.time(g).value() > 2.0 * 16384 * 16384 * 16384 / 312e12);
  CHECK_THROWS_AS(strategy::RooflineCost(test::test_gpu(), topo::Precision::fp8), std::invalid_argument);
}

TEST_CASE("roofline: a kernel takes the longer of its GPU time and the host's issue time") {
  topo::GpuSpec gpu = test::test_gpu();
  gpu.host_overhead = sim::Seconds(50e-6);
  const strategy::RooflineCost cost(gpu, topo::Precision::bf16);
  const auto copy = [](double bytes) { return strategy::Op{"copy", strategy::Elementwise{}, sim::Flops(0), sim::Bytes(bytes)}; };
  const strategy::Op big = copy(1.6e9), tiny = copy(1.6e3);  // 1 ms + 4 us and ~5 us on the GPU
  const double t_big = 1.6e9 / (2e12 * 0.8) + 4e-6, t_tiny = 1.6e3 / (2e12 * 0.8) + 4e-6;
  CHECK(cost.device_time(big).value() == doctest::Approx(t_big));
  CHECK(cost.device_time(tiny).value() == doctest::Approx(t_tiny));
  CHECK(cost.host_time(big).value() == doctest::Approx(50e-6));
  CHECK(cost.time(big).value() == doctest::Approx(t_big));
  CHECK(cost.time(tiny).value() == doctest::Approx(50e-6));  // waits for its launch
  // A sequence is the sum of its kernels' times: the host does not bank time during long ones.
  CHECK(cost.total({big, tiny, tiny}).value() == doctest::Approx(t_big + 2 * 50e-6));
}

TEST_CASE("step traffic: each framework's passes per parameter, checked") {
  using strategy::Framework;
  const auto bf16 = topo::Precision::bf16, fp16 = topo::Precision::fp16;
  const auto m = strategy::StepTraffic::of(Framework::megatron, bf16);
  CHECK(m.accumulate == 0);
  CHECK(m.buffer == 16);
  CHECK(m.optimizer == 38);
  CHECK(strategy::StepTraffic::of(Framework::megatron, fp16).optimizer == 46);  // + unscaling
  const auto ds = strategy::StepTraffic::of(Framework::megatron_deepspeed, bf16);
  CHECK(ds.accumulate == 18);  // cast to fp32 (2 + 4) and add (4 + 4 + 4) every micro-batch
  CHECK(ds.buffer == 20);
  CHECK(ds.optimizer == 34);
  CHECK(strategy::StepTraffic::of(Framework::megatron_deepspeed, fp16).optimizer == 78);
  CHECK(strategy::StepTraffic::of(Framework::torchtitan, bf16).optimizer == 40);
  for (double bad : {-1.0, 1001.0, std::nan(""), HUGE_VAL}) {
    strategy::StepTraffic t;
    t.buffer = bad;
    CHECK_THROWS_AS(t.check(), std::invalid_argument);
    strategy::TrainingSpec tr = test::training(8);
    tr.step_traffic = t;
    CHECK_THROWS_AS(tr.check(), std::invalid_argument);
  }
}

TEST_CASE("ops: TP overlap runs the GEMMs next to TP collectives as tp chunks of their tokens") {
  const auto m = test::gpt(4, 4096, 32, 2048);
  auto p = test::plan(8, 1, 1);
  p.sequence_parallel = true;
  const auto x = LayerShape::of(m, test::training(8), p);
  const auto fwd = strategy::layer_forward(x);
  const auto split = strategy::tp_overlap_split(fwd, 8);
  int token_gemms = 0;
  for (const auto& op : fwd)
    if (const auto* g = std::get_if<strategy::Gemm>(&op.kind); g && g->token_rows) {
      ++token_gemms;
      CHECK(g->m == x.tokens());
    }
  CHECK(token_gemms == 4);  // QKV, attention output, MLP up and down
  CHECK(split.size() == fwd.size() + 4 * 7);
  double flops = 0, split_flops = 0, bytes = 0, split_bytes = 0;
  for (const auto& op : fwd) {
    flops += op.flops.value();
    bytes += op.bytes.value();
  }
  for (const auto& op : split) {
    split_flops += op.flops.value();
    split_bytes += op.bytes.value();
    if (const auto* g = std::get_if<strategy::Gemm>(&op.kind); g && g->token_rows) CHECK(g->m == x.tokens() / 8);
  }
  CHECK(split_flops == doctest::Approx(flops));  // the same work, in smaller GEMMs
  CHECK(split_bytes > bytes);                    // each chunk reads the whole weight again
  // Weight-gradient GEMMs (rows are weight dimensions) and the attention core stay whole.
  const auto bwd = strategy::layer_backward(x);
  int kept = 0;
  for (const auto& op : strategy::tp_overlap_split(bwd, 8))
    if (const auto* g = std::get_if<strategy::Gemm>(&op.kind); g && !g->token_rows) ++kept;
  int whole = 0;
  for (const auto& op : bwd)
    if (const auto* g = std::get_if<strategy::Gemm>(&op.kind); g && !g->token_rows) ++whole;
  CHECK(kept == whole);
  CHECK(strategy::tp_overlap_split(fwd, 1).size() == fwd.size());
  // A chunk of 256 tokens fills the SMs worse than the whole GEMM: overlap costs GEMM time.
  const strategy::RooflineCost cost(test::test_gpu(), topo::Precision::bf16);
  CHECK(cost.total(split) > cost.total(fwd));
}
