// SimGrid replay. Facts this design rests on (shared/notes/simgrid-3.32.md, re-measured here):
// - activities are started lazily, when their dependencies are met, from the completion
//   callback: pre-building the DAG with add_successor is 10-100x slower in 3.32;
// - the network model is chosen once per process (changing it aborts), so the options are set by
//   the first replay and kept; CM02 without cross-traffic and TCP-gamma gives exact
//   bytes/bandwidth times, and strata adds NCCL's latencies and efficiencies itself;
// - global callbacks accumulate, so the completion callback is connected once and dispatches to
//   the replay in progress;
// - the simulated clock does not restart with a new Engine: times are taken relative to start.
//
// The platform holds the fabric's links that the graph's flows use, in one star zone. Each task's
// traffic is summed per link direction and reduced by symmetry (plan_flows); what remains is one
// flow per link, from a host "L<link>" whose route is that link to the hub host "hub" (up) or
// back (down). Tasks that meet on a link share it. A task whose loads are not symmetric has its
// GPU-pair flows routed as in the full replay. The full replay (reduce = false) instead
// routes every GPU pair's flow: a GPU appears as up to four hosts, one per level of the tree a
// flow climbs ("gN" through its NVLink port, "nN" its NIC, "pN" NIC and leaf uplink, "tN" NIC,
// leaf and pod uplinks), and a flow between GPUs whose lowest shared level is L goes between
// their hosts at L, crossing exactly the links of Fabric::route. Fixed delays run on "gN".

#include <simgrid/s4u.hpp>
#include <xbt/log.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "flow_key.hpp"
#include "strata/sim/replay.hpp"

namespace sg4 = simgrid::s4u;

namespace strata::sim {
namespace {

// Host speed used to turn a fixed duration into an Exec amount (any value works; 1e9 keeps the
// amounts of typical kernels well above SimGrid's precision).
constexpr double kHostSpeed = 1e9;
constexpr int kCores = 1 << 20;  // fixed-duration activities on one host never share a core
// An asymmetric task (see plan_flows) with at most this many GPU-pair flows is routed pair by
// pair; a larger one is collapsed to link classes like a symmetric one. 512 covers the pipeline
// sends and data-parallel rings of a 1,024-GPU plan; at 8,192 GPUs routing them all costs ~2 min
// of SimGrid time per step instead of 0.3 s.
constexpr std::size_t kMaxRoutedFlows = 512;

class SimGridRun;

// Bytes a task puts on one direction of one link.
struct LinkFlow {
  int link = 0;
  bool up = true;
  double bytes = 0;
};
SimGridRun* g_current = nullptr;  // the replay the completion callback feeds

class SimGridRun {
 public:
  SimGridRun(const TaskGraph& graph, const NetworkSpec& net, bool reduce)
      : graph_(graph), net_(net), fabric_(net.links()), reduce_(reduce) {}

  ReplayResult run() {
    static bool configured = false;
    if (!configured) {
      xbt_log_control_set("root.thresh:critical");
    }
    sg4::Engine engine("strata");
    // Activities must be released before the engine is destroyed, on every way out of run()
    // (a replay that stops with tasks never run throws): this guard, destroyed first, does it.
    struct Release {
      SimGridRun& run;
      ~Release() {
        run.live_.clear();
        run.graveyard_.clear();
      }
    } release{*this};
    if (!configured) {
      sg4::Engine::set_config("network/model:CM02");
      sg4::Engine::set_config("network/crosstraffic:0");
      sg4::Engine::set_config("network/TCP-gamma:0");
      sg4::Activity::on_completion_cb([](const sg4::Activity& a) {
        if (g_current != nullptr) g_current->on_done(a);
      });
      configured = true;
    }
    plan_flows();
    build_platform();
    adj_ = graph_.adjacency();
    const std::size_t n = graph_.size();
    result_.timings.assign(n, TaskTiming{});
    pending_ = adj_.in_degree;
    phase_.assign(n, 0);
    remaining_.assign(n, 0);
    t0_ = sg4::Engine::get_clock();

    g_current = this;
    struct Reset {
      ~Reset() { g_current = nullptr; }
    } reset;
    for (std::size_t v = 0; v < n; ++v)
      if (pending_[v] == 0) ready_.push_back(static_cast<TaskId>(v));
    drain_ready();
    engine.run();
    if (finished_ != n)
      throw std::logic_error("SimGrid replay stopped with " + std::to_string(n - finished_) +
                             " tasks never run");
    result_.step_time = Seconds(end_);
    return std::move(result_);
  }

  void on_done(const sg4::Activity& a) {
    const auto v = static_cast<TaskId>(reinterpret_cast<std::uintptr_t>(a.get_data<void>()));
    ++result_.events;
    retire(a);
    if (phase_[v] == 1 && start_flows(v)) {
      phase_[v] = 2;
    } else if (phase_[v] == 1 || --remaining_[v] == 0) {
      finish(v);
    }
    drain_ready();
  }

 private:
  // What every communication task puts on each link, computed once (tasks sharing instances
  // share it). The flows of a task (its own group's and its lockstep siblings') are summed per
  // link direction; link directions of one kind carrying the same bytes are, by the symmetry of
  // the siblings, loaded alike by every task, so one of them stands for all: the one owned by
  // the task's GPU (or the transfer's peer) when it is in the class, else the lowest. A task
  // thus becomes one single-link flow per class, a handful instead of one per GPU pair, and
  // tasks that meet on a link (a GPU's NIC, a leaf's uplink) share it. This is exact while every
  // link of a kind and direction carries one load. When the placement makes the loads unequal
  // (a strided order, leaves that split nodes), a pair flow is held to its path's slowest link,
  // which single-link flows cannot express; such a task is routed pair by pair instead, up to
  // kMaxRoutedFlows. (Its flows meet a symmetric task's traffic on that task's class links only,
  // as a full replay would on every link of the class; the reduction tests bound the difference.)
  void plan_flows() {
    flows_.assign(graph_.size(), nullptr);
    pair_flows_.assign(graph_.size(), nullptr);
    LinkLoads loads(*fabric_);
    // Tasks with one key (shared instances or siblings) get the same flows.
    std::map<FlowKey, std::pair<std::shared_ptr<const std::vector<LinkFlow>>, std::shared_ptr<const std::vector<Flow>>>>
        memo;
    for (TaskId v = 0; v < graph_.size(); ++v) {
      const Task& t = graph_.task(v);
      const auto* col = std::get_if<CollectiveWork>(&t.work);
      if (col != nullptr ? !col->contends : !std::holds_alternative<TransferWork>(t.work)) continue;
      const FlowKey key = flow_key(t);
      auto it = memo.find(key);
      if (it == memo.end()) it = memo.emplace(key, plan_task(t, loads)).first;
      std::tie(flows_[v], pair_flows_[v]) = it->second;
    }
  }

  // The flows of one communication task: link-class flows, or GPU-pair flows to route.
  std::pair<std::shared_ptr<const std::vector<LinkFlow>>, std::shared_ptr<const std::vector<Flow>>> plan_task(
      const Task& t, LinkLoads& loads) const {
    const auto* col = std::get_if<CollectiveWork>(&t.work);
    if (col != nullptr && !col->groups) {
      // No instances: the member's own NVLink and NIC ports carry its load out and back.
      const CollectiveCost cost = lower(col->collective, net_);
      auto out = std::make_shared<std::vector<LinkFlow>>();
      const auto g = static_cast<std::size_t>(t.gpu);
      for (auto [link, bytes] : {std::pair{fabric_->nvl[g], cost.load.scale_up.value()},
                                 std::pair{fabric_->nic[g], cost.load.scale_out.value()}})
        if (bytes > 0) out->insert(out->end(), {{link, true, bytes}, {link, false, bytes}});
      return {std::move(out), nullptr};
    }
    auto flows = std::make_shared<std::vector<Flow>>(task_flows(t, net_));
    if (!reduce_) return {nullptr, std::move(flows)};
    loads.clear();
    for (const Flow& f : *flows) loads.add(f.src, f.dst, f.bytes);
    auto out = std::make_shared<std::vector<LinkFlow>>();
    const int peer = col != nullptr ? t.gpu : std::get<TransferWork>(t.work).dst_gpu;
    if (!reduce_by_symmetry(loads, t.gpu, peer, *out) && flows->size() <= kMaxRoutedFlows)
      return {nullptr, std::move(flows)};
    return {std::move(out), nullptr};
  }

  // Appends one flow per link class to `out`; false if some link kind and direction carries
  // more than one load (the task is asymmetric).
  bool reduce_by_symmetry(const LinkLoads& loads, int gpu, int peer, std::vector<LinkFlow>& out) const {
    auto owned = [&](int link) {
      for (int g : {gpu, peer}) {
        const auto i = static_cast<std::size_t>(g);
        const auto leaf = static_cast<std::size_t>(fabric_->leaf[i]);
        if (link == fabric_->nvl[i] || link == fabric_->nic[i] || link == fabric_->leaf_up[leaf] ||
            link == fabric_->pod_up[static_cast<std::size_t>(fabric_->pod[leaf])])
          return true;
      }
      return false;
    };
    // class (kind, direction, bytes) -> chosen link
    std::map<std::tuple<int, bool, double>, std::pair<int, bool>> classes;  // -> (link, owned)
    for (const auto& [hop, bytes] : loads.loaded()) {
      const auto kind = static_cast<int>(fabric_->links[static_cast<std::size_t>(hop.link)].kind);
      const auto key = std::make_tuple(kind, hop.up, bytes);
      const bool mine = owned(hop.link);
      auto it = classes.find(key);
      if (it == classes.end()) {
        classes.emplace(key, std::make_pair(hop.link, mine));
      } else if (!it->second.second && (mine || hop.link < it->second.first)) {
        it->second = {hop.link, mine};
      }
    }
    std::set<std::pair<int, bool>> kinds;
    bool symmetric = true;
    for (const auto& [key, chosen] : classes) {
      out.push_back({chosen.first, std::get<1>(key), std::get<2>(key)});
      symmetric = kinds.emplace(std::get<0>(key), std::get<1>(key)).second && symmetric;
    }
    return symmetric;
  }

  sg4::Host* link_host(int link) {
    auto it = link_hosts_.find(link);
    if (it != link_hosts_.end()) return it->second;
    std::string name = "L";
    name += std::to_string(link);
    sg4::Host* h = zone_->create_host(name, kHostSpeed)->seal();
    zone_->add_route(h->get_netpoint(), nullptr, nullptr, nullptr,
                     {sg4::LinkInRoute(this->link(link), sg4::LinkInRoute::Direction::UP)}, true);
    link_hosts_.emplace(link, h);
    return h;
  }

  sg4::Host* endpoint(int gpu, Level level) {
    const int l = level == Level::self ? 0 : static_cast<int>(level) - 1;
    const std::size_t key = static_cast<std::size_t>(gpu) * 4 + static_cast<std::size_t>(l);
    auto it = hosts_.find(key);
    if (it != hosts_.end()) return it->second;
    static constexpr const char* kPrefix[] = {"g", "n", "p", "t"};
    sg4::Host* h = zone_->create_host(kPrefix[l] + std::to_string(gpu), kHostSpeed)->set_core_count(kCores)->seal();
    const Route up = fabric_->half_route(gpu, level == Level::self ? Level::domain : level);
    std::vector<sg4::LinkInRoute> links;
    for (const Hop& hop : up) links.emplace_back(link(hop.link), sg4::LinkInRoute::Direction::UP);
    zone_->add_route(h->get_netpoint(), nullptr, nullptr, nullptr, links, true);
    if (l == 0) {
      // Self-loop through the NVLink port, out and back.
      zone_->add_route(h->get_netpoint(), h->get_netpoint(), nullptr, nullptr,
                       {{links[0].get_link(), sg4::LinkInRoute::Direction::UP},
                        {links[0].get_link(), sg4::LinkInRoute::Direction::DOWN}},
                       false);
    }
    hosts_.emplace(key, h);
    return h;
  }

  sg4::Link* link(int id) {
    auto it = links_.find(id);
    if (it != links_.end()) return it->second;
    const FabricLink& fl = fabric_->links[static_cast<std::size_t>(id)];
    sg4::Link* l = zone_->create_split_duplex_link(fl.name(), fl.bandwidth.value())->set_latency(0)->seal();
    links_.emplace(id, l);
    return l;
  }

  void build_platform() {
    zone_ = sg4::create_star_zone("cluster");
    for (int gpu : graph_.gpus()) endpoint(gpu, Level::domain);
    hub_ = zone_->create_host("hub", kHostSpeed)->seal();
    zone_->add_route(hub_->get_netpoint(), nullptr, nullptr, nullptr, {}, true);
    for (const auto& fl : flows_)
      if (fl)
        for (const LinkFlow& f : *fl) link_host(f.link);
    for (const auto& fl : pair_flows_)
      if (fl)
        for (const Flow& f : *fl) {
          const Level lv = fabric_->level(f.src, f.dst);
          endpoint(f.src, lv);
          endpoint(f.dst, lv);
        }
    zone_->seal();
  }

  // Starts every ready task; zero-time tasks finish at once and may make more tasks ready.
  void drain_ready() {
    while (!ready_.empty()) {
      const TaskId v = ready_.back();
      ready_.pop_back();
      start(v);
    }
  }

  [[nodiscard]] double now() const { return sg4::Engine::get_clock() - t0_; }

  void start(TaskId v) {
    result_.timings[v].start = now();
    const Task& t = graph_.task(v);
    Seconds delay;
    if (const auto* c = std::get_if<ComputeWork>(&t.work)) {
      delay = c->duration;
    } else if (const auto* col = std::get_if<CollectiveWork>(&t.work)) {
      const CollectiveCost cost = lower(col->collective, net_);
      delay = col->contends ? cost.fixed : isolated_time(cost, net_);
    } else {
      const auto& tr = std::get<TransferWork>(t.work);
      if (tr.bytes.value() > 0)
        delay = net_.p2p_launch + (net_.node_of(t.gpu) == net_.node_of(tr.dst_gpu)
                                       ? net_.scale_up_latency
                                       : net_.scale_out_latency);
    }
    phase_[v] = 1;
    if (delay.value() > 0) {
      sg4::ExecPtr exec = sg4::Exec::init();
      exec->set_flops_amount(delay.value() * kHostSpeed);
      exec->set_data(reinterpret_cast<void*>(static_cast<std::uintptr_t>(v)));
      exec->set_host(endpoint(t.gpu, Level::domain));
      exec->vetoable_start();
      keep(exec);
    } else if (start_flows(v)) {
      phase_[v] = 2;
    } else {
      finish(v);
    }
  }

  // Starts the flows of task v after its fixed delay; returns false if it has none.
  bool start_flows(TaskId v) {
    int started = 0;
    auto flow = [&](sg4::Host* from, sg4::Host* to, double bytes) {
      if (bytes <= 0) return;
      // sendto_async starts the comm; it cannot complete before control returns to the engine,
      // so tagging it afterwards is safe. (sendto_init + both ends + start would start it twice.)
      sg4::CommPtr comm = sg4::Comm::sendto_async(from, to, static_cast<std::uint64_t>(bytes));
      comm->set_data(reinterpret_cast<void*>(static_cast<std::uintptr_t>(v)));
      keep(comm);
      ++started;
    };
    if (flows_[v])
      for (const LinkFlow& f : *flows_[v])
        f.up ? flow(link_hosts_.at(f.link), hub_, f.bytes) : flow(hub_, link_hosts_.at(f.link), f.bytes);
    if (pair_flows_[v])
      for (const Flow& f : *pair_flows_[v]) {
        const Level lv = fabric_->level(f.src, f.dst);
        flow(endpoint(f.src, lv), endpoint(f.dst, lv), f.bytes);
      }
    remaining_[v] = started;
    return started > 0;
  }

  void finish(TaskId v) {
    const double t = now();
    result_.timings[v].finish = t;
    if (t > end_) end_ = t;
    ++finished_;
    for (auto i = adj_.offsets[v]; i < adj_.offsets[v + 1]; ++i) {
      const TaskId s = adj_.targets[i];
      if (--pending_[s] == 0) ready_.push_back(s);
    }
  }

  // A completed activity must outlive its completion callback and the engine step that ended
  // it: it is kept until the simulated clock moves on, then dropped.
  void retire(const sg4::Activity& a) {
    const double t = sg4::Engine::get_clock();
    if (t > graveyard_time_) {
      graveyard_.clear();
      graveyard_time_ = t;
    }
    auto it = live_.find(&a);
    if (it != live_.end()) {
      graveyard_.push_back(std::move(it->second));
      live_.erase(it);
    }
  }

  void keep(sg4::ActivityPtr a) {
    const sg4::Activity* key = a.get();
    live_.emplace(key, std::move(a));
  }

  const TaskGraph& graph_;
  const NetworkSpec& net_;
  Adjacency adj_;
  std::shared_ptr<const Fabric> fabric_;
  sg4::NetZone* zone_ = nullptr;
  std::unordered_map<std::size_t, sg4::Host*> hosts_;
  std::unordered_map<int, sg4::Link*> links_;
  std::vector<std::shared_ptr<const std::vector<LinkFlow>>> flows_;
  std::unordered_map<int, sg4::Host*> link_hosts_;
  bool reduce_ = true;
  std::vector<std::shared_ptr<const std::vector<Flow>>> pair_flows_;  // GPU-pair flows, routed
  sg4::Host* hub_ = nullptr;
  std::vector<std::uint32_t> pending_;
  std::vector<std::uint8_t> phase_;
  std::vector<int> remaining_;
  std::vector<TaskId> ready_;
  std::unordered_map<const sg4::Activity*, sg4::ActivityPtr> live_;
  std::vector<sg4::ActivityPtr> graveyard_;
  double graveyard_time_ = -1;
  ReplayResult result_;
  double t0_ = 0;
  double end_ = 0;
  std::size_t finished_ = 0;
};

class SimGridBackend final : public ReplayBackend {
 public:
  explicit SimGridBackend(bool reduce) : reduce_(reduce) {}
  [[nodiscard]] std::string_view name() const override { return "simgrid"; }

  [[nodiscard]] ReplayResult replay(const TaskGraph& graph, const NetworkSpec& net) const override {
    net.check();
    if (g_current != nullptr) throw std::logic_error("SimGrid replay is not reentrant");
    const auto t0 = std::chrono::steady_clock::now();
    SimGridRun run(graph, net, reduce_);
    ReplayResult out = run.run();
    out.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
  }
 private:
  bool reduce_;
};

}  // namespace

std::unique_ptr<ReplayBackend> make_simgrid_backend(bool reduce) { return std::make_unique<SimGridBackend>(reduce); }

}  // namespace strata::sim
