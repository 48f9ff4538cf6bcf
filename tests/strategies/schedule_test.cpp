#include <doctest/doctest.h>

#include <stdexcept>

#include <map>
#include <set>

#include "common.hpp"
#include "strata/strategy/builder.hpp"
#include "strata/strategy/schedule.hpp"

using namespace strata;
using strategy::Schedule;

namespace {
strategy::Plan pipeline(int pp, int vpp, Schedule s) {
  strategy::Plan p = test::plan(1, pp, 1);
  p.vpp = vpp;
  p.schedule = s;
  return p;
}


double step(int pp, int vpp, int m, Schedule s, int layers) {
  const auto model = test::gpt(layers, 1024, 16, 256);
  // FlashAttention: the attention core is one fused kernel, free here like every non-GEMM.
  const auto t = test::training(m, 256, strategy::AttentionKernel::flash);
  const test::FixedCost cost(1e-3, 0.0);  // GEMMs 1 ms, the rest free; edges free
  const auto g = strategy::build_task_graph(model, t, test::free_network(pp), pipeline(pp, vpp, s), cost,
                                            strategy::Granularity::chunk);
  return sim::make_analytical_backend()->replay(g, test::free_network(pp).network()).step_time.value();
}
}  // namespace

TEST_CASE("schedule: every stage runs each pass once, forward before backward") {
  for (Schedule s : {Schedule::gpipe, Schedule::one_f_one_b, Schedule::interleaved}) {
    for (int pp : {2, 4}) {
      const int vpp = s == Schedule::interleaved ? 2 : 1;
      const int m = 8;
      for (int stage = 0; stage < pp; ++stage) {
        const auto ops = strategy::stage_schedule(pipeline(pp, vpp, s), stage, m);
        CHECK(ops.size() == static_cast<std::size_t>(2 * m * vpp));
        std::set<std::tuple<bool, int, int>> seen;
        std::map<std::pair<int, int>, bool> forwarded;
        for (const auto& op : ops) {
          CHECK(seen.insert({op.forward, op.microbatch, op.chunk}).second);
          if (op.forward) forwarded[{op.microbatch, op.chunk}] = true;
          else CHECK(forwarded[{op.microbatch, op.chunk}]);
        }
      }
    }
  }
}

TEST_CASE("schedule: 1F1B warms up with pp - stage - 1 forwards") {
  const auto p = pipeline(4, 1, Schedule::one_f_one_b);
  for (int stage = 0; stage < 4; ++stage) {
    const auto ops = strategy::stage_schedule(p, stage, 8);
    int warm = 0;
    while (ops[static_cast<std::size_t>(warm)].forward && ops[static_cast<std::size_t>(warm) + 1].forward) ++warm;
    CHECK(warm == 4 - stage - 1);
  }
}

// Narayanan et al. 2021: with uniform stages, the 1F1B (and GPipe) bubble is (p-1)/(m+p-1) of
// the step; interleaving v chunks shrinks the bubble time by v.
TEST_CASE("schedule: the 1F1B bubble is (p-1)/(m+p-1) of the step with uniform stages") {
  // Per layer: 4 forward GEMMs and 8 backward GEMMs of 1 ms.
  for (int pp : {2, 4, 8}) {
    for (int m : {1, 4, 8, 32}) {
      const int layers = 2 * pp;
      const double tf = 4e-3 * layers / pp, tb = 8e-3 * layers / pp;
      const double expected = (m + pp - 1) * (tf + tb);
      INFO("pp=" << pp << " m=" << m);
      CHECK(step(pp, 1, m, Schedule::one_f_one_b, layers) == doctest::Approx(expected).epsilon(1e-9));
      CHECK(step(pp, 1, m, Schedule::gpipe, layers) == doctest::Approx(expected).epsilon(1e-9));
      const double bubble = (expected - m * (tf + tb)) / expected;
      CHECK(bubble == doctest::Approx(static_cast<double>(pp - 1) / (m + pp - 1)));
    }
  }
}

TEST_CASE("schedule: interleaving v chunks divides the bubble time by v") {
  for (int pp : {2, 4}) {
    for (int v : {2, 4}) {
      for (int m : {pp, 2 * pp, 4 * pp}) {
        const int layers = pp * v * 2;
        const double tf = 4e-3 * layers / pp, tb = 8e-3 * layers / pp;  // per stage, all chunks
        INFO("pp=" << pp << " v=" << v << " m=" << m);
        CHECK(step(pp, v, m, Schedule::interleaved, layers) ==
              doctest::Approx(m * (tf + tb) + (pp - 1) * (tf + tb) / v).epsilon(1e-9));
      }
    }
  }
}

TEST_CASE("schedule: no plan shape deadlocks") {
  const auto model = test::gpt(48, 1024, 16, 128);
  const test::FixedCost cost(1e-3, 1e-4, 1e-4);
  for (Schedule s : {Schedule::gpipe, Schedule::one_f_one_b, Schedule::interleaved}) {
    for (int pp : {1, 2, 3, 4, 8}) {
      for (int v : {1, 2, 3}) {
        if ((s == Schedule::interleaved) != (v > 1) || (s == Schedule::interleaved && pp < 2)) continue;
        for (int m = 1; m <= 17; ++m) {
          if (s == Schedule::interleaved && m % pp != 0) continue;
          for (bool blocking : {true, false}) {
            for (int zero : {0, 1, 3}) {
              auto t = test::training(m * 2, 128);
              t.blocking_p2p = blocking;
              auto p = pipeline(pp, v, s);
              p.dp = 2;
              p.zero = zero;
              const auto c = test::test_cluster(pp * 2);
              for (auto g : {strategy::Granularity::chunk, strategy::Granularity::layer}) {
                INFO(p.to_string() << " m=" << m << " blocking=" << blocking);
                CHECK_NOTHROW((void)strategy::build_task_graph(model, t, c, p, cost, g).adjacency());
              }
            }
          }
        }
      }
    }
  }
}
