// The profiler's trace model without CUDA: NVTX ranges, attribution of kernels to the op that
// launched them, op calls, and their conversion to op tables.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/profiler/tables.hpp"
#include "strata/profiler/trace.hpp"

using namespace strata;
using profiler::MarkerRecord;

namespace {

MarkerRecord start(std::uint32_t id, std::uint64_t t, std::uint64_t thread, const std::string& name) {
  return {MarkerRecord::Type::start, id, t, thread, name, ""};
}
MarkerRecord end(std::uint32_t id, std::uint64_t t, std::uint64_t thread) {
  return {MarkerRecord::Type::end, id, t, thread, "", ""};
}
profiler::KernelRecord kernel(std::uint32_t correlation, std::uint64_t s, std::uint64_t e, const std::string& name = "k") {
  profiler::KernelRecord k;
  k.name = name;
  k.start = s;
  k.end = e;
  k.correlation = correlation;
  return k;
}

// Thread 7 runs "step" around "aten::mm" and then "aten::add"; thread 9 runs "aten::mm" (a
// backward thread). Kernels run later on the GPU than their launches.
profiler::TraceData trace() {
  profiler::TraceData t;
  t.markers = {start(1, 100, 7, "step"),
               start(2, 110, 7, "aten::mm, seq = 3, op_id = 5, sizes = [[4096, 1024], [1024, 3072]], input_op_ids = []"),
               end(2, 200, 7),
               start(3, 210, 7, "aten::add, seq = 4, op_id = 6, sizes = [[4096, 3072], [4096, 3072], []]"),
               end(3, 260, 7),
               end(1, 300, 7),
               start(4, 120, 9, "aten::mm, seq = 3, op_id = 9, sizes = [[1024, 4096], [4096, 3072]]"),
               end(4, 180, 9)};
  // Correlation 1: launched by the runtime inside mm on thread 7 (the driver call under it too).
  t.api.push_back({true, 0, 120, 121, 1, 7, 1});
  t.api.push_back({false, 0, 115, 125, 1, 7, 1});
  t.api.push_back({false, 0, 130, 131, 1, 7, 2});  // a second kernel of the same mm
  t.api.push_back({false, 0, 220, 221, 1, 7, 3});  // add
  t.api.push_back({false, 0, 150, 151, 1, 9, 4});  // mm on thread 9
  t.api.push_back({false, 0, 280, 281, 1, 7, 5});  // inside "step" only
  t.api.push_back({false, 0, 400, 401, 1, 7, 6});  // outside every range
  t.kernels = {kernel(1, 1000, 1400), kernel(2, 1400, 1500), kernel(3, 1600, 1650), kernel(4, 1700, 2000),
               kernel(5, 2100, 2110), kernel(6, 2200, 2210)};
  t.memory.push_back({false, 4096, 900, 950, 0, 0, 1, 1});
  t.external.push_back({2, 42, 3});
  return t;
}

}  // namespace

TEST_CASE("trace: ranges pair by id and nest per thread") {
  const auto r = profiler::pair_ranges(trace().markers);
  REQUIRE(r.size() == 4);
  CHECK(r[0].name == "step");
  CHECK(r[0].depth == 0);
  CHECK(r[1].depth == 1);
  CHECK(r[1].start == 110);
  CHECK(r[1].end == 200);
  CHECK(r[3].thread == 9);
  CHECK(r[3].depth == 0);
  // An end without its start is ignored; a start without an end stays open.
  const auto open = profiler::pair_ranges({end(5, 10, 1), start(6, 20, 1, "open")});
  REQUIRE(open.size() == 1);
  CHECK(open[0].end == UINT64_MAX);
}

TEST_CASE("trace: kernels are attributed to the innermost range open where they were launched") {
  const auto t = trace();
  const auto a = profiler::attribute(t);
  REQUIRE(a.size() == 7);  // 6 kernels and a memcpy, in time order
  CHECK(a[0].kind == profiler::Attributed::Kind::memcpy);
  CHECK(a[0].op.rfind("aten::mm", 0) == 0);
  // Correlation 1 has a runtime and a driver record: the runtime call (at 115) decides.
  CHECK(a[1].op.rfind("aten::mm", 0) == 0);
  CHECK(a[1].path.rfind("step / aten::mm", 0) == 0);
  CHECK(a[1].range_start == 110);
  CHECK(a[2].range_start == 110);
  CHECK(a[3].op.rfind("aten::add", 0) == 0);
  CHECK(a[3].external_id == 42u);
  CHECK(a[4].op.rfind("aten::mm", 0) == 0);  // thread 9's own range
  CHECK(a[4].range_start == 120);
  CHECK(a[5].op == "step");
  CHECK(a[6].op.empty());
  CHECK(profiler::time_by_external_id(a).at(42) == 50);

  const auto calls = profiler::op_calls(a);
  REQUIRE(calls.size() == 4);
  // The first mm call: two kernels (400 + 100 ns) and the memcpy (50 ns).
  CHECK(calls[0].range_start == 100);
  CHECK(calls[0].op == "step");
  CHECK(calls[1].range_start == 110);
  CHECK(calls[1].seconds == doctest::Approx(550e-9));
  const auto back = profiler::parse_op_calls_csv(profiler::op_calls_csv(calls), "c.csv");
  REQUIRE(back.size() == calls.size());
  CHECK(back[1].op == calls[1].op);  // commas and quotes survive
  CHECK(back[1].seconds == doctest::Approx(calls[1].seconds));
  CHECK_THROWS_WITH_AS(profiler::parse_op_calls_csv("op,range_start_ns,time_ns\nx,1\n", "c.csv"),
                       doctest::Contains("c.csv:2:"), std::invalid_argument);
  const std::string csv = profiler::kernels_csv(t, a);
  CHECK(csv.find("\"step / aten::mm, seq = 3") != std::string::npos);
  CHECK(csv.find(",kernel,\"k\",1000,1400,400,") != std::string::npos);
}

TEST_CASE("trace: PyTorch's emit_nvtx names give the op and its input shapes") {
  const auto o = profiler::parse_nvtx_op(
      "aten::addmm, seq = 12, op_id = 7, sizes = [[3072], [4096, 1024], [1024, 3072], [], []], input_op_ids = [(3, 0)]");
  CHECK(o.op == "aten::addmm");
  CHECK(o.seq == 12);
  REQUIRE(o.sizes.size() == 5);
  CHECK(o.sizes[1] == std::vector<long>{4096, 1024});
  CHECK(o.sizes[3].empty());
  CHECK(profiler::parse_nvtx_op("forward").op == "forward");
  CHECK(profiler::parse_nvtx_op("forward").sizes.empty());
}

TEST_CASE("tables: aten ops become strata samples and repeated calls their median") {
  auto mm = profiler::sample_of(profiler::parse_nvtx_op("aten::mm, seq = 1, sizes = [[4096, 1024], [1024, 3072]]"), 2);
  REQUIRE(mm);
  CHECK(mm->kind == strategy::OpClass::gemm);
  CHECK(mm->m == 4096);
  CHECK(mm->n == 3072);
  CHECK(mm->k == 1024);
  CHECK(mm->flops.value() == 2.0 * 4096 * 3072 * 1024);
  auto bmm = profiler::sample_of(profiler::parse_nvtx_op("aten::bmm, sizes = [[32, 2048, 128], [32, 128, 2048]]"), 2);
  REQUIRE(bmm);
  CHECK(bmm->batch == 32);
  CHECK(bmm->n == 2048);
  auto lin = profiler::sample_of(profiler::parse_nvtx_op("aten::linear, sizes = [[2, 4096, 4096], [14336, 4096], []]"), 2);
  REQUIRE(lin);
  CHECK(lin->m == 8192);
  CHECK(lin->n == 14336);
  CHECK(lin->k == 4096);
  auto fa = profiler::sample_of(
      profiler::parse_nvtx_op("aten::_scaled_dot_product_flash_attention, sizes = [[1, 32, 8192, 128], [1, 8, 8192, 128], [1, 8, 8192, 128]]"), 2);
  REQUIRE(fa);
  CHECK(fa->name == "flash_attention");
  CHECK(fa->flops.value() == doctest::Approx(4.0 * 32 * 8192 * 8192 * 128 * 0.5));
  auto fb = profiler::sample_of(
      profiler::parse_nvtx_op("aten::_scaled_dot_product_flash_attention_backward, sizes = [[1, 32, 8192, 128], [1, 32, 8192, 128]]"), 2);
  REQUIRE(fb);
  CHECK(fb->name == "flash_attention_bwd");
  CHECK(fb->flops.value() == doctest::Approx(2.5 * fa->flops.value()));
  CHECK_FALSE(profiler::sample_of(profiler::parse_nvtx_op("aten::view, sizes = [[4, 4]]"), 2));

  const std::string name = "aten::mm, seq = 1, sizes = [[4096, 1024], [1024, 3072]]";
  const std::vector<profiler::OpCall> calls{{name, 1, 3e-3}, {name, 2, 1e-3}, {name, 3, 2e-3},
                                            {"aten::gelu, sizes = [[4096, 4096]]", 4, 1e-4}, {"step", 0, 1.0}};
  const auto t = profiler::table_from_calls(calls, topo::Precision::bf16, {{"gpu", "h100-sxm-80gb"}});
  CHECK(t.gpu() == "h100-sxm-80gb");
  REQUIRE(t.samples.size() == 2);
  const auto& g = t.samples[0].kind == strategy::OpClass::gemm ? t.samples[0] : t.samples[1];
  CHECK(g.time.value() == doctest::Approx(2e-3));  // the median of three calls
  CHECK(g.repeats == 3);
  CHECK(profiler::median({4, 1, 3, 2}) == 2.5);
}

TEST_CASE("trace: odd emit_nvtx strings give what is readable and never throw") {
  // Each of these threw std::out_of_range (a key at position 1, numbers that do not fit a long).
  for (const std::string& s : {std::string("aseq = 1, x"), std::string("a, seq = 99999999999999999999999"),
                               std::string("a, sizes = [[99999999999999999999999]]"), std::string("a, sizes = [[1, 2"),
                               std::string("a, sizes = ]]]"), std::string("a, sizes = [[-4, 2]]"),
                               std::string("a, seq = -3, sizes = [[1], [2, x]]"), std::string(", "),
                               std::string("a, sizes = [[[1]]]"), std::string("a, seq = , sizes = ")}) {
    INFO(s);
    profiler::NvtxOp o;
    CHECK_NOTHROW(o = profiler::parse_nvtx_op(s));
    CHECK(o.sizes.empty());
    CHECK_NOTHROW((void)profiler::sample_of(o, 2));
  }
  CHECK_FALSE(profiler::parse_nvtx_op("a, seq = -3").seq);
  CHECK(profiler::parse_nvtx_op("aten::mm, seq = 5, sizes = [[2, 3], []]").sizes ==
        std::vector<std::vector<long>>{{2, 3}, {}});
}

TEST_CASE("trace: the op-call CSV is strict and quoted cells may hold commas and line breaks") {
  const std::string h = "op,range_start_ns,time_ns\n";
  const auto error = [](const std::string& text) -> std::string {
    try {
      (void)profiler::parse_op_calls_csv(text, "c.csv");
    } catch (const std::invalid_argument& e) {
      return e.what();
    } catch (const std::exception& e) {
      FAIL("not std::invalid_argument: " << e.what());
    }
    return "";
  };
  CHECK(error(h + "x,-1,5\n").find("c.csv:2: range_start_ns") != std::string::npos);  // wrapped to 2^64 - 1 by sscanf
  CHECK(error(h + "x,1,nan\n").find("c.csv:2: time_ns") != std::string::npos);
  CHECK(error(h + "x,1,inf\n").find("c.csv:2: time_ns") != std::string::npos);
  CHECK(error(h + "x,1,5junk\n").find("c.csv:2: time_ns") != std::string::npos);
  CHECK(error(h + "x,1,5,6\n").find("c.csv:2: expected op,range_start_ns,time_ns (4 cells)") != std::string::npos);
  CHECK(error(h + "\"x,1,5\n").find("not closed") != std::string::npos);
  CHECK(error(h + "\"x\"y,1,5\n").find("c.csv:2: text after a closing quote") != std::string::npos);
  CHECK(error(h + ",1,5\n").find("op: is empty") != std::string::npos);
  CHECK(error("").find("c.csv:1: expected the header") != std::string::npos);
  CHECK(error("a,b,c\nx,1,2\n").find("c.csv:1: expected the header") != std::string::npos);
  CHECK(error(h + "\n\"a\nb\",1,2\nq,1,x\n").find("c.csv:5: time_ns") != std::string::npos);  // lines counted in quotes
  CHECK(error(h + "x,1,5\r\ny,2,6\r\n").empty());
  const std::vector<profiler::OpCall> calls{{"aten::mm, seq = 1\nsecond line", 7, 1e-6}, {"q \"x\", y", 8, 2e-6}};
  const auto back = profiler::parse_op_calls_csv(profiler::op_calls_csv(calls), "c.csv");
  REQUIRE(back.size() == 2);
  CHECK(back[0].op == calls[0].op);
  CHECK(back[1].op == calls[1].op);
  CHECK(back[1].range_start == 8);
}

TEST_CASE("trace: property: any text is op calls or std::invalid_argument, and what parses round-trips") {
  std::uint64_t state = 3;
  const auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<unsigned>(state >> 33);
  };
  const std::vector<std::string> pieces{"op", ",", ",", "\n", "\r\n", "\"", "\"\"", "1", "-2", "3.5", "1e300", "nan",
                                        "aten::mm, seq = 1, sizes = [[4, 4], [4, 4]]", "x", " "};
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = "op,range_start_ns,time_ns\n";
    for (unsigned n = next() % 16; n > 0; --n) s += pieces[next() % pieces.size()];
    std::vector<profiler::OpCall> calls;
    try {
      calls = profiler::parse_op_calls_csv(s, "p.csv");
    } catch (const std::invalid_argument&) {
      continue;
    }
    ++parsed;
    const auto back = profiler::parse_op_calls_csv(profiler::op_calls_csv(calls), "f.csv");
    REQUIRE(back.size() == calls.size());
    for (std::size_t k = 0; k < calls.size(); ++k) {
      CHECK(back[k].op == calls[k].op);
      CHECK(back[k].range_start == calls[k].range_start);
      CHECK(std::isfinite(calls[k].seconds));
      (void)profiler::parse_nvtx_op(calls[k].op);
    }
  }
  CHECK(parsed > 100);
}
