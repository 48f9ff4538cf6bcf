// Measured op tables end to end: --op-table on simulate, the table shipped for a GPU picked up by
// itself, and a table from another GPU refused.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "strata/scenario/loader.hpp"
#include "strata/strategy/memory.hpp"
#include "strata/strategy/op_table.hpp"
#include "support.hpp"

using namespace strata;
using strata::test::run_strata;

namespace {

const char* kPlan = "tp=8 pp=8 dp=16 mbs=1 sp=on recompute=selective zero=1";

// Every kernel the plan runs, "measured" at `scale` times the roofline on GPU preset `gpu`.
std::string table_for(const std::string& scenario_file, double scale, const std::string& gpu) {
  const auto sc = scenario::load_scenario(scenario_file, scenario::DataDirs::under(test::source_dir()));
  const strategy::Plan p = strategy::parse_plan(kPlan);
  const strategy::RooflineCost r(sc.cluster.gpu, sc.training.precision);
  const auto x = strategy::LayerShape::of(sc.model, sc.training, p);
  strategy::OpTable t;
  t.meta["gpu"] = gpu;
  t.meta["made_by"] = "op_table_cli_test (roofline x " + std::to_string(scale) + ")";
  std::set<std::string> seen;
  auto add = [&](const std::vector<strategy::Op>& ops) {
    for (const strategy::Op& op : ops) {
      strategy::OpSample s;
      s.name = std::string(op.name);
      s.dtype = sc.training.precision;
      s.flops = op.flops;
      s.bytes = op.bytes;
      s.time = r.time(op) * scale;
      if (const auto* g = std::get_if<strategy::Gemm>(&op.kind)) {
        s.kind = strategy::OpClass::gemm;
        s.m = g->m, s.n = g->n, s.k = g->k, s.batch = g->batch;
      } else {
        s.kind = std::holds_alternative<strategy::FusedAttention>(op.kind) ? strategy::OpClass::attention
                                                                         : strategy::OpClass::elementwise;
      }
      const std::string key = s.name + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
      if (seen.insert(key).second) t.samples.push_back(s);
    }
  };
  add(strategy::layer_forward(x));
  add(strategy::layer_backward(x));
  add(strategy::embedding_forward(x));
  add(strategy::embedding_backward(x));
  add(strategy::head_forward(x));
  add(strategy::head_backward(x));
  add({strategy::optimizer_step(strategy::optimizer_params(sc.model, sc.training, p, 0), sc.training.step_traffic.optimizer)});
  return strategy::format_op_table(t);
}

double value_after(const std::string& out, const std::string& label) {
  const auto at = out.find(label);
  REQUIRE(at != std::string::npos);
  return std::stod(out.substr(at + label.size()));
}

}  // namespace

TEST_CASE("op tables: simulate uses --op-table, or the table shipped for the GPU, and refuses another GPU's") {
  test::TempDir d;
  const auto scenario = test::source_dir() / "scenarios" / "gpt3-175b-1024xa100.yaml";
  const auto slow = d.write("slow.csv", table_for(scenario.string(), 2.0, "a100-sxm-80gb"));
  const std::string sim = "simulate '" + scenario.string() + "' --backend analytical --plan \"" + kPlan + "\"";

  const auto base = run_strata(sim);
  const auto table = run_strata(sim + " --op-table '" + slow.string() + "'");
  INFO(base.out);
  INFO(table.out);
  REQUIRE(base.code == 0);
  REQUIRE(table.code == 0);
  CHECK(base.out.find("op costs: roofline") != std::string::npos);
  CHECK(table.out.find("op costs: table:" + slow.string()) != std::string::npos);
  // Every kernel measured at twice the roofline: forward and backward compute double.
  for (const char* part : {"  forward ", "  backward "}) {
    INFO(part);
    const double ratio = value_after(table.out, part) / value_after(base.out, part);
    CHECK(ratio == doctest::Approx(2.0).epsilon(0.01));
  }

  // Shipped: profiler/data/a100-sxm-80gb.csv under $STRATA_HOME is used without a flag.
  namespace fs = std::filesystem;
  const fs::path home = d.path() / "home";
  fs::create_directories(home / "profiler" / "data");
  fs::create_directory_symlink(test::source_dir() / "topologies", home / "topologies");
  fs::create_directory_symlink(test::source_dir() / "scenarios", home / "scenarios");
  fs::copy_file(slow, home / "profiler" / "data" / "a100-sxm-80gb.csv");
  const auto shipped = run_strata(sim, home.string());
  INFO(shipped.out);
  REQUIRE(shipped.code == 0);
  CHECK(shipped.out.find("op costs: table:" + (home / "profiler" / "data" / "a100-sxm-80gb.csv").string()) !=
        std::string::npos);
  CHECK(value_after(shipped.out, "step time: ") == value_after(table.out, "step time: "));

  // A table measured on another GPU is an input error naming the file and the GPUs.
  const auto other = d.write("h100.csv", table_for(scenario.string(), 1.0, "h100-sxm-80gb"));
  const auto bad = run_strata(sim + " --op-table '" + other.string() + "'");
  CHECK(bad.code == 2);
  CHECK(bad.out.find("h100.csv:0: gpu: the table was measured on h100-sxm-80gb, the cluster has a100-sxm-80gb") !=
        std::string::npos);
  const auto broken = d.write("broken.csv", "# gpu: a100-sxm-80gb\nkind,name,dtype,m,n,k,batch,flops,bytes,time_us,repeats\n"
                                            "gemm,qkv,bf16,1,2,3,1,12,0,-1,5\n");
  const auto b2 = run_strata(sim + " --op-table '" + broken.string() + "'");
  CHECK(b2.code == 2);
  CHECK(b2.out.find("broken.csv:3: time_us:") != std::string::npos);
}
