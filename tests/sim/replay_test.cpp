#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "network.hpp"
#include "strata/sim/isolated.hpp"
#include "strata/sim/replay.hpp"

using namespace strata::sim;

namespace {
NetworkSpec net() { return strata::test::network(16); }
Task compute(int gpu, double s, Lane lane = Lane::compute) {
  return Task{ComputeWork{Seconds(s)}, gpu, lane, Category::forward};
}
Task transfer(int from, int to, double bytes) {
  return Task{TransferWork{to, Bytes(bytes), {}}, from, Lane::p2p, Category::pp_comm};
}
Task allreduce(int gpu, double bytes, GroupShape g) {
  return Task{CollectiveWork{{CollectiveOp::all_reduce, Bytes(bytes), g}, true, {}}, gpu, Lane::reduce, Category::dp_comm};
}

// A small pipeline-like graph with compute, transfers and collectives on disjoint ports.
TaskGraph mixed() {
  TaskGraph g;
  const TaskId f0 = g.add(compute(0, 0.010));
  const TaskId t0 = g.add(transfer(0, 8, 50e6));
  const TaskId f1 = g.add(compute(8, 0.010));
  const TaskId b1 = g.add(Task{ComputeWork{Seconds(0.020)}, 8, Lane::compute, Category::backward});
  const TaskId t1 = g.add(transfer(8, 0, 50e6));
  const TaskId b0 = g.add(Task{ComputeWork{Seconds(0.020)}, 0, Lane::compute, Category::backward});
  const TaskId r0 = g.add(allreduce(0, 1e9, {2, 1}));
  const TaskId r1 = g.add(allreduce(8, 1e9, {2, 1}));
  g.precede(f0, t0);
  g.precede(t0, f1);
  g.precede(b1, t1);
  g.precede(t1, b0);
  g.precede(b0, r0);
  g.precede(b1, r1);
  return g;
}
}  // namespace

TEST_CASE("replay: analytical is the critical path of fixed durations") {
  TaskGraph g;
  const TaskId a = g.add(compute(0, 1.0));
  g.add(compute(0, 2.0));              // after a on the same stream
  const TaskId c = g.add(compute(1, 0.5));
  g.precede(a, c);                      // c waits for a, runs beside the second task
  const auto r = make_analytical_backend()->replay(g, net());
  CHECK(r.step_time.value() == doctest::Approx(3.0));
  CHECK(r.timings[c].start == doctest::Approx(1.0));
  CHECK(r.timings[c].finish == doctest::Approx(1.5));
}

TEST_CASE("replay: SimGrid equals analytical when nothing shares a link") {
  const TaskGraph g = mixed();
  const auto a = make_analytical_backend()->replay(g, net());
  const auto s = make_simgrid_backend()->replay(g, net());
  CHECK(s.step_time.value() == doctest::Approx(a.step_time.value()).epsilon(1e-9));
  for (TaskId v = 0; v < g.size(); ++v) {
    CHECK(s.timings[v].start == doctest::Approx(a.timings[v].start).epsilon(1e-9));
    CHECK(s.timings[v].finish == doctest::Approx(a.timings[v].finish).epsilon(1e-9));
  }
}

TEST_CASE("replay: flows sharing a NIC share its bandwidth on SimGrid only") {
  TaskGraph g;
  g.add(transfer(0, 8, 250e6));
  g.add(Task{TransferWork{9, Bytes(250e6), {}}, 0, Lane::reduce, Category::dp_comm});  // same NIC, other stream
  const auto a = make_analytical_backend()->replay(g, net());
  const auto s = make_simgrid_backend()->replay(g, net());
  const double alone = 10e-6 + 5e-6 + 250e6 / 25e9;
  CHECK(a.step_time.value() == doctest::Approx(alone));
  CHECK(s.step_time.value() == doctest::Approx(10e-6 + 5e-6 + 2 * 250e6 / 25e9).epsilon(1e-6));
}

TEST_CASE("replay: a collective contends with a transfer on the same NIC") {
  TaskGraph g;
  const TaskId r = g.add(allreduce(0, 1e9, {16, 8}));
  g.add(transfer(0, 8, 1e8));
  const auto a = make_analytical_backend()->replay(g, net());
  const auto s = make_simgrid_backend()->replay(g, net());
  CHECK(s.step_time > a.step_time);
  CHECK(s.timings[r].finish > a.timings[r].finish);
}

// SimGrid's clock keeps running from one engine to the next, so times taken relative to a later
// start may differ in the last bits; strata replays each plan of a search in its own process.
TEST_CASE("replay: many SimGrid replays in one process agree to 1e-12") {
  const TaskGraph g = mixed();
  const auto backend = make_simgrid_backend();
  const auto first = backend->replay(g, net());
  for (int i = 0; i < 20; ++i) {
    const auto again = backend->replay(g, net());
    REQUIRE(again.step_time.value() == doctest::Approx(first.step_time.value()).epsilon(1e-12));
    for (TaskId v = 0; v < g.size(); ++v)
      REQUIRE(again.timings[v].finish == doctest::Approx(first.timings[v].finish).epsilon(1e-12));
  }
  CHECK(first.events >= g.size());
}

TEST_CASE("replay: a deadlocked graph is an error on both backends") {
  TaskGraph g;
  const TaskId a = g.add(compute(0, 1));
  const TaskId b = g.add(compute(1, 1));
  g.precede(a, b);
  g.precede(b, a);
  CHECK_THROWS_AS((void)make_analytical_backend()->replay(g, net()), std::logic_error);
  CHECK_THROWS_AS((void)make_simgrid_backend()->replay(g, net()), std::logic_error);
}

TEST_CASE("replay: an inconsistent network is rejected") {
  NetworkSpec n = net();
  n.scale_out_bw = ByteRate(0);
  TaskGraph g;
  g.add(compute(0, 1));
  CHECK_THROWS_AS((void)make_analytical_backend()->replay(g, n), std::invalid_argument);
  CHECK_THROWS_AS((void)make_simgrid_backend()->replay(g, n), std::invalid_argument);
}

TEST_CASE("replay: SimGrid on absurd link rates ends with an error, not a crash") {
  // A rate no link has: SimGrid cannot finish the transfer. The replay must say so (it once
  // released its activities after the engine and crashed).
  for (double rate : {1e-300, 1e300}) {
    CAPTURE(rate);
    NetworkSpec n = net();
    n.scale_out_bw = ByteRate(rate);
    TaskGraph g;
    const TaskId a = g.add(compute(0, 0.010));
    const TaskId t = g.add(transfer(0, 8, 50e6));
    g.precede(a, t);
    const auto out = run_isolated({[&] {
                                     const auto r = make_simgrid_backend()->replay(g, n);
                                     return std::to_string(r.step_time.value());
                                   }},
                                  1, 60);
    REQUIRE(out.size() == 1);
    CHECK_FALSE(out[0].timed_out);
    MESSAGE(out[0].ok << " " << out[0].payload << " " << out[0].error);
    CHECK(out[0].error.find("signal") == std::string::npos);
  }
}
