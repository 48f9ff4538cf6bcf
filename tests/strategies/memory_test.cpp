#include <doctest/doctest.h>

#include <stdexcept>

#include "common.hpp"
#include "strata/strategy/memory.hpp"

using namespace strata;
using strategy::LayerShape;
using strategy::Recompute;

// Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
// Table 2: activation bytes per layer for s, b, h, a, t.
TEST_CASE("memory: activations per layer match Korthikanti's closed forms") {
  const double s = 2048, b = 2, h = 12288, a = 96, t = 8;
  const auto m = test::gpt(1, 12288, 96);
  const double sbh = s * b * h;
  auto shape = [&](int tp, bool sp) {
    auto p = test::plan(tp, 1, 1, 2);
    p.sequence_parallel = sp;
    return LayerShape::of(m, test::training(8), p);
  };
  using strategy::layer_activation_bytes;
  CHECK(layer_activation_bytes(shape(1, false), Recompute::none).value() == doctest::Approx(sbh * (34 + 5 * a * s / h)));
  CHECK(layer_activation_bytes(shape(8, false), Recompute::none).value() ==
        doctest::Approx(sbh * (10 + 24 / t + 5 * a * s / (h * t))));
  CHECK(layer_activation_bytes(shape(8, true), Recompute::none).value() ==
        doctest::Approx(sbh / t * (34 + 5 * a * s / h)));
  CHECK(layer_activation_bytes(shape(8, false), Recompute::selective).value() == doctest::Approx(sbh * (10 + 24 / t)));
  CHECK(layer_activation_bytes(shape(8, true), Recompute::selective).value() == doctest::Approx(sbh * 34 / t));
  CHECK(layer_activation_bytes(shape(8, false), Recompute::full).value() == doctest::Approx(2 * sbh));
  CHECK(layer_activation_bytes(shape(8, true), Recompute::full).value() == doctest::Approx(2 * sbh / t));
}

TEST_CASE("memory: weights, gradients and optimizer state per parameter by ZeRO stage") {
  // Mixed precision with Adam: 2 (weights) + 4 (fp32 gradients) + 12 (master, m, v) bytes.
  const auto m = test::gpt(8, 4096, 32);
  const auto t = test::training(64);
  const double d = 8;
  const std::array<double, 4> expected{18, 6 + 12 / d, 2 + 16 / d, 18 / d};
  for (int z = 0; z < 4; ++z) {
    auto p = test::plan(1, 1, 8);
    p.zero = z;
    const auto mem = strategy::plan_memory(m, t, p, sim::Bytes(0));
    const auto& s = mem.stages.at(0);
    const double per_param = (s.weights + s.gradients + s.optimizer).value() / s.params;
    CHECK(per_param == doctest::Approx(expected[static_cast<std::size_t>(z)]));
  }
}

TEST_CASE("memory: micro-batches in flight follow the schedule") {
  auto p = test::plan(1, 4, 1);
  p.schedule = strategy::Schedule::one_f_one_b;
  CHECK(strategy::inflight_microbatches(p, 0, 16) == 4);
  CHECK(strategy::inflight_microbatches(p, 3, 16) == 1);
  CHECK(strategy::inflight_microbatches(p, 0, 2) == 2);
  p.schedule = strategy::Schedule::gpipe;
  CHECK(strategy::inflight_microbatches(p, 3, 16) == 16);
  p.schedule = strategy::Schedule::interleaved;
  p.vpp = 2;
  // Megatron-LM: (p - s - 1) * 2 + (v - 1) * p warm-up chunks, plus the one in progress.
  CHECK(strategy::inflight_microbatches(p, 0, 16) == 3 * 2 + 1 * 4 + 1);
  CHECK(strategy::inflight_microbatches(p, 3, 16) == 0 + 4 + 1);
  CHECK(strategy::inflight_microbatches(test::plan(1, 1, 1), 0, 16) == 1);
}

TEST_CASE("memory: the first stage holds the most activations under 1F1B") {
  const auto m = test::gpt(32, 4096, 32);
  auto p = test::plan(1, 4, 2);
  const auto mem = strategy::plan_memory(m, test::training(64), p, sim::Bytes(2 * sim::kGiB));
  REQUIRE(mem.stages.size() == 4);
  CHECK(mem.stages[0].activations > mem.stages[3].activations);
  CHECK(mem.stages[0].activations.value() == doctest::Approx(4 * mem.stages[3].activations.value()).epsilon(0.05));
  CHECK(mem.peak.total() >= mem.stages[3].total());
  CHECK(mem.stages[1].reserved.value() == doctest::Approx(2 * sim::kGiB));
}
