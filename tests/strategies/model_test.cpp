#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "common.hpp"

using namespace strata;

TEST_CASE("model: parameter counts of published models") {
  strategy::ModelSpec gpt3 = test::gpt(96, 12288, 96);
  CHECK(gpt3.total_params(2048) == doctest::Approx(174.6e9).epsilon(0.002));

  strategy::ModelSpec llama;
  llama.name = "llama";
  llama.activation = strategy::Activation::swiglu;
  llama.tied_embeddings = false;
  llama.learned_positions = false;
  llama.dropout = false;
  llama.vocab = 128256;
  llama.seq_len = 8192;
  for (auto [layers, hidden, heads, ffn, expected] :
       {std::tuple{32, 4096, 32, 14336, 8.03e9}, {80, 8192, 64, 28672, 70.55e9}, {126, 16384, 128, 53248, 405.85e9}}) {
    llama.layers = layers;
    llama.hidden = hidden;
    llama.heads = heads;
    llama.kv_heads = 8;
    llama.ffn = ffn;
    CHECK(llama.total_params(8192) == doctest::Approx(expected).epsilon(0.003));
  }
}

TEST_CASE("model: step FLOPs follow 6 N T + 12 l h s T") {
  const auto m = test::gpt(24, 2304, 24);
  const auto t = test::training(512);
  const double tokens = 512.0 * 2048;
  const double dense = 24 * m.layer_params() + 51200.0 * 2304;
  CHECK(strategy::model_flops_per_step(m, t) == doctest::Approx(6 * dense * tokens + 12.0 * 24 * 2304 * 2048 * tokens));
}

TEST_CASE("model: impossible shapes are rejected") {
  auto m = test::gpt(24, 2304, 25);
  CHECK_THROWS_AS(m.check(), std::invalid_argument);
  m = test::gpt(24, 2304, 24);
  m.kv_heads = 5;
  CHECK_THROWS_AS(m.check(), std::invalid_argument);
}

TEST_CASE("model: sizes beyond the limits and NaN training settings are rejected") {
  auto m = test::gpt(24, 2304, 24);
  CHECK_NOTHROW(m.check());
  m.layers = strategy::limits::max_layers + 1;
  CHECK_THROWS_WITH_AS(m.check(), doctest::Contains("layers must be between 1 and 65536"), std::invalid_argument);
  m = test::gpt(24, 2304, 24);
  m.heads = 0;
  CHECK_THROWS_AS(m.check(), std::invalid_argument);  // before hidden % heads
  m = test::gpt(24, 2304, 24);
  m.vocab = -1;
  CHECK_THROWS_WITH_AS(m.check(), doctest::Contains("vocab"), std::invalid_argument);
  m = test::gpt(24, 2304, 24);
  m.experts = -2;
  CHECK_THROWS_WITH_AS(m.check(), doctest::Contains("experts must be positive"), std::invalid_argument);
  m = test::gpt(24, 2304, 24);
  m.name = std::string(300, 'n');
  CHECK_THROWS_WITH_AS(m.check(), doctest::Contains("at most 256"), std::invalid_argument);

  auto t = test::training(512);
  CHECK_NOTHROW(t.check());
  t.capacity_factor = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH_AS(t.check(), doctest::Contains("capacity_factor"), std::invalid_argument);
  t.capacity_factor = std::nan("");
  CHECK_THROWS_WITH_AS(t.check(), doctest::Contains("capacity_factor"), std::invalid_argument);
  t = test::training(strategy::limits::max_global_batch);
  t.seq_len = 1024;
  CHECK_THROWS_WITH_AS(t.check(), doctest::Contains("tokens per step"), std::invalid_argument);
}
