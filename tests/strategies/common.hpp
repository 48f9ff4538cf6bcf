#pragma once
// Models and problems shared by the strategies tests.

#include <algorithm>

#include "strata/strategy/model.hpp"
#include "strata/strategy/ops.hpp"
#include "strata/strategy/search.hpp"
#include "fixtures.hpp"
#include "support.hpp"

namespace strata::test {

/// A GPT-style model: `layers` layers of width `hidden`, 4x MLP, GELU, dropout, vocab 51200.
inline strategy::ModelSpec gpt(int layers, int hidden, int heads, int seq = 2048) {
  strategy::ModelSpec m;
  m.name = "gpt-test";
  m.layers = layers;
  m.hidden = hidden;
  m.heads = heads;
  m.kv_heads = heads;
  m.ffn = 4 * hidden;
  m.vocab = 51200;
  m.seq_len = seq;
  m.activation = strategy::Activation::gelu;
  return m;
}

/// The layout of a layer's TP, CP or EP group on 8-GPU nodes when it is placed innermost.
inline sim::GroupShape tp_group(const strategy::LayerShape& x) { return {x.tp, std::min(x.tp, 8)}; }
inline sim::GroupShape cp_group(const strategy::LayerShape& x) { return {x.cp, std::min(x.cp, 8)}; }
inline sim::GroupShape ep_group(const strategy::LayerShape& x) { return {x.ep, std::min(x.ep, 8)}; }

inline strategy::TrainingSpec training(int global_batch, int seq = 2048,
                                       strategy::AttentionKernel a = strategy::AttentionKernel::unfused) {
  strategy::TrainingSpec t;
  t.global_batch = global_batch;
  t.seq_len = seq;
  t.precision = topo::Precision::bf16;
  t.attention = a;
  return t;
}

/// A cluster of test GPUs whose network is effectively free, so only compute and the schedule
/// matter.
inline topo::ClusterSpec free_network(int gpus) {
  topo::ClusterSpec c = test_cluster(gpus);
  c.scale_up = {sim::ByteRate(1e30), sim::Seconds(0)};
  c.scale_out.nic_bandwidth = sim::ByteRate(1e30);
  c.scale_out.latency = sim::Seconds(0);
  c.collectives = {sim::Seconds(0), 1e-30, sim::Seconds(0), sim::Bytes(0), 1.0};
  c.collectives.reduction_passes = 1e-30;
  return c;
}

inline strategy::Plan plan(int tp, int pp, int dp, int mbs = 1) {
  strategy::Plan p;
  p.tp = tp;
  p.pp = pp;
  p.dp = dp;
  p.micro_batch = mbs;
  return p;
}

}  // namespace strata::test
