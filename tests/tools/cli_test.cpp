#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

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
  CHECK(missing.out.find("/nonexistent/scenario.yaml:0: no such file") != std::string::npos);
  CHECK(std::count(missing.out.begin(), missing.out.end(), '\n') == 1);
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

// ---- The command line (CLI11): help everywhere, strict options, checked numbers, exit codes.

namespace {

// Counts the non-overlapping occurrences of `needle` in `text`.
std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// A refused command line: exit code 2 and one line "strata: error: ..." naming `what`, nothing else.
void check_refused(const std::string& args, const std::string& what) {
  const auto r = run_strata(args);
  INFO("strata " << args);
  INFO(r.out);
  CHECK(r.code == 2);
  CHECK(r.out.rfind("strata: error: ", 0) == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  CHECK(r.out.find(what) != std::string::npos);
}

// The small scenario written into `d`, shell-quoted.
std::string small_scenario(const TempDir& d) {
  std::string quoted = d.write("small.yaml", kSmall).string();  // appended, not "'" + s: GCC 12 -Wrestrict false positive
  quoted.insert(quoted.begin(), '\'');
  quoted.push_back('\'');
  return quoted;
}

long online_cpus() { return ::sysconf(_SC_NPROCESSORS_ONLN); }

}  // namespace

TEST_CASE("cli: -h and --help on every command print its usage to stdout and exit 0") {
  for (const char* cmd : {"rank", "simulate", "validate", "topo", "collective"}) {
    for (const char* h : {"-h", "--help"}) {
      INFO(cmd << " " << h);
      // stderr dropped: the help is on stdout.
      const auto r = strata::test::run_command("(STRATA_HOME='" + strata::test::source_dir().string() + "' '" +
                                               STRATA_BINARY + "' " + cmd + " " + h + " 2>/dev/null)");
      CHECK(r.code == 0);
      CHECK(r.out.rfind("usage: strata " + std::string(cmd), 0) == 0);
      CHECK(r.out.find("-h, --help") != std::string::npos);
    }
    const auto help = run_strata(std::string("help ") + cmd);
    CHECK(help.code == 0);
    CHECK(help.out.rfind("usage: strata " + std::string(cmd), 0) == 0);
  }
  for (const char* top : {"-h", "--help", "help"}) {
    const auto r = run_strata(top);
    CHECK(r.code == 0);
    CHECK(r.out.find("usage: strata COMMAND") != std::string::npos);
    CHECK(r.out.find("3 the answer is") != std::string::npos);  // the exit codes, 3 included
  }
  CHECK(run_strata("--version").out == "strata 0.1.0\n");
  // Help wins over the other words, even a bad one.
  CHECK(run_strata("rank --top zero -h").code == 0);
  check_refused("help frobnicate", "help takes one command name");
}

TEST_CASE("cli: unknown, repeated and malformed options are refused by name") {
  TempDir d;
  const std::string s = small_scenario(d);
  check_refused("-x", "unknown option '-x'");
  check_refused("frobnicate", "unknown command 'frobnicate'");
  check_refused("rank " + s + " -x", "unknown option '-x' for strata rank");
  check_refused("rank " + s + " -q", "unknown option '-q'");
  check_refused("rank " + s + " --nope", "unknown option '--nope'");
  check_refused("rank " + s + " --nope=3", "unknown option '--nope'");
  check_refused("rank " + s + " --top 3 --top 4", "--top given twice");
  check_refused("rank " + s + " --top=3 --top 3", "--top given twice");
  check_refused("rank " + s + " --quiet --quiet", "--quiet given twice");
  check_refused("rank " + s + " --quiet=yes", "--quiet takes no value");
  check_refused("rank " + s + " --top=", "--top needs a value");
  check_refused("rank " + s + " --csv", "--csv needs a value");
  check_refused("rank " + s + " --json --csv x.csv", "--json needs a value, got the option '--csv'");
  check_refused("rank", "strata rank needs a SCENARIO argument");
  check_refused("rank " + s + " " + s, "takes one SCENARIO argument, got 2");
  check_refused("simulate " + s + " --plan 'tp=2' --plan 'tp=4'", "--plan given twice");
  check_refused("simulate " + s + " --plan 'tp=2' --backend nope", "--backend must be simgrid or analytical");
  check_refused("topo dgx-a100-hdr --gpus 8 --gpus 16", "--gpus given twice");
  check_refused("collective dgx-a100-hdr --ranks 8 --size 1GiB -s 1", "unknown option '-s'");
  check_refused("validate x.yaml --only a --only b", "--only given twice");
}

TEST_CASE("cli: integers are checked for junk and overflow and range") {
  TempDir d;
  const std::string s = small_scenario(d);
  check_refused("rank " + s + " --top zero", "--top needs an integer in 1..100000, got 'zero'");
  check_refused("rank " + s + " --top 5x", "--top needs an integer in 1..100000, got '5x'");
  check_refused("rank " + s + " --top ' 5'", "--top needs an integer");
  check_refused("rank " + s + " --top 0", "--top 0 is out of range (1..100000)");
  check_refused("rank " + s + " --top -3", "--top -3 is out of range (1..100000)");
  check_refused("rank " + s + " --top 99999999999999999999", "--top 99999999999999999999 is out of range");
  check_refused("rank " + s + " --finalists 0", "--finalists 0 is out of range (1..1000)");
  check_refused("rank " + s + " --finalists 1001", "--finalists 1001 is out of range (1..1000)");
  check_refused("rank " + s + " --jobs 0", "--jobs 0 is out of range");
  // --jobs is bounded by the machine: one SimGrid process per CPU at most.
  const long cpus = online_cpus();
  REQUIRE(cpus >= 1);
  check_refused("rank " + s + " --jobs " + std::to_string(cpus + 1),
                "at most " + std::to_string(cpus) + " replays in parallel");
  check_refused("rank " + s + " --jobs 1000", "CPU(s) online");
  check_refused("validate x.yaml --jobs 100000", "CPU(s) online");
  check_refused("rank " + s + " --replay-timeout -1", "--replay-timeout '-1' is out of range (0..1000000 seconds)");
  check_refused("rank " + s + " --replay-timeout nan", "--replay-timeout 'nan' is out of range");
  check_refused("rank " + s + " --replay-timeout inf", "--replay-timeout 'inf' is out of range");
  check_refused("rank " + s + " --replay-timeout 5min", "--replay-timeout needs a number of seconds");
  check_refused("simulate " + s + " --plan tp=1 --replay-timeout 1e400", "--replay-timeout '1e400' is out of range");
  check_refused("topo dgx-a100-hdr --gpus 0", "--gpus 0 is out of range (1..1048576)");
  check_refused("topo dgx-a100-hdr --gpus 1048577", "--gpus 1048577 is out of range");
  check_refused("topo dgx-a100-hdr --gpus 64 --to 64", "--to 64 is out of range (0..63)");
  check_refused("topo dgx-a100-hdr --gpus 64 --from -1", "--from -1 is out of range (0..63)");
  check_refused("topo dgx-a100-hdr --gpus 64 --from 1e3", "--from needs an integer");
  check_refused("collective dgx-a100-hdr --ranks 0 --size 1GiB", "--ranks 0 is out of range");
  check_refused("collective dgx-a100-hdr --ranks 8 --stride 0 --size 1GiB", "--stride 0 is out of range");
  check_refused("collective dgx-a100-hdr --ranks 100000 --stride 100000 --size 1GiB",
                "--ranks 100000 at --stride 100000 need 10000000000 GPUs");
  check_refused("collective dgx-a100-hdr --ranks 16 --gpus 8 --size 1GiB", "need 16 GPUs; --gpus is 8");
  check_refused("collective dgx-h100-ndr --op all-to-all --ranks 32768 --size 1GiB", "all-to-all over 32768 ranks");
  check_refused("collective dgx-h100-ndr --ranks 131072 --sweep 1B:1TiB", "too much to time");
  check_refused("collective dgx-a100-hdr --size 1GiB", "--ranks N is required");
  // A range and its endpoints pass.
  CHECK(run_strata("topo dgx-a100-hdr --gpus 64 --from 0 --to 63").code == 0);
}

TEST_CASE("cli: sizes are bytes or a unit in any case from 1 byte to 1 PiB and sweeps are bounded") {
  TempDir d;
  const auto json = d.path() / "c.json";
  auto bytes_of = [&](const std::string& size) {
    const auto r = run_strata("collective dgx-a100-hdr --ranks 8 --size " + size + " --json '" + json.string() + "'");
    INFO(size << ": " << r.out);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(slurp(json));
    REQUIRE(j.at("rows").size() == 1);
    return j.at("rows")[0].at("bytes").get<double>();
  };
  CHECK(bytes_of("1000000000") == 1e9);
  CHECK(bytes_of("1gib") == 1073741824.0);
  CHECK(bytes_of("1GiB") == 1073741824.0);
  CHECK(bytes_of("64MiB") == 67108864.0);
  CHECK(bytes_of("64mib") == 67108864.0);
  CHECK(bytes_of("1GB") == 1e9);
  CHECK(bytes_of("4096b") == 4096.0);
  CHECK(bytes_of("1PiB") == 1125899906842624.0);
  for (const char* bad : {"0", "-1MiB", "nan", "inf", "1e300TiB", "1.1PiB", "0.5B"})
    check_refused(std::string("collective dgx-a100-hdr --ranks 8 --size ") + bad, "--size '" + std::string(bad) + "'");
  check_refused("collective dgx-a100-hdr --ranks 8 --size 1XB", "unknown size unit");
  check_refused("collective dgx-a100-hdr --ranks 8 --size ''", "--size '' is not a size");
  check_refused("collective dgx-a100-hdr --ranks 8 --sweep 1B:1TiB:1.000001", "has more than 1000 sizes");
  check_refused("collective dgx-a100-hdr --ranks 8 --sweep 1MiB:1GiB:1", "--sweep FACTOR needs a finite number > 1, got '1'");
  check_refused("collective dgx-a100-hdr --ranks 8 --sweep 1MiB:1GiB:nan", "--sweep FACTOR");
  check_refused("collective dgx-a100-hdr --ranks 8 --sweep 1MiB:1GiB:2x", "--sweep FACTOR");
  check_refused("collective dgx-a100-hdr --ranks 8 --sweep 1GiB:1MiB", "MAX is smaller than MIN");
  check_refused("collective dgx-a100-hdr --ranks 8 --sweep 1MiB", "--sweep needs MIN:MAX");
  check_refused("collective dgx-a100-hdr --ranks 8 --sweep 1MiB:1e300TiB", "--sweep MAX '1e300TiB' is larger than 1 PiB");
  check_refused("collective dgx-a100-hdr --ranks 8 --sweep 1MiB:1GiB --size 1GiB", "give one of --size BYTES or --sweep");
  // A sweep: 1 MiB to 1 GiB doubling is 11 sizes; by 4, 6.
  const auto sweep = run_strata("collective dgx-a100-hdr --ranks 8 --sweep=1mib:1gib:4 --json='" + json.string() + "'");
  REQUIRE(sweep.code == 0);
  const auto j = nlohmann::json::parse(slurp(json));
  REQUIRE(j.at("rows").size() == 6);
  CHECK(j.at("rows")[5].at("bytes").get<double>() == 1073741824.0);
}

TEST_CASE("cli: output files are checked before the search and not truncated by a failed run") {
  TempDir d;
  const std::string s = small_scenario(d);
  check_refused("rank " + s + " --json /nonexistent-strata-dir/r.json", "folder '/nonexistent-strata-dir' does not exist");
  check_refused("rank " + s + " --csv '" + d.path().string() + "'", "is a folder, not a file");
  check_refused("rank " + s + " --json '" + (d.path() / "small.yaml" / "x.json").string() + "'", "cannot write there");
  check_refused("rank " + s + " --json r.json --csv ./r.json", "name the same file");
  check_refused("simulate " + s + " --plan tp=1 --dot /nonexistent-strata-dir/g.dot", "--dot");
  check_refused("validate x.yaml --json /nonexistent-strata-dir/v.json", "--json");
  check_refused("topo dgx-a100-hdr --json /nonexistent-strata-dir/t.json", "--json");
  check_refused("collective dgx-a100-hdr --ranks 8 --size 1GiB --json /nonexistent-strata-dir/c.json", "--json");
  // An existing file stays as it was when the run fails later (here: a bad scenario).
  const auto keep = d.write("keep.json", "keep\n");
  const auto bad = d.write("bad.yaml", std::string(kSmall) + "  flavour: vanilla\n");
  const auto r = run_strata("rank '" + bad.string() + "' --json '" + keep.string() + "'");
  CHECK(r.code == 2);
  CHECK(slurp(keep) == "keep\n");
}

TEST_CASE("cli: unknown cluster presets list the known ones") {
  for (const char* cmd : {"topo nope", "collective nope --ranks 8 --size 1GiB", "topo ../gpus/a100-sxm-80gb"}) {
    const auto r = run_strata(cmd);
    INFO(r.out);
    CHECK(r.code == 2);
    CHECK(r.out.find("no cluster file or preset") != std::string::npos);
    CHECK(r.out.find("presets: a100-opa, dgx-a100-hdr, dgx-a100-hdr-2to1, dgx-a100-hdr-rail, dgx-h100-ndr") != std::string::npos);
  }
  check_refused("topo /", "is not a regular file");
  check_refused("topo " + std::string(300, 'x'), "no cluster file or preset 'xxxx");
}

TEST_CASE("cli: simulate computes an omitted dp in 64 bits and refuses one that does not divide") {
  TempDir d;
  const std::string s = small_scenario(d);  // 16 GPUs
  check_refused("simulate " + s + " --plan 'tp=65536 cp=65536'", "--plan");
  check_refused("simulate " + s + " --plan 'tp=3'", "--plan gives no dp, and tp x cp x pp = 3 does not divide the cluster's 16 GPUs");
  check_refused("simulate " + s + " --plan 'tp=8 pp=4'", "is more than the cluster's 16 GPUs");
  check_refused("simulate " + s + " --plan ''", "--plan is empty");
  check_refused("simulate " + s + " --plan 'tp=2 tp=4'", "--plan: key 'tp' given twice");
  // dp is read from the plan's keys, not found in its text: "order=...-dp-..." names no dp.
  const auto json = d.path() / "s.json";
  const auto r = run_strata("simulate " + s + " --backend analytical --plan 'tp=2 pp=2 order=tp-cp-ep-dp-pp' --json '" +
                            json.string() + "'");
  INFO(r.out);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(slurp(json)).at("result").at("plan").at("dp") == 4);
}

TEST_CASE("cli: --finalists smaller than --top replays that many and the other rows are analytical") {
  TempDir d;
  const std::string s = small_scenario(d);
  const auto json = d.path() / "r.json";
  const auto r = run_strata("rank " + s + " --top 5 --finalists=2 --quiet --json '" + json.string() + "'");
  INFO(r.out);
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(slurp(json));
  REQUIRE(j.at("ranked").size() == 5);
  std::vector<std::string> backends;
  for (const auto& p : j.at("ranked")) backends.push_back(p.at("backend").get<std::string>());
  CHECK(backends == std::vector<std::string>{"simgrid", "simgrid", "analytical", "analytical", "analytical"});
  CHECK(j.at("search").at("simulated") == 2);
  CHECK(j.at("complete") == true);
  CHECK(j.at("failed").empty());
  CHECK(occurrences(r.out, "  simgrid\n") == 2);
  CHECK(occurrences(r.out, "  analytical\n") == 3);
}

TEST_CASE("cli: replays past --replay-timeout fail and are listed apart with one stderr line each and exit 3") {
  TempDir d;
  const std::string s = small_scenario(d);
  const auto json = d.path() / "r.json", csv = d.path() / "r.csv";
  const auto r = run_strata("rank " + s + " --top 3 --quiet --replay-timeout 0.000001 --json '" + json.string() +
                            "' --csv '" + csv.string() + "'");
  INFO(r.out);
  CHECK(r.code == 3);
  const auto j = nlohmann::json::parse(slurp(json));
  CHECK(j.at("complete") == false);
  REQUIRE(j.at("failed").size() == 5);  // the default finalists: max(top, 5)
  CHECK(j.at("search").at("failed") == 5);
  CHECK(j.at("search").at("simulated") == 0);
  for (const auto& f : j.at("failed")) {
    CHECK(f.at("backend") == "simgrid");
    CHECK(f.at("error").get<std::string>().find("timed out") != std::string::npos);
    CHECK(f.at("analytical_step_time_s").get<double>() > 0);
    // Never ranked: no ranked plan is a failed one.
    for (const auto& p : j.at("ranked")) CHECK(p.at("plan").at("string") != f.at("plan"));
  }
  for (const auto& p : j.at("ranked")) CHECK(p.at("backend") == "analytical");
  CHECK(occurrences(r.out, "\nfailed: ") == 5);
  CHECK(occurrences(r.out, "strata: error: simgrid replay of ") == 5);
  CHECK(r.out.find("the ranking above is incomplete") != std::string::npos);
  const std::string c = slurp(csv);
  CHECK(occurrences(c, ",simgrid,failed,\"replay timed out") == 5);
  // Every CSV row has as many fields as the header.
  std::istringstream rows(c);
  std::string header, row;
  std::getline(rows, header);
  while (std::getline(rows, row)) {
    const std::string unquoted = row.substr(0, row.find('"'));
    CHECK(std::count(unquoted.begin(), unquoted.end(), ',') == std::count(header.begin(), header.end(), ','));
  }
  // simulate: one line, exit 3.
  const auto sim = run_strata("simulate " + s + " --plan 'tp=1 pp=1 dp=16 zero=3' --replay-timeout=0.000001");
  INFO(sim.out);
  CHECK(sim.code == 3);
  CHECK(sim.out.rfind("strata: error: simgrid replay of tp=1 pp=1 dp=16", 0) == 0);
  CHECK(sim.out.find("timed out") != std::string::npos);
  CHECK(std::count(sim.out.begin(), sim.out.end(), '\n') == 1);
}

TEST_CASE("cli: validate runs every case and exits 2 for an invalid one and 3 for a failed or incomplete one") {
  TempDir d;
  const auto calibration = (strata::test::validation_dir() / "calibration.yaml").string();
  check_refused("validate '" + calibration + "' --only ''", "--only '' has an empty case id");
  check_refused("validate '" + calibration + "' --only 'a,,b'", "--only 'a,,b' has an empty case id");
  check_refused("validate '" + calibration + "' --only a,a", "--only names case 'a' twice");

  // A valid case beside a malformed one: the valid one still runs, the other keeps its row.
  const std::string good = R"(- id: good
  model: {name: GPT 1.7B, layers: 24, hidden: 2304, heads: 24, vocab: 51200, seq_len: 2048}
  cluster: {gpu: a100-sxm-80gb, gpus: 32, gpus_per_node: 8, scale_out: 8x 200 Gb/s HDR InfiniBand HCAs per node}
  plan: {tp: 1, pp: 1, dp: 32, micro_batch: 1, global_batch: 512, recompute: full, schedule: 1f1b, precision: fp16}
  target: {iteration_s: 3.53}
)";
  const auto f = d.write("cases.yaml", "version: 1\ncases:\n" + good + "- id: bad\n  model: {layers: two}\n");
  const auto json = d.path() / "v.json";
  const auto r = run_strata("validate '" + f.string() + "' --analytical --quiet --json '" + json.string() + "'");
  INFO(r.out);
  CHECK(r.code == 2);
  CHECK(occurrences(r.out, "strata: error: ") == 1);
  CHECK(r.out.find("strata: error: case bad is invalid: ") != std::string::npos);
  CHECK(r.out.find("cases[1].model.layers") != std::string::npos);
  const auto j = nlohmann::json::parse(slurp(json));
  REQUIRE(j.at("cases").size() == 2);
  CHECK(j.at("cases")[0].at("status") == "ok");
  CHECK(j.at("cases")[0].at("incomplete") == false);
  CHECK(j.at("cases")[1].at("status") == "invalid");
  CHECK(j.at("summary").at("errors") == 1);
  CHECK(j.at("summary").at("ok") == 1);

  // Every replay timed out: the case says so in its row, on stderr and in its JSON; exit 3.
  const auto g = d.write("good.yaml", "version: 1\ncases:\n" + good);
  const auto t = run_strata("validate '" + g.string() + "' --quiet --finalists 1 --replay-timeout 0.000001 --json '" +
                            json.string() + "'");
  INFO(t.out);
  CHECK(t.code == 3);
  CHECK(occurrences(t.out, "strata: error: case good ") == 1);
  CHECK(t.out.find("timed out") != std::string::npos);
  const auto k = nlohmann::json::parse(slurp(json));
  const auto& c = k.at("cases")[0];
  CHECK((c.at("status") == "error" || c.at("incomplete") == true));
  CHECK(k.at("summary").at("errors").get<int>() + k.at("summary").at("incomplete").get<int>() == 1);
}
