#include <doctest/doctest.h>

#include <stdexcept>

#include "strata/scenario/units.hpp"

using namespace strata::scenario;

TEST_CASE("units: sizes, rates, durations and FLOP rates parse with their units") {
  CHECK(parse_bytes("80GiB").value() == 80.0 * 1024 * 1024 * 1024);
  CHECK(parse_bytes("141GB").value() == 141e9);
  CHECK(parse_bytes("512 MiB").value() == 512.0 * 1024 * 1024);
  CHECK(parse_byte_rate("900GB/s").value() == 900e9);
  CHECK(parse_byte_rate("400Gbps").value() == 50e9);
  CHECK(parse_byte_rate("200Gb/s").value() == 25e9);
  CHECK(parse_byte_rate("2.4TB/s").value() == doctest::Approx(2.4e12));
  CHECK(parse_seconds("1.5us").value() == doctest::Approx(1.5e-6));
  CHECK(parse_seconds("10ms").value() == doctest::Approx(0.01));
  CHECK(parse_seconds("500ns").value() == doctest::Approx(5e-7));
  CHECK(parse_flop_rate("989TFLOPS").value() == doctest::Approx(989e12));
  CHECK(parse_flop_rate("312TFLOP/s").value() == doctest::Approx(312e12));
}

TEST_CASE("units: a value without a known unit says what is expected") {
  CHECK_THROWS_WITH_AS(parse_bytes("80"), doctest::Contains("has no unit"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_byte_rate("400Gbit"), doctest::Contains("unknown bandwidth unit"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_seconds("fast"), doctest::Contains("not a duration"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_flop_rate("-5TFLOPS"), doctest::Contains(">= 0"), std::invalid_argument);
  CHECK_THROWS_AS(parse_bytes("inf GB"), std::invalid_argument);
}
