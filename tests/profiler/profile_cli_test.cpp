// strata-profile without a GPU: bench fails with a one-line reason; from-calls turns the op calls
// libstrata_inject writes into an op table that strata simulate then uses.

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "strata/profiler/tables.hpp"
#include "support.hpp"

namespace {

using strata::test::run_command;

const std::string kProfile = STRATA_PROFILE_BINARY;

}  // namespace

TEST_CASE("strata-profile: help, usage errors, and from-calls into a table simulate uses") {
  CHECK(run_command("'" + kProfile + "' --help").code == 0);
  CHECK(run_command("'" + kProfile + "' frobnicate").code == 2);
  CHECK(run_command("'" + kProfile + "' from-calls").code == 2);

  // Op calls as libstrata_inject writes them for a Llama-style layer under emit_nvtx: the QKV
  // GEMM of GPT-3 175B at tp=8 (tokens 2048, hidden 12288) measured three times.
  strata::test::TempDir d;
  const std::string mm = "aten::mm, seq = 3, op_id = 5, sizes = [[2048, 12288], [12288, 4608]], input_op_ids = []";
  std::string calls = "op,range_start_ns,time_ns\n";
  for (int i = 0; i < 3; ++i) calls += "\"" + mm + "\"," + std::to_string(1000 * i) + "," + std::to_string(300000 + 10000 * i) + "\n";
  calls += "\"aten::view, sizes = [[4, 4]]\",5000,1000\n";
  const auto in = d.write("calls.csv", calls);
  const auto out = d.path() / "table.csv";
  const auto r = run_command("'" + kProfile + "' from-calls '" + in.string() + "' --gpu a100-sxm-80gb -o '" + out.string() + "'");
  INFO(r.out);
  REQUIRE(r.code == 0);
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  const auto table = strata::strategy::parse_op_table(ss.str(), out.string());
  CHECK(table.gpu() == "a100-sxm-80gb");
  REQUIRE(table.samples.size() == 1);
  CHECK(table.samples[0].m == 2048);
  CHECK(table.samples[0].n == 4608);
  CHECK(table.samples[0].k == 12288);
  CHECK(table.samples[0].time.value() == doctest::Approx(310e-6));  // the median
  CHECK(table.samples[0].repeats == 3);

  // strata simulate takes it: the QKV GEMM is measured, the rest priced by the roofline.
  const auto sim = strata::test::run_strata("simulate " + (strata::test::source_dir() / "scenarios" / "gpt3-175b-1024xa100.yaml").string() +
                                            " --backend analytical --plan \"tp=8 pp=8 dp=16\" --op-table '" + out.string() + "'");
  INFO(sim.out);
  CHECK(sim.code == 0);
  CHECK(sim.out.find("op costs: table:") != std::string::npos);

  // No GPU here: bench says why in one line and exits non-zero.
  const auto bench = run_command("'" + kProfile + "' bench '" + (strata::test::source_dir() / "scenarios" / "gpt3-175b-1024xa100.yaml").string() +
                         "' --plan \"tp=8 pp=8 dp=16\"");
  if (bench.code != 0) {
    CHECK(bench.out.find("strata-profile: error:") != std::string::npos);
    CHECK(bench.out.find('\n') == bench.out.size() - 1);
  }
}
