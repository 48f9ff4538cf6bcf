// Golden tests: `strata simulate --json` on the bundled scenarios against stored results.
// Numbers must agree to a relative tolerance of 1e-6 (strings and structure exactly); a change
// of prediction shows up here. Regenerate after an intended change with
//   STRATA_UPDATE_GOLDEN=1 ctest -R golden
// and explain the change in the commit.

#include <doctest/doctest.h>

#include <stdexcept>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support.hpp"

using nlohmann::json;

namespace {

constexpr double kTolerance = 1e-6;

void compare(const json& expected, const json& actual, const std::string& path) {
  INFO("at " << path);
  REQUIRE(expected.type() == actual.type());
  if (expected.is_object()) {
    REQUIRE(expected.size() == actual.size());
    for (const auto& [k, v] : expected.items()) {
      REQUIRE(actual.contains(k));
      compare(v, actual.at(k), path + "." + k);
    }
  } else if (expected.is_array()) {
    REQUIRE(expected.size() == actual.size());
    for (std::size_t i = 0; i < expected.size(); ++i) compare(expected[i], actual[i], path + "[" + std::to_string(i) + "]");
  } else if (expected.is_number_float()) {
    const double e = expected.get<double>(), a = actual.get<double>();
    CHECK(std::fabs(a - e) <= kTolerance * std::max(1.0, std::fabs(e)));
  } else {
    CHECK(expected == actual);
  }
}

void golden(const std::string& name, const std::string& scenario, const std::string& plan) {
  strata::test::TempDir d;
  const auto out = d.path() / "out.json";
  const auto r = strata::test::run_strata("simulate " + (strata::test::source_dir() / "scenarios" / scenario).string() +
                                          " --plan '" + plan + "' --json '" + out.string() + "'");
  REQUIRE(r.code == 0);
  std::ifstream in(out);
  const json actual = json::parse(in);
  const auto file = strata::test::golden_dir() / (name + ".json");
  if (std::getenv("STRATA_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(file) << actual.dump(2) << "\n";
    MESSAGE("updated " << file.string());
  }
  std::ifstream gin(file);
  REQUIRE_MESSAGE(gin, "missing golden file " << file.string());
  compare(json::parse(gin), actual, name);
}

}  // namespace

TEST_CASE("golden: GPT-3 175B, interleaved 1F1B with sequence parallelism, on SimGrid") {
  golden("simulate_gpt3_175b", "gpt3-175b-1024xa100.yaml",
         "tp=8 pp=8 dp=16 mbs=1 vpp=2 sp=on recompute=selective zero=1 schedule=interleaved-1f1b");
}

TEST_CASE("golden: Llama 3 70B, 1F1B with full recomputation, on SimGrid") {
  golden("simulate_llama3_70b", "llama3-70b-512xh100.yaml",
         "tp=8 pp=4 dp=16 mbs=1 sp=on recompute=full zero=1 schedule=1f1b");
}
