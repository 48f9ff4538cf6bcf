#include "strata/strategy/builder.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/strategy/memory.hpp"
#include "strata/strategy/schedule.hpp"

namespace strata::strategy {

int stage_rank(const Plan& p, int stage) { return placement_rank(p, 0, 0, stage); }

PlanCosts plan_costs(const ModelSpec& model, const TrainingSpec& training,
                     const topo::ClusterSpec& cluster, const Plan& plan, const OpCostModel& cost) {
  const LayerShape shape = LayerShape::of(model, training, plan);
  const sim::NetworkSpec net = cluster.network(false);
  PlanCosts c;
  c.layer_forward = cost.total(layer_forward(shape));
  c.layer_backward = cost.total(layer_backward(shape));
  c.layer_recompute = cost.total(layer_recompute(shape, plan.recompute));
  c.embedding_forward = cost.total(embedding_forward(shape));
  c.embedding_backward = cost.total(embedding_backward(shape));
  c.head_forward = cost.total(head_forward(shape));
  c.head_backward = cost.total(head_backward(shape));
  for (const sim::Collective& col : layer_tp_collectives(shape, net.gpus_per_node))
    c.layer_tp += sim::isolated_time(sim::lower(col, net), net);
  if (auto e = embedding_tp_collective(shape, net.gpus_per_node))
    c.embedding_tp = sim::isolated_time(sim::lower(*e, net), net);
  return c;
}

Seconds PlanCosts::stage_compute(const Plan& p, int layers, int stage, int microbatches) const {
  const int vstages = p.pp * p.vpp;
  const std::vector<int> chunks = virtual_stage_layers(layers, p.pp, p.vpp);
  const bool full = p.recompute == Recompute::full;
  const Seconds layer = layer_forward + layer_backward + layer_recompute + layer_tp * (full ? 3.0 : 2.0);
  Seconds total;
  for (int c = 0; c < p.vpp; ++c) {
    const int vs = c * p.pp + stage;
    Seconds chunk = layer * chunks[static_cast<std::size_t>(vs)];
    if (vs == 0) chunk += embedding_forward + embedding_backward + embedding_tp;
    if (vs == vstages - 1) chunk += head_forward + head_backward;
    total += chunk * microbatches;
  }
  return total;
}

namespace {

using sim::Category;
using sim::Collective;
using sim::CollectiveOp;
using sim::CollectiveWork;
using sim::ComputeWork;
using sim::Lane;
using sim::Task;
using sim::TaskId;
using sim::TransferWork;

constexpr TaskId kNone = ~TaskId{0};

class Builder {
 public:
  Builder(const ModelSpec& m, const TrainingSpec& t, const topo::ClusterSpec& c, const Plan& p,
          const OpCostModel& cost, Granularity g)
      : model_(m), train_(t), cluster_(c), plan_(p), cost_(cost), fine_(g == Granularity::layer),
        net_(c.network(false)), shape_(LayerShape::of(m, t, p)) {}

  sim::TaskGraph build() {
    m_ = plan_.microbatches(train_.global_batch);
    if (m_ < 1) throw std::invalid_argument("plan " + plan_.to_string() + ": global batch does not divide");
    vstages_ = plan_.pp * plan_.vpp;
    chunk_layers_ = virtual_stage_layers(model_.layers, plan_.pp, plan_.vpp);
    chunk_first_.assign(chunk_layers_.size(), 0);
    for (std::size_t i = 1; i < chunk_layers_.size(); ++i) chunk_first_[i] = chunk_first_[i - 1] + chunk_layers_[i - 1];
    prepare_costs();
    passes_.assign(static_cast<std::size_t>(m_) * vstages_ * 2, Pass{});
    for (int s = 0; s < plan_.pp; ++s) emit_stage(s);
    link_stages();
    return std::move(graph_);
  }

 private:
  struct Pass {
    TaskId first = kNone;  // first compute-lane task
    TaskId last = kNone;   // last compute-lane task
    TaskId send = kNone;   // transfer to the next (forward) or previous (backward) virtual stage
    TaskId ready = kNone;  // last task of the stage's previous pass: when it can post its receive
    int microbatch = 0;
    int vs = 0;  // virtual stage
    bool forward = true;
  };

  Pass& pass(int mb, int vs, bool forward) {
    return passes_[(static_cast<std::size_t>(mb) * vstages_ + vs) * 2 + (forward ? 0 : 1)];
  }

  void prepare_costs() {
    costs_ = plan_costs(model_, train_, cluster_, plan_, cost_);
    tp_contends_ = plan_.tp > net_.gpus_per_node;
    tp_ = layer_tp_collectives(shape_, net_.gpus_per_node);
    emb_tp_ = embedding_tp_collective(shape_, net_.gpus_per_node);
    // Data-parallel groups of every stage as the placement lays them out: the task GPU's group
    // (tensor rank 0) first, then its siblings on the other tensor ranks, which run in lockstep
    // and share the fabric with it.
    dp_instances_.clear();
    for (int s = 0; s < plan_.pp; ++s) {
      auto inst = std::make_shared<sim::GroupInstances>();
      for (int t = 0; t < plan_.tp; ++t) {
        std::vector<int> members;
        for (int d = 0; d < plan_.dp; ++d) members.push_back(placement_rank(plan_, t, d, s));
        inst->push_back(std::move(members));
      }
      dp_instances_.push_back(std::move(inst));
    }
    const std::vector<int>& first = dp_instances_[0]->front();
    int per_domain = 0;
    for (int r : first) per_domain += net_.node_of(r) == net_.node_of(first[0]) ? 1 : 0;
    if (plan_.dp % per_domain != 0) per_domain = 1;
    dp_group_ = sim::GroupShape{plan_.dp, per_domain};
    const bool sharded = shape_.sequence_parallel || train_.p2p_scatter_gather;
    p2p_bytes_ = Bytes(static_cast<double>(shape_.tokens()) * model_.hidden * shape_.element_bytes /
                       (sharded ? plan_.tp : 1));
  }

  TaskId add(Task t) { return graph_.add(std::move(t)); }

  TaskId compute(int gpu, Category cat, Seconds d, int s, int mb, int layer) {
    return add(Task{ComputeWork{d}, gpu, Lane::compute, cat, s, mb, layer});
  }

  // TP collectives of one layer (or a folded chunk of `layers` layers) on the compute stream.
  TaskId tp_tasks(int gpu, const std::vector<Collective>& cs, Seconds folded, int layers, int s, int mb,
                  int layer) {
    TaskId last = kNone;
    if (cs.empty()) return last;
    if (!fine_pass_) return compute(gpu, Category::tp_comm, folded * layers, s, mb, layer);
    for (const Collective& c : cs)
      last = add(Task{CollectiveWork{c, tp_contends_, {}}, gpu, Lane::compute, Category::tp_comm, s, mb, layer});
    return last;
  }

  // Marks the first and last compute task of a pass.
  static void touch(Pass& p, TaskId id) {
    if (id == kNone) return;
    if (p.first == kNone) p.first = id;
    p.last = id;
  }

  void emit_stage(int s) {
    const int gpu = stage_rank(plan_, s);
    const std::vector<PipelineOp> ops = stage_schedule(plan_, s, m_);
    std::vector<int> backward_seen(plan_.vpp, 0);
    std::vector<bool> gathered(plan_.vpp, false);
    zero3_window_.clear();
    std::vector<TaskId> reductions;
    // Communication points. Receives are posted with the sends of the previous communication
    // point, which follows every pass except in the interleaved schedule's steady state: there a
    // forward and a backward run back to back and communicate once, after the pair.
    TaskId point = kNone;      // last compute task before the latest communication point
    Pass* deferred = nullptr;  // a pair's forward, whose send waits for the pair's backward
    for (const PipelineOp& op : ops) {
      const int vs = op.chunk * plan_.pp + s;
      Pass& ps = pass(op.microbatch, vs, op.forward);
      ps.microbatch = op.microbatch;
      ps.vs = vs;
      ps.forward = op.forward;
      ps.ready = point;
      const bool final_backward = !op.forward && ++backward_seen[op.chunk] == m_;
      // ZeRO-3 with a pipeline: gather a chunk's weights once, before its first forward.
      std::optional<TaskId> chunk_gather;
      if (plan_.zero == 3 && plan_.pp > 1 && op.forward && !gathered[op.chunk]) {
        gathered[op.chunk] = true;
        chunk_gather = gather(gpu, chunk_params(vs), s, op.microbatch, -1);
      }
      // Chunk granularity folds a pass into one task, except where that would hide overlap: the
      // last backward of a chunk (its gradient buckets reduce during it) and ZeRO-3 gathers.
      fine_pass_ = fine_ || zero3_per_use() || (final_backward && overlap());
      if (op.forward)
        emit_forward(gpu, s, vs, op.microbatch, ps, chunk_gather);
      else
        emit_backward(gpu, s, vs, op.microbatch, ps, final_backward, reductions);
      stage_last_ = ps.last;
      if (op.pair_start) {
        deferred = &ps;
        continue;
      }
      if (deferred != nullptr) {
        send(gpu, s, *deferred);
        deferred = nullptr;
      }
      send(gpu, s, ps);
      point = ps.last;
    }
    finish_step(gpu, s, reductions);
  }

  // Pipeline send of a pass's output to the neighbouring virtual stage, after the pass.
  void send(int gpu, int s, Pass& ps) {
    const bool sends = ps.forward ? ps.vs + 1 < vstages_ : ps.vs > 0;
    if (!sends) return;
    const int peer_stage = ps.forward ? (ps.vs + 1) % plan_.pp : (ps.vs - 1) % plan_.pp;
    const int peer = stage_rank(plan_, peer_stage);
    const Lane lane = train_.blocking_p2p ? Lane::compute : Lane::p2p;
    ps.send = add(Task{TransferWork{peer, p2p_bytes_, p2p_siblings(s, peer_stage)}, gpu, lane, Category::pp_comm, s,
                       ps.microbatch, -1});
    graph_.precede(ps.last, ps.send);
  }

  // The same send between every other (tensor, data) rank pair of the two stages.
  std::shared_ptr<const sim::TransferPairs> p2p_siblings(int from, int to) {
    auto& pairs = p2p_siblings_[{from, to}];
    if (!pairs) {
      auto v = std::make_shared<sim::TransferPairs>();
      for (int t = 0; t < plan_.tp; ++t)
        for (int d = 0; d < plan_.dp; ++d)
          if (t != 0 || d != 0) v->emplace_back(placement_rank(plan_, t, d, from), placement_rank(plan_, t, d, to));
      pairs = std::move(v);
    }
    return pairs;
  }

  double chunk_params(int vs) const {
    double p = layers_in(vs) * model_.layer_params() / plan_.tp;
    if (vs == 0) p += embedding_params();
    if (vs == vstages_ - 1) p += head_params();
    return p;
  }
  double embedding_params() const {
    return static_cast<double>(model_.vocab) * model_.hidden / plan_.tp +
           (model_.learned_positions ? static_cast<double>(train_.seq_len) * model_.hidden : 0.0);
  }
  double head_params() const {
    const bool own = !model_.tied_embeddings || plan_.pp > 1;
    return own ? static_cast<double>(model_.vocab) * model_.hidden / plan_.tp : 0.0;
  }

  TaskId gather(int gpu, double params, int s, int mb, int layer) {
    const Collective c{CollectiveOp::all_gather, Bytes(params * shape_.element_bytes), dp_group_};
    return add(Task{CollectiveWork{c, true, dp_instances_[static_cast<std::size_t>(s)]}, gpu, Lane::gather,
                    Category::dp_comm, s, mb, layer});
  }

  // ZeRO-3 without a pipeline: gather before every use, at most two layers gathered at once.
  TaskId zero3_gather(int gpu, double params, int s, int mb, int layer) {
    const TaskId g = gather(gpu, params, s, mb, layer);
    if (zero3_window_.size() >= 2) graph_.precede(zero3_window_[zero3_window_.size() - 2], g);
    return g;
  }
  void zero3_consumed(TaskId consumer) { zero3_window_.push_back(consumer); }
  bool zero3_per_use() const { return plan_.zero == 3 && plan_.pp == 1; }

  int layers_in(int vs) const { return chunk_layers_[static_cast<std::size_t>(vs)]; }

  void emit_forward(int gpu, int s, int vs, int mb, Pass& ps, std::optional<TaskId> chunk_gather) {
    const int first_layer = chunk_first_[static_cast<std::size_t>(vs)];
    const int layers = layers_in(vs);
    auto first_dep = [&](TaskId id) {
      if (chunk_gather) graph_.precede(*chunk_gather, id);
      chunk_gather.reset();
    };
    if (!fine_pass_) {
      Seconds work = costs_.layer_forward * layers;
      if (vs == 0) work += costs_.embedding_forward;
      if (vs == vstages_ - 1) work += costs_.head_forward;
      const TaskId c = compute(gpu, Category::forward, work, s, mb, -1);
      first_dep(c);
      touch(ps, c);
      Seconds tp = costs_.layer_tp * layers;
      if (vs == 0) tp += costs_.embedding_tp;
      if (tp.value() > 0) touch(ps, compute(gpu, Category::tp_comm, tp, s, mb, -1));
      return;
    }
    if (vs == 0) {
      const TaskId e = compute(gpu, Category::forward, costs_.embedding_forward, s, mb, -1);
      first_dep(e);
      touch(ps, e);
      if (emb_tp_)
        touch(ps, add(Task{CollectiveWork{*emb_tp_, tp_contends_, {}}, gpu, Lane::compute, Category::tp_comm, s, mb, -1}));
    }
    for (int l = first_layer; l < first_layer + layers; ++l) {
      std::optional<TaskId> g;
      if (zero3_per_use()) g = zero3_gather(gpu, model_.layer_params() / plan_.tp, s, mb, l);
      const TaskId c = compute(gpu, Category::forward, costs_.layer_forward, s, mb, l);
      if (g) {
        graph_.precede(*g, c);
        zero3_consumed(c);
      }
      first_dep(c);
      touch(ps, c);
      touch(ps, tp_tasks(gpu, tp_, costs_.layer_tp, 1, s, mb, l));
    }
    if (vs == vstages_ - 1) touch(ps, compute(gpu, Category::forward, costs_.head_forward, s, mb, -1));
  }

  void emit_backward(int gpu, int s, int vs, int mb, Pass& ps, bool final_backward,
                     std::vector<TaskId>& reductions) {
    const int first_layer = chunk_first_[static_cast<std::size_t>(vs)];
    const int layers = layers_in(vs);
    const bool full = plan_.recompute == Recompute::full;
    if (!fine_pass_) {
      if (costs_.layer_recompute.value() > 0)
        touch(ps, compute(gpu, Category::recompute, costs_.layer_recompute * layers, s, mb, -1));
      if (full && !tp_.empty()) touch(ps, compute(gpu, Category::tp_comm, costs_.layer_tp * layers, s, mb, -1));
      Seconds work = costs_.layer_backward * layers;
      if (vs == 0) work += costs_.embedding_backward;
      if (vs == vstages_ - 1) work += costs_.head_backward;
      touch(ps, compute(gpu, Category::backward, work, s, mb, -1));
      if (!tp_.empty()) touch(ps, compute(gpu, Category::tp_comm, costs_.layer_tp * layers, s, mb, -1));
      return;
    }
    double bucket = 0;
    if (vs == vstages_ - 1) {
      const TaskId h = compute(gpu, Category::backward, costs_.head_backward, s, mb, -1);
      touch(ps, h);
      bucket += head_params();
    }
    for (int l = first_layer + layers - 1; l >= first_layer; --l) {
      const double lp = model_.layer_params() / plan_.tp;
      std::optional<TaskId> g;
      if (zero3_per_use()) g = zero3_gather(gpu, lp, s, mb, l);
      TaskId first_of_layer = kNone;
      if (costs_.layer_recompute.value() > 0) {
        first_of_layer = compute(gpu, Category::recompute, costs_.layer_recompute, s, mb, l);
        touch(ps, first_of_layer);
        if (full) touch(ps, tp_tasks(gpu, tp_, costs_.layer_tp, 1, s, mb, l));
      }
      const TaskId b = compute(gpu, Category::backward, costs_.layer_backward, s, mb, l);
      if (first_of_layer == kNone) first_of_layer = b;
      touch(ps, b);
      if (g) {
        graph_.precede(*g, first_of_layer);
        zero3_consumed(b);
      }
      touch(ps, tp_tasks(gpu, tp_, costs_.layer_tp, 1, s, mb, l));
      if (zero3_per_use()) {
        reductions.push_back(reduce(gpu, ps.last, lp, s, mb, l));
        continue;
      }
      bucket += lp;
      const bool chunk_end = l == first_layer && vs != 0;
      if (final_backward && overlap() && (bucket >= kBucketParams || chunk_end)) {
        reductions.push_back(reduce(gpu, ps.last, bucket, s, mb, l));
        bucket = 0;
      }
    }
    if (vs == 0) {
      const TaskId e = compute(gpu, Category::backward, costs_.embedding_backward, s, mb, -1);
      touch(ps, e);
      bucket += embedding_params();
      if (final_backward && overlap() && bucket > 0) reductions.push_back(reduce(gpu, e, bucket, s, mb, -1));
    }
  }

  // Gradient reduction of `params` elements after task `after`: all-reduce without ZeRO,
  // reduce-scatter with it.
  TaskId reduce(int gpu, TaskId after, double params, int s, int mb, int layer) {
    const CollectiveOp op = plan_.zero == 0 ? CollectiveOp::all_reduce : CollectiveOp::reduce_scatter;
    const Collective c{op, Bytes(params * train_.grad_reduce_bytes()), dp_group_};
    const TaskId r = add(Task{CollectiveWork{c, true, dp_instances_[static_cast<std::size_t>(s)]}, gpu, Lane::reduce,
                              Category::dp_comm, s, mb, layer});
    graph_.precede(after, r);
    return r;
  }

  // Without overlap (or bucketing), gradients are reduced in one call after the whole backward.
  bool overlap() const { return train_.overlap_grad_reduce || zero3_per_use(); }

  void finish_step(int gpu, int s, std::vector<TaskId>& reductions) {
    if (!overlap()) reductions.push_back(reduce(gpu, stage_last_, stage_params(model_, train_, plan_, s), s, -1, -1));
    TaskId last_reduce = reductions.empty() ? kNone : reductions.back();
    // Tied input and output embeddings on different stages sum their gradients.
    if (plan_.pp > 1 && model_.tied_embeddings && (s == 0 || s == plan_.pp - 1)) {
      const int other = stage_rank(plan_, s == 0 ? plan_.pp - 1 : 0);
      const int per_node = net_.node_of(other) == net_.node_of(gpu) ? 2 : 1;
      const Collective c{CollectiveOp::all_reduce,
                         Bytes(static_cast<double>(model_.vocab) * model_.hidden / plan_.tp *
                               train_.grad_reduce_bytes()),
                         sim::GroupShape{2, per_node}};
      const TaskId e = add(Task{CollectiveWork{c, true, {}}, gpu, Lane::reduce, Category::dp_comm, s, -1, -1});
      if (last_reduce == kNone) graph_.precede(stage_last_, e);
      last_reduce = e;
    }
    const double params = stage_params(model_, train_, plan_, s);
    const double local = plan_.zero >= 1 ? params / plan_.dp : params;
    const TaskId opt = compute(gpu, Category::optimizer, cost_.time(optimizer_step(local)), s, -1, -1);
    if (last_reduce != kNone) graph_.precede(last_reduce, opt);
    if (plan_.zero == 1 || plan_.zero == 2) {
      // Distributed optimizer: every replica gathers the updated weights.
      const TaskId g = gather(gpu, params, s, -1, -1);
      graph_.precede(opt, g);
    }
  }

  // A pass consumes its sender's transfer. With blocking sends the transfer is a rendezvous: it
  // starts only when the receiver has finished its previous pass and posted the receive (as
  // Megatron-LM's paired send/receive calls do), so neighbouring stages advance in lockstep.
  void link(const Pass& from, const Pass& to) {
    graph_.precede(from.send, to.first);
    if (train_.blocking_p2p && to.ready != kNone) graph_.precede(to.ready, from.send);
  }

  void link_stages() {
    for (int mb = 0; mb < m_; ++mb) {
      for (int vs = 0; vs < vstages_; ++vs) {
        Pass& f = pass(mb, vs, true);
        Pass& b = pass(mb, vs, false);
        if (vs > 0) link(pass(mb, vs - 1, true), f);
        if (vs + 1 < vstages_) link(pass(mb, vs + 1, false), b);
        else graph_.precede(f.last, b.first);
      }
    }
  }

  const ModelSpec& model_;
  const TrainingSpec& train_;
  const topo::ClusterSpec& cluster_;
  const Plan& plan_;
  const OpCostModel& cost_;
  const bool fine_;
  const sim::NetworkSpec net_;
  const LayerShape shape_;

  int m_ = 0, vstages_ = 0;
  std::vector<int> chunk_layers_, chunk_first_;  // layers of each virtual stage, and the first one
  PlanCosts costs_;
  std::vector<Collective> tp_;
  std::optional<Collective> emb_tp_;
  bool tp_contends_ = false;
  sim::GroupShape dp_group_;
  std::vector<std::shared_ptr<const sim::GroupInstances>> dp_instances_;  // per stage
  std::map<std::pair<int, int>, std::shared_ptr<const sim::TransferPairs>> p2p_siblings_;
  Bytes p2p_bytes_;
  std::vector<Pass> passes_;
  std::vector<TaskId> zero3_window_;
  TaskId stage_last_ = kNone;  // last compute task of the stage being emitted
  bool fine_pass_ = false;     // the pass being emitted gets one task per layer
  sim::TaskGraph graph_;
};

}  // namespace

sim::TaskGraph build_task_graph(const ModelSpec& model, const TrainingSpec& training,
                                const topo::ClusterSpec& cluster, const Plan& plan,
                                const OpCostModel& cost, Granularity granularity) {
  return Builder(model, training, cluster, plan, cost, granularity).build();
}

}  // namespace strata::strategy
