#include <doctest/doctest.h>

#include <stdexcept>

#include "strata/sim/metrics.hpp"

using namespace strata::sim;

TEST_CASE("metrics: compute, exposed communication and idle time add up to the step") {
  // GPU 0: forward [0,1], backward [1,3]; DP all-reduce [2,4] overlaps the backward by 1 s;
  // a TP task [4,4.5] on the compute stream; then idle until GPU 1 ends at 6.
  TaskGraph g;
  g.add(Task{ComputeWork{Seconds(1)}, 0, Lane::compute, Category::forward});
  g.add(Task{ComputeWork{Seconds(2)}, 0, Lane::compute, Category::backward});
  g.add(Task{ComputeWork{Seconds(2)}, 0, Lane::reduce, Category::dp_comm});
  g.add(Task{ComputeWork{Seconds(0.5)}, 0, Lane::compute, Category::tp_comm});
  g.add(Task{ComputeWork{Seconds(6)}, 1, Lane::compute, Category::forward});
  ReplayResult r;
  r.timings = {{0, 1}, {1, 3}, {2, 4}, {4, 4.5}, {0, 6}};
  r.step_time = Seconds(6);
  const Breakdown b = summarize(g, r);
  REQUIRE(b.per_gpu.size() == 2);
  const GpuBreakdown& g0 = b.per_gpu[0];
  CHECK(g0.forward.value() == doctest::Approx(1));
  CHECK(g0.backward.value() == doctest::Approx(2));
  CHECK(g0.exposed_tp.value() == doctest::Approx(0.5));
  CHECK(g0.exposed_dp.value() == doctest::Approx(1.0));  // [3,4] is not hidden
  CHECK(g0.idle.value() == doctest::Approx(1.5));
  const double sum = g0.compute().value() + g0.exposed_tp.value() + g0.exposed_pp.value() + g0.exposed_dp.value() +
                     g0.idle.value();
  CHECK(sum == doctest::Approx(6));
  CHECK(b.mean.forward.value() == doctest::Approx(3.5));
}
