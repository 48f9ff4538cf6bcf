// strata: rank parallelism plans for training large transformers on a simulated cluster.
//
// Exit codes: 0 success, 2 bad input (files, flags, plans), 1 internal error.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "network.hpp"
#include "report.hpp"
#include "strata/scenario/units.hpp"
#include "strata/scenario/cases.hpp"
#include "strata/scenario/loader.hpp"
#include "strata/scenario/validation.hpp"
#include "strata/sim/isolated.hpp"
#include "strata/sim/replay.hpp"
#include "strata/strategy/search.hpp"

namespace {

using namespace strata;

constexpr const char* kVersion = "strata 0.1.0";

/// A bad command line: exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* kMainHelp = R"(strata: rank parallelism plans for training large transformers on a simulated cluster

usage: strata COMMAND [OPTIONS]

commands:
  rank SCENARIO        enumerate, screen and simulate every plan of a scenario; print the best
  simulate SCENARIO    simulate one plan (--plan "tp=8 pp=8 dp=16 ...") in detail
  validate CASES       predict published runs (shared/validation format) and score the predictions
  topo CLUSTER         what a cluster preset builds: switches, links, bisection, a path
  collective CLUSTER   time a collective (or a sweep of sizes) the way nccl-tests reports it

Run 'strata COMMAND --help' for a command's options.
Exit codes: 0 success, 2 bad input, 1 internal error.
Presets are read from $STRATA_HOME (topologies/, scenarios/models/) or the source tree.
)";

const char* kRankHelp = R"(usage: strata rank SCENARIO [OPTIONS]

Enumerates every plan the scenario allows: tp, cp (ring or all-to-all), pp, dp, ep (MoE models),
micro-batch, vpp, sequence parallelism, TP overlap, recomputation, ZeRO stage and hybrid sharding,
schedule (gpipe, 1f1b, interleaved-1f1b, zb-h1), and the rank orders listed under `search:
order:`; `search:` in the scenario fixes or limits any of them. Rejects the plans that cannot run
(with the reason, e.g. out of memory), screens the rest with the analytical backend (branch and
bound on a compute lower bound) and replays the best ones on SimGrid. Prints the ranked plans with
step time, throughput, MFU, memory per GPU and the step-time breakdown (exposed TP, CP, EP, PP and
DP communication, bubble), in seconds per step.

options:
  --top N           plans to print (default 10)
  --finalists N     plans replayed on SimGrid (default: max(top, 5))
  --jobs N          SimGrid replays in parallel, one process each (default: 2)
  --analytical      rank with the analytical backend only (no SimGrid)
  --op-table FILE   kernel times measured by strata-profile (default: profiler/data/GPU.csv
                    when one is shipped for the cluster's GPU, else the roofline)
  --json FILE       write the ranking as JSON
  --csv FILE        write the ranking as CSV
  --quiet           no progress lines on stderr
)";

const char* kSimulateHelp = R"(usage: strata simulate SCENARIO --plan "PLAN" [OPTIONS]

Simulates one plan and prints its step time, throughput, MFU, breakdown (compute, exposed TP,
CP, EP, PP and DP communication, pipeline bubble) and memory per GPU.

PLAN is space-separated key=value pairs; missing keys take the defaults shown:
  tp=1 cp=1 pp=1 dp=1 ep=1 mbs=1 vpp=1 sp=off tpo=off recompute=none rc_layers=0 zero=0 shard=0
  schedule=1f1b cp_comm=ring order=tp-cp-ep-dp-pp
  dp        defaults to GPUs / (tp x cp x pp) when omitted
  cp        context parallelism; cp_comm=ring (ring attention) or a2a (Ulysses all-to-all)
  ep        expert parallelism (MoE models; divides dp and the experts)
  tpo       TP communication overlapped with the GEMMs (needs tp > 1)
  recompute none, selective (attention core) or full; rc_layers=N: only the first N layers of
            every model chunk are fully recomputed (0 = all)
  zero      ZeRO stage 0-3 (3 = FSDP); shard=N: hybrid sharding, shard over groups of N of the
            dp x cp GPUs and replicate across them (0 = shard over all)
  schedule  gpipe, 1f1b, interleaved-1f1b (with vpp >= 2) or zb-h1 (zero-bubble, Qi et al.)
  order     rank placement, innermost dimension first, Megatron-LM's by default

options:
  --plan "PLAN"             the plan (required)
  --backend simgrid|analytical   replay backend (default simgrid)
  --granularity layer|chunk      one task per layer, or per model chunk (default layer)
  --op-table FILE           measured kernel times (default: the table shipped for the GPU, else
                            the roofline)
  --json FILE               write the result as JSON
  --dot FILE                write the task graph as Graphviz DOT (for small plans)
)";

const char* kValidateHelp = R"(usage: strata validate CASES.yaml [OPTIONS]

Reads published runs (format: shared/validation/README.md). For each case, fixes the published
plan fields (cp included), searches those left null, and reports the predicted iteration time next
to the published target and the predicted peak memory per GPU next to the published one. Prints
the mean absolute percentage error over the cases with a target and over those with a published
peak memory, and Kendall's tau of the predicted order within each rank group.

options:
  --json FILE       write per-case results and the summary as JSON
  --only ID[,ID..]  run only these case ids
  --jobs N          SimGrid replays in parallel (default 2)
  --finalists N     plans per case replayed on SimGrid (default 3)
  --analytical      analytical backend only (no SimGrid)
  --op-table FILE   measured kernel times for the cases on the table's GPU ('# gpu:' header);
                    other cases use their GPU's shipped table, else the roofline
  --quiet           no progress lines on stderr
)";

const char* kTopoHelp = R"(usage: strata topo CLUSTER [OPTIONS]

Prints what a cluster preset (a file, or a name under topologies/clusters) builds for a GPU count:
GPUs, nodes, NVLink domains, leaf/spine/core switches, links, scale-out and bisection bandwidth
per GPU, and the route and bottleneck link between two GPUs.

options:
  --gpus N          cluster size (default: 1024, rounded up to whole NVLink domains)
  --from A          first GPU of the path (default 0)
  --to B            second GPU of the path (default: the last GPU)
  --json FILE       write the same as JSON
)";

const char* kCollectiveHelp = R"(usage: strata collective CLUSTER --op OP --ranks N (--size BYTES | --sweep MIN:MAX) [OPTIONS]

Times one collective on the cluster's fabric with strata's NCCL model and prints time, algorithm
bandwidth and bus bandwidth (nccl-tests' definition: busbw = algbw x 2(n-1)/n for all-reduce,
(n-1)/n for reduce-scatter, all-gather and all-to-all).

options:
  --op OP           all-reduce, reduce-scatter, all-gather, all-to-all, broadcast, send-recv
  --ranks N         ranks in the group (GPUs 0..N-1 with --stride 1)
  --size BYTES      one buffer size, e.g. 1GiB, 64MiB
  --sweep MIN:MAX   sizes from MIN to MAX doubling (MIN:MAX:F multiplies by F), e.g. 1MiB:1GiB
  --algo A          auto (NCCL's choice, default), ring, tree, nvls, hierarchical, direct
  --stride S        rank i on GPU i*S, and S such groups run at once (offsets 0..S-1): e.g. the
                    eight data-parallel groups of tensor-parallel 8 share the fabric (default 1)
  --gpus N          cluster size (default: ranks x stride, rounded up to whole NVLink domains)
  --json FILE       write the rows as JSON
)";

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::set<std::string> flags;
};

Args parse_args(int argc, char** argv, const std::set<std::string>& with_value,
                const std::set<std::string>& switches) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      std::string value;
      const auto eq = s.find('=');
      bool inline_value = false;
      if (eq != std::string::npos) {
        value = s.substr(eq + 1);
        s = s.substr(0, eq);
        inline_value = true;
      }
      const std::string name = s.substr(2);
      if (with_value.count(name)) {
        if (!inline_value) {
          if (i + 1 >= argc) throw UsageError("option --" + name + " needs a value");
          value = argv[++i];
        }
        a.options[name] = value;
      } else if (switches.count(name) && !inline_value) {
        a.flags.insert(name);
      } else {
        throw UsageError("unknown option --" + name + " (see --help)");
      }
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

int int_option(const Args& a, const std::string& name, int fallback, int min_value) {
  auto it = a.options.find(name);
  if (it == a.options.end()) return fallback;
  try {
    std::size_t used = 0;
    const int v = std::stoi(it->second, &used);
    if (used != it->second.size() || v < min_value) throw std::invalid_argument("");
    return v;
  } catch (const std::exception&) {
    throw UsageError("--" + name + " needs an integer >= " + std::to_string(min_value) + ", got '" + it->second + "'");
  }
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw UsageError("cannot write " + path);
  out << text;
  if (!out) throw UsageError("cannot write " + path);
}

void progress(bool quiet, const std::string& line) {
  if (!quiet) std::cerr << "strata: " << line << std::endl;
}

std::string one_positional(const Args& a, const char* what) {
  if (a.positional.size() != 1)
    throw UsageError(std::string("expected one ") + what + " argument (see --help)");
  return a.positional.front();
}

struct Loaded {
  scenario::Scenario scenario;
  std::unique_ptr<strategy::OpCostModel> cost;
  strategy::Problem problem;
};

// Op tables read so far, each file once (validate prices many cases on the same GPU).
class OpTables {
 public:
  const strategy::OpTable& get(const std::filesystem::path& file) {
    auto it = loaded_.find(file.string());
    if (it == loaded_.end()) it = loaded_.emplace(file.string(), scenario::load_op_table(file)).first;
    return it->second;
  }

 private:
  std::map<std::string, strategy::OpTable> loaded_;
};

// Kernel times for a GPU: the table given with --op-table, else the one shipped for the GPU
// (profiler/data/GPU.csv), else the roofline. A table measured on another GPU is an error.
std::unique_ptr<strategy::OpCostModel> cost_model(const topo::GpuSpec& gpu, topo::Precision precision,
                                                  const std::optional<std::string>& table_file, OpTables& tables) {
  strategy::RooflineCost roofline(gpu, precision);
  std::optional<std::filesystem::path> path;
  if (table_file) path = *table_file;
  else path = scenario::shipped_op_table(scenario::default_data_dirs(), gpu.name);
  if (!path) return std::make_unique<strategy::RooflineCost>(std::move(roofline));
  const strategy::OpTable& table = tables.get(*path);
  if (!table.gpu().empty() && table.gpu() != gpu.name)
    throw scenario::InputError(path->string(), 0, "gpu",
                               "the table was measured on " + table.gpu() + ", the cluster has " + gpu.name);
  return std::make_unique<strategy::TableCost>(table, precision, std::move(roofline));
}

std::optional<std::string> op_table_option(const Args& a) {
  if (auto it = a.options.find("op-table"); it != a.options.end()) return it->second;
  return std::nullopt;
}

Loaded load(const std::string& file, const std::optional<std::string>& table) {
  Loaded l;
  l.scenario = scenario::load_scenario(file, scenario::default_data_dirs());
  OpTables tables;
  l.cost = cost_model(l.scenario.cluster.gpu, l.scenario.training.precision, table, tables);
  l.problem = strategy::Problem{l.scenario.model, l.scenario.training, l.scenario.cluster, l.cost.get()};
  return l;
}

int cmd_rank(int argc, char** argv) {
  const Args a =
      parse_args(argc, argv, {"top", "finalists", "jobs", "json", "csv", "op-table"}, {"analytical", "quiet", "help"});
  if (a.flags.count("help")) {
    std::cout << kRankHelp;
    return 0;
  }
  const std::string file = one_positional(a, "SCENARIO");
  const int top = int_option(a, "top", 10, 1);
  const int finalists = int_option(a, "finalists", std::max(top, 5), 1);
  const int jobs = int_option(a, "jobs", 2, 1);
  const bool quiet = a.flags.count("quiet") > 0;
  const Loaded l = load(file, op_table_option(a));
  std::cout << "scenario: " << l.scenario.name << "\n" << cli::problem_header(l.problem);
  strategy::SearchOptions opt;
  opt.finalists = std::max(finalists, top);
  opt.jobs = jobs;
  opt.use_simgrid = !a.flags.count("analytical");
  opt.progress = [quiet](const std::string& s) { progress(quiet, s); };
  const strategy::SearchResult s = strategy::search(l.problem, l.scenario.search, opt);
  progress(quiet, "search took " + std::to_string(s.stats.wall_seconds) + " s");
  std::cout << cli::search_summary(s.stats) << "\n" << cli::rank_table(l.problem, s, top);
  if (auto it = a.options.find("json"); it != a.options.end()) {
    cli::JsonWriter w;
    w.begin_object();
    w.member("scenario", l.scenario.name);
    cli::problem_json(w, l.problem);
    w.key("search").begin_object();
    w.member("enumerated", static_cast<long long>(s.stats.enumerated));
    w.member("feasible", static_cast<long long>(s.stats.feasible));
    w.key("infeasible").begin_object();
    for (const auto& [reason, n] : s.stats.infeasible) w.member(reason, static_cast<long long>(n));
    w.end_object();
    w.member("screened", static_cast<long long>(s.stats.screened));
    w.member("bounded", static_cast<long long>(s.stats.bounded));
    w.member("simulated", static_cast<long long>(s.stats.simulated));
    w.member("failed", static_cast<long long>(s.stats.failed));
    w.end_object();
    w.key("ranked").begin_array();
    int i = 0;
    for (const auto& r : s.ranked) {
      if (i++ >= top) break;
      cli::result_json(w, l.problem, r);
    }
    w.end_array();
    w.end_object();
    write_file(it->second, w.str());
  }
  if (auto it = a.options.find("csv"); it != a.options.end()) write_file(it->second, cli::rank_csv(l.problem, s, top));
  return s.stats.failed > 0 && s.stats.simulated == 0 && opt.use_simgrid ? 1 : 0;
}

int cmd_simulate(int argc, char** argv) {
  const Args a = parse_args(argc, argv, {"plan", "backend", "granularity", "json", "dot", "op-table"}, {"help"});
  if (a.flags.count("help")) {
    std::cout << kSimulateHelp;
    return 0;
  }
  const std::string file = one_positional(a, "SCENARIO");
  auto plan_it = a.options.find("plan");
  if (plan_it == a.options.end()) throw UsageError("simulate needs --plan \"tp=.. pp=.. ...\" (see --help)");
  const std::string backend_name = a.options.count("backend") ? a.options.at("backend") : "simgrid";
  if (backend_name != "simgrid" && backend_name != "analytical")
    throw UsageError("--backend must be simgrid or analytical, got '" + backend_name + "'");
  const std::string gran = a.options.count("granularity") ? a.options.at("granularity") : "layer";
  if (gran != "layer" && gran != "chunk") throw UsageError("--granularity must be layer or chunk, got '" + gran + "'");
  const Loaded l = load(file, op_table_option(a));
  strategy::Plan plan;
  try {
    plan = strategy::parse_plan(plan_it->second);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--plan: ") + e.what());
  }
  if (plan_it->second.find("dp=") == std::string::npos)
    plan.dp = std::max(1, l.scenario.cluster.gpus / (plan.tp * plan.cp * plan.pp));
  if (auto why = strategy::check_plan(l.problem, plan, false))
    throw UsageError("plan " + plan.to_string() + " is infeasible (" + why->first + "): " + why->second);
  const auto granularity = gran == "layer" ? strategy::Granularity::layer : strategy::Granularity::chunk;
  strategy::PlanResult r;
  if (backend_name == "simgrid") {
    // SimGrid aborts on some errors: replay in a child process and report a failure cleanly.
    const auto out = sim::run_isolated({[&] {
                                          const auto backend = sim::make_simgrid_backend();
                                          return strategy::serialize(strategy::evaluate(l.problem, plan, *backend, granularity));
                                        }},
                                       1);
    if (!out.front().ok) throw std::runtime_error("SimGrid replay failed: " + out.front().error);
    r = strategy::deserialize(out.front().payload, plan,
                              strategy::plan_memory(l.problem.model, l.problem.training, plan,
                                                    l.problem.cluster.gpu.reserved_memory));
  } else {
    r = strategy::evaluate(l.problem, plan, *sim::make_analytical_backend(), granularity);
  }
  if (auto it = a.options.find("dot"); it != a.options.end())
    write_file(it->second, strategy::build_task_graph(l.problem.model, l.problem.training, l.problem.cluster, plan,
                                                      *l.problem.cost, granularity)
                               .to_dot());
  std::cout << "scenario: " << l.scenario.name << "\n" << cli::problem_header(l.problem) << cli::plan_report(l.problem, r);
  if (auto it = a.options.find("json"); it != a.options.end()) {
    cli::JsonWriter w;
    w.begin_object();
    w.member("scenario", l.scenario.name);
    cli::problem_json(w, l.problem);
    w.key("result");
    cli::result_json(w, l.problem, r);
    w.end_object();
    write_file(it->second, w.str());
  }
  return 0;
}

int cmd_validate(int argc, char** argv) {
  const Args a =
      parse_args(argc, argv, {"json", "only", "jobs", "finalists", "op-table"}, {"analytical", "quiet", "help"});
  if (a.flags.count("help")) {
    std::cout << kValidateHelp;
    return 0;
  }
  const std::string file = one_positional(a, "CASES");
  const bool quiet = a.flags.count("quiet") > 0;
  std::vector<scenario::ValidationCase> cases = scenario::load_cases(file, scenario::default_data_dirs());
  if (auto it = a.options.find("only"); it != a.options.end()) {
    std::set<std::string> want;
    std::string id;
    std::istringstream in(it->second);
    while (std::getline(in, id, ',')) want.insert(id);
    std::vector<scenario::ValidationCase> kept;
    for (auto& c : cases)
      if (want.erase(c.id)) kept.push_back(std::move(c));
    if (!want.empty()) throw UsageError("--only: no case with id '" + *want.begin() + "' in " + file);
    cases = std::move(kept);
  }
  strategy::SearchOptions opt;
  opt.finalists = int_option(a, "finalists", 3, 1);
  opt.jobs = int_option(a, "jobs", 2, 1);
  opt.use_simgrid = !a.flags.count("analytical");
  std::vector<scenario::CaseResult> results;
  // --op-table applies to the cases on its GPU; the others use their GPU's shipped table or the
  // roofline.
  const std::optional<std::string> table_file = op_table_option(a);
  OpTables tables;
  const std::string table_gpu = table_file ? tables.get(*table_file).gpu() : std::string();
  if (table_file && table_gpu.empty())
    throw scenario::InputError(*table_file, 0, "gpu", "validate needs the table's '# gpu: PRESET' header line");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    progress(quiet, "case " + std::to_string(i + 1) + "/" + std::to_string(cases.size()) + ": " + cases[i].id);
    std::unique_ptr<strategy::OpCostModel> cost;
    if (!cases[i].unsupported)
      cost = cost_model(cases[i].cluster.gpu, cases[i].training.precision,
                        table_gpu == cases[i].cluster.gpu.name ? table_file : std::nullopt, tables);
    results.push_back(scenario::run_case(cases[i], opt, cost.get()));
  }
  const scenario::Summary s = scenario::summarize(cases, results);
  std::cout << cli::validation_table(cases, results, s);
  if (auto it = a.options.find("json"); it != a.options.end())
    write_file(it->second, cli::validation_json(cases, results, s));
  return 0;
}

std::filesystem::path cluster_file(const std::string& arg, const scenario::DataDirs& dirs) {
  if (std::filesystem::exists(arg)) return arg;
  const auto preset = dirs.clusters / (arg + ".yaml");
  if (std::filesystem::exists(preset)) return preset;
  throw UsageError("no cluster file or preset '" + arg + "' (presets live in " + dirs.clusters.string() + ")");
}

topo::ClusterSpec load_sized_cluster(const std::string& arg, int gpus) {
  const auto dirs = scenario::default_data_dirs();
  const auto file = cluster_file(arg, dirs);
  const topo::ClusterSpec preset = scenario::load_cluster(file, dirs, 0);
  const int domain = preset.scale_up.domain > 0 ? preset.scale_up.domain : preset.gpus_per_node;
  const int n = gpus > domain ? (gpus + domain - 1) / domain * domain : gpus;
  return scenario::load_cluster(file, dirs, n);
}

int cmd_topo(int argc, char** argv) {
  const Args a = parse_args(argc, argv, {"gpus", "from", "to", "json"}, {"help"});
  if (a.flags.count("help")) {
    std::cout << kTopoHelp;
    return 0;
  }
  const topo::ClusterSpec c = load_sized_cluster(one_positional(a, "CLUSTER"), int_option(a, "gpus", 1024, 1));
  const int from = int_option(a, "from", 0, 0);
  const int to = int_option(a, "to", c.gpus - 1, 0);
  try {
    std::cout << cli::topo_report(c, from, to);
    if (a.options.count("json")) write_file(a.options.at("json"), cli::topo_json(c, from, to));
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  return 0;
}

std::vector<double> sweep_sizes(const std::string& spec) {
  std::vector<std::string> parts;
  std::stringstream ss(spec);
  std::string p;
  while (std::getline(ss, p, ':')) parts.push_back(p);
  if (parts.size() < 2 || parts.size() > 3) throw UsageError("--sweep needs MIN:MAX or MIN:MAX:FACTOR, got '" + spec + "'");
  double lo = 0, hi = 0, factor = 2;
  try {
    lo = scenario::parse_bytes(parts[0]).value();
    hi = scenario::parse_bytes(parts[1]).value();
    if (parts.size() == 3) factor = std::stod(parts[2]);
  } catch (const std::exception& e) {
    throw UsageError("--sweep '" + spec + "': " + e.what());
  }
  if (!(lo > 0) || hi < lo || !(factor > 1)) throw UsageError("--sweep needs 0 < MIN <= MAX and FACTOR > 1");
  std::vector<double> sizes;
  for (double s = lo; s <= hi * (1 + 1e-12); s *= factor) sizes.push_back(s);
  return sizes;
}

int cmd_collective(int argc, char** argv) {
  const Args a = parse_args(argc, argv, {"op", "ranks", "size", "sweep", "algo", "stride", "gpus", "json"}, {"help"});
  if (a.flags.count("help")) {
    std::cout << kCollectiveHelp;
    return 0;
  }
  const std::string file = one_positional(a, "CLUSTER");
  cli::CollectiveSetup setup;
  const std::string op = a.options.count("op") ? a.options.at("op") : "all-reduce";
  const auto parsed_op = sim::parse_collective_op(op);
  if (!parsed_op) throw UsageError("unknown --op '" + op + "' (all-reduce, reduce-scatter, all-gather, all-to-all, broadcast, send-recv)");
  setup.op = *parsed_op;
  if (a.options.count("algo")) {
    const auto algo = sim::parse_algorithm(a.options.at("algo"));
    if (!algo) throw UsageError("unknown --algo '" + a.options.at("algo") + "' (auto, ring, tree, nvls, hierarchical, direct)");
    setup.algorithm = *algo;
  }
  if (!a.options.count("ranks")) throw UsageError("--ranks N is required (see --help)");
  setup.ranks = int_option(a, "ranks", 8, 1);
  setup.stride = int_option(a, "stride", 1, 1);
  std::vector<double> sizes;
  if (a.options.count("sweep") == a.options.count("size")) throw UsageError("give one of --size BYTES or --sweep MIN:MAX");
  if (a.options.count("sweep")) {
    sizes = sweep_sizes(a.options.at("sweep"));
  } else {
    try {
      sizes = {scenario::parse_bytes(a.options.at("size")).value()};
    } catch (const std::exception& e) {
      throw UsageError("--size '" + a.options.at("size") + "': " + e.what());
    }
    if (!(sizes[0] > 0)) throw UsageError("--size must be positive");
  }
  const topo::ClusterSpec c = load_sized_cluster(file, int_option(a, "gpus", setup.ranks * setup.stride, 1));
  try {
    const auto rows = cli::time_collective(c, setup, sizes);
    std::cout << cli::collective_table(c, setup, rows);
    if (a.options.count("json")) write_file(a.options.at("json"), cli::collective_json(c, setup, rows));
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::cerr << kMainHelp;
      return 2;
    }
    const std::string cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << kMainHelp;
      return 0;
    }
    if (cmd == "--version") {
      std::cout << kVersion << "\n";
      return 0;
    }
    if (cmd == "rank") return cmd_rank(argc, argv);
    if (cmd == "simulate") return cmd_simulate(argc, argv);
    if (cmd == "validate") return cmd_validate(argc, argv);
    if (cmd == "topo") return cmd_topo(argc, argv);
    if (cmd == "collective") return cmd_collective(argc, argv);
    throw UsageError("unknown command '" + cmd + "' (commands: rank, simulate, validate, topo, collective; see --help)");
  } catch (const UsageError& e) {
    std::cerr << "strata: error: " << e.what() << "\n";
    return 2;
  } catch (const scenario::InputError& e) {
    std::cerr << "strata: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "strata: internal error: " << e.what() << "\n";
    return 1;
  }
}
