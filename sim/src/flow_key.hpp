#pragma once
// Private to sim/: what identifies a communication task's flows. Tasks with equal keys put the
// same flows on the fabric (collectives share their GroupInstances; transfers their siblings),
// so replays compute those flows, and what follows from them, once per key.

#include <tuple>
#include <variant>

#include "strata/sim/task_graph.hpp"

namespace strata::sim {

/// (instances or siblings, operation, algorithm, bytes, source, destination). A collective with
/// instances has source = destination = -1; one without has its own GPU as source; a transfer
/// has operation -1 and its two GPUs.
using FlowKey = std::tuple<const void*, int, int, double, int, int>;

/// The key of a collective or transfer task (never called for compute tasks).
inline FlowKey flow_key(const Task& task) {
  if (const auto* col = std::get_if<CollectiveWork>(&task.work))
    return {col->groups.get(), static_cast<int>(col->collective.op), static_cast<int>(col->collective.algorithm),
            col->collective.buffer.value(), col->groups ? -1 : task.gpu, -1};
  const auto& tr = std::get<TransferWork>(task.work);
  return {tr.siblings.get(), -1, 0, tr.bytes.value(), task.gpu, tr.dst_gpu};
}

}  // namespace strata::sim
