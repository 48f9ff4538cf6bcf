#include "strata/scenario/validation.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

namespace strata::scenario {

CaseResult run_case(const ValidationCase& c, const strategy::SearchOptions& options,
                    const strategy::OpCostModel* cost) {
  CaseResult r;
  r.id = c.id;
  r.target_s = c.target_iteration_s;
  r.measured_memory_gib = c.measured_peak_memory_gib;
  if (c.invalid) {
    r.status = "invalid";
    r.reason = *c.invalid;
    return r;
  }
  if (c.unsupported) {
    r.status = "unsupported";
    r.reason = *c.unsupported;
    return r;
  }
  const strategy::RooflineCost roofline(c.cluster.gpu, c.training.precision);
  strategy::Problem pb{c.model, c.training, c.cluster, cost != nullptr ? cost : &roofline};
  strategy::SearchResult s;
  try {
    s = strategy::search(pb, c.space, options);
  } catch (const std::exception& e) {
    // One case's failure is its own row; the other cases still run.
    r.status = "error";
    r.reason = e.what();
    return r;
  }
  r.stats = s.stats;
  if (s.ranked.empty() && !s.complete()) {
    r.status = "error";
    r.reason = "every plan's replay failed (" + std::to_string(s.failed.size()) + "): " + s.stats.errors.front();
    return r;
  }
  if (!s.complete()) {
    r.incomplete = true;
    r.reason = std::to_string(s.failed.size()) + " replay(s) failed, the best of the others is reported: " +
               s.stats.errors.front();
  }
  if (s.ranked.empty()) {
    r.status = "infeasible";
    // Every rejection reason with its count, the commonest first: the one that matters (out of
    // memory for a fixed plan) may be no more common than the search's structural rejections.
    std::vector<std::pair<std::int64_t, std::string>> reasons;
    for (const auto& [reason, n] : s.stats.infeasible) reasons.emplace_back(-n, reason);
    std::sort(reasons.begin(), reasons.end());
    std::string why;
    for (const auto& [n, reason] : reasons) why += (why.empty() ? "" : ", ") + reason + ": " + std::to_string(-n);
    r.reason = s.stats.enumerated == 0 ? "no plan matches the published fields"
                                       : "no feasible plan among " + std::to_string(s.stats.enumerated) +
                                             " (" + why + ")";
    if (!s.stats.errors.empty()) r.reason += "; " + s.stats.errors.front();
    return r;
  }
  r.status = "ok";
  r.best = s.ranked.front();
  const double t = r.best->step_time().value();
  r.predicted_s = t;
  r.predicted_tokens_per_s_per_gpu = strategy::tokens_per_second(pb, r.best->step_time()) / c.cluster.gpus;
  r.predicted_mfu = strategy::mfu(pb, r.best->step_time());
  if (c.target_iteration_s) r.error_pct = 100.0 * (t - *c.target_iteration_s) / *c.target_iteration_s;
  r.predicted_memory_gib = r.best->memory.peak.total().value() / sim::kGiB;
  if (c.measured_peak_memory_gib)
    r.memory_error_pct = 100.0 * (*r.predicted_memory_gib - *c.measured_peak_memory_gib) / *c.measured_peak_memory_gib;
  return r;
}

double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t n = std::min(a.size(), b.size());
  if (n < 2) return 0;
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) {
        ++ties_a;
      } else if (db == 0) {
        ++ties_b;
      } else if ((da > 0) == (db > 0)) {
        ++concordant;
      } else {
        ++discordant;
      }
    }
  }
  const double denom = std::sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b));
  return denom > 0 ? (concordant - discordant) / denom : 0.0;
}

namespace {

// Running sums of ErrorStats; done() turns them into means.
struct ErrorSums {
  int n = 0, fast = 0, slow = 0;
  double abs = 0, sum = 0;
  void add(double e) {
    ++n;
    abs += std::fabs(e);
    sum += e;
    if (e < 0) ++fast;
    else if (e > 0) ++slow;
  }
  [[nodiscard]] ErrorStats done(const std::string& name) const {
    ErrorStats st;
    st.name = name;
    st.scored = n;
    st.mape = n > 0 ? abs / n : 0.0;
    st.mean_signed = n > 0 ? sum / n : 0.0;
    st.too_fast = fast;
    st.too_slow = slow;
    return st;
  }
};

}  // namespace

Summary summarize(const std::vector<ValidationCase>& cases, const std::vector<CaseResult>& results) {
  if (cases.size() != results.size())
    throw std::invalid_argument("summarize: " + std::to_string(results.size()) + " results for " +
                                std::to_string(cases.size()) + " cases");
  Summary s;
  ErrorSums all;
  std::map<std::string, ErrorSums> by_source, by_gpu;
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> groups;
  std::map<std::string, std::vector<std::string>> group_ids;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const CaseResult& r = results[i];
    ++s.cases;
    if (r.status == "ok") ++s.ok;
    else if (r.status == "infeasible") ++s.infeasible;
    else if (r.status == "unsupported") ++s.unsupported;
    else ++s.errors;
    if (r.incomplete) ++s.incomplete;
    if (r.error_pct) {
      all.add(*r.error_pct);
      by_source[cases[i].source].add(*r.error_pct);
      by_gpu[cases[i].cluster.gpu.name].add(*r.error_pct);
    }
    if (r.memory_error_pct) {
      ++s.memory_scored;
      s.memory_mape += std::fabs(*r.memory_error_pct);
      s.memory_worst = std::max(s.memory_worst, std::fabs(*r.memory_error_pct));
    }
    const ValidationCase& c = cases[i];
    if (c.rank_group.empty()) continue;
    auto& g = groups[c.rank_group];
    auto& ids = group_ids[c.rank_group];
    if (c.measured_rank_value && r.predicted_tokens_per_s_per_gpu) {
      g.first.push_back(*c.measured_rank_value);
      g.second.push_back(*r.predicted_tokens_per_s_per_gpu);
      ids.push_back(c.id);
    }
  }
  s.overall = all.done("all");
  s.scored = s.overall.scored;
  s.mape = s.overall.mape;
  for (const auto& [name, sums] : by_source) s.by_source.push_back(sums.done(name));
  for (const auto& [name, sums] : by_gpu) s.by_gpu.push_back(sums.done(name));
  if (s.memory_scored > 0) s.memory_mape /= s.memory_scored;
  for (const auto& [name, v] : groups) {
    GroupScore g{name, group_ids[name], std::nullopt, ""};
    if (v.first.size() >= 2) g.tau = kendall_tau(v.first, v.second);
    else g.reason = "fewer than two cases with a published throughput and a prediction";
    s.groups.push_back(std::move(g));
  }
  return s;
}

}  // namespace strata::scenario
