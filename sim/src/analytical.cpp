#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

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

namespace {

// What determines a communication task's flows and their time on a given network: the members
// (instances or sibling pairs, compared by content), operation, algorithm, shape, bytes and ends.
struct FlowContent {
  std::shared_ptr<const GroupInstances> groups;
  std::shared_ptr<const TransferPairs> pairs;
  int op = -1, algorithm = 0, src = -1, dst = -1;
  double bytes = 0;
  GroupShape shape;
  std::size_t hash = 0;

  friend bool operator==(const FlowContent& a, const FlowContent& b) {
    if (a.hash != b.hash || a.op != b.op || a.algorithm != b.algorithm || a.src != b.src || a.dst != b.dst ||
        a.bytes != b.bytes || !(a.shape == b.shape) || !a.groups != !b.groups || !a.pairs != !b.pairs)
      return false;
    if (a.groups && a.groups != b.groups && *a.groups != *b.groups) return false;
    return !a.pairs || a.pairs == b.pairs || *a.pairs == *b.pairs;
  }
};

struct HashContent {
  std::size_t operator()(const FlowContent& c) const { return c.hash; }
};

// Hashes 32-bit words (a multiply-xorshift mix per word).
struct Hasher {
  std::uint64_t h = 0x243f6a8885a308d3ULL;
  void add(std::uint64_t v) {
    h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  }
  void add(double d) {
    std::uint64_t v = 0;
    std::memcpy(&v, &d, sizeof v);
    add(v);
  }
  void add(int i) { add(static_cast<std::uint64_t>(static_cast<std::uint32_t>(i))); }
};

// Members held by remembered flow times before the memory is cleared (4 bytes each: 64 MiB).
constexpr std::size_t kMemoryInts = std::size_t{1} << 26;

}  // namespace

struct IsolatedTimer::Memory {
  explicit Memory(const NetworkSpec& n) : net(n), fabric(n.links()), loads(*fabric) {}
  NetworkSpec net;  // a copy: the memory outlives the caller's spec
  std::shared_ptr<const Fabric> fabric;
  LinkLoads loads;
  std::unordered_map<FlowContent, Seconds, HashContent> times;
  // Instances and pair lists seen, kept alive (so their addresses stay theirs) with their hash.
  struct Held {
    std::shared_ptr<const void> keep;
    std::uint64_t hash = 0;
  };
  std::unordered_map<const void*, Held> held;
  std::size_t ints = 0;  // memory of what `held` keeps alive, in ints

  // The hash of a list of members, computed once per list.
  template <class List, class Add>
  std::uint64_t members_hash(const std::shared_ptr<const List>& list, std::size_t ints_of_list, Add add) {
    if (auto it = held.find(list.get()); it != held.end()) return it->second.hash;
    if (ints + ints_of_list > kMemoryInts) times.clear(), held.clear(), ints = 0;
    Hasher h;
    for (const auto& x : *list) add(h, x);
    ints += ints_of_list;
    held.emplace(list.get(), Held{list, h.h});
    return h.h;
  }

  FlowContent content(const Task& task) {
    FlowContent c;
    Hasher h;
    if (const auto* col = std::get_if<CollectiveWork>(&task.work)) {
      c.groups = col->groups;
      c.op = static_cast<int>(col->collective.op);
      c.algorithm = static_cast<int>(col->collective.algorithm);
      c.bytes = col->collective.buffer.value();
      c.shape = col->collective.group;
      std::size_t n = 0;
      for (const auto& g : *c.groups) n += g.size() + 10;  // members, a vector's header and allocation
      h.add(members_hash(c.groups, n, [](Hasher& x, const std::vector<int>& g) {
        x.add(static_cast<int>(g.size()));
        for (int m : g) x.add(m);
      }));
    } else {
      const auto& tr = std::get<TransferWork>(task.work);
      c.pairs = tr.siblings;
      c.bytes = tr.bytes.value();
      c.src = task.gpu;
      c.dst = tr.dst_gpu;
      if (c.pairs)
        h.add(members_hash(c.pairs, 2 * c.pairs->size(), [](Hasher& x, const std::pair<int, int>& p) {
          x.add(p.first), x.add(p.second);
        }));
    }
    h.add(c.op), h.add(c.algorithm), h.add(c.src), h.add(c.dst), h.add(c.bytes);
    h.add(c.shape.size), h.add(c.shape.per_node), h.add(c.shape.domains), h.add(c.shape.most);
    c.hash = static_cast<std::size_t>(h.h);
    return c;
  }
};

struct IsolatedTimer::Impl {
  Impl(const NetworkSpec& n, std::shared_ptr<Memory> m) : net(n), memory(std::move(m)) {}
  const NetworkSpec& net;
  std::shared_ptr<Memory> memory;
  std::map<FlowKey, Seconds> memo;  // this timer's tasks by identity: no content hashing
};

IsolatedTimer::IsolatedTimer(const NetworkSpec& net) : IsolatedTimer(net, memory_for(net)) {}
IsolatedTimer::IsolatedTimer(const NetworkSpec& net, std::shared_ptr<Memory> memory)
    : impl_(std::make_unique<Impl>(net, std::move(memory))) {}
IsolatedTimer::~IsolatedTimer() = default;

std::shared_ptr<IsolatedTimer::Memory> IsolatedTimer::memory_for(const NetworkSpec& net) {
  return std::make_shared<Memory>(net);
}

bool IsolatedTimer::serves(const Memory& memory, const NetworkSpec& net) { return same_network(memory.net, net); }

Seconds IsolatedTimer::operator()(const Task& task) {
  const NetworkSpec& net = impl_->net;
  if (const auto* c = std::get_if<ComputeWork>(&task.work)) return c->duration;
  const auto* col = std::get_if<CollectiveWork>(&task.work);
  const auto* tr = std::get_if<TransferWork>(&task.work);
  if (col) {
    if (!col->groups || !col->contends) return isolated_time(lower(col->collective, net), net);
  } else {
    if (tr->bytes.value() <= 0) return Seconds(0);
    if (!net.fabric && !tr->siblings) return p2p_time(tr->bytes, net.node_of(task.gpu) == net.node_of(tr->dst_gpu), net);
  }
  const FlowKey key = flow_key(task);
  if (auto it = impl_->memo.find(key); it != impl_->memo.end()) return it->second;
  Memory& m = *impl_->memory;
  FlowContent content = m.content(task);
  Seconds t;
  if (auto it = m.times.find(content); it != m.times.end()) {
    t = it->second;
  } else {
    if (col) {
      t = fabric_time(lower(col->collective, net), task_flows(task, net), m.loads);
    } else {
      const bool same = net.node_of(task.gpu) == net.node_of(tr->dst_gpu);
      m.loads.clear();
      for (const Flow& f : task_flows(task, net)) m.loads.add(f.src, f.dst, f.bytes);
      t = net.p2p_launch + (same ? net.scale_up_latency : net.scale_out_latency) + m.loads.bottleneck();
    }
    m.times.emplace(std::move(content), t);
  }
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
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!memory_ || !IsolatedTimer::serves(*memory_, net)) memory_ = IsolatedTimer::memory_for(net);
    const Adjacency adj = graph.adjacency();
    const std::size_t n = graph.size();
    IsolatedTimer timer(net, memory_);
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

 private:
  mutable std::mutex mutex_;  // replays share memory_
  mutable std::shared_ptr<IsolatedTimer::Memory> memory_;
};

}  // namespace

std::unique_ptr<ReplayBackend> make_analytical_backend() {
  return std::make_unique<AnalyticalBackend>();
}

}  // namespace strata::sim
