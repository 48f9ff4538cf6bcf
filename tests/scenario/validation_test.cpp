#include <doctest/doctest.h>

#include <stdexcept>

#include <cmath>

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
