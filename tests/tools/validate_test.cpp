// `strata validate` on a small subset of the published calibration cases.

#include <doctest/doctest.h>

#include <stdexcept>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "strata/scenario/cases.hpp"
#include "support.hpp"

using nlohmann::json;

TEST_CASE("validate: a subset of published runs is predicted within 30% each, 15% on average, ranked in order") {
  strata::test::TempDir d;
  const auto out = d.path() / "v.json";
  const std::string ids =
      "narayanan2021_table1_1.7B,narayanan2021_table1_145.6B,megatron_readme_2020-09_dgxa100_mp_1B,"
      "narayanan2021_fig14_B512_p2_d32,narayanan2021_fig14_B512_p8_d8,narayanan2021_fig14_B512_p32_d2,"
      "torchtitan_2024-12_table4_70B_10,torchtitan_2024-12_table5_405B_13,torchtitan_2024-12_table2_8B_4,"
      "narayanan2021_fig16_B128_mbs1";
  const auto r = strata::test::run_strata("validate '" + (strata::test::validation_dir() / "calibration.yaml").string() +
                                          "' --quiet --only " + ids + " --json '" + out.string() + "'");
  INFO(r.out);
  REQUIRE(r.code == 0);
  std::ifstream in(out);
  const json j = json::parse(in);
  std::map<std::string, json> cases;
  for (const auto& c : j.at("cases")) cases[c.at("id").get<std::string>()] = c;
  REQUIRE(cases.size() == 10);
  for (const char* id : {"narayanan2021_table1_1.7B", "narayanan2021_table1_145.6B",
                         "megatron_readme_2020-09_dgxa100_mp_1B", "torchtitan_2024-12_table4_70B_10",
                         "torchtitan_2024-12_table5_405B_13"}) {
    const json& c = cases.at(id);
    INFO(id);
    CHECK(c.at("status") == "ok");
    CHECK(std::fabs(c.at("error_pct").get<double>()) <= 30.0);
    CHECK(c.at("predicted_iteration_s").get<double>() > 0);
    CHECK(c.at("plan").at("tp") == cases.at(id).at("plan").at("tp"));
  }
  CHECK(cases.at("narayanan2021_table1_145.6B").at("plan").at("tp") == 8);
  CHECK(cases.at("narayanan2021_table1_145.6B").at("plan").at("pp") == 8);
  // Context parallelism is modelled: the published cp=2 is kept, the peak memory compared.
  CHECK(cases.at("torchtitan_2024-12_table2_8B_4").at("status") == "ok");
  CHECK(cases.at("torchtitan_2024-12_table2_8B_4").at("plan").at("cp") == 2);
  CHECK(cases.at("torchtitan_2024-12_table2_8B_4").at("measured_peak_memory_gib").get<double>() == 84.2);
  CHECK(cases.at("torchtitan_2024-12_table2_8B_4").contains("memory_error_pct"));
  CHECK(cases.at("narayanan2021_fig16_B128_mbs1").at("status") == "unsupported");
  CHECK(cases.at("narayanan2021_fig14_B512_p2_d32").at("error_pct").is_null());  // no target

  const json& s = j.at("summary");
  CHECK(s.at("scored") == 5);
  CHECK(s.at("mape_pct").get<double>() <= 15.0);
  // Every rank group is listed; one whose cases cannot be predicted has no tau, and says why.
  REQUIRE(s.at("rank_groups").size() == 2);
  std::map<std::string, json> groups;
  for (const auto& g : s.at("rank_groups")) groups[g.at("group").get<std::string>()] = g;
  CHECK(groups.at("narayanan2021_fig14_B512").at("kendall_tau").get<double>() == doctest::Approx(1.0));
  CHECK(groups.at("narayanan2021_fig14_B512").at("cases").size() == 3);
  CHECK(groups.at("narayanan2021_fig16_B128").at("kendall_tau").is_null());
  CHECK(groups.at("narayanan2021_fig16_B128").at("reason").get<std::string>().find("fewer than two") != std::string::npos);
}

// Every published peak memory (torchtitan's, 18 runs) against the prediction for the plan the
// search chooses with the published fields fixed. torchtitan reports the caching allocator's
// peak reservation, which sits above the live tensors the model counts (fragmentation, cached
// blocks), so predictions are expected below, never far above. Fully specified runs (the plan
// fixes everything that changes memory: micro-batch, stages) are held to a tighter bound than
// runs whose micro-batch the search chose.
TEST_CASE("validate: peak memory per GPU against every published measurement") {
  strata::test::TempDir d;
  const auto out = d.path() / "m.json";
  const auto file = strata::test::validation_dir() / "calibration.yaml";
  std::string ids;
  for (const auto& c : strata::scenario::load_cases(file, strata::scenario::default_data_dirs()))
    if (c.measured_peak_memory_gib) ids += (ids.empty() ? "" : ",") + c.id;
  REQUIRE(!ids.empty());
  const auto r = strata::test::run_strata("validate '" + file.string() + "' --quiet --only " + ids + " --json '" +
                                          out.string() + "'");
  INFO(r.out);
  REQUIRE(r.code == 0);
  std::ifstream in(out);
  const json j = json::parse(in);
  int measured = 0, specified = 0;
  double specified_sum = 0;
  for (const auto& c : j.at("cases")) {
    if (!c.contains("measured_peak_memory_gib")) continue;
    ++measured;
    const std::string id = c.at("id").get<std::string>();
    INFO(id);
    REQUIRE(c.at("status") == "ok");
    const double err = c.at("memory_error_pct").get<double>();
    CHECK(err <= 10.0);   // never far above what the allocator reserved
    CHECK(err >= -50.0);  // nor half of it
    const bool full_plan = id.find("405B") == std::string::npos;  // 405B runs publish no micro-batch
    if (full_plan) {
      ++specified;
      specified_sum += std::fabs(err);
      CHECK(std::fabs(err) <= 30.0);
    }
  }
  CHECK(measured == 18);
  REQUIRE(specified == 12);
  CHECK(specified_sum / specified <= 15.0);
  CHECK(j.at("summary").at("memory_scored") == 18);
}

// DeepSpeed ZeRO-3 as it ran in 2021 (Narayanan et al. 2021, Table 2; kept in validation/, not
// calibrated on). The blocking per-matrix fetch is recorded per case; the bias it leaves is
// documented in docs/modeling.md and guarded here against regressing to the FSDP-style -64 %.
TEST_CASE("validate: DeepSpeed ZeRO-3 of 2021 runs its blocking fetch, recorded per case") {
  strata::test::TempDir d;
  const auto out = d.path() / "z3.json";
  const auto r = strata::test::run_strata("validate '" +
                                          (strata::test::source_dir() / "validation/narayanan2021_table2_zero3.yaml").string() +
                                          "' --quiet --json '" + out.string() + "'");
  INFO(r.out);
  REQUIRE(r.code == 0);
  std::ifstream in(out);
  const json j = json::parse(in);
  int ok = 0;
  for (const auto& c : j.at("cases")) {
    INFO(c.at("id").get<std::string>());
    bool recorded = false;
    for (const auto& a : c.at("assumptions")) recorded = recorded || a.get<std::string>().rfind("zero3=deepspeed-2021", 0) == 0;
    CHECK(recorded);
    // An infeasible case lists every rejection reason with its count, out of memory among them.
    if (c.at("status") == "infeasible") CHECK(c.at("reason").get<std::string>().find("out of memory: ") != std::string::npos);
    if (c.at("status") != "ok") continue;
    ++ok;
    CHECK(c.at("plan").at("zero") == 3);
    CHECK(c.at("plan").at("pp") == 1);
  }
  CHECK(ok >= 5);
  CHECK(j.at("summary").at("mean_signed_error_pct").get<double>() > -50.0);
}
