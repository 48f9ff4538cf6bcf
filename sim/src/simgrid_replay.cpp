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
// The platform holds only the GPUs the graph uses (the representative pipeline; its replicas are
// mirrors by symmetry). Each GPU is two hosts in one star zone: "gN" owns the NVLink port, "nN"
// the NIC port. Collectives become self-loop flows through the member's own ports (by symmetry,
// what a member sends equals what it receives), transfers become flows between two GPUs' ports.

#include <simgrid/s4u.hpp>
#include <xbt/log.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "strata/sim/replay.hpp"

namespace sg4 = simgrid::s4u;

namespace strata::sim {
namespace {

// Host speed used to turn a fixed duration into an Exec amount (any value works; 1e9 keeps the
// amounts of typical kernels well above SimGrid's precision).
constexpr double kHostSpeed = 1e9;
constexpr int kCores = 1 << 20;  // fixed-duration activities on one host never share a core

class SimGridRun;
SimGridRun* g_current = nullptr;  // the replay the completion callback feeds

class SimGridRun {
 public:
  SimGridRun(const TaskGraph& graph, const NetworkSpec& net) : graph_(graph), net_(net) {}

  ReplayResult run() {
    static bool configured = false;
    if (!configured) {
      xbt_log_control_set("root.thresh:critical");
    }
    sg4::Engine engine("strata");
    if (!configured) {
      sg4::Engine::set_config("network/model:CM02");
      sg4::Engine::set_config("network/crosstraffic:0");
      sg4::Engine::set_config("network/TCP-gamma:0");
      sg4::Activity::on_completion_cb([](const sg4::Activity& a) {
        if (g_current != nullptr) g_current->on_done(a);
      });
      configured = true;
    }
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
  void build_platform() {
    auto* zone = sg4::create_star_zone("cluster");
    for (int gpu : graph_.gpus()) {
      const std::string id = std::to_string(gpu);
      Ports p;
      p.gpu = zone->create_host("g" + id, kHostSpeed)->set_core_count(kCores)->seal();
      p.nic = zone->create_host("n" + id, kHostSpeed)->set_core_count(kCores)->seal();
      auto* nvl = zone->create_split_duplex_link("nvl" + id, net_.scale_up_bw.value())
                      ->set_latency(0)
                      ->seal();
      auto* nic = zone->create_split_duplex_link("ib" + id, net_.scale_out_bw.value())
                      ->set_latency(0)
                      ->seal();
      for (auto [host, link] : {std::pair{p.gpu, nvl}, std::pair{p.nic, nic}}) {
        zone->add_route(host->get_netpoint(), nullptr, nullptr, nullptr,
                        {{link, sg4::LinkInRoute::Direction::UP}}, true);
        zone->add_route(host->get_netpoint(), host->get_netpoint(), nullptr, nullptr,
                        {{link, sg4::LinkInRoute::Direction::UP},
                         {link, sg4::LinkInRoute::Direction::DOWN}},
                        false);
      }
      ports_.emplace(gpu, p);
    }
    zone->seal();
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
      exec->set_host(ports_.at(t.gpu).gpu);
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
    const Task& t = graph_.task(v);
    const Ports& src = ports_.at(t.gpu);
    int started = 0;
    auto flow = [&](sg4::Host* from, sg4::Host* to, Bytes bytes) {
      if (bytes.value() <= 0) return;
      // sendto_async starts the comm; it cannot complete before control returns to the engine,
      // so tagging it afterwards is safe. (sendto_init + both ends + start would start it twice.)
      sg4::CommPtr comm = sg4::Comm::sendto_async(from, to, static_cast<std::uint64_t>(bytes.value()));
      comm->set_data(reinterpret_cast<void*>(static_cast<std::uintptr_t>(v)));
      keep(comm);
      ++started;
    };
    if (const auto* col = std::get_if<CollectiveWork>(&t.work)) {
      if (!col->contends) return false;
      const CollectiveCost cost = lower(col->collective, net_);
      flow(src.gpu, src.gpu, cost.load.scale_up);
      flow(src.nic, src.nic, cost.load.scale_out);
    } else if (const auto* tr = std::get_if<TransferWork>(&t.work)) {
      const Ports& dst = ports_.at(tr->dst_gpu);
      if (net_.node_of(t.gpu) == net_.node_of(tr->dst_gpu))
        flow(src.gpu, dst.gpu, tr->bytes);
      else
        flow(src.nic, dst.nic, tr->bytes);
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

  struct Ports {
    sg4::Host* gpu = nullptr;
    sg4::Host* nic = nullptr;
  };

  const TaskGraph& graph_;
  const NetworkSpec& net_;
  Adjacency adj_;
  std::unordered_map<int, Ports> ports_;
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
  [[nodiscard]] std::string_view name() const override { return "simgrid"; }

  [[nodiscard]] ReplayResult replay(const TaskGraph& graph, const NetworkSpec& net) const override {
    net.check();
    if (g_current != nullptr) throw std::logic_error("SimGrid replay is not reentrant");
    const auto t0 = std::chrono::steady_clock::now();
    SimGridRun run(graph, net);
    ReplayResult out = run.run();
    out.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
  }
};

}  // namespace

std::unique_ptr<ReplayBackend> make_simgrid_backend() { return std::make_unique<SimGridBackend>(); }

}  // namespace strata::sim
