// Context, expert and data-parallel variants, TP overlap, ZB-H1 and per-layer recomputation:
// their closed forms (bytes, FLOPs, parameters, memory, bubble) and their task graphs.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "common.hpp"
#include "strata/strategy/builder.hpp"
#include "strata/strategy/memory.hpp"
#include "strata/strategy/schedule.hpp"

using namespace strata;
using strategy::CpComm;
using strategy::LayerShape;
using strategy::Plan;
using strategy::Recompute;
using strategy::Schedule;

namespace {

double rel(double a, double b) { return std::fabs(a - b) / std::fabs(b); }

double total_flops(const std::vector<strategy::Op>& ops) {
  double f = 0;
  for (const auto& op : ops) f += op.flops.value();
  return f;
}

// Mixtral 8x7B as published (Jiang et al. 2024, Table 1).
strategy::ModelSpec mixtral() {
  strategy::ModelSpec m = test::gpt(32, 4096, 32, 4096);
  m.kv_heads = 8;
  m.ffn = 14336;
  m.vocab = 32000;
  m.activation = strategy::Activation::swiglu;
  m.dropout = false;
  m.tied_embeddings = false;
  m.learned_positions = false;
  m.experts = 8;
  m.top_k = 2;
  m.moe_ffn = 14336;
  return m;
}

std::map<sim::Category, int> count(const sim::TaskGraph& g) {
  std::map<sim::Category, int> n;
  for (sim::TaskId v = 0; v < g.size(); ++v) ++n[g.task(v).category];
  return n;
}

int on_lane(const sim::TaskGraph& g, sim::Lane lane, sim::Category c) {
  int n = 0;
  for (sim::TaskId v = 0; v < g.size(); ++v) n += g.task(v).lane == lane && g.task(v).category == c ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("plan: cp, ep, shard, TP overlap and recompute counts round-trip; placement follows the order") {
  const Plan p = strategy::parse_plan("tp=2 cp=4 pp=2 dp=8 ep=4 mbs=1 cp_comm=a2a shard=8 tpo=on sp=on zero=3 "
                                      "recompute=full rc_layers=3 schedule=zb-h1");
  CHECK(p.cp == 4);
  CHECK(p.cp_comm == CpComm::all_to_all);
  CHECK(p.ep == 4);
  CHECK(p.shard == 8);
  CHECK(p.tp_overlap);
  CHECK(p.recompute_layers == 3);
  CHECK(p.schedule == Schedule::zb_h1);
  CHECK(p.gpus() == 2 * 4 * 2 * 8);
  CHECK(strategy::parse_plan(p.to_string()) == p);
  // Megatron-LM order tp-cp-ep-dp-pp: tp fastest, then cp, then the expert rank (the data rank
  // modulo ep), the rest of the data rank, then the stage.
  CHECK(strategy::placement_rank(p, 1, 0, 0, 0) == 1);
  CHECK(strategy::placement_rank(p, 0, 1, 0, 0) == 2);
  CHECK(strategy::placement_rank(p, 0, 0, 1, 0) == 8);   // expert rank 1
  CHECK(strategy::placement_rank(p, 0, 0, 4, 0) == 32);  // data rank 4 = expert rank 0 of replica 1
  CHECK(strategy::placement_rank(p, 0, 0, 0, 1) == 64);
  CHECK(strategy::effective_order(p, p.order) == "tp-cp-ep-dp-pp");
}

TEST_CASE("model: MoE parameter counts match the published totals") {
  const auto m = mixtral();
  // 46.7B in all, 12.9B active per token (Mixtral paper, section 2).
  CHECK(rel(m.total_params(4096), 46.7e9) < 0.01);
  double active = static_cast<double>(m.vocab) * m.hidden * 2;
  for (int l = 0; l < m.layers; ++l) active += m.moe_layer_dense_params() + m.moe_layer_expert_params() * 2 / 8;
  CHECK(rel(active, 12.9e9) < 0.01);
  // DeepSeek-V3's shape: 671B published, MLA approximated by plain attention.
  strategy::ModelSpec d = m;
  d.layers = 61;
  d.hidden = 7168;
  d.heads = d.kv_heads = 128;
  d.ffn = 18432;
  d.vocab = 129280;
  d.experts = 256;
  d.top_k = 8;
  d.moe_ffn = 2048;
  d.shared_experts = 1;
  d.dense_layers = 3;
  CHECK_NOTHROW(d.check());
  CHECK(rel(d.total_params(4096), 671e9) < 0.01);
  CHECK(!d.moe_layer(2));
  CHECK(d.moe_layer(3));
  d.top_k = 300;
  CHECK_THROWS_AS(d.check(), std::invalid_argument);
}

TEST_CASE("ops: context parallelism splits tokens and causal attention evenly; its collectives move K and V") {
  auto m = test::gpt(1, 4096, 32, 32768);
  m.kv_heads = 8;
  const auto t = test::training(8, 32768, strategy::AttentionKernel::flash);
  const LayerShape one = LayerShape::of(m, t, test::plan(2, 1, 1));
  for (int cp : {2, 4, 8}) {
    auto p = test::plan(2, 1, 1);
    p.cp = cp;
    const LayerShape x = LayerShape::of(m, t, p);
    CHECK(x.tokens() == one.tokens() / cp);
    // Every rank does 1/cp of the causal attention (the load balance of zig-zag chunks).
    CHECK(rel(total_flops(strategy::attention_forward(x)), total_flops(strategy::attention_forward(one)) / cp) < 1e-12);
    CHECK(rel(total_flops(strategy::layer_forward(x)), total_flops(strategy::layer_forward(one)) / cp) < 1e-12);
    // Ring: gather the whole sequence's K and V (2 x kv x s per TP rank); backward gathers again
    // and reduce-scatters their gradients.
    const double E = 2, s = 32768, kv = 1024, h = 4096;
    const auto ring = strategy::layer_cp_collectives(x, test::cp_group(x));
    REQUIRE(ring.size() == 1);
    CHECK(ring[0].op == sim::CollectiveOp::all_gather);
    CHECK(ring[0].buffer.value() == doctest::Approx(E * s * 2 * kv / 2));
    CHECK(ring[0].group.size == cp);
    CHECK(strategy::layer_cp_collectives_backward(x, test::cp_group(x)).size() == 2);
    // All-to-all: q, k, v of the local tokens out, the attention output back.
    p.cp_comm = CpComm::all_to_all;
    const auto a2a = strategy::layer_cp_collectives(LayerShape::of(m, t, p), test::cp_group(LayerShape::of(m, t, p)));
    REQUIRE(a2a.size() == 2);
    CHECK(a2a[0].buffer.value() == doctest::Approx(E * s / cp * (h + 2 * kv) / 2));
    CHECK(a2a[1].buffer.value() == doctest::Approx(E * s / cp * h / 2));
  }
  CHECK(strategy::layer_cp_collectives(one, test::cp_group(one)).empty());
}

TEST_CASE("ops: a MoE layer routes top_k x capacity token copies through its local experts") {
  const auto m = mixtral();
  auto t = test::training(8, 4096, strategy::AttentionKernel::flash);
  t.capacity_factor = 1.25;
  auto p = test::plan(1, 1, 8);
  p.ep = 8;
  const LayerShape dense = LayerShape::of(m, t, p);
  const LayerShape moe = dense.moe_layer(m);
  REQUIRE(moe.moe);
  const double T = 4096, h = 4096, f = 14336, E = 2;
  CHECK(moe.routed_tokens() == doctest::Approx(T * 2 * 1.25));
  // Expert GEMMs: 3 matrices of h x f (SwiGLU) over the routed copies, 2 FLOPs per MAC.
  double expert = 0;
  for (const auto& op : strategy::layer_forward(moe))
    if (op.name == "expert_up" || op.name == "expert_down") expert += op.flops.value();
  CHECK(rel(expert, 2 * 3 * h * f * T * 2 * 1.25) < 0.01);  // rows rounded up per expert
  // Dispatch and combine all-to-alls carry every copy's hidden vector.
  const auto a2a = strategy::layer_ep_collectives(moe, test::ep_group(moe));
  REQUIRE(a2a.size() == 2);
  CHECK(a2a[0].op == sim::CollectiveOp::all_to_all);
  CHECK(a2a[0].buffer.value() == doctest::Approx(E * T * 2 * 1.25 * h));
  CHECK(a2a[0].group.size == 8);
  CHECK(strategy::layer_ep_collectives(dense, test::ep_group(dense)).empty());
  // With TP, the MoE MLP's collectives carry every routed copy; the attention's the tokens.
  auto tp = p;
  tp.tp = 2;
  tp.sequence_parallel = true;
  const auto moe_tp = strategy::layer_tp_collectives(LayerShape::of(m, t, tp).moe_layer(m), test::tp_group(LayerShape::of(m, t, tp).moe_layer(m)));
  REQUIRE(moe_tp.size() == 4);
  CHECK(moe_tp[0].buffer.value() == doctest::Approx(E * T * h));
  CHECK(moe_tp[2].buffer.value() == doctest::Approx(E * T * h * 2 * 1.25));
  CHECK(moe_tp[3].buffer.value() == doctest::Approx(E * T * h * 2 * 1.25));
  // Model FLOPs count the active parameters: 2 of 8 experts, and the output layer.
  t.capacity_factor = 1;
  const double active = 32 * (m.moe_layer_dense_params() + m.moe_layer_expert_params() * 2 / 8) + 32000.0 * h;
  CHECK(rel(strategy::model_flops_per_step(m, t), 6 * active * 8 * T + 12.0 * 32 * h * T * 8 * T) < 0.01);
}

TEST_CASE("memory: CP, EP, hybrid sharding and recompute counts change what a GPU holds") {
  const auto m = mixtral();
  const auto t = test::training(64, 4096, strategy::AttentionKernel::flash);
  auto base = test::plan(1, 1, 8);
  base.zero = 1;
  const auto mem = [&](const Plan& p) { return strategy::plan_memory(m, t, p, sim::Bytes(0)).peak; };
  // Experts are split over ep; the rest is replicated.
  auto ep = base;
  ep.ep = 8;
  const double dense = m.layers * m.moe_layer_dense_params() + 2.0 * m.vocab * m.hidden;
  CHECK(rel(mem(base).params, dense + m.layers * m.moe_layer_expert_params()) < 1e-9);
  CHECK(rel(mem(ep).params, dense + m.layers * m.moe_layer_expert_params() / 8) < 1e-9);
  // ZeRO shards over dp x cp; hybrid sharding over the shard group only, experts over dp / ep.
  auto z3 = base;
  z3.zero = 3;
  auto hsdp = z3;
  hsdp.shard = 4;
  CHECK(rel(mem(z3).optimizer.value(), 12 * mem(z3).params / 8) < 1e-9);
  CHECK(rel(mem(hsdp).optimizer.value(), 12 * mem(hsdp).params / 4) < 1e-9);
  auto hsdp_ep = hsdp;
  hsdp_ep.ep = 4;
  const auto split = strategy::stage_param_split(m, t, hsdp_ep, 0);
  CHECK(strategy::expert_shard_group(hsdp_ep) == 2);
  CHECK(rel(mem(hsdp_ep).optimizer.value(), 12 * (split.dense / 4 + split.expert / 2)) < 1e-9);
  // Context parallelism divides the activations by cp.
  const auto llama = [] {
    auto l = test::gpt(32, 4096, 32, 65536);
    l.kv_heads = 8;
    l.dropout = false;
    l.activation = strategy::Activation::swiglu;
    return l;
  }();
  const auto tl = test::training(8, 65536, strategy::AttentionKernel::flash);
  auto cp1 = test::plan(1, 1, 8);
  auto cp4 = test::plan(1, 1, 2);
  cp4.cp = 4;
  const auto a1 = strategy::plan_memory(llama, tl, cp1, sim::Bytes(0)).peak.activations;
  const auto a4 = strategy::plan_memory(llama, tl, cp4, sim::Bytes(0)).peak.activations;
  CHECK(rel(a4.value(), a1.value() / 4) < 1e-9);
  // Recomputing n of L layers stores n layer inputs and L - n layers' activations.
  auto rc = test::plan(1, 1, 8);
  rc.recompute = Recompute::full;
  rc.recompute_layers = 8;
  const LayerShape x = LayerShape::of(llama, tl, rc);
  const double expected = 8 * strategy::layer_activation_bytes(x, Recompute::full).value() +
                          24 * strategy::layer_activation_bytes(x, Recompute::none).value();
  CHECK(rel(strategy::plan_memory(llama, tl, rc, sim::Bytes(0)).peak.activations.value(), expected) < 1e-9);
}

TEST_CASE("schedule: ZB-H1 defers stage s's weight-gradient passes by s micro-batches") {
  auto p = test::plan(1, 4, 1);
  p.schedule = Schedule::zb_h1;
  for (int stage = 0; stage < 4; ++stage) {
    const auto ops = strategy::stage_schedule(p, stage, 8);
    CHECK(ops.size() == 3u * 8);
    std::set<int> pending;  // input-gradient pass done, weight-gradient pass not yet
    std::size_t peak = 0;
    for (const auto& op : ops) {
      if (op.weight) {
        CHECK(pending.erase(op.microbatch) == 1);  // W after its B
      } else if (!op.forward) {
        pending.insert(op.microbatch);
        peak = std::max(peak, pending.size());
      }
    }
    CHECK(pending.empty());
    CHECK(peak == static_cast<std::size_t>(stage + 1));  // s deferred, plus the one just done
    CHECK(strategy::deferred_weight_microbatches(p, stage, 8) == stage);
    CHECK(strategy::inflight_microbatches(p, stage, 8) == 4 - stage);
  }
}

namespace {

// GEMMs whose first dimension is the token count (forward and input-gradient GEMMs) take `fb`,
// weight-gradient GEMMs (first dimension a weight dimension) take `w`; all else is free.
class SplitCost final : public strategy::OpCostModel {
 public:
  SplitCost(double fb, double w, long tokens) : fb_(fb), w_(w), tokens_(tokens) {}
  [[nodiscard]] std::string_view name() const override { return "split"; }
  [[nodiscard]] sim::Seconds device_time(const strategy::Op& op) const override {
    const auto* g = std::get_if<strategy::Gemm>(&op.kind);
    if (!g || op.name == "logits") return sim::Seconds(0);
    return sim::Seconds(g->m == tokens_ ? fb_ : w_);
  }

 private:
  double fb_, w_;
  long tokens_;
};


}  // namespace

// Qi et al. 2023: with T_W <= T_B and m >= p, ZB-H1's bubble is (p - 1)(T_F + T_B - T_W), a third
// of 1F1B's (p - 1)(T_F + T_B + T_W) when the three are equal.
TEST_CASE("schedule: the ZB-H1 bubble is (p-1)(F+B-W) in the replayed task graph") {
  const auto model = test::gpt(16, 1024, 16, 256);
  const auto t = test::training(64, 256, strategy::AttentionKernel::flash);
  const long tokens = 256;
  for (double w : {1e-3, 0.5e-3}) {
    const SplitCost cost(1e-3, w, tokens);
    for (int pp : {2, 4, 8}) {
      for (int m : {pp, 2 * pp, 4 * pp}) {
        auto train = t;
        train.global_batch = m;  // blocking sends asked for: ZB-H1 posts its receives ahead anyway
        auto p = test::plan(1, pp, 1);
        p.schedule = Schedule::zb_h1;
        const auto c = test::free_network(pp);
        // Per stage: 16 / pp layers of 4 forward GEMMs, 4 input-gradient and 4 weight-gradient ones.
        const double layers = 16.0 / pp, F = 4e-3 * layers, B = 4e-3 * layers, W = 4 * w * layers;
        for (auto g : {strategy::Granularity::chunk, strategy::Granularity::layer}) {
          const auto graph = strategy::build_task_graph(model, train, c, p, cost, g);
          const double step = sim::make_analytical_backend()->replay(graph, c.network()).step_time.value();
          INFO("pp=" << pp << " m=" << m << " W=" << w);
          CHECK(rel(step, m * (F + B + W) + (pp - 1) * (F + B - W)) < 1e-9);
        }
        p.schedule = Schedule::one_f_one_b;
        const auto g1 = strategy::build_task_graph(model, train, c, p, cost, strategy::Granularity::chunk);
        const double one_f_one_b = sim::make_analytical_backend()->replay(g1, c.network()).step_time.value();
        CHECK(rel(one_f_one_b, (m + pp - 1) * (F + B + W)) < 1e-9);
      }
    }
  }
}

TEST_CASE("builder: ring attention and TP overlap run beside the kernels; EP blocks; hybrid sharding reduces twice") {
  auto m = test::gpt(4, 1024, 16, 4096);
  m.kv_heads = 4;
  const auto t = test::training(16, 4096, strategy::AttentionKernel::flash);
  const test::FixedCost cost(1e-3, 1e-4);
  const auto c = test::test_cluster(16);
  auto p = test::plan(2, 1, 4);
  p.cp = 2;
  p.sequence_parallel = true;
  p.tp_overlap = true;
  const auto g = strategy::build_task_graph(m, t, c, p, cost, strategy::Granularity::layer);
  const int mb = 16 / 4;
  // Per layer and micro-batch: one K/V gather forward, a gather and a reduce-scatter backward.
  CHECK(on_lane(g, sim::Lane::overlap, sim::Category::cp_comm) == mb * 4 * 3);
  // TP overlap: every one of the layer's 8 sequence-parallel collectives in two parts, one beside
  // the GEMMs and the last chunk on the compute stream.
  CHECK(on_lane(g, sim::Lane::overlap, sim::Category::tp_comm) == mb * 4 * 8);
  CHECK(on_lane(g, sim::Lane::compute, sim::Category::tp_comm) == mb * (4 * 8 + 1));
  p.cp_comm = CpComm::all_to_all;
  CHECK(on_lane(strategy::build_task_graph(m, t, c, p, cost, strategy::Granularity::layer), sim::Lane::compute,
                sim::Category::cp_comm) == mb * 4 * 4);
  CHECK_NOTHROW((void)g.adjacency());

  // MoE: two all-to-alls per MoE layer and pass; dense layers none.
  auto moe = m;
  moe.activation = strategy::Activation::swiglu;
  moe.experts = 8;
  moe.top_k = 2;
  moe.moe_ffn = 1024;
  moe.dense_layers = 1;
  auto e = test::plan(1, 1, 16);
  e.ep = 4;
  const auto ge = strategy::build_task_graph(moe, t, c, e, cost, strategy::Granularity::layer);
  CHECK(count(ge)[sim::Category::ep_comm] == 1 * 3 * 4);  // 1 micro-batch, 3 MoE layers, 4 a2a

  // Hybrid sharding: reduce-scatter in the shard group, all-reduce of the shard across groups.
  auto h = test::plan(1, 1, 16);
  h.zero = 3;
  h.shard = 8;
  const auto gh = strategy::build_task_graph(m, t, c, h, cost, strategy::Granularity::layer);
  int rs = 0, ar = 0;
  for (sim::TaskId v = 0; v < gh.size(); ++v) {
    const auto* w = std::get_if<sim::CollectiveWork>(&gh.task(v).work);
    if (!w || gh.task(v).category != sim::Category::dp_comm || gh.task(v).lane != sim::Lane::reduce) continue;
    if (w->collective.op == sim::CollectiveOp::reduce_scatter) {
      ++rs;
      CHECK(w->collective.group.size == 8);
    } else if (w->collective.op == sim::CollectiveOp::all_reduce) {
      ++ar;
      CHECK(w->collective.group.size == 2);
    }
  }
  CHECK(rs > 0);
  CHECK(ar == rs);
}

TEST_CASE("builder: TP overlap hides all but the last of tp chunks of the TP traffic behind long GEMMs") {
  const auto m = test::gpt(4, 8192, 64, 8192);
  const auto t = test::training(2, 8192, strategy::AttentionKernel::flash);
  const test::FixedCost cost(50e-3, 0);  // GEMMs far longer than the collectives
  const auto c = test::test_cluster(8);
  auto p = test::plan(8, 1, 1);
  p.sequence_parallel = true;
  const auto exposed = [&](bool overlap, strategy::Granularity g) {
    p.tp_overlap = overlap;
    const auto graph = strategy::build_task_graph(m, t, c, p, cost, g);
    const auto r = sim::make_analytical_backend()->replay(graph, c.network());
    return sim::summarize(graph, r).mean.exposed_tp.value();
  };
  // What stays exposed per layer and pass: the last 1/tp of each collective, with its latency.
  const auto shape = LayerShape::of(m, t, p);
  double last = 0, whole = 0;
  for (auto col : strategy::layer_tp_collectives(shape, test::tp_group(shape))) {
    whole += sim::isolated_time(sim::lower(col, c.network(false)), c.network(false)).value();
    col.buffer = col.buffer * (1.0 / 8);
    last += sim::isolated_time(sim::lower(col, c.network(false)), c.network(false)).value();
  }
  const int passes = 2 * 4 * 2;  // micro-batches x layers x (forward, backward)
  // The embedding's reduction on the first stage is not overlapped.
  const auto emb = *strategy::embedding_tp_collective(shape, test::tp_group(shape));
  const double embedding = 2 * sim::isolated_time(sim::lower(emb, c.network(false)), c.network(false)).value();
  for (auto g : {strategy::Granularity::chunk, strategy::Granularity::layer}) {
    INFO("granularity " << static_cast<int>(g));
    const double plain = exposed(false, g), overlapped = exposed(true, g);
    CHECK(rel(overlapped, passes * last + embedding) < 1e-6);
    CHECK(plain > passes * whole * 0.99);
    CHECK(overlapped < plain / 4);
  }
}

TEST_CASE("builder: the embedding and the output layer and loss lengthen the first and last stages") {
  const auto model = test::gpt(8, 1024, 16, 256);
  auto t = test::training(8, 256, strategy::AttentionKernel::flash);
  const double e = 2e-3;
  const test::FixedCost cost(1e-3, 0, e);  // layer GEMMs 1 ms; each embedding/head kernel 2 ms
  const auto c = test::free_network(4);
  const auto p = test::plan(1, 4, 1);
  const auto graph = strategy::build_task_graph(model, t, c, p, cost, strategy::Granularity::layer);
  const auto r = sim::make_analytical_backend()->replay(graph, c.network());
  const auto b = sim::summarize(graph, r);
  REQUIRE(b.per_gpu.size() == 4);
  const int m = 8;
  const double layers = 2, per_layer = 12e-3;  // 4 forward + 8 backward GEMMs
  const double adam = e;                       // the optimizer step counts as an edge kernel here
  // First stage: embedding, its dropout and its backward (3 kernels); last: final norm, logits and
  // loss forward and backward, the logits GEMM twice in backward (7 kernels).
  CHECK(rel(b.per_gpu[0].compute().value(), m * (layers * per_layer + 3 * e) + adam) < 1e-9);
  CHECK(rel(b.per_gpu[1].compute().value(), m * layers * per_layer + adam) < 1e-9);
  CHECK(rel(b.per_gpu[3].compute().value(), m * (layers * per_layer + 7 * e) + adam) < 1e-9);
  // Memory: the first stage holds the token and position embeddings, the last the output layer
  // (a copy of the tied embedding on another stage).
  const auto mem = strategy::plan_memory(model, t, p, sim::Bytes(0));
  const double layer = 2 * model.layer_params();
  CHECK(rel(mem.stages[1].params, layer) < 1e-12);
  CHECK(rel(mem.stages[0].params, layer + 51200.0 * 1024 + 256.0 * 1024) < 1e-12);
  CHECK(rel(mem.stages[3].params, layer + 51200.0 * 1024) < 1e-12);
}

TEST_CASE("builder: no combination of the new dimensions deadlocks") {
  auto model = test::gpt(8, 1024, 16, 512);
  model.kv_heads = 4;
  model.activation = strategy::Activation::swiglu;
  model.experts = 4;
  model.top_k = 2;
  model.moe_ffn = 512;
  model.dense_layers = 1;
  const test::FixedCost cost(1e-3, 1e-4, 1e-4);
  int built = 0;
  for (Schedule s : {Schedule::one_f_one_b, Schedule::zb_h1, Schedule::interleaved, Schedule::gpipe}) {
    for (int pp : {1, 2, 4}) {
      if (pp == 1 && s != Schedule::one_f_one_b) continue;
      const int vpp = s == Schedule::interleaved ? 2 : 1;
      for (int cp : {1, 2}) {
        for (CpComm comm : {CpComm::ring, CpComm::all_to_all}) {
          if (cp == 1 && comm == CpComm::all_to_all) continue;
          for (int zero : {0, 1, 3}) {
            for (int shard : {0, 2}) {
              if (shard > 0 && zero == 0) continue;
              for (bool tpo : {false, true}) {
                for (int m : {pp, 2 * pp + (s == Schedule::interleaved ? pp : 1)}) {
                  auto t = test::training(m * 4, 512, strategy::AttentionKernel::flash);
                  auto p = test::plan(2, pp, 4);
                  p.cp = cp;
                  p.cp_comm = comm;
                  p.ep = 2;
                  p.vpp = vpp;
                  p.schedule = s;
                  p.zero = zero;
                  p.shard = shard;
                  p.tp_overlap = tpo;
                  p.sequence_parallel = tpo;
                  p.recompute = Recompute::full;
                  p.recompute_layers = pp == 1 ? 3 : 0;
                  const auto c = test::test_cluster(p.gpus());
                  for (auto g : {strategy::Granularity::chunk, strategy::Granularity::layer}) {
                    INFO(p.to_string() << " m=" << m << " granularity " << static_cast<int>(g));
                    const auto graph = strategy::build_task_graph(model, t, c, p, cost, g);
                    CHECK_NOTHROW((void)graph.adjacency());
                    ++built;
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  CHECK(built > 100);
}
