// `strata validate` on a small subset of the published calibration cases.

#include <doctest/doctest.h>

#include <stdexcept>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

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
  CHECK(cases.at("torchtitan_2024-12_table2_8B_4").at("status") == "unsupported");
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
