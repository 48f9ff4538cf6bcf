#include "strata/sim/task_graph.hpp"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/topological_sort.hpp>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

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

namespace {
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, Task>;
}

struct TaskGraph::Impl {
  Graph graph;
  std::map<std::pair<int, int>, TaskId> stream_tail;  // (gpu, lane) -> last task added
  std::size_t edges = 0;
};

TaskGraph::TaskGraph() : impl_(std::make_unique<Impl>()) {}
TaskGraph::~TaskGraph() = default;
TaskGraph::TaskGraph(TaskGraph&&) noexcept = default;
TaskGraph& TaskGraph::operator=(TaskGraph&&) noexcept = default;

TaskId TaskGraph::add(Task t) {
  const std::pair<int, int> stream{t.gpu, static_cast<int>(t.lane)};
  const auto id = static_cast<TaskId>(boost::add_vertex(std::move(t), impl_->graph));
  auto [it, fresh] = impl_->stream_tail.try_emplace(stream, id);
  if (!fresh) {
    precede(it->second, id);
    it->second = id;
  }
  return id;
}

void TaskGraph::precede(TaskId before, TaskId after) {
  const auto n = boost::num_vertices(impl_->graph);
  if (before >= n || after >= n) throw std::out_of_range("TaskGraph::precede: unknown task id");
  if (before == after) throw std::invalid_argument("TaskGraph::precede: a task cannot precede itself");
  boost::add_edge(before, after, impl_->graph);
  ++impl_->edges;
}

std::size_t TaskGraph::size() const { return boost::num_vertices(impl_->graph); }
std::size_t TaskGraph::edge_count() const { return impl_->edges; }

const Task& TaskGraph::task(TaskId id) const {
  if (id >= size()) throw std::out_of_range("TaskGraph::task: unknown task id");
  return impl_->graph[id];
}

std::vector<TaskId> TaskGraph::topological_order() const {
  std::vector<TaskId> reversed;
  reversed.reserve(size());
  try {
    boost::topological_sort(impl_->graph, std::back_inserter(reversed));
  } catch (const boost::not_a_dag&) {
    throw std::logic_error("task graph has a cycle: the schedule deadlocks");
  }
  std::reverse(reversed.begin(), reversed.end());
  return reversed;
}

Adjacency TaskGraph::adjacency() const {
  const auto n = size();
  Adjacency adj;
  adj.offsets.assign(n + 1, 0);
  adj.in_degree.assign(n, 0);
  adj.targets.reserve(impl_->edges);
  for (std::size_t v = 0; v < n; ++v) {
    auto [b, e] = boost::adjacent_vertices(v, impl_->graph);
    for (auto it = b; it != e; ++it) {
      adj.targets.push_back(static_cast<TaskId>(*it));
      ++adj.in_degree[*it];
    }
    adj.offsets[v + 1] = static_cast<std::uint32_t>(adj.targets.size());
  }
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
    const Task& t = impl_->graph[v];
    out.insert(t.gpu);
    if (const auto* tr = std::get_if<TransferWork>(&t.work)) out.insert(tr->dst_gpu);
  }
  return {out.begin(), out.end()};
}

std::string TaskGraph::to_dot() const {
  std::ostringstream os;
  os << "digraph strata {\n";
  for (std::size_t v = 0; v < size(); ++v) {
    const Task& t = impl_->graph[v];
    os << "  t" << v << " [label=\"" << to_string(t.category) << " g" << t.gpu;
    if (t.microbatch >= 0) os << " mb" << t.microbatch;
    if (t.layer >= 0) os << " l" << t.layer;
    os << "\"];\n";
  }
  for (std::size_t v = 0; v < size(); ++v) {
    auto [b, e] = boost::adjacent_vertices(v, impl_->graph);
    for (auto it = b; it != e; ++it) os << "  t" << v << " -> t" << *it << ";\n";
  }
  os << "}\n";
  return os.str();
}

}  // namespace strata::sim
