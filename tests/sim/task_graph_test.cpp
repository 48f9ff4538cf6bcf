#include <doctest/doctest.h>

#include <stdexcept>

#include <algorithm>

#include "strata/sim/task_graph.hpp"

using namespace strata::sim;

namespace {
Task compute(int gpu, double s, Lane lane = Lane::compute) {
  return Task{ComputeWork{Seconds(s)}, gpu, lane, Category::forward};
}
}  // namespace

TEST_CASE("task graph: tasks on one stream are chained in the order they were added") {
  TaskGraph g;
  const TaskId a = g.add(compute(0, 1));
  const TaskId b = g.add(compute(0, 1));
  const TaskId c = g.add(compute(0, 1, Lane::reduce));  // another stream: not chained
  const TaskId d = g.add(compute(1, 1));
  CHECK(g.size() == 4);
  CHECK(g.edge_count() == 1);
  const Adjacency adj = g.adjacency();
  CHECK(adj.in_degree[b] == 1);
  CHECK(adj.in_degree[c] == 0);
  CHECK(adj.in_degree[d] == 0);
  CHECK(adj.targets[adj.offsets[a]] == b);
}

TEST_CASE("task graph: topological order respects every edge") {
  TaskGraph g;
  const TaskId a = g.add(compute(0, 1));
  const TaskId b = g.add(compute(1, 1));
  const TaskId c = g.add(compute(2, 1));
  g.precede(c, a);
  g.precede(b, c);
  const auto order = g.topological_order();
  auto pos = [&](TaskId t) { return std::find(order.begin(), order.end(), t) - order.begin(); };
  CHECK(pos(b) < pos(c));
  CHECK(pos(c) < pos(a));
}

TEST_CASE("task graph: a cycle is reported as a deadlock") {
  TaskGraph g;
  const TaskId a = g.add(compute(0, 1));
  const TaskId b = g.add(compute(1, 1));
  g.precede(a, b);
  g.precede(b, a);
  CHECK_THROWS_AS((void)g.topological_order(), std::logic_error);
  CHECK_THROWS_AS((void)g.adjacency(), std::logic_error);
}

TEST_CASE("task graph: misuse throws") {
  TaskGraph g;
  const TaskId a = g.add(compute(0, 1));
  CHECK_THROWS_AS(g.precede(a, a), std::invalid_argument);
  CHECK_THROWS_AS(g.precede(a, 7), std::out_of_range);
  CHECK_THROWS_AS((void)g.task(3), std::out_of_range);
}

TEST_CASE("task graph: gpus lists workers and transfer destinations") {
  TaskGraph g;
  g.add(compute(3, 1));
  g.add(Task{TransferWork{9, Bytes(1), {}}, 5, Lane::p2p, Category::pp_comm});
  CHECK(g.gpus() == std::vector<int>{3, 5, 9});
  CHECK(g.to_dot().find("t0 [label=") != std::string::npos);
}
