#include <doctest/doctest.h>

#include <stdexcept>

#include "strata/sim/units.hpp"

using namespace strata::sim;

TEST_CASE("units: a rate times a duration and an amount over a rate") {
  const Bytes b(1e9);
  const ByteRate r(100e9);
  CHECK((b / r).value() == doctest::Approx(0.01));
  CHECK((r * Seconds(2)).value() == doctest::Approx(200e9));
  CHECK((Flops(312e12) / FlopRate(312e12)).value() == doctest::Approx(1.0));
  CHECK((Flops(10) / Seconds(2)).value() == doctest::Approx(5.0));
}

TEST_CASE("units: same-unit arithmetic and ordering") {
  Seconds a(1.5), b(0.5);
  CHECK((a + b).value() == 2.0);
  CHECK((a - b).value() == 1.0);
  CHECK(a / b == 3.0);
  CHECK((a * 2.0).value() == 3.0);
  CHECK(b < a);
  a += b;
  CHECK(a.value() == 2.0);
}
