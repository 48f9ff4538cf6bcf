// Op tables: the text format, and TableCost against the roofline it must reproduce where the
// table was measured from it, interpolate between, and fall back to where it has nothing.

#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>

#include "common.hpp"
#include "strata/strategy/op_table.hpp"

using namespace strata;
using strategy::OpClass;
using strategy::OpSample;
using strategy::OpTable;

namespace {

double rel(double a, double b) { return std::fabs(a - b) / std::fabs(b); }

strategy::RooflineCost roofline() { return {test::test_gpu(), topo::Precision::bf16}; }

strategy::Op gemm(long m, long n, long k, long batch = 1) {
  return {"g", strategy::Gemm{m, n, k, batch}, sim::Flops(2.0 * m * n * k * batch),
          sim::Bytes(2.0 * (m * k + k * n + m * n) * batch)};
}

// A table "measured" from the roofline on a log2 grid of GEMMs, `scale` times slower.
OpTable grid(double scale) {
  OpTable t;
  t.meta["gpu"] = "test-gpu";
  const auto r = roofline();
  for (long m : {1024L, 2048L, 4096L, 8192L})
    for (long n : {1024L, 2048L, 4096L, 8192L})
      for (long k : {1024L, 2048L, 4096L, 8192L}) {
        const auto op = gemm(m, n, k);
        OpSample s{OpClass::gemm, "g", topo::Precision::bf16, m, n, k, 1, op.flops, op.bytes, r.time(op) * scale, 5};
        t.samples.push_back(s);
      }
  return t;
}

}  // namespace

TEST_CASE("op table: the text format round-trips and bad rows name the file, line and column") {
  OpTable t = grid(1.0);
  t.meta["device"] = "NVIDIA H100 80GB HBM3";
  t.samples.push_back({OpClass::attention, "flash_attention", topo::Precision::bf16, 0, 0, 0, 0, sim::Flops(1e12),
                       sim::Bytes(1e8), sim::Seconds(3e-3), 20});
  t.samples.push_back({OpClass::elementwise, "norm1", topo::Precision::bf16, 0, 0, 0, 0, sim::Flops(0),
                       sim::Bytes(6.7e7), sim::Seconds(40e-6), 20});
  const std::string text = strategy::format_op_table(t);
  const OpTable back = strategy::parse_op_table(text, "t.csv");
  CHECK(back.gpu() == "test-gpu");
  CHECK(back.meta.at("device") == "NVIDIA H100 80GB HBM3");
  REQUIRE(back.samples.size() == t.samples.size());
  for (std::size_t i = 0; i < t.samples.size(); ++i) {
    CHECK(back.samples[i].kind == t.samples[i].kind);
    CHECK(back.samples[i].m == t.samples[i].m);
    CHECK(rel(back.samples[i].time.value(), t.samples[i].time.value()) < 1e-5);
  }
  const std::string header = "# gpu: x\nkind,name,dtype,m,n,k,batch,flops,bytes,time_us,repeats\n";
  CHECK_THROWS_WITH_AS(strategy::parse_op_table(header + "gemm,qkv,bf17,1,1,1,1,2,6,1.0,1\n", "t.csv"),
                       doctest::Contains("t.csv:3: dtype: 'bf17' is not"), strategy::OpTableError);
  CHECK_THROWS_WITH_AS(strategy::parse_op_table(header + "gemm,qkv,bf16,1,1,1,1,2,6,0,1\n", "t.csv"),
                       doctest::Contains("t.csv:3: time_us: must be positive"), strategy::OpTableError);
  CHECK_THROWS_WITH_AS(strategy::parse_op_table(header + "conv,qkv,bf16,1,1,1,1,2,6,1,1\n", "t.csv"),
                       doctest::Contains("t.csv:3: kind: 'conv'"), strategy::OpTableError);
  CHECK_THROWS_WITH_AS(strategy::parse_op_table(header + "gemm,qkv,bf16,0,1,1,1,2,6,1,1\n", "t.csv"),
                       doctest::Contains("a gemm row needs m, n, k and batch"), strategy::OpTableError);
  CHECK_THROWS_WITH_AS(strategy::parse_op_table("# gpu: x\nkind,name,dtype\n", "t.csv"),
                       doctest::Contains("t.csv:2: m: missing column"), strategy::OpTableError);
  CHECK_THROWS_AS(strategy::parse_op_table("# only comments\n", "t.csv"), strategy::OpTableError);
}

TEST_CASE("op table: measured GEMMs are returned exactly, interpolated in log shape, and the rest falls back") {
  const auto r = roofline();
  const strategy::TableCost slow(grid(2.0), topo::Precision::bf16, roofline());
  // On the grid: the measured time.
  CHECK(rel(slow.time(gemm(4096, 2048, 8192)).value(), 2 * r.time(gemm(4096, 2048, 8192)).value()) < 1e-12);
  CHECK(slow.coverage().exact == 1);
  // Between grid points: the neighbours' efficiency, within a few per cent of the (smooth, large-
  // shape) roofline it was measured from.
  for (auto [m, n, k] : {std::tuple{3072L, 3072L, 3072L}, {6144L, 1536L, 5120L}, {2560L, 7168L, 1536L}}) {
    INFO(m << " " << n << " " << k);
    CHECK(rel(slow.time(gemm(m, n, k)).value(), 2 * r.time(gemm(m, n, k)).value()) < 0.08);
  }
  CHECK(slow.coverage().interpolated == 3);
  // Far from every measured shape (more than two octaves): the roofline, not an extrapolation.
  CHECK(slow.time(gemm(64, 64, 64)).value() == r.time(gemm(64, 64, 64)).value());
  CHECK(slow.time(gemm(4096, 4096, 4096, 64)).value() == r.time(gemm(4096, 4096, 4096, 64)).value());
  CHECK(slow.coverage().fallback == 2);
  // Another precision's samples are ignored.
  const strategy::TableCost fp16(grid(2.0), topo::Precision::fp16, strategy::RooflineCost(test::test_gpu(), topo::Precision::fp16));
  CHECK(fp16.time(gemm(4096, 2048, 8192)).value() == strategy::RooflineCost(test::test_gpu(), topo::Precision::fp16)
                                                          .time(gemm(4096, 2048, 8192))
                                                          .value());
}

TEST_CASE("op table: attention by FLOPs and memory-bound kernels by a bytes/bandwidth fit") {
  OpTable t;
  const double peak = test::test_gpu().peak_at(topo::Precision::bf16).value();
  // Attention at 40 % of peak at 1 TFLOP and 50 % at 4 TFLOP.
  t.samples.push_back({OpClass::attention, "flash_attention", topo::Precision::bf16, 0, 0, 0, 0, sim::Flops(1e12),
                       sim::Bytes(0), sim::Seconds(1e12 / (0.4 * peak)), 10});
  t.samples.push_back({OpClass::attention, "flash_attention", topo::Precision::bf16, 0, 0, 0, 0, sim::Flops(4e12),
                       sim::Bytes(0), sim::Seconds(4e12 / (0.5 * peak)), 10});
  // A norm at 5 us + bytes / 1.6 TB/s, measured at three sizes.
  for (double b : {1e7, 1e8, 1e9})
    t.samples.push_back({OpClass::elementwise, "norm1", topo::Precision::bf16, 0, 0, 0, 0, sim::Flops(0), sim::Bytes(b),
                         sim::Seconds(5e-6 + b / 1.6e12), 10});
  const strategy::TableCost c(t, topo::Precision::bf16, roofline());
  const strategy::Op mid{"flash_attention", strategy::FusedAttention{false}, sim::Flops(2e12), sim::Bytes(0)};
  CHECK(rel(c.time(mid).value(), 2e12 / (0.45 * peak)) < 1e-9);  // halfway in log FLOPs
  const strategy::Op bwd{"flash_attention_bwd", strategy::FusedAttention{true}, sim::Flops(2e12), sim::Bytes(0)};
  CHECK(c.time(bwd).value() == roofline().time(bwd).value());  // not measured: roofline
  const strategy::Op norm{"norm1", strategy::Elementwise{}, sim::Flops(0), sim::Bytes(3e8)};
  CHECK(rel(c.time(norm).value(), 5e-6 + 3e8 / 1.6e12) < 1e-9);
  // norm2 and the final norm are the same kernel family.
  const strategy::Op final_norm{"final_norm", strategy::Elementwise{}, sim::Flops(0), sim::Bytes(3e8)};
  CHECK(rel(c.time(final_norm).value(), 5e-6 + 3e8 / 1.6e12) < 1e-9);
  CHECK(strategy::kernel_family("residual2_bwd") == "residual_bwd");
  const strategy::Op other{"softmax", strategy::Elementwise{}, sim::Flops(0), sim::Bytes(3e8)};
  CHECK(c.time(other).value() == roofline().time(other).value());
  CHECK(c.name() == "table:(in memory)");
}
