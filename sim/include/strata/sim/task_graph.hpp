#pragma once
// The task graph a parallelism plan becomes: compute, collective and point-to-point tasks with
// dependencies, each on a stream of one GPU. Tasks on one stream run one after another in the
// order they were added; `precede` adds the data dependencies between streams.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "strata/sim/collective.hpp"
#include "strata/sim/units.hpp"

namespace strata::sim {

using TaskId = std::uint32_t;

/// Where a task's time goes in the step-time breakdown.
enum class Category : std::uint8_t {
  forward,
  backward,
  recompute,
  optimizer,
  tp_comm,
  pp_comm,
  dp_comm,
  cp_comm,  ///< context parallelism: ring attention's K/V exchange, Ulysses all-to-alls
  ep_comm,  ///< expert parallelism: MoE dispatch and combine all-to-alls
};
inline constexpr int kCategoryCount = 9;

/// Short lowercase name ("forward", "tp_comm", ...).
const char* to_string(Category c);
/// True for the communication categories (tp_comm, pp_comm, dp_comm, cp_comm, ep_comm).
bool is_comm(Category c);

/// Independent queues of one GPU: kernels, parameter all-gathers, gradient reductions, pipeline
/// sends, and communication that overlaps the kernels next to it (TP overlap, ring attention):
/// separate CUDA streams in the frameworks.
enum class Lane : std::uint8_t { compute, gather, reduce, p2p, overlap };
inline constexpr int kLaneCount = 5;

/// Kernels of known duration on the GPU.
struct ComputeWork {
  Seconds duration;
};
/// Concurrent instances of one collective: the members (global ranks) of every group that runs
/// it at the same moment, the task's own group first. Shared by the many tasks that use it.
using GroupInstances = std::vector<std::vector<int>>;

/// A collective over a symmetric group the task's GPU belongs to. With `contends` false its
/// time is costed once and replayed as a fixed delay (a TP group inside an NVSwitch node).
/// With `groups` set, its flows go between those GPUs over the fabric, every instance at once
/// (the sibling groups of a reduced replay, which run in lockstep with the task's own group);
/// without it, the flows stay on the task GPU's own ports.
struct CollectiveWork {
  Collective collective;
  bool contends = true;
  std::shared_ptr<const GroupInstances> groups;
};
/// Pairs (source, destination) of transfers that run together with a task's own transfer.
using TransferPairs = std::vector<std::pair<int, int>>;
/// A point-to-point transfer from the task's GPU to `dst_gpu`; `siblings` are concurrent copies
/// of it between other GPUs (the replicas a reduced replay does not simulate), each of `bytes`.
struct TransferWork {
  int dst_gpu = 0;
  Bytes bytes;
  std::shared_ptr<const TransferPairs> siblings;
};
using Work = std::variant<ComputeWork, CollectiveWork, TransferWork>;

/// One node of the graph. Labels (stage, microbatch, layer) are for traces and tests; -1 = n/a.
struct Task {
  Work work;
  int gpu = 0;  ///< global rank of the GPU that runs the task
  Lane lane = Lane::compute;
  Category category = Category::forward;
  int stage = -1;
  int microbatch = -1;
  int layer = -1;
};

/// Successor lists in compressed form, for replay loops.
struct Adjacency {
  std::vector<std::uint32_t> offsets;  ///< size tasks+1
  std::vector<TaskId> targets;
  std::vector<std::uint32_t> in_degree;
};

/// A DAG of tasks. Stores tasks and edges in flat arrays (hidden in the .cpp); replays read it
/// compressed (adjacency()), Boost.Graph orders it (topological_order()).
class TaskGraph {
 public:
  TaskGraph();
  ~TaskGraph();
  TaskGraph(TaskGraph&&) noexcept;
  TaskGraph& operator=(TaskGraph&&) noexcept;
  TaskGraph(const TaskGraph&) = delete;
  TaskGraph& operator=(const TaskGraph&) = delete;

  /// Appends `t` to the end of its (gpu, lane) stream and returns its id.
  TaskId add(Task t);
  /// Makes `after` wait for `before`. Throws std::out_of_range on unknown ids and
  /// std::invalid_argument on a self-edge.
  void precede(TaskId before, TaskId after);

  /// Number of tasks.
  [[nodiscard]] std::size_t size() const;
  /// Number of dependency edges, stream order included.
  [[nodiscard]] std::size_t edge_count() const;
  /// The task with id `id` (ids are dense, 0..size()-1).
  [[nodiscard]] const Task& task(TaskId id) const;
  /// Successor lists; throws std::logic_error if the graph has a cycle (a deadlocked schedule).
  [[nodiscard]] Adjacency adjacency() const;
  /// Ids in a dependency-respecting order; throws std::logic_error on a cycle.
  [[nodiscard]] std::vector<TaskId> topological_order() const;
  /// GPUs that run at least one task or receive a transfer, ascending.
  [[nodiscard]] std::vector<int> gpus() const;
  /// Graphviz DOT text of the graph, for debugging small plans.
  [[nodiscard]] std::string to_dot() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::sim
