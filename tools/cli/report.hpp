#pragma once
// Rendering of results: terminal tables, JSON and CSV. Every number carries its unit, either in
// the column header or in the key name.

#include <string>
#include <vector>

#include "json.hpp"
#include "strata/scenario/loader.hpp"
#include "strata/scenario/validation.hpp"
#include "strata/strategy/search.hpp"

namespace strata::cli {

/// The plan's fields as JSON members of the current object.
void plan_json(JsonWriter& w, const strategy::Plan& p);
/// One timed plan as a JSON object (plan, step time, throughput, MFU, memory, breakdown).
void result_json(JsonWriter& w, const strategy::Problem& pb, const strategy::PlanResult& r);
/// Scenario header as JSON members of the current object.
void problem_json(JsonWriter& w, const strategy::Problem& pb);

/// The ranking table for a terminal: the first `top` ranked plans (never a failed one), then one
/// line per plan whose replay failed ("failed: PLAN (backend): why"), at most `max_failed` of them.
std::string rank_table(const strategy::Problem& pb, const strategy::SearchResult& s, int top,
                       std::size_t max_failed = 50);
/// A plan whose replay failed as a JSON object: plan string, backend, error, analytical step
/// time (s, null when the analytical replay is the one that failed).
void failed_json(JsonWriter& w, const strategy::FailedPlan& f);
/// The search counters (enumerated, infeasible by reason, screened, simulated).
std::string search_summary(const strategy::SearchStats& s);
/// CSV of the first `top` ranked plans (status "ok"), then the plans whose replay failed (status
/// "failed", no rank and no times, the reason in "error"), one row per plan, header first.
std::string rank_csv(const strategy::Problem& pb, const strategy::SearchResult& s, int top);
/// A detailed text report of one plan.
std::string plan_report(const strategy::Problem& pb, const strategy::PlanResult& r);
/// Short description of the problem (model, cluster, batch).
std::string problem_header(const strategy::Problem& pb);

/// The validation table for a terminal.
std::string validation_table(const std::vector<scenario::ValidationCase>& cases,
                             const std::vector<scenario::CaseResult>& results, const scenario::Summary& s);
/// The validation results as JSON.
std::string validation_json(const std::vector<scenario::ValidationCase>& cases,
                            const std::vector<scenario::CaseResult>& results, const scenario::Summary& s);

}  // namespace strata::cli
