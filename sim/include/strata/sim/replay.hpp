#pragma once
// Replay backends: they run a TaskGraph on a network and time every task.

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "strata/sim/network.hpp"
#include "strata/sim/task_graph.hpp"
#include "strata/sim/units.hpp"

namespace strata::sim {

/// Start and finish of one task, seconds from the start of the step.
struct TaskTiming {
  double start = 0;
  double finish = 0;
};

/// What a replay produced.
struct ReplayResult {
  Seconds step_time;                ///< finish of the last task, s
  std::vector<TaskTiming> timings;  ///< indexed by TaskId
  std::uint64_t events = 0;         ///< activities the backend completed
  double wall_seconds = 0;          ///< host time the replay took, s (not deterministic)
};

/// A way to time a task graph. Implementations: analytical (no contention between tasks) and
/// SimGrid (flows share links).
class ReplayBackend {
 public:
  virtual ~ReplayBackend() = default;
  /// "analytical" or "simgrid".
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Times every task of `graph`. Throws std::logic_error if the graph deadlocks and
  /// std::invalid_argument if `net` is inconsistent.
  [[nodiscard]] virtual ReplayResult replay(const TaskGraph& graph, const NetworkSpec& net) const = 0;
};

/// Duration of a task when nothing else uses its links: what the analytical backend charges.
/// A collective or transfer with concurrent instances (GroupInstances, sibling transfers) shares
/// the fabric with them: its time is the fixed part plus the most loaded link direction.
Seconds isolated_duration(const Task& task, const NetworkSpec& net);

/// isolated_duration for many tasks: keeps the fabric's load table and remembers the time of
/// every (instances, operation, size) it has seen.
class IsolatedTimer {
 public:
  /// Flow times kept across timers on one network, keyed by the flows' content (members,
  /// operation, algorithm, shape, bytes, ends) rather than by the graph they came from.
  struct Memory;
  explicit IsolatedTimer(const NetworkSpec& net);
  /// A timer that looks up and records flow times in `memory`, which must have been made for
  /// an equal network (same_network).
  IsolatedTimer(const NetworkSpec& net, std::shared_ptr<Memory> memory);
  /// Memory for timers on `net`.
  static std::shared_ptr<Memory> memory_for(const NetworkSpec& net);
  /// Whether `memory` was made for a network equal to `net`.
  static bool serves(const Memory& memory, const NetworkSpec& net);
  ~IsolatedTimer();
  IsolatedTimer(const IsolatedTimer&) = delete;
  IsolatedTimer& operator=(const IsolatedTimer&) = delete;
  Seconds operator()(const Task& task);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The flows of a collective task over the fabric (every instance), or of a transfer task
/// (its own and its siblings'); empty for compute tasks and for collectives without instances.
std::vector<Flow> task_flows(const Task& task, const NetworkSpec& net);

/// Critical-path replay: a task starts when its predecessors end; tasks never slow each other.
/// The backend remembers flow times across its replays while the network stays the same (a
/// plan search replays thousands of plans whose groups repeat); its replays run one at a time.
std::unique_ptr<ReplayBackend> make_analytical_backend();

/// SimGrid replay: compute tasks and latencies are timed activities, communication becomes flows
/// on the GPUs' NVLink and NIC ports, so concurrent traffic shares bandwidth. SimGrid is not
/// reentrant: one replay per process at a time (run several through `run_isolated`).
/// With `reduce` (the default) a task's flows are summed per link and symmetric link classes
/// collapse to one link each (see simgrid_replay.cpp); without it every GPU pair of every group
/// instance is its own routed flow: the full replay the reduction is checked against.
std::unique_ptr<ReplayBackend> make_simgrid_backend(bool reduce = true);

}  // namespace strata::sim
