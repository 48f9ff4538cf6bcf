#include <algorithm>
#include <chrono>

#include "strata/sim/replay.hpp"

namespace strata::sim {

Seconds isolated_duration(const Task& task, const NetworkSpec& net) {
  if (const auto* c = std::get_if<ComputeWork>(&task.work)) return c->duration;
  if (const auto* col = std::get_if<CollectiveWork>(&task.work))
    return isolated_time(lower(col->collective, net), net);
  const auto& tr = std::get<TransferWork>(task.work);
  return p2p_time(tr.bytes, net.node_of(task.gpu) == net.node_of(tr.dst_gpu), net);
}

namespace {

class AnalyticalBackend final : public ReplayBackend {
 public:
  [[nodiscard]] std::string_view name() const override { return "analytical"; }

  [[nodiscard]] ReplayResult replay(const TaskGraph& graph, const NetworkSpec& net) const override {
    net.check();
    const auto t0 = std::chrono::steady_clock::now();
    const Adjacency adj = graph.adjacency();
    const std::size_t n = graph.size();
    ReplayResult out;
    out.timings.assign(n, TaskTiming{});
    std::vector<double> ready_at(n, 0.0);
    std::vector<std::uint32_t> pending = adj.in_degree;
    std::vector<TaskId> ready;
    for (std::size_t v = 0; v < n; ++v)
      if (pending[v] == 0) ready.push_back(static_cast<TaskId>(v));
    double end = 0;
    while (!ready.empty()) {
      const TaskId v = ready.back();
      ready.pop_back();
      TaskTiming& t = out.timings[v];
      t.start = ready_at[v];
      t.finish = t.start + isolated_duration(graph.task(v), net).value();
      end = std::max(end, t.finish);
      for (auto i = adj.offsets[v]; i < adj.offsets[v + 1]; ++i) {
        const TaskId s = adj.targets[i];
        ready_at[s] = std::max(ready_at[s], t.finish);
        if (--pending[s] == 0) ready.push_back(s);
      }
    }
    out.step_time = Seconds(end);
    out.events = n;
    out.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
  }
};

}  // namespace

std::unique_ptr<ReplayBackend> make_analytical_backend() {
  return std::make_unique<AnalyticalBackend>();
}

}  // namespace strata::sim
