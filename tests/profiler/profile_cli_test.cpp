// strata-profile without a GPU: bench fails with a one-line reason; from-calls turns the op calls
// libstrata_inject writes into an op table that strata simulate then uses.

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
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

namespace {

// A refused command line: exit code 2 and one line "strata-profile: error: ..." naming `what`.
void check_refused(const std::string& args, const std::string& what) {
  const auto r = run_command("'" + kProfile + "' " + args);
  INFO("strata-profile " << args);
  INFO(r.out);
  CHECK(r.code == 2);
  CHECK(r.out.rfind("strata-profile: error: ", 0) == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  CHECK(r.out.find(what) != std::string::npos);
}

}  // namespace

TEST_CASE("strata-profile: -h on every command and strict options parsed like strata's") {
  for (const char* args : {"-h", "--help", "help", "bench -h", "bench --help", "from-calls -h", "from-calls x.csv --help"}) {
    INFO(args);
    const auto r = run_command("('" + kProfile + "' " + args + " 2>/dev/null)");  // help on stdout
    CHECK(r.code == 0);
    CHECK(r.out.rfind("usage: strata-profile bench", 0) == 0);
  }
  std::string scenario = "'";  // appended, not "'" + s: a GCC 12 -Wrestrict false positive
  scenario += (strata::test::source_dir() / "scenarios" / "gpt3-175b-1024xa100.yaml").string();
  scenario += "'";
  check_refused("from-calls x.csv --gpu a100-sxm-80gb --nope 3", "unknown option '--nope'");
  check_refused("from-calls x.csv --gpu a100-sxm-80gb --nope=3", "unknown option '--nope'");
  check_refused("from-calls x.csv --gpu a100-sxm-80gb -x", "unknown option '-x'");
  check_refused("from-calls x.csv --gpu a100-sxm-80gb --plan tp=8", "unknown option '--plan'");  // bench's only
  check_refused("from-calls x.csv --gpu a --gpu b", "--gpu given twice");
  check_refused("from-calls x.csv --gpu=a -o t.csv --out=u.csv", "--out given twice");
  check_refused("from-calls x.csv --gpu", "--gpu needs a value");
  check_refused("from-calls x.csv --gpu= ", "--gpu needs a value after '='");
  check_refused("from-calls x.csv --gpu -o t.csv", "--gpu needs a value, got the option '-o'");
  check_refused("from-calls x.csv --gpu=a -o /", "-o '/' is a folder");
  check_refused("from-calls x.csv --gpu=a --out=/nonexistent-strata-dir/t.csv", "folder '/nonexistent-strata-dir' does not exist");
  check_refused("from-calls x.csv --gpu=a --dtype fp32", "--dtype must be bf16, fp16 or fp8");
  check_refused("bench " + scenario + " --plan 'tp=8' --repeats 0", "--repeats 0 is out of range (1..100000)");
  check_refused("bench " + scenario + " --plan 'tp=8' --repeats=abc", "--repeats needs an integer in 1..100000, got 'abc'");
  check_refused("bench " + scenario + " --plan 'tp=8' --repeats 99999999999999999999", "--repeats 99999999999999999999 is out of range");
  check_refused("bench " + scenario + " --plan 'tp=8' --warmup -1", "--warmup -1 is out of range (0..100000)");
  check_refused("bench " + scenario + " --plan 'tp=8 tp=4'", "--plan: key 'tp' given twice");
  check_refused("bench " + scenario + " --plan=''", "--plan needs a value after '='");
  check_refused("bench " + scenario + " --plan ''", "bench needs --plan");

  // --opt=value and -o FILE both work: from-calls writes the same table either way.
  strata::test::TempDir d;
  const auto in = d.write("calls.csv", "op,range_start_ns,time_ns\n\"aten::mm, seq = 3, op_id = 5, sizes = [[2048, 12288], "
                                       "[12288, 4608]], input_op_ids = []\",0,300000\n");
  const auto a = d.path() / "a.csv", b = d.path() / "b.csv";
  REQUIRE(run_command("'" + kProfile + "' from-calls '" + in.string() + "' --gpu=a100-sxm-80gb --dtype=bf16 --out='" +
                      a.string() + "'").code == 0);
  REQUIRE(run_command("'" + kProfile + "' from-calls '" + in.string() + "' --gpu a100-sxm-80gb -o '" + b.string() + "'")
              .code == 0);
  auto rows = [](const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return strata::strategy::parse_op_table(ss.str(), p.string()).samples.size();
  };
  CHECK(rows(a) == 1);
  CHECK(rows(b) == 1);
}
