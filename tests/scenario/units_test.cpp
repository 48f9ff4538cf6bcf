#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

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

TEST_CASE("units: values outside the physical ranges are refused, zero is left to the caller") {
  for (const char* s : {"1e300Tbps", "1e-300bps", "10bps", "2PB/s", "1e300TB", "0.5B", "2PiB", "7200s", "0.1ns",
                        "1e300TFLOPS", "100FLOPS", "1e-400s", "nan s", "infTB"}) {
    INFO(s);
    const auto f = [&] {
      const std::string v = s;
      if (v.find("bps") != std::string::npos || v.find("B/s") != std::string::npos) (void)parse_byte_rate(v);
      else if (v.find("FLOP") != std::string::npos) (void)parse_flop_rate(v);
      else if (v.back() == 's') (void)parse_seconds(v);
      else (void)parse_bytes(v);
    };
    CHECK_THROWS_AS(f(), std::invalid_argument);
  }
  // The ends of each range are in it.
  CHECK(parse_byte_rate("1Kbps").value() == 125);
  CHECK(parse_byte_rate("1PB/s").value() == 1e15);
  CHECK(parse_bytes("1PiB").value() == 1125899906842624.0);
  CHECK(parse_bytes("1B").value() == 1);
  CHECK(parse_seconds("1ns").value() == doctest::Approx(1e-9));
  CHECK(parse_seconds("3600s").value() == 3600);
  CHECK(parse_flop_rate("1GFLOPS").value() == 1e9);
  CHECK(parse_flop_rate("1000PFLOPS").value() == 1e18);
  CHECK(parse_bytes("0B").value() == 0);
  CHECK(parse_byte_rate("0Gbps").value() == 0);
  CHECK(parse_seconds("0us").value() == 0);
  // A long or binary value is clipped and escaped in the message.
  try {
    (void)parse_bytes(std::string(10000, '9') + "\x01TB");
    FAIL("accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).size() < 250);
    CHECK(std::string(e.what()).find('\x01') == std::string::npos);
  }
}

TEST_CASE("units: property: any string is a value or std::invalid_argument") {
  std::uint64_t state = 12345;
  const auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<unsigned>(state >> 33);
  };
  std::string alphabet = "0123456789.eE+-x infatyKMGTPiBbps/FLOPSmun";
  alphabet += '\0';
  alphabet += '\xff';
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (unsigned n = next() % 12; n > 0; --n) s += alphabet[next() % alphabet.size()];
    for (auto parse : {+[](std::string_view v) { return parse_bytes(v).value(); },
                       +[](std::string_view v) { return parse_byte_rate(v).value(); },
                       +[](std::string_view v) { return parse_seconds(v).value(); },
                       +[](std::string_view v) { return parse_flop_rate(v).value(); }}) {
      try {
        const double v = parse(s);
        CHECK(std::isfinite(v));
        CHECK(v >= 0);
      } catch (const std::invalid_argument&) {
      }
    }
  }
}
