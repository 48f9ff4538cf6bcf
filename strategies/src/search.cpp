#include "strata/strategy/search.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>

#include "strata/sim/isolated.hpp"

namespace strata::strategy {

using sim::Seconds;

bool IntChoice::allows(int v) const {
  if (!values.empty() && std::find(values.begin(), values.end(), v) == values.end()) return false;
  if (min && v < *min) return false;
  if (max && v > *max) return false;
  return true;
}

namespace {

// Why a plan cannot run: (short reason, detail), or nothing.
using Verdict = std::optional<std::pair<std::string, std::string>>;

Verdict problem(std::string reason, std::string detail) {
  return std::make_pair(std::move(reason), std::move(detail));
}

std::string gib(sim::Bytes b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", b.value() / sim::kGiB);
  return buf;
}

std::vector<int> divisors(int n) {
  // Trial division up to sqrt(n): n may be a million GPUs.
  std::vector<int> low, high;
  for (int d = 1; static_cast<long long>(d) * d <= n; ++d)
    if (n % d == 0) {
      low.push_back(d);
      if (d != n / d) high.push_back(n / d);
    }
  low.insert(low.end(), high.rbegin(), high.rend());
  return low;
}

// Context parallelism splits sequences evenly in 2 x cp chunks (two per rank, for the causal
// balance) and runs only with fused attention; all-to-all also splits the heads.
Verdict context_problem(const Problem& pb, const Plan& p) {
  if (p.cp == 1) return std::nullopt;
  const int seq = pb.training.seq_len;
  const std::string cp = "cp=" + std::to_string(p.cp);
  if (seq % (2 * p.cp) != 0)
    return problem("cp does not divide the sequence", cp + " needs seq_len (" + std::to_string(seq) +
                                                          ") to split into 2 x cp equal chunks");
  if (pb.training.attention != AttentionKernel::flash)
    return problem("cp needs fused attention", cp + " needs FlashAttention (training.attention: flash)");
  if (p.cp_comm == CpComm::all_to_all && (pb.model.heads / p.tp) % p.cp != 0)
    return problem("cp does not divide the heads", cp + " with cp_comm=a2a needs cp to divide heads / tp = " +
                                                        std::to_string(pb.model.heads / p.tp));
  return std::nullopt;
}

}  // namespace

Verdict structural_problem(const Problem& pb, const Plan& p, bool tp_within_node) {
  const ModelSpec& m = pb.model;
  const topo::ClusterSpec& c = pb.cluster;
  // TP stays inside an NVLink domain: a node of 8, or a rack of 72 GPUs.
  const int gpn = c.domain();
  if (!c.gpu.supports(pb.training.precision))
    return problem("precision unsupported", c.gpu.name + " has no " +
                                                std::string(topo::to_string(pb.training.precision)) + " matrix units");
  if (p.gpus() != c.gpus)
    return problem("gpus mismatch", "tp x cp x pp x dp = " + std::to_string(p.gpus()) + " but the cluster has " +
                                        std::to_string(c.gpus) + " GPUs");
  if (m.heads % p.tp != 0 || m.kv_heads % p.tp != 0)
    return problem("tp does not divide heads", "tp=" + std::to_string(p.tp) + " does not divide heads=" +
                                                   std::to_string(m.heads) + " / kv_heads=" + std::to_string(m.kv_heads));
  if (m.ffn % p.tp != 0)
    return problem("tp does not divide ffn", "tp=" + std::to_string(p.tp) + " does not divide ffn=" + std::to_string(m.ffn));
  // Groups laid over nodes unevenly (tp=6 on 8-GPU nodes, a stage of 12 GPUs) are modelled: the
  // traffic that leaves a node crosses its NICs (sim::GroupShape).
  if (p.tp > gpn && tp_within_node)
    return problem("tp spans nodes", "tp=" + std::to_string(p.tp) + " exceeds the " + std::to_string(gpn) +
                                         " GPUs of an NVLink domain (allow with search.tp_within_node: false)");
  if (p.vpp < 1 || m.layers < p.pp * p.vpp)
    return problem("fewer layers than stages", "layers=" + std::to_string(m.layers) +
                                                   " cannot fill pp x vpp = " + std::to_string(p.pp * p.vpp) + " stages");
  const int mb = p.microbatches(pb.training.global_batch);
  if (mb < 1)
    return problem("batch does not divide", "global batch " + std::to_string(pb.training.global_batch) +
                                                " is not a multiple of dp x micro-batch = " +
                                                std::to_string(p.dp * p.micro_batch));
  if (p.schedule == Schedule::interleaved) {
    if (p.pp < 2 || p.vpp < 2)
      return problem("interleaving needs pp and vpp >= 2", "interleaved-1f1b needs pp >= 2 and vpp >= 2");
    if (mb % p.pp != 0)
      return problem("interleaving needs micro-batches divisible by pp",
                     std::to_string(mb) + " micro-batches are not a multiple of pp=" + std::to_string(p.pp));
  } else if (p.vpp != 1) {
    return problem("vpp needs the interleaved schedule", "vpp=" + std::to_string(p.vpp) + " needs schedule=interleaved-1f1b");
  }
  if (p.sequence_parallel && p.tp == 1)
    return problem("sequence parallelism needs tp > 1", "sp=on needs tp > 1");
  if (p.zero < 0 || p.zero > 3) return problem("zero stage out of range", "zero must be 0-3");
  if (p.schedule == Schedule::zb_h1 && p.pp < 2)
    return problem("zb-h1 needs pp >= 2", "schedule=zb-h1 splits pipeline backward passes: it needs pp >= 2");
  if (auto cp = context_problem(pb, p)) return cp;
  if (p.ep > 1) {
    if (!m.moe()) return problem("ep needs a MoE model", "ep=" + std::to_string(p.ep) + " but " + m.name + " has no experts");
    if (m.experts % p.ep != 0)
      return problem("ep does not divide experts", "ep=" + std::to_string(p.ep) + " does not divide experts=" +
                                                       std::to_string(m.experts));
    if (p.dp % p.ep != 0)
      return problem("ep does not divide dp", "ep=" + std::to_string(p.ep) + " does not divide dp=" + std::to_string(p.dp));
  }
  if (p.shard > 0) {
    if (p.zero == 0) return problem("shard needs ZeRO", "shard=" + std::to_string(p.shard) + " needs zero >= 1");
    if (p.shard >= p.dp_cp() || p.dp_cp() % p.shard != 0)
      return problem("shard does not divide dp x cp", "shard=" + std::to_string(p.shard) + " must divide dp x cp = " +
                                                          std::to_string(p.dp_cp()) + " and be smaller");
  }
  if (p.tp_overlap && p.tp == 1) return problem("tp overlap needs tp > 1", "tpo=on needs tp > 1");
  if (p.recompute_layers > 0) {
    if (p.recompute != Recompute::full)
      return problem("rc_layers needs recompute=full", "rc_layers=" + std::to_string(p.recompute_layers) +
                                                            " counts fully recomputed layers: it needs recompute=full");
    const std::vector<int> chunks = virtual_stage_layers(m.layers, p.pp, p.vpp);
    if (p.recompute_layers >= *std::max_element(chunks.begin(), chunks.end()))
      return problem("rc_layers covers every layer", "rc_layers=" + std::to_string(p.recompute_layers) +
                                                         " recomputes every layer of a chunk: use rc_layers=0");
  }
  return std::nullopt;
}

Verdict check_plan(const Problem& pb, const Plan& p, bool tp_within_node) {
  if (auto s = structural_problem(pb, p, tp_within_node)) return s;
  const MemoryReport mem = plan_memory(pb.model, pb.training, p, pb.cluster.gpu.reserved_memory);
  if (!std::isfinite(mem.peak.total().value()))  // NaN would pass the comparison below
    return problem("memory not finite", "stage " + std::to_string(mem.peak.stage) +
                                            " needs a memory that is not a finite number of bytes (check the inputs)");
  if (mem.peak.total() > pb.cluster.gpu.memory)
    return problem("out of memory", "stage " + std::to_string(mem.peak.stage) + " needs " + gib(mem.peak.total()) +
                                        " of " + gib(pb.cluster.gpu.memory) + ", " +
                                        gib(mem.peak.total() - pb.cluster.gpu.memory) + " short (weights " +
                                        gib(mem.peak.weights) +
                                        ", gradients " + gib(mem.peak.gradients) + ", optimizer " +
                                        gib(mem.peak.optimizer) + ", activations " + gib(mem.peak.activations) +
                                        ", transient " + gib(mem.peak.transient) + ")");
  return std::nullopt;
}

namespace {

// The explicit values of `c`, or the candidates it allows.
std::vector<int> choose(const IntChoice& c, const std::vector<int>& candidates) {
  if (!c.values.empty()) return c.values;
  std::vector<int> out;
  for (int v : candidates)
    if (c.allows(v)) out.push_back(v);
  return out;
}

}  // namespace

Enumeration enumerate_plans(const Problem& pb, const SearchSpace& sp) {
  Enumeration out;
  const int gpus = pb.cluster.gpus;
  const int L = pb.model.layers;
  const ModelSpec& model = pb.model;
  const std::vector<bool> sps = sp.sequence_parallel.empty() ? std::vector<bool>{false, true} : sp.sequence_parallel;
  const std::vector<Recompute> rcs =
      sp.recompute.empty() ? std::vector<Recompute>{Recompute::none, Recompute::selective, Recompute::full}
                           : sp.recompute;
  const std::vector<Schedule> scheds =
      sp.schedule.empty()
          ? std::vector<Schedule>{Schedule::gpipe, Schedule::one_f_one_b, Schedule::interleaved, Schedule::zb_h1}
          : sp.schedule;
  const std::vector<std::string> orders = sp.order.empty() ? std::vector<std::string>{Plan{}.order} : sp.order;
  const std::vector<CpComm> cp_comms =
      sp.cp_comm.empty() ? std::vector<CpComm>{CpComm::ring, CpComm::all_to_all} : sp.cp_comm;
  const std::vector<bool> tpos = sp.tp_overlap.empty() ? std::vector<bool>{false, true} : sp.tp_overlap;

  // Checks one plan and files it.
  auto consider = [&](const Plan& plan) {
    ++out.enumerated;
    if (plan.recompute == Recompute::selective && sp.recompute.empty() &&
        layer_recompute(LayerShape::of(pb.model, pb.training, plan), plan.recompute).empty()) {
      // Nothing to recompute (FlashAttention keeps no scores): the same plan as none.
      ++out.infeasible["same as recompute=none (nothing to recompute)"];
      return;
    }
    if (auto why = check_plan(pb, plan, sp.tp_within_node)) {
      ++out.infeasible[why->first];
      return;
    }
    out.feasible.push_back({plan, plan_memory(pb.model, pb.training, plan, pb.cluster.gpu.reserved_memory)});
  };
  // The dimensions that do not change the shape of the grid: sharding, experts, CP variant, TP
  // overlap and placement.
  auto variants = [&](Plan plan) {
    const int dp_cp = plan.dp * plan.cp;
    std::vector<int> shards{0};
    if (!sp.shard.values.empty()) {
      shards = plan.zero > 0 ? sp.shard.values : std::vector<int>{0};
    } else if (plan.zero == 3) {
      const int node = pb.cluster.gpus_per_node;
      if (node < dp_cp && dp_cp % node == 0 && sp.shard.allows(node)) shards.push_back(node);
    }
    std::vector<int> eps{1};
    if (!sp.ep.values.empty()) {
      eps = sp.ep.values;
    } else if (model.moe()) {
      eps.clear();
      for (int e : divisors(plan.dp))
        if (model.experts % e == 0 && sp.ep.allows(e)) eps.push_back(e);
      if (eps.empty()) eps.push_back(1);
    }
    const std::vector<CpComm> cpcs = plan.cp > 1 ? cp_comms : std::vector<CpComm>{CpComm::ring};
    const bool tpo_applies = plan.tp > 1 && plan.sequence_parallel;
    const std::vector<bool> tpo = sp.tp_overlap.empty() && !tpo_applies ? std::vector<bool>{false} : tpos;
    for (int shard : shards)
      for (int ep : eps)
        for (CpComm cpc : cpcs)
          for (bool o : tpo) {
            std::set<std::string> placements;  // orders that place this plan alike count once
            for (const std::string& order : orders) {
              Plan v = plan;
              v.shard = shard;
              v.ep = ep;
              v.cp_comm = cpc;
              v.tp_overlap = o;
              v.order = order;
              if (!placements.insert(effective_order(v, order)).second) continue;
              consider(v);
            }
          }
  };

  for (int tp : divisors(gpus)) {
    if (!sp.tp.allows(tp)) continue;
    std::vector<int> cp_candidates;
    for (int c = 1; c <= gpus / tp; c *= 2)
      if ((gpus / tp) % c == 0 && (c == 1 || pb.training.seq_len / c >= sp.min_cp_tokens)) cp_candidates.push_back(c);
    for (int cp : choose(sp.cp, cp_candidates)) {
      if (cp < 1 || (gpus / tp) % cp != 0) continue;
      for (int pp : divisors(gpus / tp / cp)) {
        if (!sp.pp.allows(pp)) continue;
        const int dp = gpus / tp / cp / pp;
        if (!sp.dp.allows(dp)) continue;
        const int per_replica = pb.training.global_batch % dp == 0 ? pb.training.global_batch / dp : 0;
        std::vector<int> mbs;
        if (!sp.micro_batch.values.empty()) {
          mbs = sp.micro_batch.values;
        } else {
          const int most = std::min(std::max(1, per_replica), sp.micro_batch.max.value_or(sp.max_micro_batch));
          for (int b = 1; b <= most; ++b)
            if (per_replica % b == 0 && sp.micro_batch.allows(b)) mbs.push_back(b);
          if (mbs.empty()) mbs.push_back(1);  // counted below as a batch that does not divide
        }
        for (int mb : mbs) {
          for (Schedule sched : scheds) {
            // With one stage the schedule is moot: count it once, as 1f1b, unless fixed.
            if (pp == 1 && sched != Schedule::one_f_one_b && sp.schedule.empty()) continue;
            std::vector<int> vpps;
            if (sched == Schedule::interleaved) {
              // Chunk counts that split the layers evenly, and up to 4 chunks when they do not.
              for (int v = 2; pp * v <= L; ++v)
                if ((L % (pp * v) == 0 || v <= 4) && sp.vpp.allows(v)) vpps.push_back(v);
              if (vpps.empty()) vpps.push_back(sp.vpp.values.empty() ? 2 : sp.vpp.values.front());
            } else {
              // One chunk; a vpp fixed above 1 (a published interleaved run) is kept, and the
              // plan is refused ("vpp needs the interleaved schedule"), never swapped for vpp=1.
              vpps.push_back(sp.vpp.allows(1) ? 1
                                              : (!sp.vpp.values.empty() ? sp.vpp.values.front() : sp.vpp.min.value_or(2)));
            }
            for (int v : vpps) {
              for (bool s : sps) {
                if (s && tp == 1 && sp.sequence_parallel.empty()) continue;
                for (Recompute rc : rcs) {
                  const std::vector<int> rcls =
                      rc == Recompute::full && !sp.recompute_layers.values.empty() ? sp.recompute_layers.values
                                                                                   : std::vector<int>{0};
                  for (int rcl : rcls) {
                    for (int z = 0; z <= 3; ++z) {
                      if (!sp.zero.allows(z)) continue;
                      if (z > 0 && dp * cp == 1 && sp.zero.values.empty()) continue;
                      Plan plan{tp, pp, dp, mb, v, s, rc, z, sched};
                      plan.cp = cp;
                      plan.recompute_layers = rcl;
                      variants(plan);
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  return out;
}

namespace {

// What the data-parallel traffic of stage `s` forces on a step, beside the pipeline's bound:
// the stage's gradient reductions run one after another on its reduce stream, after its first
// forward (which waits for the stage's weights when they are gathered per chunk), and the
// optimizer waits for the last of them; a gather of the updated weights follows it. Every
// collective is priced by sim::sequence_bound, below what the buckets take on any fabric.
Seconds data_parallel_bound(const Problem& pb, const Plan& p, int s, const DataShapes& shapes,
                            const sim::NetworkSpec& net, Seconds before_f, Seconds work, Seconds optimizer) {
  if (p.dp_cp() <= 1) return Seconds();
  const StageParams sp = stage_param_split(pb.model, pb.training, p, s);
  const double grad = pb.training.grad_reduce_bytes();
  const double weight = LayerShape::of(pb.model, pb.training, p).element_bytes;
  using sim::CollectiveOp;
  Seconds reduce;
  for (auto [params, g] : {std::pair{sp.dense, &shapes.dense}, std::pair{sp.expert, &shapes.expert}}) {
    if (params <= 0) continue;
    const Bytes bytes(params * grad);
    if (p.zero == 0 || all_reduces_sharded_gradients(pb.training, p)) {
      reduce += sim::sequence_bound(CollectiveOp::all_reduce, bytes, g->all, net);
      continue;
    }
    reduce += sim::sequence_bound(CollectiveOp::reduce_scatter, bytes, g->shard, net);
    if (g->hybrid)
      reduce += sim::sequence_bound(CollectiveOp::all_reduce, Bytes(bytes.value() / g->shard.size), g->replica, net);
  }
  const Bytes all_weights(sp.total() * weight);
  const bool per_chunk = gathers_per_chunk(pb.training, p);
  // The first forward's chunk is the whole stage without interleaving.
  const Seconds first_gather = per_chunk && p.vpp == 1
                                   ? sim::sequence_bound(CollectiveOp::all_gather, all_weights, shapes.dense.shard, net)
                                   : Seconds();
  const Seconds after = (p.zero == 1 || p.zero == 2) && !per_chunk
                            ? sim::sequence_bound(CollectiveOp::all_gather, all_weights, shapes.dense.shard, net)
                            : Seconds();
  // Without overlap the reductions start after the stage's last backward.
  const Seconds start = overlaps_grad_reduce(pb.training, p) ? first_gather : before_f + work;
  return start + reduce + optimizer + after;
}

}  // namespace

Seconds step_time_bound(const Problem& pb, const Plan& p) {
  return step_time_bound(pb, p, pb.cluster.network(false));
}

Seconds step_time_bound(const Problem& pb, const Plan& p, const sim::NetworkSpec& net) {
  const PlanCosts c = plan_costs(pb.model, pb.training, pb.cluster, p, *pb.cost);
  const int m = p.microbatches(pb.training.global_batch);
  const std::vector<int> chunks = virtual_stage_layers(pb.model.layers, p.pp, p.vpp);
  const bool split = p.schedule == Schedule::zb_h1 && p.pp > 1;
  const std::vector<DataShapes> shapes = p.dp_cp() > 1 ? data_group_shapes(p, net) : std::vector<DataShapes>(p.pp);
  // Stage s starts with the first micro-batch's forward of its first chunk (virtual stage s),
  // which needs that forward on every earlier stage; its last backward (of the same chunk)
  // precedes the last micro-batch's backward on every earlier stage. Its compute stream runs in
  // between. (Under ZB-H1 its deferred weight passes may run beside that backward chain.)
  Seconds best, before_f, before_b;
  for (int s = 0; s < p.pp; ++s) {
    const Seconds work = c.stage_compute(pb.model, p, s, m);
    const Seconds optimizer = pb.cost->total(optimizer_ops(pb.model, pb.training, p, s));
    best = std::max({best, before_f + work + optimizer, before_f + work + (split ? Seconds() : before_b),
                     data_parallel_bound(pb, p, s, shapes[static_cast<std::size_t>(s)], net, before_f, work,
                                         optimizer)});
    // This stage's share of the chains: its first chunk's kernels for one micro-batch.
    const int first = first_layer_of(pb.model, p, s);
    Seconds f, b;
    for (int i = 0; i < chunks[static_cast<std::size_t>(s)]; ++i) {
      const LayerCosts& l = pb.model.moe_layer(first + i) ? c.moe : c.dense;
      f += l.forward;
      b += l.backward;
    }
    if (s == 0) f += c.embedding_forward, b += c.embedding_backward;
    before_f += f;
    before_b += b;
  }
  return best;
}

namespace {

// evaluate on a network built once for many plans.
PlanResult evaluate_on(const Problem& pb, const Plan& p, const sim::ReplayBackend& backend, Granularity g,
                       const sim::NetworkSpec& net, LayoutCache* cache = nullptr) {
  if (auto why = structural_problem(pb, p, false))
    throw std::invalid_argument("plan " + p.to_string() + " cannot run: " + why->second);
  PlanResult r;
  r.plan = p;
  r.memory = plan_memory(pb.model, pb.training, p, pb.cluster.gpu.reserved_memory);
  const sim::TaskGraph graph = build_task_graph(pb.model, pb.training, pb.cluster, p, *pb.cost, g, cache);
  const sim::ReplayResult replay = backend.replay(graph, net);
  r.backend = std::string(backend.name());
  r.breakdown = sim::summarize(graph, replay);
  if (!std::isfinite(r.breakdown.step.value()) || r.breakdown.step.value() < 0)
    throw std::runtime_error("the " + r.backend + " replay of " + p.to_string() + " gave a step time of " +
                             std::to_string(r.breakdown.step.value()) + " s");
  r.tasks = graph.size();
  r.events = replay.events;
  r.wall_seconds = replay.wall_seconds;
  return r;
}

}  // namespace

PlanResult evaluate(const Problem& pb, const Plan& p, const sim::ReplayBackend& backend, Granularity g) {
  return evaluate_on(pb, p, backend, g, pb.cluster.network());
}

double tokens_per_second(const Problem& pb, Seconds step) {
  return static_cast<double>(pb.training.global_batch) * pb.training.seq_len / step.value();
}

double mfu(const Problem& pb, Seconds step) {
  const double peak = pb.cluster.gpu.peak_at(pb.training.precision).value() * pb.cluster.gpus;
  return model_flops_per_step(pb.model, pb.training) / (step.value() * peak);
}

namespace {

// A finite number written by `put` or `serialize`; throws std::runtime_error otherwise.
double finite_number(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
    throw std::runtime_error("malformed replay result ('" + s.substr(0, 40) + "' is not a finite number)");
  return v;
}

void put(std::ostringstream& os, const sim::GpuBreakdown& b) {
  char buf[640];
  std::snprintf(buf, sizeof buf, "%d %a %a %a %a %a %a %a %a %a %a\n", b.gpu, b.forward.value(), b.backward.value(),
                b.recompute.value(), b.optimizer.value(), b.exposed_tp.value(), b.exposed_pp.value(),
                b.exposed_dp.value(), b.idle.value(), b.exposed_cp.value(), b.exposed_ep.value());
  os << buf;
}

sim::GpuBreakdown get(std::istringstream& is) {
  sim::GpuBreakdown b;
  std::string f[10];
  is >> b.gpu;
  for (auto& x : f) is >> x;
  if (!is) throw std::runtime_error("malformed replay result");
  auto d = [](const std::string& s) { return Seconds(finite_number(s)); };
  b.forward = d(f[0]);
  b.backward = d(f[1]);
  b.recompute = d(f[2]);
  b.optimizer = d(f[3]);
  b.exposed_tp = d(f[4]);
  b.exposed_pp = d(f[5]);
  b.exposed_dp = d(f[6]);
  b.idle = d(f[7]);
  b.exposed_cp = d(f[8]);
  b.exposed_ep = d(f[9]);
  return b;
}

}  // namespace

std::string serialize(const PlanResult& r) {
  std::ostringstream os;
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s %a %llu %llu %a %zu\n", r.backend.c_str(), r.breakdown.step.value(),
                static_cast<unsigned long long>(r.tasks), static_cast<unsigned long long>(r.events),
                r.wall_seconds, r.breakdown.per_gpu.size());
  os << buf;
  put(os, r.breakdown.mean);
  for (const auto& b : r.breakdown.per_gpu) put(os, b);
  return os.str();
}

PlanResult deserialize(const std::string& text, const Plan& plan, const MemoryReport& memory) {
  std::istringstream is(text);
  PlanResult r;
  r.plan = plan;
  r.memory = memory;
  std::string step, wall;
  unsigned long long tasks = 0, events = 0;
  std::size_t n = 0;
  is >> r.backend >> step >> tasks >> events >> wall >> n;
  if (!is) throw std::runtime_error("malformed replay result");
  r.breakdown.step = Seconds(finite_number(step));
  r.tasks = tasks;
  r.events = events;
  r.wall_seconds = finite_number(wall);
  if (n > (1u << 24)) throw std::runtime_error("malformed replay result (" + std::to_string(n) + " GPUs)");
  r.breakdown.mean = get(is);
  for (std::size_t i = 0; i < n; ++i) r.breakdown.per_gpu.push_back(get(is));
  return r;
}

namespace {

bool faster(const PlanResult& a, const PlanResult& b) {
  if (a.step_time() != b.step_time()) return a.step_time() < b.step_time();
  return a.plan.to_string() < b.plan.to_string();
}

}  // namespace

SearchResult search(const Problem& pb, const SearchSpace& space, const SearchOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  auto say = [&](const std::string& s) {
    if (opt.progress) opt.progress(s);
  };
  SearchResult out;
  auto fail = [&](FailedPlan f) {
    ++out.stats.failed;
    out.stats.errors.push_back(f.plan.to_string() + ": " + f.error);
    say("replay failed (" + f.backend + "): " + out.stats.errors.back());
    out.failed.push_back(std::move(f));
  };
  Enumeration en = enumerate_plans(pb, space);
  out.stats.enumerated = en.enumerated;
  out.stats.feasible = static_cast<std::int64_t>(en.feasible.size());
  out.stats.infeasible = en.infeasible;
  say("enumerated " + std::to_string(en.enumerated) + " plans, " + std::to_string(en.feasible.size()) + " feasible");

  // Screen in order of the compute lower bound; stop once the bound exceeds the time of the
  // finalists-th best plan screened so far (no later plan can be faster).
  struct Item {
    Seconds bound;
    std::size_t index;
  };
  std::vector<Item> order;
  order.reserve(en.feasible.size());
  const sim::NetworkSpec bound_net = pb.cluster.network(false);
  for (std::size_t i = 0; i < en.feasible.size(); ++i)
    order.push_back({step_time_bound(pb, en.feasible[i].plan, bound_net), i});
  std::stable_sort(order.begin(), order.end(), [&](const Item& a, const Item& b) {
    if (a.bound != b.bound) return a.bound < b.bound;
    return en.feasible[a.index].plan.to_string() < en.feasible[b.index].plan.to_string();
  });
  const std::size_t keep = static_cast<std::size_t>(std::max({1, opt.finalists, opt.keep}));
  const std::size_t finalist_count = static_cast<std::size_t>(std::max(1, opt.finalists));
  const auto analytical = sim::make_analytical_backend();
  const sim::NetworkSpec net = pb.cluster.network();
  LayoutCache layouts;
  std::vector<PlanResult> screened;
  std::vector<Seconds> best;  // sorted times of screened plans
  for (const Item& it : order) {
    if (best.size() >= keep && it.bound > best[keep - 1]) {
      ++out.stats.bounded;
      continue;
    }
    const Candidate& c = en.feasible[it.index];
    try {
      PlanResult r = evaluate_on(pb, c.plan, *analytical, Granularity::chunk, net, &layouts);
      best.insert(std::upper_bound(best.begin(), best.end(), r.step_time()), r.step_time());
      screened.push_back(std::move(r));
    } catch (const std::exception& e) {
      // A plan that passed the checks must replay; if it does not, it is reported, not dropped.
      fail(FailedPlan{c.plan, c.memory, "analytical", e.what(), std::nullopt});
    }
    ++out.stats.screened;
    if (out.stats.screened % 200 == 0)
      say("screened " + std::to_string(out.stats.screened) + " of " + std::to_string(order.size()) + " plans");
  }
  std::sort(screened.begin(), screened.end(), faster);
  say("screened " + std::to_string(out.stats.screened) + " plans analytically, " +
      std::to_string(out.stats.bounded) + " skipped by the lower bound");

  const std::size_t finals = std::min(finalist_count, screened.size());
  std::vector<PlanResult> finalists;
  std::vector<bool> is_final(screened.size(), false);
  if (opt.use_simgrid && finals > 0) {
    say("replaying " + std::to_string(finals) + " finalists on SimGrid");
    std::vector<std::function<std::string()>> jobs;
    for (std::size_t i = 0; i < finals; ++i) {
      const Plan plan = screened[i].plan;
      jobs.emplace_back([&pb, plan] {
        const auto backend = sim::make_simgrid_backend();
        return serialize(evaluate(pb, plan, *backend, Granularity::layer));
      });
    }
    const auto results = sim::run_isolated(jobs, opt.jobs, opt.replay_timeout_s);
    for (std::size_t i = 0; i < finals; ++i) {
      is_final[i] = true;
      std::string error = results[i].error;
      if (results[i].ok) {
        try {
          finalists.push_back(deserialize(results[i].payload, screened[i].plan, screened[i].memory));
          ++out.stats.simulated;
          continue;
        } catch (const std::exception& e) {
          error = e.what();
        }
      }
      fail(FailedPlan{screened[i].plan, screened[i].memory, "simgrid", error, screened[i].step_time()});
    }
    std::sort(finalists.begin(), finalists.end(), faster);
  }
  out.ranked = std::move(finalists);
  for (std::size_t i = 0; i < screened.size(); ++i)
    if (!is_final[i]) out.ranked.push_back(std::move(screened[i]));
  out.stats.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace strata::strategy
