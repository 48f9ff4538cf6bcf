// Op tables: the text format, and TableCost against the roofline it must reproduce where the
// table was measured from it, interpolate between, and fall back to where it has nothing.

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

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
  // Plain variables, not a structured binding: INFO captures them in a lambda, which clang 14
  // refuses for structured bindings.
  for (const auto& shape : {std::array{3072L, 3072L, 3072L}, {6144L, 1536L, 5120L}, {2560L, 7168L, 1536L}}) {
    const long m = shape[0], n = shape[1], k = shape[2];
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

TEST_CASE("op table: rows as wide as the header, each column once, every cell in range") {
  const std::string header = "kind,name,dtype,m,n,k,batch,flops,bytes,time_us,repeats";
  const auto error = [](const std::string& text) -> std::string {
    try {
      (void)strategy::parse_op_table(text, "t.csv");
    } catch (const strategy::OpTableError& e) {
      return e.what();
    } catch (const std::exception& e) {
      FAIL("not an OpTableError: " << e.what());
    }
    return "";
  };
  const std::string row = "gemm,qkv,bf16,8192,6144,4096,1,4.1e11,1.2e8,690.5,50\n";
  // An extra header column: the rows are one cell short (was std::out_of_range).
  CHECK(error("kind,name,dtype,m,n,k,batch,flops,bytes,time_us,extra,repeats\n" + row)
            .find("t.csv:2: row: has 11 cells, the header has 12") != std::string::npos);
  CHECK(error(header + "\ngemm,qkv,bf16,8192,6144,4096,1,4.1e11,1.2e8,690.5,50,7\n").find("has 12 cells") != std::string::npos);
  CHECK(error("kind,name,dtype,m,n,k,batch,flops,bytes,time_us,repeats,m\n" + row).find("t.csv:1: m: column given twice") !=
        std::string::npos);
  CHECK(error("# gpu: a\n# gpu: b\n" + header + "\n" + row).find("t.csv:2: header: 'gpu' given twice (first on line 1)") !=
        std::string::npos);
  // An extra column with a cell in every row is read around.
  CHECK(error("kind,name,dtype,m,n,k,batch,flops,bytes,time_us,extra,repeats\ngemm,qkv,bf16,8192,6144,4096,1,4.1e11,1.2e8,690.5,x,50\n")
            .empty());
  const auto with = [&](const std::string& column, const std::string& value) {
    std::string r = "gemm,qkv,bf16,8192,6144,4096,1,4.1e11,1.2e8,690.5,50";
    const std::vector<std::string> cols{"kind", "name", "dtype", "m", "n", "k", "batch", "flops", "bytes", "time_us", "repeats"};
    std::vector<std::string> cells;
    std::string cur;
    for (char c : r + ",") {
      if (c == ',') cells.push_back(cur), cur.clear();
      else cur += c;
    }
    cells[static_cast<std::size_t>(std::find(cols.begin(), cols.end(), column) - cols.begin())] = value;
    std::string out;
    for (const auto& c : cells) out += (out.empty() ? "" : ",") + c;
    return error(header + "\n" + out + "\n");
  };
  for (const auto& cv : std::vector<std::pair<std::string, std::string>>{
           {"repeats", "4294967297"}, {"repeats", "0"}, {"repeats", "-1"}, {"m", "1e3"}, {"m", "99999999999999"},
           {"time_us", "nan"}, {"time_us", "inf"}, {"time_us", "1e-9"}, {"time_us", "1e12"}, {"flops", "1e300"},
           {"flops", "1e-30"}, {"bytes", "1e16"}, {"bytes", "-1"}, {"name", "\"a\x01b\""}, {"name", "\"open"}}) {
    const std::string e = with(cv.first, cv.second);
    INFO(cv.first << "=" << cv.second << ": " << e);
    CHECK(e.find("t.csv:2: ") != std::string::npos);
  }
}

TEST_CASE("op table: long and quoted names round-trip whole") {
  OpTable t;
  t.meta = {{"gpu", "x"}, {"made_by", "a line\nbreak"}};
  const std::string long_name(2000, 'n');
  for (const std::string& name : {long_name, std::string("with, comma"), std::string("with \"quotes\""), std::string(" edge ")})
    t.samples.push_back({OpClass::elementwise, name, topo::Precision::bf16, 0, 0, 0, 0, sim::Flops(0), sim::Bytes(1e6),
                         sim::Seconds(1e-5), 3});
  const std::string text = strategy::format_op_table(t);
  CHECK(text.find(long_name + ",bf16") != std::string::npos);  // was cut at 512 bytes
  const OpTable back = strategy::parse_op_table(text, "t.csv");
  REQUIRE(back.samples.size() == t.samples.size());
  for (std::size_t i = 0; i < t.samples.size(); ++i) CHECK(back.samples[i].name == t.samples[i].name);
  CHECK(back.meta.at("made_by") == "a line\\nbreak");  // one line, not an injected row
  // Tables built in code are checked the same way by TableCost.
  OpTable bad;
  bad.samples.push_back({OpClass::gemm, "g", topo::Precision::bf16, 1, 1, 1, 1, sim::Flops(2), sim::Bytes(6),
                         sim::Seconds(std::numeric_limits<double>::infinity()), 1});
  CHECK_THROWS_AS(strategy::TableCost(bad, topo::Precision::bf16, roofline()), std::invalid_argument);
  bad.samples[0].time = sim::Seconds(1e-5);
  bad.samples[0].flops = sim::Flops(std::nan(""));
  CHECK_THROWS_AS(strategy::TableCost(bad, topo::Precision::bf16, roofline()), std::invalid_argument);
}

TEST_CASE("op table: property: any text is a table or an OpTableError, and what parses prices finitely") {
  std::uint64_t state = 99;
  const auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<unsigned>(state >> 33);
  };
  const std::vector<std::string> pieces{"gemm", "attention", "elementwise", "qkv", "norm1", "bf16", "fp8", "0", "1",
                                        "4096", "1e-3", "1e24", "1e15", "nan", "-1", "\"", "\"a,b\"", ",", ",", ",",
                                        "\n", "# gpu: x\n", "kind,name,dtype,m,n,k,batch,flops,bytes,time_us,repeats\n"};
  int parsed = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string s = "kind,name,dtype,m,n,k,batch,flops,bytes,time_us,repeats\n";
    for (unsigned n = next() % 40; n > 0; --n) s += pieces[next() % pieces.size()];
    OpTable t;
    try {
      t = strategy::parse_op_table(s, "p.csv");
    } catch (const strategy::OpTableError& e) {
      CHECK(std::string(e.what()).size() < 400);
      continue;
    }
    ++parsed;
    const OpTable back = strategy::parse_op_table(strategy::format_op_table(t), "f.csv");
    REQUIRE(back.samples.size() == t.samples.size());
    try {
      const strategy::TableCost c(t, topo::Precision::bf16, roofline());
      for (const auto& op : {gemm(4096, 4096, 4096), gemm(1, 1, 1)}) {
        const double sec = c.time(op).value();
        CHECK(std::isfinite(sec));
        CHECK(sec > 0);
      }
    } catch (const std::invalid_argument&) {
    }
  }
  CHECK(parsed > 50);
}
