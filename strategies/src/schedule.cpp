#include "strata/strategy/schedule.hpp"

#include <algorithm>

namespace strata::strategy {

std::vector<PipelineOp> stage_schedule(const Plan& p, int stage, int m) {
  std::vector<PipelineOp> ops;
  if (p.pp == 1) {
    for (int i = 0; i < m; ++i) {
      ops.push_back({true, i, 0});
      ops.push_back({false, i, 0});
    }
    return ops;
  }
  if (p.schedule == Schedule::gpipe) {
    for (int i = 0; i < m; ++i) ops.push_back({true, i, 0});
    for (int i = 0; i < m; ++i) ops.push_back({false, i, 0});
    return ops;
  }
  if (p.schedule == Schedule::zb_h1) {
    const int warmup = std::min(p.pp - stage - 1, m);
    std::vector<int> deferred;  // micro-batches whose W pass is pending
    auto backward = [&](int i) {
      ops.push_back({false, i, 0});
      deferred.push_back(i);
      if (static_cast<int>(deferred.size()) > stage) {
        ops.push_back({false, deferred.front(), 0, false, true});
        deferred.erase(deferred.begin());
      }
    };
    for (int i = 0; i < warmup; ++i) ops.push_back({true, i, 0});
    for (int i = 0; i < m - warmup; ++i) {
      ops.push_back({true, warmup + i, 0});
      backward(i);
    }
    for (int i = m - warmup; i < m; ++i) backward(i);
    for (int i : deferred) ops.push_back({false, i, 0, false, true});
    return ops;
  }
  if (p.schedule == Schedule::one_f_one_b) {
    const int warmup = std::min(p.pp - stage - 1, m);
    for (int i = 0; i < warmup; ++i) ops.push_back({true, i, 0});
    for (int i = 0; i < m - warmup; ++i) {
      ops.push_back({true, warmup + i, 0});
      ops.push_back({false, i, 0});
    }
    for (int i = m - warmup; i < m; ++i) ops.push_back({false, i, 0});
    return ops;
  }
  // Interleaved 1F1B (Megatron-LM): micro-batches go through the chunks in groups of pp.
  const int v = p.vpp, pp = p.pp;
  const int total = m * v;
  const int warmup = m == pp ? total : std::min((pp - stage - 1) * 2 + (v - 1) * pp, total);
  auto op = [&](int k, bool forward) {
    const int in_group = k % (pp * v);
    int chunk = in_group / pp;
    if (!forward) chunk = v - 1 - chunk;
    const int mb = (k / (pp * v)) * pp + k % pp;
    return PipelineOp{forward, mb, chunk};
  };
  for (int k = 0; k < warmup; ++k) ops.push_back(op(k, true));
  for (int i = 0; i < total - warmup; ++i) {
    ops.push_back(op(warmup + i, true));
    ops.back().pair_start = true;
    ops.push_back(op(i, false));
  }
  for (int k = total - warmup; k < total; ++k) ops.push_back(op(k, false));
  return ops;
}

}  // namespace strata::strategy
