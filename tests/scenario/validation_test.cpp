#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/scenario/validation.hpp"

using strata::scenario::kendall_tau;

TEST_CASE("validation: Kendall's tau of agreeing, reversed and tied orders") {
  CHECK(kendall_tau({1, 2, 3, 4}, {10, 20, 30, 40}) == doctest::Approx(1.0));
  CHECK(kendall_tau({1, 2, 3, 4}, {4, 3, 2, 1}) == doctest::Approx(-1.0));
  // One discordant pair out of six: (5 - 1) / 6.
  CHECK(kendall_tau({1, 2, 3, 4}, {1, 2, 4, 3}) == doctest::Approx(4.0 / 6.0));
  // tau-b with a tie in one ranking: (C - D) / sqrt((n0 - n1)(n0 - n2)) = 5 / sqrt(6 * 5).
  CHECK(kendall_tau({1, 2, 3, 4}, {1, 1, 3, 4}) == doctest::Approx(5.0 / std::sqrt(30.0)));
  CHECK(kendall_tau({1}, {1}) == 0.0);
}

TEST_CASE("validation: the summary reports bias beside spread, overall, per source and per GPU") {
  using strata::scenario::CaseResult;
  using strata::scenario::ValidationCase;
  // Errors by hand: source A on a100 -10, -30; source B on h100 +20; one unscored ok case and an
  // infeasible one, which enter neither statistic.
  std::vector<ValidationCase> cases(5);
  std::vector<CaseResult> results(5);
  const char* sources[] = {"A", "A", "B", "B", "A"};
  const char* gpus[] = {"a100", "a100", "h100", "h100", "a100"};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    cases[i].id = results[i].id = "c" + std::to_string(i);
    cases[i].source = sources[i];
    cases[i].cluster.gpu.name = gpus[i];
    results[i].status = "ok";
  }
  results[0].error_pct = -10.0;
  results[1].error_pct = -30.0;
  results[2].error_pct = 20.0;
  results[4].status = "infeasible";
  const auto s = strata::scenario::summarize(cases, results);
  CHECK(s.scored == 3);
  CHECK(s.mape == doctest::Approx(20.0));
  CHECK(s.overall.scored == 3);
  CHECK(s.overall.mape == doctest::Approx(s.mape));
  CHECK(s.overall.mean_signed == doctest::Approx(-20.0 / 3.0));
  CHECK(s.overall.too_fast == 2);
  CHECK(s.overall.too_slow == 1);
  REQUIRE(s.by_source.size() == 2);
  CHECK(s.by_source[0].name == "A");
  CHECK(s.by_source[0].scored == 2);
  CHECK(s.by_source[0].mean_signed == doctest::Approx(-20.0));
  CHECK(s.by_source[0].mape == doctest::Approx(20.0));
  CHECK(s.by_source[0].too_fast == 2);
  CHECK(s.by_source[1].name == "B");
  CHECK(s.by_source[1].mean_signed == doctest::Approx(20.0));
  CHECK(s.by_source[1].too_slow == 1);
  REQUIRE(s.by_gpu.size() == 2);
  CHECK(s.by_gpu[0].name == "a100");
  CHECK(s.by_gpu[0].scored == 2);
  CHECK(s.by_gpu[1].name == "h100");
  CHECK(s.by_gpu[1].scored == 1);
  // Mismatched inputs are a programming error, reported, not read past the end.
  results.pop_back();
  CHECK_THROWS_AS((void)strata::scenario::summarize(cases, results), std::invalid_argument);
}
