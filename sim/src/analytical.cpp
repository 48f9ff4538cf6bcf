#include <algorithm>
#include <chrono>
#include <map>

#include "flow_key.hpp"
#include "strata/sim/replay.hpp"

namespace strata::sim {

std::vector<Flow> task_flows(const Task& task, const NetworkSpec& net) {
  std::vector<Flow> flows;
  if (const auto* col = std::get_if<CollectiveWork>(&task.work)) {
    if (!col->groups || !col->contends) return flows;
    const CollectiveCost cost = lower(col->collective, net);
    for (const auto& members : *col->groups) append_flows(col->collective, cost, members, net, flows);
  } else if (const auto* tr = std::get_if<TransferWork>(&task.work)) {
    if (tr->bytes.value() <= 0) return flows;
    flows.push_back({task.gpu, tr->dst_gpu, tr->bytes.value()});
    if (tr->siblings)
      for (auto [a, b] : *tr->siblings) flows.push_back({a, b, tr->bytes.value()});
  }
  return flows;
}

struct IsolatedTimer::Impl {
  explicit Impl(const NetworkSpec& n) : net(n), fabric(n.links()), loads(*fabric) {}
  const NetworkSpec& net;
  std::shared_ptr<const Fabric> fabric;
  LinkLoads loads;
  std::map<FlowKey, Seconds> memo;  // time of every collective with instances and transfer seen
};

IsolatedTimer::IsolatedTimer(const NetworkSpec& net) : impl_(std::make_unique<Impl>(net)) {}
IsolatedTimer::~IsolatedTimer() = default;

Seconds IsolatedTimer::operator()(const Task& task) {
  const NetworkSpec& net = impl_->net;
  if (const auto* c = std::get_if<ComputeWork>(&task.work)) return c->duration;
  if (const auto* col = std::get_if<CollectiveWork>(&task.work)) {
    const CollectiveCost cost = lower(col->collective, net);
    if (!col->groups || !col->contends) return isolated_time(cost, net);
    const FlowKey key = flow_key(task);
    auto it = impl_->memo.find(key);
    if (it != impl_->memo.end()) return it->second;
    const Seconds t = fabric_time(cost, task_flows(task, net), impl_->loads);
    impl_->memo.emplace(key, t);
    return t;
  }
  const auto& tr = std::get<TransferWork>(task.work);
  if (tr.bytes.value() <= 0) return Seconds(0);
  const bool same = net.node_of(task.gpu) == net.node_of(tr.dst_gpu);
  const Seconds fixed = net.p2p_launch + (same ? net.scale_up_latency : net.scale_out_latency);
  if (!net.fabric && !tr.siblings) return p2p_time(tr.bytes, same, net);
  const FlowKey key = flow_key(task);
  auto it = impl_->memo.find(key);
  if (it != impl_->memo.end()) return it->second;
  impl_->loads.clear();
  for (const Flow& f : task_flows(task, net)) impl_->loads.add(f.src, f.dst, f.bytes);
  const Seconds t = fixed + impl_->loads.bottleneck();
  impl_->memo.emplace(key, t);
  return t;
}

Seconds isolated_duration(const Task& task, const NetworkSpec& net) { return IsolatedTimer(net)(task); }

namespace {

class AnalyticalBackend final : public ReplayBackend {
 public:
  [[nodiscard]] std::string_view name() const override { return "analytical"; }

  [[nodiscard]] ReplayResult replay(const TaskGraph& graph, const NetworkSpec& net) const override {
    net.check();
    const auto t0 = std::chrono::steady_clock::now();
    const Adjacency adj = graph.adjacency();
    const std::size_t n = graph.size();
    IsolatedTimer timer(net);
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
      t.finish = t.start + timer(graph.task(v)).value();
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
