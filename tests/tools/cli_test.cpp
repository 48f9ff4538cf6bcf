#include <doctest/doctest.h>

#include <stdexcept>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support.hpp"

using strata::test::run_strata;
using strata::test::TempDir;

namespace {
std::string scenario_path(const char* name) { return (strata::test::source_dir() / "scenarios" / name).string(); }
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
const char* kSmall = R"(name: Llama 3 8B on 16 x H100
model: llama3-8b
cluster:
  preset: dgx-h100-ndr
  gpus: 16
training:
  global_batch: 64
  precision: bf16
)";
}  // namespace

TEST_CASE("cli: help, version and usage errors") {
  CHECK(run_strata("--help").code == 0);
  for (const char* cmd : {"rank", "simulate", "validate"}) {
    const auto r = run_strata(std::string(cmd) + " --help");
    CHECK(r.code == 0);
    CHECK(r.out.find("usage: strata " + std::string(cmd)) != std::string::npos);
  }
  CHECK(run_strata("--version").out.find("strata") != std::string::npos);
  CHECK(run_strata("").code == 2);
  CHECK(run_strata("frobnicate").code == 2);
  CHECK(run_strata("rank").code == 2);
  CHECK(run_strata("rank " + scenario_path("gpt3-175b-1024xa100.yaml") + " --top zero").code == 2);
  CHECK(run_strata("rank " + scenario_path("gpt3-175b-1024xa100.yaml") + " --bogus").code == 2);
  CHECK(run_strata("simulate " + scenario_path("gpt3-175b-1024xa100.yaml")).code == 2);  // no --plan
}

TEST_CASE("cli: bad input exits 2 with one line naming file, line and key") {
  TempDir d;
  const auto f = d.write("bad.yaml", std::string(kSmall) + "  flavour: vanilla\n");
  const auto r = run_strata("rank '" + f.string() + "'");
  CHECK(r.code == 2);
  CHECK(r.out.find("bad.yaml:9: training.flavour: unknown key") != std::string::npos);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  const auto missing = run_strata("rank /nonexistent/scenario.yaml");
  CHECK(missing.code == 2);
  CHECK(missing.out.find("cannot open file") != std::string::npos);
}

TEST_CASE("cli: validate refuses a malformed case file") {
  TempDir d;
  const auto f = d.write("cases.yaml", "version: 1\ncases:\n- id: a\n  model: {layers: two}\n");
  const auto r = run_strata("validate '" + f.string() + "'");
  CHECK(r.code == 2);
  CHECK(r.out.find("cases.yaml:4: cases[0].model.layers: 'two' is not an integer") != std::string::npos);
  const auto only = run_strata("validate '" + (strata::test::validation_dir() / "calibration.yaml").string() + "' --only nope");
  CHECK(only.code == 2);
  CHECK(only.out.find("no case with id 'nope'") != std::string::npos);
}

TEST_CASE("cli: an infeasible plan is refused with its reason") {
  const auto r = run_strata("simulate " + scenario_path("gpt3-175b-1024xa100.yaml") + " --plan 'tp=2 pp=1 dp=512 mbs=3'");
  CHECK(r.code == 2);
  CHECK(r.out.find("out of memory") != std::string::npos);
  const auto heads = run_strata("simulate " + scenario_path("gpt3-175b-1024xa100.yaml") + " --plan 'tp=5 pp=1'");
  CHECK(heads.code == 2);
}

TEST_CASE("cli: simulate is deterministic and reports units") {
  TempDir d;
  const std::string args = "simulate " + scenario_path("gpt3-175b-1024xa100.yaml") +
                           " --plan 'tp=8 pp=8 dp=16 mbs=1 vpp=2 sp=on recompute=selective zero=1 schedule=interleaved-1f1b'";
  const auto a = run_strata(args + " --json '" + (d.path() / "a.json").string() + "'");
  const auto b = run_strata(args + " --json '" + (d.path() / "b.json").string() + "'");
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  CHECK(a.out == b.out);
  CHECK(slurp(d.path() / "a.json") == slurp(d.path() / "b.json"));
  CHECK(a.out.find("step time:") != std::string::npos);
  CHECK(a.out.find(" s (simgrid") != std::string::npos);
  CHECK(a.out.find("GiB") != std::string::npos);
  CHECK(a.out.find("tokens/s") != std::string::npos);
}

TEST_CASE("cli: rank a small scenario and write JSON and CSV") {
  TempDir d;
  const auto f = d.write("small.yaml", kSmall);
  const auto json = d.path() / "rank.json", csv = d.path() / "rank.csv";
  const auto r = run_strata("rank '" + f.string() + "' --top 3 --quiet --json '" + json.string() + "' --csv '" +
                            csv.string() + "'");
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(slurp(json));
  const auto& s = j.at("search");
  long long infeasible = 0;
  for (const auto& [reason, n] : s.at("infeasible").items()) infeasible += n.get<long long>();
  CHECK(s.at("enumerated").get<long long>() == s.at("feasible").get<long long>() + infeasible);
  CHECK(s.at("simulated").get<long long>() >= 3);
  REQUIRE(j.at("ranked").size() == 3);
  double prev = 0;
  for (const auto& p : j.at("ranked")) {
    CHECK(p.at("backend") == "simgrid");
    CHECK(p.at("step_time_s").get<double>() >= prev);
    prev = p.at("step_time_s").get<double>();
    CHECK(p.at("memory_per_gpu_gib").get<double>() <= 80.0);
    const auto& b = p.at("breakdown");
    const double parts = b.at("compute_s").get<double>() + b.at("exposed_tp_s").get<double>() +
                         b.at("exposed_cp_s").get<double>() + b.at("exposed_ep_s").get<double>() +
                         b.at("exposed_pp_s").get<double>() + b.at("exposed_dp_s").get<double>() +
                         b.at("bubble_s").get<double>();
    CHECK(parts == doctest::Approx(p.at("step_time_s").get<double>()).epsilon(1e-6));
  }
  const std::string c = slurp(csv);
  CHECK(c.rfind("rank,tp,pp,dp,micro_batch", 0) == 0);
  CHECK(std::count(c.begin(), c.end(), '\n') == 4);
  CHECK(r.out.find("enumerated") != std::string::npos);
  CHECK(r.out.find("infeasible by reason") != std::string::npos);
}

TEST_CASE("cli: the bundled scenarios rank") {
  for (const char* s : {"gpt3-175b-1024xa100.yaml", "llama3-70b-512xh100.yaml"}) {
    const auto r = run_strata(std::string("rank ") + scenario_path(s) + " --top 5 --quiet");
    INFO(r.out);
    CHECK(r.code == 0);
    CHECK(r.out.find("simgrid") != std::string::npos);
  }
}

TEST_CASE("cli: simulate takes every plan dimension") {
  TempDir d;
  const auto json = d.path() / "sim.json";
  const auto r = run_strata("simulate " + scenario_path("mixtral-8x7b-128xh100.yaml") +
                            " --plan \"cp=2 pp=2 dp=32 ep=8 zero=3 shard=8 schedule=zb-h1 recompute=selective\" --json '" +
                            json.string() + "'");
  INFO(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("exposed EP comm") != std::string::npos);
  CHECK(r.out.find("exposed CP comm") != std::string::npos);
  const auto j = nlohmann::json::parse(slurp(json));
  const auto& p = j.at("result").at("plan");
  CHECK(p.at("cp") == 2);
  CHECK(p.at("ep") == 8);
  CHECK(p.at("shard") == 8);
  CHECK(p.at("schedule") == "zb-h1");
  CHECK(j.at("result").at("breakdown").at("exposed_ep_s").get<double>() > 0);
  // A plan that cannot run says why, with the shortfall when it is memory.
  const auto bad = run_strata("simulate " + scenario_path("mixtral-8x7b-128xh100.yaml") + " --plan \"pp=2 dp=64\"");
  CHECK(bad.code == 2);
  CHECK(bad.out.find("GiB short") != std::string::npos);
  const auto ep = run_strata("simulate " + scenario_path("mixtral-8x7b-128xh100.yaml") + " --plan \"pp=2 dp=64 ep=3\"");
  CHECK(ep.code == 2);
  CHECK(ep.out.find("ep=3 does not divide experts=8") != std::string::npos);
}
