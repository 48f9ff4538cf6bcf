#include <doctest/doctest.h>

#include <stdexcept>

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
