#include "strata/sim/task_graph.hpp"

#include <algorithm>
#include <array>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/topological_sort.hpp>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace strata::sim {

const char* to_string(Category c) {
  switch (c) {
    case Category::forward: return "forward";
    case Category::backward: return "backward";
    case Category::recompute: return "recompute";
    case Category::optimizer: return "optimizer";
    case Category::tp_comm: return "tp_comm";
    case Category::pp_comm: return "pp_comm";
    case Category::dp_comm: return "dp_comm";
    case Category::cp_comm: return "cp_comm";
    case Category::ep_comm: return "ep_comm";
  }
  return "unknown";
}

bool is_comm(Category c) {
  return c == Category::tp_comm || c == Category::pp_comm || c == Category::dp_comm || c == Category::cp_comm ||
         c == Category::ep_comm;
}

// Tasks and edges are kept flat (two vectors, a handful of allocations for the whole graph):
// a replay reads the graph once, in compressed form (adjacency()), and a per-vertex edge list
// cost more in malloc and free than the search spent replaying. Boost.Graph sorts it for
// topological_order().
struct TaskGraph::Impl {
  std::vector<Task> tasks;
  std::vector<std::pair<TaskId, TaskId>> edges;  // (before, after), in insertion order
  std::vector<std::array<TaskId, kLaneCount>> stream_tail;  // [gpu][lane] -> last task added + 1 (0: none)
};

TaskGraph::TaskGraph() : impl_(std::make_unique<Impl>()) {}
TaskGraph::~TaskGraph() = default;
TaskGraph::TaskGraph(TaskGraph&&) noexcept = default;
TaskGraph& TaskGraph::operator=(TaskGraph&&) noexcept = default;

TaskId TaskGraph::add(Task t) {
  if (t.gpu < 0) throw std::invalid_argument("TaskGraph::add: negative GPU rank " + std::to_string(t.gpu));
  const auto lane = static_cast<std::size_t>(t.lane);
  if (lane >= static_cast<std::size_t>(kLaneCount)) throw std::invalid_argument("TaskGraph::add: unknown lane");
  if (impl_->tasks.size() >= std::numeric_limits<TaskId>::max())
    throw std::length_error("TaskGraph::add: more tasks than a task id can number");
  const auto gpu = static_cast<std::size_t>(t.gpu);
  const auto id = static_cast<TaskId>(impl_->tasks.size());
  impl_->tasks.push_back(std::move(t));
  if (gpu >= impl_->stream_tail.size()) impl_->stream_tail.resize(gpu + 1, std::array<TaskId, kLaneCount>{});
  TaskId& tail = impl_->stream_tail[gpu][lane];
  if (tail != 0) precede(tail - 1, id);
  tail = id + 1;
  return id;
}

void TaskGraph::precede(TaskId before, TaskId after) {
  const auto n = impl_->tasks.size();
  if (before >= n || after >= n) throw std::out_of_range("TaskGraph::precede: unknown task id");
  if (before == after) throw std::invalid_argument("TaskGraph::precede: a task cannot precede itself");
  impl_->edges.emplace_back(before, after);
}

std::size_t TaskGraph::size() const { return impl_->tasks.size(); }
std::size_t TaskGraph::edge_count() const { return impl_->edges.size(); }

const Task& TaskGraph::task(TaskId id) const {
  if (id >= size()) throw std::out_of_range("TaskGraph::task: unknown task id");
  return impl_->tasks[id];
}

std::vector<TaskId> TaskGraph::topological_order() const {
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
  Graph graph(impl_->edges.begin(), impl_->edges.end(), size());
  std::vector<TaskId> reversed;
  reversed.reserve(size());
  try {
    boost::topological_sort(graph, std::back_inserter(reversed));
  } catch (const boost::not_a_dag&) {
    throw std::logic_error("task graph has a cycle: the schedule deadlocks");
  }
  std::reverse(reversed.begin(), reversed.end());
  return reversed;
}

namespace {

// Successor lists of `edges` over `n` tasks, each task's successors in the order the edges were
// added (a stable counting sort by source); no cycle check.
Adjacency compress(std::size_t n, const std::vector<std::pair<TaskId, TaskId>>& edges) {
  Adjacency adj;
  adj.offsets.assign(n + 1, 0);
  adj.in_degree.assign(n, 0);
  for (const auto& [before, after] : edges) {
    ++adj.offsets[before + 1];
    ++adj.in_degree[after];
  }
  for (std::size_t v = 0; v < n; ++v) adj.offsets[v + 1] += adj.offsets[v];
  adj.targets.resize(edges.size());
  std::vector<std::uint32_t> next(adj.offsets.begin(), adj.offsets.end() - 1);
  for (const auto& [before, after] : edges) adj.targets[next[before]++] = after;
  return adj;
}

}  // namespace

Adjacency TaskGraph::adjacency() const {
  const auto n = size();
  Adjacency adj = compress(n, impl_->edges);
  // Kahn's algorithm as a cycle check: every task must become ready.
  std::vector<std::uint32_t> pending = adj.in_degree;
  std::vector<TaskId> ready;
  for (std::size_t v = 0; v < n; ++v)
    if (pending[v] == 0) ready.push_back(static_cast<TaskId>(v));
  std::size_t seen = 0;
  while (!ready.empty()) {
    const TaskId v = ready.back();
    ready.pop_back();
    ++seen;
    for (auto i = adj.offsets[v]; i < adj.offsets[v + 1]; ++i)
      if (--pending[adj.targets[i]] == 0) ready.push_back(adj.targets[i]);
  }
  if (seen != n) throw std::logic_error("task graph has a cycle: the schedule deadlocks");
  return adj;
}

std::vector<int> TaskGraph::gpus() const {
  std::set<int> out;
  for (std::size_t v = 0; v < size(); ++v) {
    const Task& t = impl_->tasks[v];
    out.insert(t.gpu);
    if (const auto* tr = std::get_if<TransferWork>(&t.work)) out.insert(tr->dst_gpu);
  }
  return {out.begin(), out.end()};
}

std::string TaskGraph::to_dot() const {
  std::ostringstream os;
  os << "digraph strata {\n";
  for (std::size_t v = 0; v < size(); ++v) {
    const Task& t = impl_->tasks[v];
    os << "  t" << v << " [label=\"" << to_string(t.category) << " g" << t.gpu;
    if (t.microbatch >= 0) os << " mb" << t.microbatch;
    if (t.layer >= 0) os << " l" << t.layer;
    os << "\"];\n";
  }
  const Adjacency adj = compress(size(), impl_->edges);  // a cyclic graph is drawn too
  for (std::size_t v = 0; v < size(); ++v)
    for (auto i = adj.offsets[v]; i < adj.offsets[v + 1]; ++i) os << "  t" << v << " -> t" << adj.targets[i] << ";\n";
  os << "}\n";
  return os.str();
}

}  // namespace strata::sim
