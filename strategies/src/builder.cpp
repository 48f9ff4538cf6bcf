#include "strata/strategy/builder.hpp"

#include <algorithm>
#include <array>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "strata/strategy/memory.hpp"
#include "strata/strategy/schedule.hpp"

namespace strata::strategy {

int stage_rank(const Plan& p, int stage) { return placement_rank(p, 0, 0, 0, stage); }

sim::GroupShape line_shape(const Plan& p, std::string_view dim, const sim::NetworkSpec& net) {
  // Sizes along the order; "dp" in an order counts replicas of the expert-parallel group.
  const int ep = std::max(1, p.ep);
  auto size_of = [&](std::string_view d) {
    if (d == "tp") return p.tp;
    if (d == "cp") return p.cp;
    if (d == "ep") return ep;
    if (d == "dp") return p.dp / ep;
    if (d == "pp") return p.pp;
    throw std::invalid_argument("line_shape: unknown dimension '" + std::string(d) + "'");
  };
  const int size = size_of(dim);
  if (size <= 1) return sim::GroupShape{1, 1};
  long long stride = 1;
  std::string_view order = p.order;
  for (;;) {
    const auto dash = order.find('-');
    const std::string_view d = order.substr(0, dash);
    if (d == dim) break;
    stride *= size_of(d);
    if (dash == std::string_view::npos) throw std::invalid_argument("line_shape: '" + std::string(dim) + "' is not in order " + p.order);
    order.remove_prefix(dash + 1);
  }
  const long long domain = net.gpus_per_node;
  // Members i x stride apart in different domains whenever stride >= domain.
  if (stride >= domain) return sim::GroupShape{size, 1};
  // A group starting at rank r0 has the layout of one starting at r0 mod domain; the starts are
  // a + stride x size x b for inner coordinates a < stride and outer ones b, and b x stride x size
  // mod domain repeats within `domain` values of b.
  const long long period = stride * size;
  const long long outer = std::max(1LL, static_cast<long long>(p.gpus()) / period);
  std::vector<bool> start(static_cast<std::size_t>(domain), false);
  for (long long b = 0; b < std::min(outer, domain); ++b)
    for (long long a = 0; a < stride; ++a) start[static_cast<std::size_t>((a + period * b) % domain)] = true;
  sim::GroupShape worst{size, size};
  bool first = true;
  std::vector<int> members(static_cast<std::size_t>(size));
  for (long long r0 = 0; r0 < domain; ++r0) {
    if (!start[static_cast<std::size_t>(r0)]) continue;
    for (int i = 0; i < size; ++i) members[static_cast<std::size_t>(i)] = static_cast<int>(r0 + i * stride);
    sim::NetworkSpec layout = net;
    layout.gpus = static_cast<int>(r0 + size * stride);
    const sim::GroupShape g = sim::shape_of(members, layout);
    if (first || std::make_tuple(g.nodes(), -g.per_node, g.max_per_node()) >
                     std::make_tuple(worst.nodes(), -worst.per_node, worst.max_per_node()))
      worst = g;
    first = false;
  }
  return worst;
}

namespace {

Seconds isolated(const std::vector<sim::Collective>& cs, const sim::NetworkSpec& net) {
  Seconds t;
  for (const sim::Collective& c : cs) t += sim::isolated_time(sim::lower(c, net), net);
  return t;
}

bool attention_gemm(const Op& op) { return op.name == "attn_scores" || op.name == "attn_context"; }

}  // namespace

PlanCosts plan_costs(const ModelSpec& model, const TrainingSpec& training,
                     const topo::ClusterSpec& cluster, const Plan& plan, const OpCostModel& cost) {
  const LayerShape shape = LayerShape::of(model, training, plan);
  const sim::NetworkSpec net = cluster.network(false);
  const sim::GroupShape tp_group = line_shape(plan, "tp", net);
  const sim::GroupShape cp_group = line_shape(plan, "cp", net);
  const sim::GroupShape ep_group = line_shape(plan, "ep", net);
  // With TP overlap the GEMMs next to TP collectives run as tp chunks (tp_overlap_split).
  const int chunks = plan.tp_overlap ? plan.tp : 1;
  auto total = [&](const std::vector<Op>& ops) { return cost.total(tp_overlap_split(ops, chunks)); };
  auto layer = [&](const LayerShape& x) {
    LayerCosts l;
    l.forward = total(layer_forward(x));
    l.backward = total(layer_backward(x));
    l.backward_input = total(layer_backward_input(x));
    l.backward_weight = total(layer_backward_weight(x));
    l.recompute = total(layer_recompute(x, plan.recompute));
    l.forward_gemms = total(layer_forward_gemms(x));
    for (const Op& op : tp_overlap_split(layer_backward(x), chunks))
      if (std::holds_alternative<Gemm>(op.kind) && !attention_gemm(op)) l.backward_gemms += cost.time(op);
    l.attention_forward = total(attention_forward(x));
    l.attention_backward = total(attention_backward(x));
    l.tp = isolated(layer_tp_collectives(x, tp_group), net);
    if (plan.tp_overlap) {
      std::vector<sim::Collective> hidden = layer_tp_collectives(x, tp_group), last = hidden;
      for (auto& c : hidden) c.buffer = c.buffer * ((plan.tp - 1.0) / plan.tp);
      for (auto& c : last) c.buffer = c.buffer * (1.0 / plan.tp);
      l.tp_hidden = isolated(hidden, net);
      l.tp_last = isolated(last, net);
    }
    l.cp_forward = isolated(layer_cp_collectives(x, cp_group), net);
    l.cp_backward = isolated(layer_cp_collectives_backward(x, cp_group), net);
    l.ep = isolated(layer_ep_collectives(x, ep_group), net);
    return l;
  };
  PlanCosts c;
  c.dense = layer(shape);
  c.moe = model.moe() ? layer(shape.moe_layer(model)) : c.dense;
  c.embedding_forward = cost.total(embedding_forward(shape));
  c.embedding_backward = cost.total(embedding_backward(shape));
  c.head_forward = cost.total(head_forward(shape));
  c.head_backward = cost.total(head_backward(shape));
  if (auto e = embedding_tp_collective(shape, tp_group))
    c.embedding_tp = sim::isolated_time(sim::lower(*e, net), net);
  return c;
}

Seconds PlanCosts::stage_compute(const ModelSpec& m, const Plan& p, int stage, int microbatches) const {
  const int vstages = p.pp * p.vpp;
  const std::vector<int> chunks = virtual_stage_layers(m.layers, p.pp, p.vpp);
  Seconds total;
  for (int c = 0; c < p.vpp; ++c) {
    const int vs = c * p.pp + stage;
    const int first = first_layer_of(m, p, vs);
    Seconds chunk;
    for (int i = 0; i < chunks[static_cast<std::size_t>(vs)]; ++i) {
      const LayerCosts& l = m.moe_layer(first + i) ? moe : dense;
      const bool full = p.recomputes_layer(i);
      const bool recomputes = p.recompute == Recompute::selective || full;
      const double passes = full ? 3.0 : 2.0;  // forward communication runs again when recomputed
      chunk += l.forward + l.backward + (recomputes ? l.recompute : Seconds());
      if (!p.tp_overlap) chunk += l.tp * passes;
      if (p.cp_comm == CpComm::all_to_all) chunk += l.cp_forward * (full ? 2.0 : 1.0) + l.cp_backward;
      chunk += l.ep * passes;
    }
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
using sim::GroupInstances;
using sim::Lane;
using sim::Task;
using sim::TaskId;
using sim::TransferWork;

constexpr TaskId kNone = ~TaskId{0};

// Instances of one kind of communicator on a stage: every group, the representative GPU's
// first, and the shape they share.
struct Groups {
  std::shared_ptr<const GroupInstances> instances;
  sim::GroupShape shape;
};

// A sharded data-parallel group: the whole group, and with hybrid sharding its shard groups
// (ZeRO's reduce-scatter and all-gather) and replica groups (all-reduce across shard groups).
struct DataGroups {
  Groups all, shard, replica;
  bool hybrid = false;
};

}  // namespace

bool gathers_per_chunk(const TrainingSpec& t, const Plan& p) {
  return (p.zero == 3 && p.pp > 1) || ((p.zero == 1 || p.zero == 2) && t.overlap_grad_reduce);
}

bool overlaps_grad_reduce(const TrainingSpec& t, const Plan& p) {
  return t.overlap_grad_reduce || (p.zero == 3 && p.pp == 1);
}

bool all_reduces_sharded_gradients(const TrainingSpec& t, const Plan& p) {
  return p.zero == 1 && t.framework == Framework::megatron_deepspeed && t.precision == topo::Precision::bf16;
}

std::array<int, 5> rank_strides(const Plan& p) {
  std::array<int, 5> stride{};
  const int ep = std::max(1, p.ep);
  for (int i = 0; i < 5; ++i) {
    // placement_rank is linear in each coordinate: its value at 1 is the stride.
    int coords[5] = {0, 0, 0, 0, 0};
    coords[i] = 1;
    const bool has = (i == 0 && p.tp > 1) || (i == 1 && p.cp > 1) || (i == 2 && ep > 1) ||
                     (i == 3 && p.dp / ep > 1) || (i == 4 && p.pp > 1);
    stride[static_cast<std::size_t>(i)] =
        has ? placement_rank(p, coords[0], coords[1], coords[2] + coords[3] * ep, coords[4]) : 0;
  }
  return stride;
}

namespace {

// The slowest shapes of every stage's translated copies of one group (members ascending):
// whole and, with `shard` dividing it, split into shard groups of consecutive members and
// replica groups of the members at one place of every shard group. `offsets(s)` lists stage
// s's translations. A copy shifted by whole domains has the same shape, so each offset modulo
// the domain is measured once for all stages.
template <class Offsets>
std::vector<DataShapes::Sharded> slowest_translated(const std::vector<int>& base, int stages, Offsets offsets,
                                                    int shard, int zero, const sim::NetworkSpec& net) {
  const int size = static_cast<int>(base.size());
  const bool hybrid = zero != 0 && shard > 0 && shard < size && size % shard == 0;
  std::vector<std::optional<DataShapes::Sharded>> by_residue(static_cast<std::size_t>(net.gpus_per_node));
  auto measure = [&](int off) {
    DataShapes::Sharded m;
    m.hybrid = hybrid;
    m.all = sim::shape_of_sorted(base.data(), base.size(), 1, off, net);
    m.shard = m.replica = m.all;
    if (hybrid) {
      for (int i = 0; i < size; i += shard) {
        const sim::GroupShape g = sim::shape_of_sorted(base.data() + i, shard, 1, off, net);
        if (i == 0 || sim::slower(g, m.shard)) m.shard = g;
      }
      for (int j = 0; j < shard; ++j) {
        const sim::GroupShape g = sim::shape_of_sorted(base.data() + j, size / shard, shard, off, net);
        if (j == 0 || sim::slower(g, m.replica)) m.replica = g;
      }
    }
    return m;
  };
  std::vector<DataShapes::Sharded> out(static_cast<std::size_t>(stages));
  for (int s = 0; s < stages; ++s) {
    bool first = true;
    for (int off : offsets(s)) {
      auto& r = by_residue[static_cast<std::size_t>(off % net.gpus_per_node)];
      if (!r) r = measure(off);
      DataShapes::Sharded& o = out[static_cast<std::size_t>(s)];
      if (first) {
        o = *r;
      } else {
        if (sim::slower(r->all, o.all)) o.all = r->all;
        if (sim::slower(r->shard, o.shard)) o.shard = r->shard;
        if (sim::slower(r->replica, o.replica)) o.replica = r->replica;
      }
      first = false;
    }
  }
  return out;
}

}  // namespace

std::vector<DataShapes> data_group_shapes(const Plan& p, const sim::NetworkSpec& net) {
  const std::array<int, 5> st = rank_strides(p);
  const int ep = std::max(1, p.ep);
  std::vector<int> dense, expert;
  for (int c = 0; c < p.cp; ++c)
    for (int d = 0; d < p.dp; ++d) {
      dense.push_back(c * st[1] + (d % ep) * st[2] + (d / ep) * st[3]);
      if (d % ep == 0) expert.push_back(c * st[1] + (d / ep) * st[3]);
    }
  std::sort(dense.begin(), dense.end());
  std::sort(expert.begin(), expert.end());
  std::vector<int> off;
  auto dense_off = [&](int s) -> const std::vector<int>& {
    off.clear();
    for (int t = 0; t < p.tp; ++t) off.push_back(t * st[0] + s * st[4]);
    return off;
  };
  auto expert_off = [&](int s) -> const std::vector<int>& {
    off.clear();
    for (int t = 0; t < p.tp; ++t)
      for (int e = 0; e < ep; ++e) off.push_back(t * st[0] + e * st[2] + s * st[4]);
    return off;
  };
  const auto d = slowest_translated(dense, p.pp, dense_off, p.shard > 0 ? p.shard : 0, p.zero, net);
  const auto e = slowest_translated(expert, p.pp, expert_off, p.shard > 0 ? expert_shard_group(p) : 0, p.zero, net);
  std::vector<DataShapes> out(static_cast<std::size_t>(p.pp));
  for (std::size_t s = 0; s < out.size(); ++s) out[s] = DataShapes{d[s], e[s]};
  return out;
}

namespace {

// The groups of one layout, per stage, and the pipeline sibling pairs built so far.
struct Layout {
  std::vector<DataGroups> dense_dp, expert_dp;
  std::vector<Groups> cp, ep;
  std::map<std::pair<int, int>, std::shared_ptr<const sim::TransferPairs>> p2p_siblings;
  std::size_t ints = 0;  // group members and pair ends held
};

// What decides a plan's layout.
std::string layout_key(const Plan& p) {
  return std::to_string(p.tp) + ' ' + std::to_string(p.cp) + ' ' + std::to_string(p.dp) + ' ' +
         std::to_string(p.ep) + ' ' + std::to_string(p.pp) + ' ' + std::to_string(p.shard) + ' ' +
         (p.zero > 0 ? '1' : '0') + ' ' + p.order;
}

// Memory of a group's instances in ints: members plus a vector's header and allocation.
std::size_t members(const Groups& g) {
  std::size_t n = 0;
  if (g.instances)
    for (const auto& m : *g.instances) n += m.size() + 10;
  return n;
}

// Group members and pair ends a cache holds before it starts over (4 bytes each: 64 MiB).
constexpr std::size_t kCacheInts = std::size_t{1} << 25;

}  // namespace

struct LayoutCache::Impl {
  int gpus = 0, gpus_per_node = 0;  // of the cluster the layouts were built for
  std::list<std::pair<std::string, std::shared_ptr<Layout>>> recent;  // most recently used first
  std::unordered_map<std::string, decltype(recent)::iterator> layouts;
  std::size_t built = 0, reused = 0;

  // The layout of `key`, or null; throws if the cache serves another cluster.
  std::shared_ptr<Layout> find(const std::string& key, const sim::NetworkSpec& net) {
    if (gpus == 0) gpus = net.gpus, gpus_per_node = net.gpus_per_node;
    if (gpus != net.gpus || gpus_per_node != net.gpus_per_node)
      throw std::invalid_argument("LayoutCache: built for another cluster");
    auto it = layouts.find(key);
    if (it == layouts.end()) return nullptr;
    ++reused;
    recent.splice(recent.begin(), recent, it->second);
    return it->second->second;
  }
  // Adds a layout, evicting the least recently used ones beyond the memory bound. A layout's
  // pipeline pairs grow after it is added, so the bound is checked against current sizes.
  void insert(const std::string& key, std::shared_ptr<Layout> layout) {
    std::size_t held = layout->ints;
    for (const auto& [k, l] : recent) held += l->ints;
    while (held > kCacheInts && !recent.empty()) {
      held -= recent.back().second->ints;
      layouts.erase(recent.back().first);
      recent.pop_back();
    }
    ++built;
    recent.emplace_front(key, std::move(layout));
    layouts[key] = recent.begin();
  }
};

LayoutCache::LayoutCache() : impl_(std::make_unique<Impl>()) {}
LayoutCache::~LayoutCache() = default;
std::size_t LayoutCache::built() const { return impl_->built; }
std::size_t LayoutCache::reused() const { return impl_->reused; }

namespace {

class Builder {
 public:
  Builder(const ModelSpec& m, const TrainingSpec& t, const topo::ClusterSpec& c, const Plan& p,
          const OpCostModel& cost, Granularity g, LayoutCache* cache)
      : model_(m), train_(t), cluster_(c), plan_(p), cost_(cost), fine_(g == Granularity::layer),
        net_(c.network(false)), shape_(LayerShape::of(m, t, p)), moe_shape_(shape_.moe_layer(m)),
        cache_(cache) {}

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

  // A gradient bucket: dense and expert parameters wait for different groups.
  struct Bucket {
    double dense = 0, expert = 0;
    [[nodiscard]] double total() const { return dense + expert; }
  };

  Pass& pass(int mb, int vs, bool forward) {
    return passes_[(static_cast<std::size_t>(mb) * vstages_ + vs) * 2 + (forward ? 0 : 1)];
  }

  // Groups of the GPUs of stage `s` that agree on the coordinate `key` returns (a dense index,
  // below tp x cp x dp), each ordered by global rank; the group of the stage's representative
  // first.
  template <class Key>
  Groups groups_of(int s, Key key) {
    const std::size_t keys = static_cast<std::size_t>(plan_.tp) * plan_.cp * plan_.dp;
    std::vector<std::vector<int>> by_key(keys);
    for (int t = 0; t < plan_.tp; ++t)
      for (int c = 0; c < plan_.cp; ++c)
        for (int d = 0; d < plan_.dp; ++d) by_key[static_cast<std::size_t>(key(t, c, d))].push_back(rank(t, c, d, s));
    auto inst = std::make_shared<GroupInstances>();
    const long long own = key(0, 0, 0);
    inst->push_back(std::move(by_key[static_cast<std::size_t>(own)]));
    for (std::size_t k = 0; k < keys; ++k)
      if (!by_key[k].empty()) inst->push_back(std::move(by_key[k]));
    for (auto& members : *inst) std::sort(members.begin(), members.end());
    return Groups{inst, sim::slowest_shape(*inst, net_)};
  }

  // placement_rank without parsing the order for every GPU: the stride of each coordinate.
  int rank(int t, int c, int d, int s) const {
    const int ep = std::max(1, plan_.ep);
    return t * stride_[0] + c * stride_[1] + (d % ep) * stride_[2] + (d / ep) * stride_[3] + s * stride_[4];
  }
  void prepare_strides() { stride_ = rank_strides(plan_); }

  // Splits every group of `all` into shard groups of `shard` consecutive members, and the
  // replica groups that link the members at the same place of each shard group.
  DataGroups sharded(const Groups& all, int shard) {
    DataGroups g;
    g.all = all;
    g.shard = all;
    g.replica = all;
    const int size = all.shape.size;
    if (plan_.zero == 0 || shard <= 0 || shard >= size || size % shard != 0) return g;
    g.hybrid = true;
    auto shards = std::make_shared<GroupInstances>();
    auto replicas = std::make_shared<GroupInstances>();
    for (const std::vector<int>& members : *all.instances) {
      for (int i = 0; i < size; i += shard)
        shards->emplace_back(members.begin() + i, members.begin() + i + shard);
      for (int j = 0; j < shard; ++j) {
        std::vector<int> r;
        for (int i = j; i < size; i += shard) r.push_back(members[static_cast<std::size_t>(i)]);
        replicas->push_back(std::move(r));
      }
    }
    g.shard = Groups{shards, sim::slowest_shape(*shards, net_)};
    g.replica = Groups{replicas, sim::slowest_shape(*replicas, net_)};
    return g;
  }

  void prepare_costs() {
    prepare_strides();
    costs_ = plan_costs(model_, train_, cluster_, plan_, cost_);
    // TP groups have no instances: their traffic stays on the representative GPU's ports, at the
    // loads of the slowest TP group's layout (one that straddles two nodes contends for the NICs).
    const sim::GroupShape tp_group = line_shape(plan_, "tp", net_);
    tp_contends_ = tp_group.nodes() > 1;
    tp_ = layer_tp_collectives(shape_, tp_group);
    moe_tp_ = layer_tp_collectives(moe_shape_, tp_group);
    emb_tp_ = embedding_tp_collective(shape_, tp_group);
    const std::string key = layout_key(plan_);
    if (cache_) layout_ = cache_->impl_->find(key, net_);
    if (!layout_) {
      layout_ = build_layout();
      if (cache_) cache_->impl_->insert(key, layout_);
    }
    // Gradients accumulated by kernels of their own, once per micro-batch and model chunk: over
    // the whole chunk, or under ZeRO-2/3 only over the GPU's shard (the full gradients are
    // reduce-scattered as they appear and not kept).
    accumulate_.assign(static_cast<std::size_t>(vstages_), Seconds(0));
    if (train_.step_traffic.accumulate > 0)
      for (int vs = 0; vs < vstages_; ++vs)
        accumulate_[static_cast<std::size_t>(vs)] = cost_.time(gradient_accumulation(
            chunk_params(vs) / (plan_.zero >= 2 ? plan_.shard_group() : 1), train_.step_traffic.accumulate));
    const bool sharded_act = shape_.sequence_parallel || train_.p2p_scatter_gather;
    p2p_bytes_ = Bytes(static_cast<double>(shape_.tokens()) * model_.hidden * shape_.element_bytes /
                       (sharded_act ? plan_.tp : 1));
  }

  std::shared_ptr<Layout> build_layout() {
    auto l = std::make_shared<Layout>();
    const int ep = std::max(1, plan_.ep);
    for (int s = 0; s < plan_.pp; ++s) {
      // Data parallelism spans dp x cp; experts are replicated over the same GPUs with the same
      // expert rank (d mod ep), and exchange tokens with the GPUs of the other expert ranks.
      const long long cp = plan_.cp, dp = plan_.dp;
      const Groups dense = groups_of(s, [](int t, int, int) { return static_cast<long long>(t); });
      // Expert gradients exist only in a model with experts.
      const Groups expert = model_.moe() ? groups_of(s, [ep](int t, int, int d) { return static_cast<long long>(t) * ep + d % ep; })
                                         : dense;
      l->dense_dp.push_back(sharded(dense, plan_.shard > 0 ? plan_.shard : 0));
      l->expert_dp.push_back(sharded(expert, plan_.shard > 0 ? expert_shard_group(plan_) : 0));
      // CP and EP collectives are priced at the layout plan_costs uses (their slowest over the
      // plan), so that the lower bound holds; their instances route the flows.
      // Groups of one GPU carry nothing: they are left without instances.
      l->cp.push_back(plan_.cp > 1 ? groups_of(s, [dp](int t, int, int d) { return t * dp + d; }) : Groups{});
      l->cp.back().shape = line_shape(plan_, "cp", net_);
      l->ep.push_back(ep > 1 ? groups_of(s, [ep, cp, dp](int t, int c, int d) { return (t * cp + c) * dp + d / ep; })
                             : Groups{});
      l->ep.back().shape = line_shape(plan_, "ep", net_);
      for (const DataGroups* d : {&l->dense_dp.back(), &l->expert_dp.back()})
        l->ints += members(d->all) + (d->hybrid ? members(d->shard) + members(d->replica) : 0);
      l->ints += members(l->cp.back()) + members(l->ep.back());
    }
    return l;
  }
  const DataGroups& dense_dp(int s) const { return layout_->dense_dp[static_cast<std::size_t>(s)]; }
  const DataGroups& expert_dp(int s) const { return layout_->expert_dp[static_cast<std::size_t>(s)]; }

  TaskId add(Task t) { return graph_.add(std::move(t)); }

  TaskId compute(int gpu, Category cat, Seconds d, int s, int mb, int layer) {
    return add(Task{ComputeWork{d}, gpu, Lane::compute, cat, s, mb, layer});
  }

  // --- Tasks of the pass being emitted, with communication beside the compute stream. -------

  // A task on the compute stream; with `join` it waits for the overlap-stream tasks started
  // since the previous join.
  TaskId on_compute(Pass& ps, Task t, bool join = true) {
    t.lane = Lane::compute;
    const TaskId id = add(std::move(t));
    if (join) {
      for (TaskId x : side_) graph_.precede(x, id);
      side_.clear();
    }
    cursor_ = id;
    touch(ps, id);
    return id;
  }
  TaskId kernels(Pass& ps, Category cat, Seconds d, int s, int mb, int layer, bool join = true) {
    last_kernels_ = on_compute(ps, Task{ComputeWork{d}, gpu_, Lane::compute, cat, s, mb, layer}, join);
    return last_kernels_;
  }
  // A collective on the overlap stream, started after the latest compute-stream task.
  void beside(const Collective& c, bool contends, std::shared_ptr<const GroupInstances> g, Category cat, int s,
              int mb, int layer) {
    const TaskId id = add(Task{CollectiveWork{c, contends, std::move(g)}, gpu_, Lane::overlap, cat, s, mb, layer});
    if (cursor_ != kNone) graph_.precede(cursor_, id);
    side_.push_back(id);
  }
  // A collective on the compute stream (it blocks the kernels after it).
  void blocking(Pass& ps, const Collective& c, bool contends, std::shared_ptr<const GroupInstances> g, Category cat,
                int s, int mb, int layer) {
    on_compute(ps, Task{CollectiveWork{c, contends, std::move(g)}, gpu_, Lane::compute, cat, s, mb, layer});
  }
  // Ends a pass: the overlap stream's last tasks join the compute stream.
  void close(Pass& ps, int s, int mb) {
    if (!side_.empty()) kernels(ps, Category::forward, Seconds(0), s, mb, -1);
  }

  // Marks the first and last compute task of a pass.
  static void touch(Pass& p, TaskId id) {
    if (id == kNone) return;
    if (p.first == kNone) p.first = id;
    p.last = id;
  }

  bool contends(const Groups& g) const { return g.shape.nodes() > 1; }

  // TP collectives of one pass of one layer: on the compute stream, or with TP overlap beside
  // the layer's GEMMs (`gemms` of compute). Overlap splits each GEMM and its collective into tp
  // chunks and pipelines them (Megatron-LM/Transformer Engine userbuffers): tp - 1 chunks of
  // communication run beside tp - 1 chunks of GEMM, and the last chunk of each is exposed.
  void tp_pass(Pass& ps, const std::vector<Collective>& cs, Seconds gemms, Seconds rest, int s, int mb, int layer,
               Category cat) {
    if (!plan_.tp_overlap || cs.empty()) {
      kernels(ps, cat, gemms + rest, s, mb, layer);
      for (const Collective& c : cs)
        on_compute(ps, Task{CollectiveWork{c, tp_contends_, {}}, gpu_, Lane::compute, Category::tp_comm, s, mb, layer});
      return;
    }
    const double hidden = (plan_.tp - 1.0) / plan_.tp;  // plan_costs prices the same split
    kernels(ps, cat, rest, s, mb, layer);
    for (Collective c : cs) {
      c.buffer = c.buffer * hidden;
      beside(c, tp_contends_, {}, Category::tp_comm, s, mb, layer);
    }
    kernels(ps, cat, gemms * hidden, s, mb, layer, false);
    for (Collective c : cs) {
      c.buffer = c.buffer * (1.0 / plan_.tp);
      on_compute(ps, Task{CollectiveWork{c, tp_contends_, {}}, gpu_, Lane::compute, Category::tp_comm, s, mb, layer});
    }
    kernels(ps, cat, gemms * (1.0 / plan_.tp), s, mb, layer);
  }

  // The attention core of one pass of one layer with its CP communication: ring attention
  // computes cp - 1 of its cp blocks while the K, V blocks circulate, and the last block after
  // they arrive; all-to-all blocks the compute stream before and after the attention.
  void attention_pass(Pass& ps, bool forward, Seconds attention, int s, int mb, int layer, Category cat) {
    const Groups& g = layout_->cp[static_cast<std::size_t>(s)];
    const std::vector<Collective> cs = forward ? layer_cp_collectives(shape_, g.shape)
                                               : layer_cp_collectives_backward(shape_, g.shape);
    if (cs.empty()) {
      kernels(ps, cat, attention, s, mb, layer);
      return;
    }
    if (plan_.cp_comm == CpComm::ring) {
      for (const Collective& c : cs) beside(c, contends(g), g.instances, Category::cp_comm, s, mb, layer);
      const double cp = plan_.cp;
      kernels(ps, cat, attention * ((cp - 1) / cp), s, mb, layer, false);
      kernels(ps, cat, attention * (1 / cp), s, mb, layer);
      return;
    }
    blocking(ps, cs[0], contends(g), g.instances, Category::cp_comm, s, mb, layer);
    kernels(ps, cat, attention, s, mb, layer);
    blocking(ps, cs[1], contends(g), g.instances, Category::cp_comm, s, mb, layer);
  }

  void ep_pass(Pass& ps, bool moe, int s, int mb, int layer) {
    if (!moe) return;
    const Groups& g = layout_->ep[static_cast<std::size_t>(s)];
    for (const Collective& c : layer_ep_collectives(moe_shape_, g.shape))
      blocking(ps, c, contends(g), g.instances, Category::ep_comm, s, mb, layer);
  }

  // One layer's forward (or its recomputation before the backward) at layer granularity.
  void layer_forward_tasks(Pass& ps, int s, int mb, int l, Category cat) {
    const bool moe = model_.moe_layer(l);
    const LayerCosts& c = moe ? costs_.moe : costs_.dense;
    const bool cp = plan_.cp > 1;
    const Seconds gemms = plan_.tp_overlap ? c.forward_gemms : Seconds();
    if (cp) attention_pass(ps, true, c.attention_forward, s, mb, l, cat);
    tp_pass(ps, moe ? moe_tp_ : tp_, gemms, c.forward - (cp ? c.attention_forward : Seconds()) - gemms, s, mb, l, cat);
    ep_pass(ps, moe, s, mb, l);
  }

  // One layer's backward at layer granularity: the input-gradient part (`input`) and the
  // weight-gradient part (`weight`), both unless a zero-bubble schedule splits them.
  void layer_backward_tasks(Pass& ps, int s, int mb, int l, bool input, bool weight) {
    const bool moe = model_.moe_layer(l);
    const LayerCosts& c = moe ? costs_.moe : costs_.dense;
    if (!input) {
      kernels(ps, Category::backward, c.backward_weight, s, mb, l);
      return;
    }
    const bool cp = plan_.cp > 1;
    const Seconds total = weight ? c.backward : c.backward_input;
    const Seconds all_gemms = weight ? c.backward_gemms : c.backward_gemms - c.backward_weight;
    const Seconds gemms = plan_.tp_overlap ? all_gemms : Seconds();
    ep_pass(ps, moe, s, mb, l);
    tp_pass(ps, moe ? moe_tp_ : tp_, gemms, total - (cp ? c.attention_backward : Seconds()) - gemms, s, mb, l,
            Category::backward);
    if (cp) attention_pass(ps, false, c.attention_backward, s, mb, l, Category::backward);
  }

  void emit_stage(int s) {
    gpu_ = stage_rank(plan_, s);
    const int gpu = gpu_;
    const std::vector<PipelineOp> ops = stage_schedule(plan_, s, m_);
    const bool split = plan_.schedule == Schedule::zb_h1 && plan_.pp > 1;
    std::vector<int> backward_seen(plan_.vpp, 0);
    std::vector<bool> gathered(plan_.vpp, false);
    zero3_window_.clear();
    zero3_unsynced_.clear();
    stage_last_ = kNone;  // the previous stage's tasks are another GPU's
    cursor_ = kNone;
    side_.clear();
    std::vector<TaskId> reductions;
    // Communication points. Receives are posted with the sends of the previous communication
    // point, which follows every pass except in the interleaved schedule's steady state: there a
    // forward and a backward run back to back and communicate once, after the pair.
    TaskId point = kNone;      // last compute task before the latest communication point
    Pass* deferred = nullptr;  // a pair's forward, whose send waits for the pair's backward
    for (const PipelineOp& op : ops) {
      const int vs = op.chunk * plan_.pp + s;
      if (op.weight) {
        // A deferred weight-gradient pass: no communication but the gradient reduction.
        Pass w;
        const bool final_weight = ++backward_seen[op.chunk] == m_;
        fine_pass_ = fine_ || zero3_per_use() || (final_weight && overlap());
        emit_backward(s, vs, op.microbatch, w, final_weight, reductions, false, true);
        stage_last_ = w.last;
        continue;
      }
      Pass& ps = pass(op.microbatch, vs, op.forward);
      ps.microbatch = op.microbatch;
      ps.vs = vs;
      ps.forward = op.forward;
      ps.ready = point;
      const bool final_backward = !op.forward && !split && ++backward_seen[op.chunk] == m_;
      // ZeRO-3 with a pipeline, and the distributed optimizer's overlapped parameter gather:
      // gather a chunk's weights once, before its first forward.
      TaskId chunk_gather = kNone;
      if (gather_per_chunk() && op.forward && !gathered[op.chunk]) {
        gathered[op.chunk] = true;
        chunk_gather = gather(gpu, chunk_params(vs), s, op.microbatch, -1);
      }
      // Chunk granularity folds a pass into one task, except where that would hide overlap: the
      // last backward of a chunk (its gradient buckets reduce during it) and ZeRO-3 gathers.
      fine_pass_ = fine_ || zero3_per_use() || (final_backward && overlap());
      if (op.forward)
        emit_forward(s, vs, op.microbatch, ps, chunk_gather);
      else
        emit_backward(s, vs, op.microbatch, ps, final_backward, reductions, true, !split);
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
    const Lane lane = blocking_p2p() ? Lane::compute : Lane::p2p;
    ps.send = add(Task{TransferWork{peer, p2p_bytes_, p2p_siblings(s, peer_stage)}, gpu, lane, Category::pp_comm, s,
                       ps.microbatch, -1});
    graph_.precede(ps.last, ps.send);
  }

  // The same send between every other (tensor, context, data) rank triple of the two stages.
  std::shared_ptr<const sim::TransferPairs> p2p_siblings(int from, int to) {
    auto& pairs = layout_->p2p_siblings[{from, to}];
    if (!pairs) {
      auto v = std::make_shared<sim::TransferPairs>();
      for (int t = 0; t < plan_.tp; ++t)
        for (int c = 0; c < plan_.cp; ++c)
          for (int d = 0; d < plan_.dp; ++d)
            if (t != 0 || c != 0 || d != 0)
              v->emplace_back(rank(t, c, d, from), rank(t, c, d, to));
      layout_->ints += 2 * v->size();
      pairs = std::move(v);
    }
    return pairs;
  }

  // Parameters of layer `l` on one GPU: dense (replicated over dp x cp) and routed experts.
  Bucket layer_params(int l) const {
    if (!model_.moe_layer(l)) return {model_.layer_params() / plan_.tp, 0};
    return {model_.moe_layer_dense_params() / plan_.tp, model_.moe_layer_expert_params() / (plan_.tp * plan_.ep)};
  }
  double chunk_params(int vs) const {
    double p = 0;
    const int first = chunk_first_[static_cast<std::size_t>(vs)];
    for (int l = first; l < first + layers_in(vs); ++l) p += layer_params(l).total();
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

  // ZeRO all-gather of `params` local elements over the stage's shard group.
  TaskId gather(int gpu, double params, int s, int mb, int layer) {
    const Groups& g = dense_dp(s).shard;
    const Collective c{CollectiveOp::all_gather, Bytes(params * shape_.element_bytes), g.shape};
    return add(Task{CollectiveWork{c, true, g.instances}, gpu, Lane::gather, Category::dp_comm, s, mb, layer});
  }

  // ZeRO-3 without a pipeline: gather before every use, at most two layers gathered at once.
  // DeepSpeed before v0.6 (zero3_blocking_fetch) gathers `matrices` weight matrices one after
  // another, the first once the previous layer's kernels end (the prefetch bucket holds less
  // than a layer) or the layer before it (it holds a whole layer), and copies each gathered
  // matrix out of PyTorch's flat buffer into its rank's chunk with one kernel per rank.
  TaskId zero3_gather(Pass& ps, double params, int s, int mb, int layer, int matrices = 1) {
    if (!train_.zero3_blocking_fetch) {
      const TaskId g = gather(gpu_, params, s, mb, layer);
      if (zero3_window_.size() >= 2) graph_.precede(zero3_window_[zero3_window_.size() - 2], g);
      return g;
    }
    const int per_layer = kDeepSpeedLayerMatrices;
    const std::size_t window = params / matrices * per_layer <= kDeepSpeedPrefetchElements ? 2 : 1;
    const int ranks = dense_dp(s).shard.shape.size;
    const topo::GpuSpec& gpu = cluster_.gpu;
    const double bytes = params / matrices * shape_.element_bytes;
    const Seconds copies = gpu.kernel_overhead * ranks + Bytes(2 * bytes) / gpu.memory_bw;
    TaskId last = kNone;
    for (int i = 0; i < matrices; ++i) {
      const TaskId g = gather(gpu_, params / matrices, s, mb, layer);
      if (last != kNone) {
        graph_.precede(last, g);
      } else {
        // Without a whole layer in the prefetch bucket, the fetch waits for every kernel issued
        // before it (the embedding's and the head's too); with one, for the layer before last.
        if (window == 1 && cursor_ != kNone) graph_.precede(cursor_, g);
        else if (zero3_window_.size() >= window) graph_.precede(zero3_window_[zero3_window_.size() - window], g);
        // torch.cuda.synchronize() waits for every stream: the reduce-scatters issued so far too.
        for (TaskId r : zero3_unsynced_) graph_.precede(r, g);
        zero3_unsynced_.clear();
      }
      last = kernels(ps, Category::dp_comm, copies, s, mb, layer);
      graph_.precede(g, last);
    }
    return last;
  }
  // Gathers of a layer's weights in DeepSpeed's blocking fetch: one per matrix for the forward
  // (or the recomputed forward), and in the backward after a recompute the matrices released
  // in between: those whose reuse distance, the elements used between the two uses (the later
  // matrices, twice), exceeds stage3_max_reuse_distance's default of 1e9.
  int zero3_matrices(double params, bool backward_after_recompute) const {
    if (!train_.zero3_blocking_fetch) return 1;
    const int k = kDeepSpeedLayerMatrices;
    if (!backward_after_recompute) return k;
    int regathered = 0;
    for (int j = 0; j < k; ++j)
      if (2.0 * (k - 1 - j) * params / k > kDeepSpeedReuseDistance) ++regathered;
    return k + regathered;
  }
  void zero3_consumed(TaskId consumer) { zero3_window_.push_back(consumer); }
  bool zero3_per_use() const { return plan_.zero == 3 && plan_.pp == 1; }
  bool gather_per_chunk() const { return gathers_per_chunk(train_, plan_); }

  int layers_in(int vs) const { return chunk_layers_[static_cast<std::size_t>(vs)]; }

  // Whether the layer at position `i` of its chunk is recomputed before its backward.
  bool recomputed(int i) const {
    return plan_.recompute == Recompute::selective ? costs_.dense.recompute.value() > 0 || costs_.moe.recompute.value() > 0
                                                   : plan_.recomputes_layer(i);
  }

  // Communication of a folded pass that nothing hides, per layer: TP (less what overlap hides
  // behind the GEMMs), CP (all-to-all whole, ring less the attention it runs beside) and EP.
  struct Exposed {
    Seconds tp, cp, ep;
  };
  Exposed exposed(const LayerCosts& c, bool forward, bool moe, bool weight_split) const {
    Exposed e;
    const Seconds gemms = forward ? c.forward_gemms : (weight_split ? c.backward_gemms - c.backward_weight : c.backward_gemms);
    const double hidden = (plan_.tp - 1.0) / plan_.tp;  // see tp_pass
    e.tp = plan_.tp_overlap ? c.tp_last + std::max(Seconds(), c.tp_hidden - gemms * hidden) : c.tp;
    const Seconds cp = forward ? c.cp_forward : c.cp_backward;
    const Seconds attention = forward ? c.attention_forward : c.attention_backward;
    e.cp = plan_.cp_comm == CpComm::all_to_all
               ? cp
               : std::max(Seconds(), cp - attention * ((plan_.cp - 1.0) / plan_.cp));
    e.ep = moe ? c.ep : Seconds();
    return e;
  }

  // A folded pass's exposed communication as compute-stream tasks, one per category.
  void folded_comm(Pass& ps, const Exposed& e, int s, int mb) {
    if (e.tp.value() > 0) kernels(ps, Category::tp_comm, e.tp, s, mb, -1);
    if (e.cp.value() > 0) kernels(ps, Category::cp_comm, e.cp, s, mb, -1);
    if (e.ep.value() > 0) kernels(ps, Category::ep_comm, e.ep, s, mb, -1);
  }

  // Sum of per-layer exposures over the layers of chunk `vs`.
  Exposed chunk_exposed(int vs, bool forward, bool weight_split, bool recompute_only) const {
    Exposed sum;
    const int first = chunk_first_[static_cast<std::size_t>(vs)];
    for (int i = 0; i < layers_in(vs); ++i) {
      if (recompute_only && !plan_.recomputes_layer(i)) continue;
      const bool moe = model_.moe_layer(first + i);
      const Exposed e = exposed(moe ? costs_.moe : costs_.dense, forward, moe, weight_split);
      sum.tp += e.tp;
      sum.cp += e.cp;
      sum.ep += e.ep;
    }
    return sum;
  }

  void emit_forward(int s, int vs, int mb, Pass& ps, TaskId chunk_gather) {
    const int first_layer = chunk_first_[static_cast<std::size_t>(vs)];
    const int layers = layers_in(vs);
    cursor_ = stage_last_;
    auto first_dep = [&](TaskId id) {
      if (chunk_gather != kNone) graph_.precede(chunk_gather, id);
      chunk_gather = kNone;
    };
    if (!fine_pass_) {
      Seconds work;
      for (int l = first_layer; l < first_layer + layers; ++l)
        work += (model_.moe_layer(l) ? costs_.moe : costs_.dense).forward;
      if (!model_.moe()) work = costs_.dense.forward * layers;  // one product, as before MoE
      if (vs == 0) work += costs_.embedding_forward;
      if (vs == vstages_ - 1) work += costs_.head_forward;
      first_dep(kernels(ps, Category::forward, work, s, mb, -1));
      Exposed e = chunk_exposed(vs, true, false, false);
      if (!plan_.tp_overlap && !model_.moe()) e.tp = costs_.dense.tp * layers;
      if (vs == 0) e.tp += costs_.embedding_tp;
      folded_comm(ps, e, s, mb);
      return;
    }
    if (vs == 0) {
      first_dep(kernels(ps, Category::forward, costs_.embedding_forward, s, mb, -1));
      if (emb_tp_)
        on_compute(ps, Task{CollectiveWork{*emb_tp_, tp_contends_, {}}, gpu_, Lane::compute, Category::tp_comm, s, mb, -1});
    }
    for (int l = first_layer; l < first_layer + layers; ++l) {
      std::optional<TaskId> g;
      if (zero3_per_use()) {
        const double params = layer_params(l).total();
        g = zero3_gather(ps, params, s, mb, l, zero3_matrices(params, false));
      }
      const TaskId before = graph_.size();
      layer_forward_tasks(ps, s, mb, l, Category::forward);
      if (g) {
        graph_.precede(*g, before);
        zero3_consumed(last_kernels_);
      }
      first_dep(before);
    }
    if (vs == vstages_ - 1) kernels(ps, Category::forward, costs_.head_forward, s, mb, -1);
    close(ps, s, mb);
  }

  // A backward pass: `input` (B) and `weight` (W) parts; both outside zero-bubble schedules.
  void emit_backward(int s, int vs, int mb, Pass& ps, bool final_backward, std::vector<TaskId>& reductions,
                     bool input, bool weight) {
    const int first_layer = chunk_first_[static_cast<std::size_t>(vs)];
    const int layers = layers_in(vs);
    const bool split = !(input && weight);
    cursor_ = stage_last_;
    if (!fine_pass_) {
      if (!input) {
        Seconds w = accumulate_[static_cast<std::size_t>(vs)];
        for (int l = first_layer; l < first_layer + layers; ++l)
          w += (model_.moe_layer(l) ? costs_.moe : costs_.dense).backward_weight;
        kernels(ps, Category::backward, w, s, mb, -1);
        return;
      }
      int recomputed_layers = 0;
      Seconds recompute, work;
      for (int i = 0; i < layers; ++i) {
        const LayerCosts& c = model_.moe_layer(first_layer + i) ? costs_.moe : costs_.dense;
        if (recomputed(i)) {
          recompute += c.recompute;
          ++recomputed_layers;
        }
        work += split ? c.backward_input : c.backward;
      }
      if (!model_.moe() && recomputed_layers == layers) recompute = costs_.dense.recompute * layers;
      if (!model_.moe() && !split) work = costs_.dense.backward * layers;
      if (recompute.value() > 0) kernels(ps, Category::recompute, recompute, s, mb, -1);
      if (plan_.recompute == Recompute::full) {
        Exposed e = chunk_exposed(vs, true, false, true);
        if (!plan_.tp_overlap && !model_.moe() && recomputed_layers == layers) e.tp = costs_.dense.tp * layers;
        folded_comm(ps, e, s, mb);
      }
      if (vs == 0) work += costs_.embedding_backward;
      if (vs == vstages_ - 1) work += costs_.head_backward;
      if (weight) work += accumulate_[static_cast<std::size_t>(vs)];
      kernels(ps, Category::backward, work, s, mb, -1);
      Exposed e = chunk_exposed(vs, false, split, false);
      if (!plan_.tp_overlap && !model_.moe()) e.tp = costs_.dense.tp * layers;
      folded_comm(ps, e, s, mb);
      return;
    }
    Bucket bucket;
    if (vs == vstages_ - 1) {
      if (input) kernels(ps, Category::backward, costs_.head_backward, s, mb, -1);
      if (weight) bucket.dense += head_params();
    }
    for (int l = first_layer + layers - 1; l >= first_layer; --l) {
      const int i = l - first_layer;
      const Bucket lp = layer_params(l);
      std::optional<TaskId> g;
      if (zero3_per_use() && input) {
        const int k = zero3_matrices(lp.total(), recomputed(i));
        // One gather for the recompute and the backward, or k matrices of a quarter layer each.
        const double params = train_.zero3_blocking_fetch ? lp.total() / kDeepSpeedLayerMatrices * k : lp.total();
        g = zero3_gather(ps, params, s, mb, l, k);
      }
      const TaskId before = graph_.size();
      if (input && recomputed(i)) {
        const LayerCosts& c = model_.moe_layer(l) ? costs_.moe : costs_.dense;
        if (plan_.recompute == Recompute::full)
          layer_forward_tasks(ps, s, mb, l, Category::recompute);
        else
          kernels(ps, Category::recompute, c.recompute, s, mb, l);
      }
      layer_backward_tasks(ps, s, mb, l, input, weight);
      if (g) {
        graph_.precede(*g, before);
        zero3_consumed(last_kernels_);
      }
      if (!weight) continue;  // gradients are complete after the weight-gradient pass
      if (zero3_per_use()) {
        // DeepSpeed before v0.6 reduce-scatters each weight matrix on its own.
        const int k = train_.zero3_blocking_fetch ? kDeepSpeedLayerMatrices : 1;
        const std::size_t before_reduce = reductions.size();
        for (int j = 0; j < k; ++j) reduce(gpu_, ps.last, {lp.dense / k, lp.expert / k}, s, mb, l, reductions);
        if (train_.zero3_blocking_fetch)
          zero3_unsynced_.insert(zero3_unsynced_.end(), reductions.begin() + static_cast<std::ptrdiff_t>(before_reduce),
                                 reductions.end());
        continue;
      }
      bucket.dense += lp.dense;
      bucket.expert += lp.expert;
      const bool chunk_end = l == first_layer && vs != 0;
      if (final_backward && overlap() && (bucket.total() >= kBucketParams || chunk_end)) {
        reduce(gpu_, ps.last, bucket, s, mb, l, reductions);
        bucket = Bucket{};
      }
    }
    if (vs == 0) {
      if (input) kernels(ps, Category::backward, costs_.embedding_backward, s, mb, -1);
      if (weight) bucket.dense += embedding_params();
      if (final_backward && overlap() && bucket.total() > 0) reduce(gpu_, ps.last, bucket, s, mb, -1, reductions);
    }
    if (weight && accumulate_[static_cast<std::size_t>(vs)].value() > 0)
      kernels(ps, Category::backward, accumulate_[static_cast<std::size_t>(vs)], s, mb, -1);
    close(ps, s, mb);
  }

  // Gradient reduction of a bucket after task `after`: all-reduce without ZeRO, reduce-scatter
  // with it (then, with hybrid sharding, an all-reduce of the shard across shard groups). Dense
  // and expert gradients go to their own groups.
  void reduce(int gpu, TaskId after, const Bucket& b, int s, int mb, int layer, std::vector<TaskId>& out) {
    for (auto [params, groups] : {std::pair{b.dense, &dense_dp(s)}, std::pair{b.expert, &expert_dp(s)}}) {
      if (params <= 0) continue;
      const Bytes bytes(params * train_.grad_reduce_bytes());
      if (plan_.zero == 0 || all_reduces_sharded_gradients(train_, plan_)) {
        out.push_back(reduction(gpu, after, {CollectiveOp::all_reduce, bytes, groups->all.shape}, groups->all, s, mb, layer));
        continue;
      }
      const TaskId rs = reduction(gpu, after, {CollectiveOp::reduce_scatter, bytes, groups->shard.shape}, groups->shard, s,
                                  mb, layer);
      out.push_back(rs);
      if (groups->hybrid) {
        const Bytes shard_bytes(bytes.value() / groups->shard.shape.size);
        out.push_back(reduction(gpu, rs, {CollectiveOp::all_reduce, shard_bytes, groups->replica.shape}, groups->replica,
                                s, mb, layer));
      }
    }
  }
  void reduce(int gpu, TaskId after, double params, int s, int mb, int layer, std::vector<TaskId>& out) {
    reduce(gpu, after, Bucket{params, 0}, s, mb, layer, out);
  }
  TaskId reduction(int gpu, TaskId after, const Collective& c, const Groups& g, int s, int mb, int layer) {
    const TaskId r = add(Task{CollectiveWork{c, true, g.instances}, gpu, Lane::reduce, Category::dp_comm, s, mb, layer});
    graph_.precede(after, r);
    return r;
  }

  // Without overlap (or bucketing), gradients are reduced in one call after the whole backward.
  bool overlap() const { return overlaps_grad_reduce(train_, plan_); }

  void finish_step(int gpu, int s, std::vector<TaskId>& reductions) {
    const StageParams sp = stage_param_split(model_, train_, plan_, s);
    if (!overlap()) reduce(gpu, stage_last_, Bucket{sp.dense, sp.expert}, s, -1, -1, reductions);
    TaskId last_reduce = reductions.empty() ? kNone : reductions.back();
    // Tied input and output embeddings on different stages sum their gradients.
    if (plan_.pp > 1 && model_.tied_embeddings && (s == 0 || s == plan_.pp - 1)) {
      const int other = stage_rank(plan_, s == 0 ? plan_.pp - 1 : 0);
      const Collective c{CollectiveOp::all_reduce,
                         Bytes(static_cast<double>(model_.vocab) * model_.hidden / plan_.tp *
                               train_.grad_reduce_bytes()),
                         sim::shape_of({gpu, other}, net_)};
      const TaskId e = add(Task{CollectiveWork{c, true, {}}, gpu, Lane::reduce, Category::dp_comm, s, -1, -1});
      if (last_reduce == kNone) graph_.precede(stage_last_, e);
      last_reduce = e;
    }
    const TaskId opt = compute(gpu, Category::optimizer,
                               cost_.total(optimizer_ops(model_, train_, plan_, s)), s, -1, -1);
    if (last_reduce != kNone) graph_.precede(last_reduce, opt);
    if ((plan_.zero == 1 || plan_.zero == 2) && !gather_per_chunk()) {
      // Distributed optimizer: every replica gathers the updated weights.
      const TaskId g = gather(gpu, sp.total(), s, -1, -1);
      graph_.precede(opt, g);
    }
  }

  // A pass consumes its sender's transfer. With blocking sends the transfer is a rendezvous: it
  // starts only when the receiver has finished its previous pass and posted the receive (as
  // Megatron-LM's paired send/receive calls do), so neighbouring stages advance in lockstep.
  void link(const Pass& from, const Pass& to) {
    graph_.precede(from.send, to.first);
    if (blocking_p2p() && to.ready != kNone) graph_.precede(to.ready, from.send);
  }
  // ZB-H1 needs its sends off the compute stream and its receives posted ahead (the zero-bubble
  // implementation's batched asynchronous p2p): a stage busy with a deferred weight-gradient
  // pass must not hold up its neighbour's send.
  bool blocking_p2p() const { return train_.blocking_p2p && plan_.schedule != Schedule::zb_h1; }

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
  const LayerShape shape_, moe_shape_;

  int m_ = 0, vstages_ = 0;
  std::vector<int> chunk_layers_, chunk_first_;  // layers of each virtual stage, and the first one
  std::vector<Seconds> accumulate_;  // gradient accumulation of one micro-batch, per virtual stage
  PlanCosts costs_;
  std::vector<Collective> tp_, moe_tp_;
  std::optional<Collective> emb_tp_;
  bool tp_contends_ = false;
  std::array<int, 5> stride_{};  // rank strides of tp, cp, expert, data-parallel replica, stage
  LayoutCache* cache_;
  std::shared_ptr<Layout> layout_;
  Bytes p2p_bytes_;
  std::vector<Pass> passes_;
  std::vector<TaskId> zero3_window_;
  std::vector<TaskId> zero3_unsynced_;  // reduce-scatters the next blocking fetch waits for
  TaskId stage_last_ = kNone;  // last compute task of the stage being emitted
  int gpu_ = 0;                // representative GPU of the stage being emitted
  TaskId cursor_ = kNone;      // latest compute-stream task of the pass being emitted
  TaskId last_kernels_ = kNone;  // latest kernel (not collective) task
  std::vector<TaskId> side_;   // overlap-stream tasks the next joining compute task waits for
  bool fine_pass_ = false;     // the pass being emitted gets one task per layer
  sim::TaskGraph graph_;
};

}  // namespace

sim::TaskGraph build_task_graph(const ModelSpec& model, const TrainingSpec& training,
                                const topo::ClusterSpec& cluster, const Plan& plan,
                                const OpCostModel& cost, Granularity granularity, LayoutCache* cache) {
  return Builder(model, training, cluster, plan, cost, granularity, cache).build();
}

}  // namespace strata::strategy
