#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "strata/topo/gpu.hpp"

namespace strata::cli {

using sim::kGiB;
using strategy::PlanResult;
using strategy::Problem;

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pad(const std::string& s, std::size_t w, bool right = true) {
  if (s.size() >= w) return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

double tflops_per_gpu(const Problem& pb, sim::Seconds step) {
  return strategy::model_flops_per_step(pb.model, pb.training) / step.value() / pb.cluster.gpus / 1e12;
}

std::string short_plan(const strategy::Plan& p) {
  std::ostringstream os;
  os << "tp" << p.tp;
  if (p.cp > 1) os << " cp" << p.cp << (p.cp_comm == strategy::CpComm::ring ? ":ring" : ":a2a");
  os << " pp" << p.pp << " dp" << p.dp;
  if (p.ep > 1) os << " ep" << p.ep;
  os << " mbs" << p.micro_batch;
  if (p.vpp > 1) os << " vpp" << p.vpp;
  if (p.sequence_parallel) os << " sp";
  if (p.tp_overlap) os << " tpo";
  os << " rc:" << strategy::to_string(p.recompute);
  if (p.recompute_layers > 0) os << ":" << p.recompute_layers;
  os << " z" << p.zero;
  if (p.shard > 0) os << ":shard" << p.shard;
  os << " " << strategy::to_string(p.schedule);
  if (p.order != strategy::Plan{}.order) os << " order:" << strategy::effective_order(p, p.order);
  return os.str();
}

void breakdown_json(JsonWriter& w, const sim::GpuBreakdown& b) {
  w.begin_object();
  if (b.gpu >= 0) w.member("gpu", b.gpu);
  w.member("forward_s", b.forward.value());
  w.member("backward_s", b.backward.value());
  w.member("recompute_s", b.recompute.value());
  w.member("optimizer_s", b.optimizer.value());
  w.member("compute_s", b.compute().value());
  w.member("exposed_tp_s", b.exposed_tp.value());
  w.member("exposed_cp_s", b.exposed_cp.value());
  w.member("exposed_ep_s", b.exposed_ep.value());
  w.member("exposed_pp_s", b.exposed_pp.value());
  w.member("exposed_dp_s", b.exposed_dp.value());
  w.member("bubble_s", b.idle.value());
  w.end_object();
}

void memory_json(JsonWriter& w, const strategy::StageMemory& m) {
  w.begin_object();
  w.member("stage", m.stage);
  w.member("total_gib", m.total().value() / kGiB);
  w.member("weights_gib", m.weights.value() / kGiB);
  w.member("gradients_gib", m.gradients.value() / kGiB);
  w.member("optimizer_gib", m.optimizer.value() / kGiB);
  w.member("activations_gib", m.activations.value() / kGiB);
  w.member("transient_gib", m.transient.value() / kGiB);
  w.member("reserved_gib", m.reserved.value() / kGiB);
  w.end_object();
}

// The plan fields of a CSV row, tp to recompute_layers.
std::string plan_csv(const strategy::Plan& p) {
  std::ostringstream os;
  os << p.tp << "," << p.pp << "," << p.dp << "," << p.micro_batch << "," << p.vpp << ","
     << (p.sequence_parallel ? "on" : "off") << "," << strategy::to_string(p.recompute) << "," << p.zero << ","
     << strategy::to_string(p.schedule) << "," << p.cp << "," << strategy::to_string(p.cp_comm) << "," << p.ep << ","
     << p.shard << "," << (p.tp_overlap ? "on" : "off") << "," << p.recompute_layers;
  return os.str();
}

// A CSV field in double quotes (RFC 4180: quotes doubled), on one line.
std::string csv_field(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += "\"\"";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out + "\"";
}

}  // namespace

void plan_json(JsonWriter& w, const strategy::Plan& p) {
  w.member("tp", p.tp);
  w.member("pp", p.pp);
  w.member("dp", p.dp);
  w.member("micro_batch", p.micro_batch);
  w.member("vpp", p.vpp);
  w.member("sequence_parallel", p.sequence_parallel);
  w.member("recompute", strategy::to_string(p.recompute));
  w.member("zero", p.zero);
  w.member("schedule", strategy::to_string(p.schedule));
  w.member("cp", p.cp);
  w.member("cp_comm", strategy::to_string(p.cp_comm));
  w.member("ep", p.ep);
  w.member("shard", p.shard);
  w.member("tp_overlap", p.tp_overlap);
  w.member("recompute_layers", p.recompute_layers);
  w.member("string", p.to_string());
}

void problem_json(JsonWriter& w, const Problem& pb) {
  w.key("model").begin_object();
  w.member("name", pb.model.name);
  w.member("layers", pb.model.layers);
  w.member("hidden", pb.model.hidden);
  w.member("heads", pb.model.heads);
  w.member("kv_heads", pb.model.kv_heads);
  w.member("ffn", pb.model.ffn);
  w.member("vocab", pb.model.vocab);
  w.member("activation", strategy::to_string(pb.model.activation));
  w.member("parameters", pb.model.total_params(pb.training.seq_len));
  w.end_object();
  w.key("cluster").begin_object();
  w.member("name", pb.cluster.name);
  w.member("gpu", pb.cluster.gpu.name);
  w.member("gpus", pb.cluster.gpus);
  w.member("gpus_per_node", pb.cluster.gpus_per_node);
  w.member("scale_up_gbytes_per_s", pb.cluster.scale_up.bandwidth.value() / 1e9);
  w.member("nics_per_node", pb.cluster.scale_out.nics_per_node);
  w.member("nic_gbits_per_s", pb.cluster.scale_out.nic_bandwidth.value() * 8 / 1e9);
  w.end_object();
  w.key("training").begin_object();
  w.member("global_batch", pb.training.global_batch);
  w.member("seq_len", pb.training.seq_len);
  w.member("precision", std::string(topo::to_string(pb.training.precision)));
  w.member("attention", strategy::to_string(pb.training.attention));
  w.member("framework", strategy::to_string(pb.training.framework));
  w.member("tokens_per_step", static_cast<double>(pb.training.global_batch) * pb.training.seq_len);
  w.end_object();
  w.member("op_costs", std::string(pb.cost->name()));
}

void result_json(JsonWriter& w, const Problem& pb, const PlanResult& r) {
  w.begin_object();
  w.key("plan").begin_object();
  plan_json(w, r.plan);
  w.end_object();
  w.member("backend", r.backend);
  w.member("step_time_s", r.step_time().value());
  w.member("tokens_per_s", strategy::tokens_per_second(pb, r.step_time()));
  w.member("tokens_per_s_per_gpu", strategy::tokens_per_second(pb, r.step_time()) / pb.cluster.gpus);
  w.member("mfu", strategy::mfu(pb, r.step_time()));
  w.member("model_tflops_per_gpu", tflops_per_gpu(pb, r.step_time()));
  w.member("microbatches", r.plan.microbatches(pb.training.global_batch));
  w.member("tasks", static_cast<long long>(r.tasks));
  w.member("events", static_cast<long long>(r.events));
  w.key("memory_per_gpu_gib").value(r.memory.peak.total().value() / kGiB);
  w.key("memory_peak");
  memory_json(w, r.memory.peak);
  w.key("memory_stages").begin_array();
  for (const auto& m : r.memory.stages) memory_json(w, m);
  w.end_array();
  w.key("breakdown");
  breakdown_json(w, r.breakdown.mean);
  w.key("breakdown_per_gpu").begin_array();
  for (const auto& b : r.breakdown.per_gpu) breakdown_json(w, b);
  w.end_array();
  w.end_object();
}

std::string problem_header(const Problem& pb) {
  std::ostringstream os;
  os << pb.model.name << " (" << fmt("%.1f", pb.model.total_params(pb.training.seq_len) / 1e9) << "B parameters) on "
     << pb.cluster.gpus << " x " << pb.cluster.gpu.name << " (" << pb.cluster.gpus_per_node << " per node, "
     << pb.cluster.scale_out.nics_per_node << " x " << fmt("%.0f", pb.cluster.scale_out.nic_bandwidth.value() * 8 / 1e9)
     << " Gb/s NICs per node)\n"
     << "batch " << pb.training.global_batch << " x " << pb.training.seq_len << " tokens, "
     << topo::to_string(pb.training.precision) << ", " << strategy::to_string(pb.training.attention)
     << " attention, " << strategy::to_string(pb.training.framework) << " conventions, op costs: "
     << pb.cost->name() << "\n";
  return os.str();
}

std::string rank_table(const Problem& pb, const strategy::SearchResult& s, int top, std::size_t max_failed) {
  std::ostringstream os;
  std::size_t width = 4;
  for (std::size_t i = 0; i < s.ranked.size() && static_cast<int>(i) < top; ++i)
    width = std::max(width, short_plan(s.ranked[i].plan).size());
  width += 2;
  os << pad("#", 3) << "  " << pad("plan", width, false) << pad("step s", 9) << pad("tok/s", 10) << pad("MFU %", 7)
     << pad("mem GiB", 8) << pad("compute s", 10) << pad("TP s", 8) << pad("CP s", 8) << pad("EP s", 8)
     << pad("PP s", 8) << pad("DP s", 8)
     << pad("bubble s", 9) << "  backend\n";
  int i = 0;
  for (const PlanResult& r : s.ranked) {
    if (i >= top) break;
    ++i;
    const auto& b = r.breakdown.mean;
    os << pad(std::to_string(i), 3) << "  " << pad(short_plan(r.plan), width, false)
       << pad(fmt("%.3f", r.step_time().value()), 9) << pad(fmt("%.0f", strategy::tokens_per_second(pb, r.step_time())), 10)
       << pad(fmt("%.1f", 100 * strategy::mfu(pb, r.step_time())), 7)
       << pad(fmt("%.1f", r.memory.peak.total().value() / kGiB), 8) << pad(fmt("%.3f", b.compute().value()), 10)
       << pad(fmt("%.3f", b.exposed_tp.value()), 8) << pad(fmt("%.3f", b.exposed_cp.value()), 8)
       << pad(fmt("%.3f", b.exposed_ep.value()), 8) << pad(fmt("%.3f", b.exposed_pp.value()), 8)
       << pad(fmt("%.3f", b.exposed_dp.value()), 8) << pad(fmt("%.3f", b.idle.value()), 9) << "  " << r.backend
       << "\n";
  }
  if (i == 0) os << (s.failed.empty() ? "   (no feasible plan)\n" : "   (no plan could be timed)\n");
  if (!s.failed.empty()) {
    // Failed plans are not ranked (not even on their analytical time): the ranking is partial.
    os << "\n" << s.failed.size() << " plan(s) could not be timed; the ranking above is incomplete:\n";
    std::size_t shown = 0;
    for (const strategy::FailedPlan& f : s.failed) {
      if (shown++ == max_failed) {
        os << "  ... and " << (s.failed.size() - max_failed) << " more (--json lists them all)\n";
        break;
      }
      os << "failed: " << f.plan.to_string() << " (" << f.backend << "): " << topo::printable(f.error, 0) << "\n";
    }
  }
  return os.str();
}

void failed_json(JsonWriter& w, const strategy::FailedPlan& f) {
  w.begin_object();
  w.member("plan", f.plan.to_string());
  w.member("backend", f.backend);
  w.member("error", f.error);
  if (f.analytical) w.member("analytical_step_time_s", f.analytical->value());
  else w.key("analytical_step_time_s").null();
  w.member("memory_per_gpu_gib", f.memory.peak.total().value() / kGiB);
  w.end_object();
}

std::string search_summary(const strategy::SearchStats& s) {
  std::ostringstream os;
  os << "plans: " << s.enumerated << " enumerated, " << s.feasible << " feasible, "
     << (s.enumerated - s.feasible) << " infeasible, " << s.screened << " screened (analytical), " << s.bounded
     << " skipped by the lower bound, " << s.simulated << " simulated (SimGrid)";
  if (s.failed > 0) os << ", " << s.failed << " failed";
  os << "\n";
  if (!s.infeasible.empty()) {
    os << "infeasible by reason:\n";
    for (const auto& [reason, n] : s.infeasible) os << "  " << pad(std::to_string(n), 7) << "  " << reason << "\n";
  }
  return os.str();
}

std::string rank_csv(const Problem& pb, const strategy::SearchResult& s, int top) {
  std::ostringstream os;
  os << "rank,tp,pp,dp,micro_batch,vpp,sequence_parallel,recompute,zero,schedule,cp,cp_comm,ep,shard,tp_overlap,"
        "recompute_layers,step_time_s,tokens_per_s,mfu,memory_per_gpu_gib,compute_s,exposed_tp_s,exposed_cp_s,"
        "exposed_ep_s,exposed_pp_s,exposed_dp_s,bubble_s,backend,status,error\n";
  int i = 0;
  for (const PlanResult& r : s.ranked) {
    if (i >= top) break;
    ++i;
    const auto& p = r.plan;
    const auto& b = r.breakdown.mean;
    os << i << "," << plan_csv(p) << "," << fmt("%.6f", r.step_time().value()) << ","
       << fmt("%.1f", strategy::tokens_per_second(pb, r.step_time())) << ","
       << fmt("%.4f", strategy::mfu(pb, r.step_time())) << "," << fmt("%.3f", r.memory.peak.total().value() / kGiB)
       << "," << fmt("%.6f", b.compute().value()) << "," << fmt("%.6f", b.exposed_tp.value()) << ","
       << fmt("%.6f", b.exposed_cp.value()) << "," << fmt("%.6f", b.exposed_ep.value()) << ","
       << fmt("%.6f", b.exposed_pp.value()) << "," << fmt("%.6f", b.exposed_dp.value()) << ","
       << fmt("%.6f", b.idle.value()) << "," << r.backend << ",ok,\n";
  }
  for (const strategy::FailedPlan& f : s.failed) {
    const auto& p = f.plan;
    // No rank and no times (the memory is known): step_time_s to mfu, then compute_s to bubble_s empty.
    os << "," << plan_csv(p) << ",,,," << fmt("%.3f", f.memory.peak.total().value() / kGiB) << ",,,,,,,,"
       << f.backend << ",failed," << csv_field(f.error) << "\n";
  }
  return os.str();
}

std::string plan_report(const Problem& pb, const PlanResult& r) {
  std::ostringstream os;
  const auto& b = r.breakdown.mean;
  const double step = r.step_time().value();
  auto line = [&](const char* name, double v) {
    os << "  " << pad(name, 22, false) << pad(fmt("%.4f", v), 10) << " s" << pad(fmt("%.1f", 100 * v / step), 8)
       << " %\n";
  };
  os << "plan: " << r.plan.to_string() << "\n"
     << "micro-batches per step: " << r.plan.microbatches(pb.training.global_batch) << "\n"
     << "step time: " << fmt("%.4f", step) << " s (" << r.backend << ", " << r.tasks << " tasks)\n"
     << "throughput: " << fmt("%.0f", strategy::tokens_per_second(pb, r.step_time())) << " tokens/s, "
     << fmt("%.1f", strategy::tokens_per_second(pb, r.step_time()) / pb.cluster.gpus) << " tokens/s per GPU, MFU "
     << fmt("%.1f", 100 * strategy::mfu(pb, r.step_time())) << " %, "
     << fmt("%.1f", tflops_per_gpu(pb, r.step_time())) << " model TFLOP/s per GPU\n"
     << "breakdown (mean over pipeline stages):\n";
  line("forward", b.forward.value());
  line("backward", b.backward.value());
  line("recompute", b.recompute.value());
  line("optimizer", b.optimizer.value());
  line("exposed TP comm", b.exposed_tp.value());
  line("exposed CP comm", b.exposed_cp.value());
  line("exposed EP comm", b.exposed_ep.value());
  line("exposed PP comm", b.exposed_pp.value());
  line("exposed DP comm", b.exposed_dp.value());
  line("bubble and waiting", b.idle.value());
  const auto& m = r.memory.peak;
  os << "memory per GPU (stage " << m.stage << ", the largest): " << fmt("%.2f", m.total().value() / kGiB) << " GiB of "
     << fmt("%.0f", pb.cluster.gpu.memory.value() / kGiB) << " GiB\n"
     << "  weights " << fmt("%.2f", m.weights.value() / kGiB) << " GiB, gradients "
     << fmt("%.2f", m.gradients.value() / kGiB) << " GiB, optimizer " << fmt("%.2f", m.optimizer.value() / kGiB)
     << " GiB, activations " << fmt("%.2f", m.activations.value() / kGiB) << " GiB, transient "
     << fmt("%.2f", m.transient.value() / kGiB) << " GiB, reserved " << fmt("%.2f", m.reserved.value() / kGiB)
     << " GiB\n";
  return os.str();
}

std::string validation_table(const std::vector<scenario::ValidationCase>& cases,
                             const std::vector<scenario::CaseResult>& results, const scenario::Summary& s) {
  std::ostringstream os;
  std::size_t width = 4;
  for (const auto& r : results) width = std::max(width, r.id.size());
  width += 2;
  os << pad("case", width, false) << pad("status", 12, false) << pad("pred s", 9) << pad("target s", 9)
     << pad("err %", 8) << pad("mem GiB", 9) << pad("meas GiB", 9) << pad("err %", 8) << "  plan / reason\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    os << pad(r.id, width, false) << pad(r.status, 12, false)
       << pad(r.predicted_s ? fmt("%.3f", *r.predicted_s) : "-", 9)
       << pad(r.target_s ? fmt("%.3f", *r.target_s) : "-", 9)
       << pad(r.error_pct ? fmt("%+.1f", *r.error_pct) : "-", 8)
       << pad(r.predicted_memory_gib ? fmt("%.1f", *r.predicted_memory_gib) : "-", 9)
       << pad(r.measured_memory_gib ? fmt("%.1f", *r.measured_memory_gib) : "-", 9)
       << pad(r.memory_error_pct ? fmt("%+.1f", *r.memory_error_pct) : "-", 8) << "  "
       << (r.best ? short_plan(r.best->plan) : r.reason);
    // A finalist the replay could not time is not silently dropped: the row says so.
    if (r.best && r.incomplete) os << "  [incomplete: " << r.reason << "]";
    else if (r.best && r.stats.failed > 0) os << "  [" << r.stats.failed << " replay(s) failed: " << r.stats.errors.front() << "]";
    os << "\n";
  }
  (void)cases;
  os << "\n" << s.cases << " cases: " << s.ok << " ok, " << s.infeasible << " infeasible, " << s.unsupported
     << " unsupported";
  if (s.errors > 0) os << ", " << s.errors << " failed (invalid or error)";
  if (s.incomplete > 0) os << ", " << s.incomplete << " incomplete (some replays failed)";
  os << "; " << s.scored << " scored, mean absolute error " << fmt("%.1f", s.mape) << " %\n";
  if (s.overall.scored > 0) {
    os << "bias: mean signed error " << fmt("%+.1f", s.overall.mean_signed) << " % (" << s.overall.too_fast
       << " predicted too fast, " << s.overall.too_slow << " too slow; negative = faster than published)\n";
    // Per source and per GPU: a bias that one family of runs shares shows here, not in the MAPE.
    auto table = [&os](const char* what, const std::vector<scenario::ErrorStats>& rows) {
      os << "\n" << pad("cases", 6) << pad("abs err %", 11) << pad("signed %", 10) << pad("fast", 6)
         << pad("slow", 6) << "  " << what << "\n";
      for (const auto& e : rows)
        os << pad(std::to_string(e.scored), 6) << pad(fmt("%.1f", e.mape), 11) << pad(fmt("%+.1f", e.mean_signed), 10)
           << pad(std::to_string(e.too_fast), 6) << pad(std::to_string(e.too_slow), 6) << "  "
           << topo::printable(e.name.empty() ? "(no source)" : e.name, 400) << "\n";
    };
    table("source", s.by_source);
    table("GPU", s.by_gpu);
    os << "\n";
  }
  if (s.memory_scored > 0)
    os << "peak memory: " << s.memory_scored << " cases with a published peak, mean absolute error "
       << fmt("%.1f", s.memory_mape) << " %, worst " << fmt("%.1f", s.memory_worst) << " %\n";
  for (const auto& g : s.groups) {
    os << "rank group " << pad(g.group, 26, false);
    if (g.tau)
      os << " Kendall tau " << pad(fmt("%+.2f", *g.tau), 6) << " over " << g.ids.size() << " cases\n";
    else
      os << " Kendall tau    -   (" << g.reason << ")\n";
  }
  return os.str();
}

std::string validation_json(const std::vector<scenario::ValidationCase>& cases,
                            const std::vector<scenario::CaseResult>& results, const scenario::Summary& s) {
  JsonWriter w;
  w.begin_object();
  w.key("cases").begin_array();
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    const auto& c = cases[i];
    w.begin_object();
    w.member("id", r.id);
    w.member("status", r.status);
    if (!r.reason.empty()) w.member("reason", r.reason);
    w.member("incomplete", r.incomplete);
    if (r.predicted_s) w.member("predicted_iteration_s", *r.predicted_s);
    else w.key("predicted_iteration_s").null();
    if (r.target_s) w.member("target_iteration_s", *r.target_s);
    else w.key("target_iteration_s").null();
    if (r.error_pct) w.member("error_pct", *r.error_pct);
    else w.key("error_pct").null();
    if (r.best) {
      w.key("plan").begin_object();
      plan_json(w, r.best->plan);
      w.end_object();
      w.member("backend", r.best->backend);
      w.member("tokens_per_s_per_gpu", *r.predicted_tokens_per_s_per_gpu);
      w.member("mfu", *r.predicted_mfu);
      w.member("memory_per_gpu_gib", r.best->memory.peak.total().value() / kGiB);
      if (r.memory_error_pct) w.member("memory_error_pct", *r.memory_error_pct);
      w.key("breakdown");
      breakdown_json(w, r.best->breakdown.mean);
    } else {
      w.key("plan").null();
    }
    if (!c.rank_group.empty()) w.member("rank_group", c.rank_group);
    if (c.measured_peak_memory_gib) w.member("measured_peak_memory_gib", *c.measured_peak_memory_gib);
    if (c.measured_rank_value) {
      w.member("measured_key", c.measured_rank_key);
      w.member("measured_value", *c.measured_rank_value);
    }
    w.key("assumptions").begin_array();
    for (const auto& a : c.assumptions) w.value(a);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.key("summary").begin_object();
  w.member("cases", s.cases);
  w.member("ok", s.ok);
  w.member("infeasible", s.infeasible);
  w.member("unsupported", s.unsupported);
  w.member("errors", s.errors);
  w.member("incomplete", s.incomplete);
  w.member("scored", s.scored);
  w.member("mape_pct", s.mape);
  auto stats = [&w](const scenario::ErrorStats& e) {
    w.begin_object();
    w.member("name", e.name);
    w.member("scored", e.scored);
    w.member("mape_pct", e.mape);
    w.member("mean_signed_error_pct", e.mean_signed);
    w.member("too_fast", e.too_fast);
    w.member("too_slow", e.too_slow);
    w.end_object();
  };
  w.member("mean_signed_error_pct", s.overall.mean_signed);
  w.member("too_fast", s.overall.too_fast);
  w.member("too_slow", s.overall.too_slow);
  w.key("by_source").begin_array();
  for (const auto& e : s.by_source) stats(e);
  w.end_array();
  w.key("by_gpu").begin_array();
  for (const auto& e : s.by_gpu) stats(e);
  w.end_array();
  w.member("memory_scored", s.memory_scored);
  w.member("memory_mape_pct", s.memory_mape);
  w.member("memory_worst_pct", s.memory_worst);
  w.key("rank_groups").begin_array();
  for (const auto& g : s.groups) {
    w.begin_object();
    w.member("group", g.group);
    if (g.tau) w.member("kendall_tau", *g.tau);
    else w.key("kendall_tau").null().member("reason", g.reason);
    w.key("cases").begin_array();
    for (const auto& id : g.ids) w.value(id);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  w.end_object();
  return w.str();
}

}  // namespace strata::cli
