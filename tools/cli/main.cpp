// strata: rank parallelism plans for training large transformers on a simulated cluster.
//
// Exit codes: 0 success; 2 bad input (files, flags, plans: one line "strata: error: ..." on
// stderr); 3 the answer is incomplete (some replays failed or timed out: what was printed is
// partial, and each failure has its line on stderr); 1 internal error.

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "args.hpp"
#include "network.hpp"
#include "report.hpp"
#include "strata/scenario/cases.hpp"
#include "strata/scenario/loader.hpp"
#include "strata/scenario/validation.hpp"
#include "strata/sim/isolated.hpp"
#include "strata/sim/replay.hpp"
#include "strata/strategy/search.hpp"
#include "strata/topo/cluster.hpp"

namespace {

using namespace strata;
using cli::CommandLine;
using cli::in_quotes;
using cli::UsageError;

constexpr const char* kVersion = "strata 0.1.0";

constexpr int kExitIncomplete = 3;     ///< some replays failed or timed out: the answer is partial
constexpr long long kMaxTop = 100000;  ///< --top
constexpr long long kMaxFinalists = 1000;  ///< --finalists: SimGrid replays, seconds to minutes each
constexpr double kDefaultReplayTimeout = 300;  ///< --replay-timeout default, s
constexpr double kMaxReplayTimeout = 1e6;      ///< --replay-timeout, s (11.6 days)
constexpr std::size_t kMaxFailedLines = 50;    ///< failed replays listed on the terminal and stderr
// `collective` work bounds, measured on one core: an all-reduce over 65,536 ranks takes about
// 2.5 s per size, a direct all-to-all over 16,384 ranks 4 s and 1 GB (it has ranks^2 flows).
constexpr double kMaxRankSizes = 4194304;     ///< sizes x ranks x groups, 2^22
constexpr double kMaxAllToAllFlows = 268435456;  ///< ranks^2 x groups for one all-to-all, 2^28
constexpr double kMaxAllToAllWork = 2147483648.0;  ///< sizes x ranks^2 x groups, 2^31

const char* kMainHelp = R"(strata: rank parallelism plans for training large transformers on a simulated cluster

usage: strata COMMAND [OPTIONS]
       strata help [COMMAND] | strata -h | strata --version

commands:
  rank SCENARIO        enumerate, screen and simulate every plan of a scenario; print the best
  simulate SCENARIO    simulate one plan (--plan "tp=8 pp=8 dp=16 ...") in detail
  validate CASES       predict published runs (shared/validation format) and score the predictions
  topo CLUSTER         what a cluster preset builds: switches, links, bisection, a path
  collective CLUSTER   time a collective (or a sweep of sizes) the way nccl-tests reports it

Run 'strata COMMAND --help' (or -h) for a command's options. Options take their value as
'--opt VALUE' or '--opt=VALUE'; each may be given once; unknown options are errors.
Exit codes: 0 success; 2 bad input (one line "strata: error: ..." on stderr); 3 the answer is
incomplete: some replays failed or timed out, what was printed is partial (each failure has a
line on stderr); 1 internal error.
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
DP communication, bubble), in seconds per step. MFU = model FLOPs / (step time x GPUs x peak),
model FLOPs per token 6 x active parameters + 12 x layers x hidden x seq (attention counted
unmasked, as Megatron-LM and torchtitan count it; docs/modeling.md).

A plan whose replay fails (crashes, is killed or times out) is never ranked: it is listed after
the table ("failed: PLAN (backend): why"), with a line on stderr, and rank exits with code 3.

options:
  --top N             plans to print, 1..100000 (default 10)
  --finalists N       plans replayed on SimGrid, 1..1000 (default: max(top, 5)); with fewer
                      finalists than --top, the other printed plans are timed analytically (the
                      backend column says which); no effect with --analytical
  --jobs N            SimGrid replays in parallel, one process each, 1..the CPUs online (default 2)
  --replay-timeout S  wall-clock limit of one SimGrid replay in seconds (default 300; 0 = none);
                      a replay past it is killed and reported as failed
  --analytical        rank with the analytical backend only (no SimGrid)
  --op-table FILE     kernel times measured by strata-profile (default: profiler/data/GPU.csv
                      when one is shipped for the cluster's GPU, else the roofline)
  --json FILE         write the ranking as JSON (with "failed" plans and "complete")
  --csv FILE          write the ranking as CSV (failed plans last, with status "failed")
  --quiet             no progress lines on stderr
  -h, --help          this help
The --json and --csv files are checked before the search and written after it.
)";

const char* kSimulateHelp = R"(usage: strata simulate SCENARIO --plan "PLAN" [OPTIONS]

Simulates one plan and prints its step time, throughput, MFU, breakdown (compute, exposed TP,
CP, EP, PP and DP communication, pipeline bubble) and memory per GPU (MFU as in `strata rank
--help`). A replay that fails or
times out is one line on stderr and exit code 3.

PLAN is space-separated key=value pairs, each key once; missing keys take the defaults shown:
  tp=1 cp=1 pp=1 dp=1 ep=1 mbs=1 vpp=1 sp=off tpo=off recompute=none rc_layers=0 zero=0 shard=0
  schedule=1f1b cp_comm=ring order=tp-cp-ep-dp-pp
  dp        defaults to GPUs / (tp x cp x pp) when omitted (which must divide the GPUs)
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
  --plan "PLAN"                  the plan (required)
  --backend simgrid|analytical   replay backend (default simgrid)
  --granularity layer|chunk      one task per layer, or per model chunk (default layer)
  --replay-timeout S             wall-clock limit of the SimGrid replay in seconds (default 300;
                                 0 = none)
  --op-table FILE                measured kernel times (default: the table shipped for the GPU,
                                 else the roofline)
  --json FILE                    write the result as JSON
  --dot FILE                     write the task graph as Graphviz DOT (for small plans)
  -h, --help                     this help
)";

const char* kValidateHelp = R"(usage: strata validate CASES.yaml [OPTIONS]

Reads published runs (format: shared/validation/README.md). For each case, fixes the published
plan fields (cp included), searches those left null, and reports the predicted iteration time next
to the published target and the predicted peak memory per GPU next to the published one. Prints
the mean absolute percentage error over the cases with a target and over those with a published
peak memory, and Kendall's tau of the predicted order within each rank group.

A case that cannot run keeps its row, with its status (invalid: the case is malformed; error: its
search failed) and the reason, and a line on stderr; the other cases still run. A case whose best
plan was found while some replays failed is marked incomplete. Exit code 2 when a case is invalid,
else 3 when a case failed or is incomplete, else 0.

options:
  --json FILE         write per-case results and the summary as JSON
  --only ID[,ID..]    run only these case ids (each once, none empty)
  --jobs N            SimGrid replays in parallel, 1..the CPUs online (default 2)
  --finalists N       plans per case replayed on SimGrid, 1..1000 (default 3)
  --replay-timeout S  wall-clock limit of one SimGrid replay in seconds (default 300; 0 = none)
  --analytical        analytical backend only (no SimGrid)
  --op-table FILE     measured kernel times for the cases on the table's GPU ('# gpu:' header);
                      other cases use their GPU's shipped table, else the roofline
  --quiet             no progress lines on stderr
  -h, --help          this help
)";

const char* kTopoHelp = R"(usage: strata topo CLUSTER [OPTIONS]

Prints what a cluster preset (a file, or a name under topologies/clusters) builds for a GPU count:
GPUs, nodes, NVLink domains, leaf/spine/core switches, links, scale-out and bisection bandwidth
per GPU, and the route and bottleneck link between two GPUs.

options:
  --gpus N          cluster size, 1..1048576 (default: 1024, rounded up to whole nodes)
  --from A          first GPU of the path, 0..GPUs-1 (default 0)
  --to B            second GPU of the path, 0..GPUs-1 (default: the last GPU)
  --json FILE       write the same as JSON
  -h, --help        this help
)";

const char* kCollectiveHelp = R"(usage: strata collective CLUSTER --op OP --ranks N (--size BYTES | --sweep MIN:MAX[:F]) [OPTIONS]

Times one collective on the cluster's fabric with strata's NCCL model and prints time, algorithm
bandwidth and bus bandwidth (nccl-tests' definition: busbw = algbw x 2(n-1)/n for all-reduce,
(n-1)/n for reduce-scatter, all-gather and all-to-all).

options:
  --op OP           all-reduce (default), reduce-scatter, all-gather, all-to-all, broadcast, send-recv
  --ranks N         ranks in the group (GPUs 0..N-1 with --stride 1), required
  --size BYTES      one buffer size: bytes (1000000000) or with a unit in any case, powers of 1000
                    (KB, MB, GB, TB, PB) or 1024 (KiB, MiB, GiB, TiB, PiB): 1GiB, 64mib, 1GB;
                    1 byte to 1 PiB
  --sweep MIN:MAX[:F]  sizes from MIN to MAX, doubling (or times F, a number > 1), at most 1000
                    sizes, e.g. 1MiB:1GiB or 1KiB:1GiB:4
  --algo A          auto (NCCL's choice, default), ring, tree, nvls, hierarchical, direct
  --stride S        rank i on GPU i*S, and S such groups run at once (offsets 0..S-1): e.g. the
                    eight data-parallel groups of tensor-parallel 8 share the fabric (default 1)
  --gpus N          cluster size (default: ranks x stride, rounded up to whole nodes)
  --json FILE       write the rows as JSON
  -h, --help        this help
The work is bounded: sizes x ranks x stride at most 4194304, and for all-to-all (ranks^2 flows)
ranks^2 x stride at most 2^28 per size and 2^31 over the sweep.
)";


void progress(bool quiet, const std::string& line) {
  if (!quiet) std::cerr << "strata: " << line << std::endl;
}

// A line on stderr for something that failed while the rest of the answer was still produced.
void failure_line(const std::string& line) {
  std::cout.flush();  // the partial answer first, so that a terminal shows the two in order
  std::cerr << "strata: error: " << topo::printable(line, 0) << std::endl;  // one line, whatever the error says
}

// --jobs: parallel SimGrid processes, bounded by the machine (each replay keeps a core busy).
int jobs_option(const CommandLine& a) {
  const int cpus = cli::online_cpus();
  const auto v = a.value("jobs");
  if (!v) return std::min(2, cpus);
  const long long j = cli::parse_integer(*v, "--jobs", 1, 1 << 20);
  if (j > cpus)
    throw UsageError("--jobs " + *v + ": this machine has " + std::to_string(cpus) + " CPU(s) online, so at most " +
                     std::to_string(cpus) + " replays in parallel");
  return static_cast<int>(j);
}

// Two output options naming the same file would overwrite each other.
void distinct_outputs(const std::vector<std::pair<const char*, std::optional<std::string>>>& outputs) {
  std::map<std::string, const char*> seen;
  for (const auto& [option, path] : outputs) {
    if (!path) continue;
    std::error_code ec;
    std::string key = std::filesystem::weakly_canonical(std::filesystem::absolute(*path, ec), ec).string();
    if (ec) key = *path;
    if (auto [it, fresh] = seen.emplace(key, option); !fresh)
      throw UsageError(std::string(option) + " and " + it->second + " name the same file " + in_quotes(*path));
  }
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
                               "the table was measured on " + topo::printable(table.gpu()) + ", the cluster has " + gpu.name);
  return std::make_unique<strategy::TableCost>(table, precision, std::move(roofline));
}

Loaded load(const std::string& file, const std::optional<std::string>& table) {
  Loaded l;
  l.scenario = scenario::load_scenario(file, scenario::default_data_dirs());
  OpTables tables;
  l.cost = cost_model(l.scenario.cluster.gpu, l.scenario.training.precision, table, tables);
  l.problem = strategy::Problem{l.scenario.model, l.scenario.training, l.scenario.cluster, l.cost.get()};
  return l;
}

std::optional<std::string> op_table_option(const CommandLine& a) {
  auto v = a.value("op-table");
  if (v && v->empty()) throw UsageError("--op-table needs a file name");
  return v;
}

int cmd_rank(const std::vector<std::string>& args) {
  CommandLine a("strata rank");
  for (const char* o : {"top", "finalists", "jobs", "replay-timeout", "json", "csv", "op-table"}) a.option(o);
  a.flag("analytical");
  a.flag("quiet");
  if (!a.parse(args)) {
    std::cout << kRankHelp;
    return 0;
  }
  const std::string file = a.one_positional("SCENARIO");
  const int top = static_cast<int>(a.integer("top", 10, 1, kMaxTop));
  const int finalists =
      static_cast<int>(a.integer("finalists", std::min<long long>(std::max(top, 5), kMaxFinalists), 1, kMaxFinalists));
  const int jobs = jobs_option(a);
  const double timeout = a.seconds("replay-timeout", kDefaultReplayTimeout, 0, kMaxReplayTimeout);
  const bool quiet = a.has("quiet");
  const auto json = a.output("json"), csv = a.output("csv");
  distinct_outputs({{"--json", json}, {"--csv", csv}});
  const Loaded l = load(file, op_table_option(a));
  std::cout << "scenario: " << l.scenario.name << "\n" << cli::problem_header(l.problem);
  strategy::SearchOptions opt;
  opt.use_simgrid = !a.has("analytical");
  // Fewer finalists than --top: the rest of the table is analytical, and the lower bound keeps
  // every plan the table shows exact.
  opt.finalists = finalists;
  opt.keep = top;
  opt.jobs = jobs;
  opt.replay_timeout_s = timeout;
  opt.progress = [quiet](const std::string& s) { progress(quiet, s); };
  strategy::SearchResult s;
  try {
    s = strategy::search(l.problem, l.scenario.search, opt);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());  // the search's documented "inputs are inconsistent"
  }
  std::ostringstream took;
  took << "search took " << std::fixed << std::setprecision(1) << s.stats.wall_seconds << " s";
  progress(quiet, took.str());
  std::cout << cli::search_summary(s.stats) << "\n" << cli::rank_table(l.problem, s, top, kMaxFailedLines);
  std::size_t lines = 0;
  for (const strategy::FailedPlan& f : s.failed) {
    if (lines++ == kMaxFailedLines) {
      failure_line(std::to_string(s.failed.size() - kMaxFailedLines) + " more replays failed (--json lists them)");
      break;
    }
    failure_line(f.backend + " replay of " + f.plan.to_string() + " failed: " + f.error);
  }
  if (json) {
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
    w.member("complete", s.complete());
    w.key("ranked").begin_array();
    int i = 0;
    for (const auto& r : s.ranked) {
      if (i++ >= top) break;
      cli::result_json(w, l.problem, r);
    }
    w.end_array();
    w.key("failed").begin_array();
    for (const auto& f : s.failed) cli::failed_json(w, f);
    w.end_array();
    w.end_object();
    cli::write_file(*json, w.str());
  }
  if (csv) cli::write_file(*csv, cli::rank_csv(l.problem, s, top));
  return s.complete() ? 0 : kExitIncomplete;
}

// Whether the plan text names `key` (tokens as parse_plan reads them: "key=value", by spaces).
bool plan_names(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string item;
  while (in >> item)
    if (item.substr(0, item.find('=')) == key) return true;
  return false;
}

// dp when the plan leaves it out: the GPUs over tp x cp x pp, which must divide them.
int default_dp(const strategy::Plan& p, int gpus) {
  if (p.tp < 1 || p.cp < 1 || p.pp < 1) throw UsageError("--plan: tp, cp and pp must be positive");
  long long used = 1;
  for (const int d : {p.tp, p.cp, p.pp}) {
    used *= d;  // each factor is at most 2^31 and `used` at most `gpus` before it: no overflow
    if (used > gpus)
      throw UsageError("--plan gives no dp, and tp x cp x pp = " + std::to_string(p.tp) + " x " +
                       std::to_string(p.cp) + " x " + std::to_string(p.pp) + " is more than the cluster's " +
                       std::to_string(gpus) + " GPUs");
  }
  if (gpus % used != 0)
    throw UsageError("--plan gives no dp, and tp x cp x pp = " + std::to_string(used) + " does not divide the cluster's " +
                     std::to_string(gpus) + " GPUs (give dp=N)");
  return static_cast<int>(gpus / used);
}

int cmd_simulate(const std::vector<std::string>& args) {
  CommandLine a("strata simulate");
  for (const char* o : {"plan", "backend", "granularity", "replay-timeout", "json", "dot", "op-table"}) a.option(o);
  if (!a.parse(args)) {
    std::cout << kSimulateHelp;
    return 0;
  }
  const std::string file = a.one_positional("SCENARIO");
  const auto plan_text = a.value("plan");
  if (!plan_text) throw UsageError("simulate needs --plan \"tp=.. pp=.. ...\" (see strata simulate --help)");
  if (plan_text->find_first_not_of(" \t\n") == std::string::npos) throw UsageError("--plan is empty");
  const std::string backend_name = a.value("backend").value_or("simgrid");
  if (backend_name != "simgrid" && backend_name != "analytical")
    throw UsageError("--backend must be simgrid or analytical, got " + in_quotes(backend_name));
  const std::string gran = a.value("granularity").value_or("layer");
  if (gran != "layer" && gran != "chunk") throw UsageError("--granularity must be layer or chunk, got " + in_quotes(gran));
  const double timeout = a.seconds("replay-timeout", kDefaultReplayTimeout, 0, kMaxReplayTimeout);
  const auto json = a.output("json"), dot = a.output("dot");
  distinct_outputs({{"--json", json}, {"--dot", dot}});
  strategy::Plan plan;
  try {
    plan = strategy::parse_plan(*plan_text);
  } catch (const std::invalid_argument& e) {
    std::string why = e.what();
    if (why.rfind("plan: ", 0) == 0) why.erase(0, 6);  // the option names it already
    throw UsageError("--plan: " + why);
  }
  const Loaded l = load(file, op_table_option(a));
  if (!plan_names(*plan_text, "dp")) plan.dp = default_dp(plan, l.scenario.cluster.gpus);
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
                                       1, timeout);
    std::string error = out.front().error;
    if (out.front().ok) {
      try {
        r = strategy::deserialize(out.front().payload, plan,
                                  strategy::plan_memory(l.problem.model, l.problem.training, plan,
                                                        l.problem.cluster.gpu.reserved_memory));
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    if (!out.front().ok || !error.empty()) {
      failure_line("simgrid replay of " + plan.to_string() + " failed: " + error);
      return kExitIncomplete;
    }
  } else {
    try {
      r = strategy::evaluate(l.problem, plan, *sim::make_analytical_backend(), granularity);
    } catch (const std::exception& e) {
      failure_line("analytical replay of " + plan.to_string() + " failed: " + e.what());
      return kExitIncomplete;
    }
  }
  if (dot)
    cli::write_file(*dot, strategy::build_task_graph(l.problem.model, l.problem.training, l.problem.cluster, plan,
                                                     *l.problem.cost, granularity)
                              .to_dot());
  std::cout << "scenario: " << l.scenario.name << "\n" << cli::problem_header(l.problem) << cli::plan_report(l.problem, r);
  if (json) {
    cli::JsonWriter w;
    w.begin_object();
    w.member("scenario", l.scenario.name);
    cli::problem_json(w, l.problem);
    w.key("result");
    cli::result_json(w, l.problem, r);
    w.end_object();
    cli::write_file(*json, w.str());
  }
  return 0;
}

// --only: case ids separated by commas, each once and none empty.
std::set<std::string> only_ids(const std::string& text) {
  std::set<std::string> ids;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const std::string id = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (id.empty()) throw UsageError("--only " + in_quotes(text) + " has an empty case id (ids are separated by single commas)");
    if (!ids.insert(id).second) throw UsageError("--only names case " + in_quotes(id) + " twice");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

int cmd_validate(const std::vector<std::string>& args) {
  CommandLine a("strata validate");
  for (const char* o : {"json", "only", "jobs", "finalists", "replay-timeout", "op-table"}) a.option(o);
  a.flag("analytical");
  a.flag("quiet");
  if (!a.parse(args)) {
    std::cout << kValidateHelp;
    return 0;
  }
  const std::string file = a.one_positional("CASES");
  const bool quiet = a.has("quiet");
  std::optional<std::set<std::string>> only;
  if (const auto v = a.value("only")) only = only_ids(*v);
  strategy::SearchOptions opt;
  opt.finalists = static_cast<int>(a.integer("finalists", 3, 1, kMaxFinalists));
  opt.jobs = jobs_option(a);
  opt.replay_timeout_s = a.seconds("replay-timeout", kDefaultReplayTimeout, 0, kMaxReplayTimeout);
  opt.use_simgrid = !a.has("analytical");
  const auto json = a.output("json");
  const std::optional<std::string> table_file = op_table_option(a);
  std::vector<scenario::ValidationCase> cases = scenario::load_cases(file, scenario::default_data_dirs());
  if (only) {
    std::set<std::string> want = *only;
    std::vector<scenario::ValidationCase> kept;
    for (auto& c : cases)
      if (want.erase(c.id)) kept.push_back(std::move(c));
    if (!want.empty()) throw UsageError("--only: no case with id " + in_quotes(*want.begin()) + " in " + in_quotes(file));
    cases = std::move(kept);
  }
  // --op-table applies to the cases on its GPU; the others use their GPU's shipped table or the
  // roofline.
  OpTables tables;
  const std::string table_gpu = table_file ? tables.get(*table_file).gpu() : std::string();
  if (table_file && table_gpu.empty())
    throw scenario::InputError(*table_file, 0, "gpu", "validate needs the table's '# gpu: PRESET' header line");
  std::vector<scenario::CaseResult> results;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const scenario::ValidationCase& c = cases[i];
    progress(quiet, "case " + std::to_string(i + 1) + "/" + std::to_string(cases.size()) + ": " + topo::printable(c.id));
    // One case's failure is its own row: the other cases still run.
    scenario::CaseResult r;
    try {
      std::unique_ptr<strategy::OpCostModel> cost;
      if (!c.unsupported && !c.invalid)
        cost = cost_model(c.cluster.gpu, c.training.precision,
                          table_gpu == c.cluster.gpu.name ? table_file : std::nullopt, tables);
      r = scenario::run_case(c, opt, cost.get());  // an invalid case comes back "invalid"
    } catch (const std::exception& e) {
      r.id = c.id;
      r.target_s = c.target_iteration_s;
      r.measured_memory_gib = c.measured_peak_memory_gib;
      r.status = dynamic_cast<const scenario::InputError*>(&e) != nullptr ? "invalid" : "error";
      r.reason = e.what();
    }
    results.push_back(std::move(r));
  }
  const scenario::Summary s = scenario::summarize(cases, results);
  std::cout << cli::validation_table(cases, results, s);
  bool invalid = false, failed = false;
  for (const scenario::CaseResult& r : results) {
    if (r.status == "invalid") {
      invalid = true;
      failure_line("case " + topo::printable(r.id) + " is invalid: " + r.reason);
    } else if (r.status == "error") {
      failed = true;
      failure_line("case " + topo::printable(r.id) + " failed: " + r.reason);
    } else if (r.incomplete) {
      failed = true;
      failure_line("case " + topo::printable(r.id) + " is incomplete: " + r.reason);
    }
  }
  if (json) cli::write_file(*json, cli::validation_json(cases, results, s));
  return invalid ? 2 : failed ? kExitIncomplete : 0;
}

// The presets under `dirs.clusters`, sorted, comma-separated.
std::string known_presets(const scenario::DataDirs& dirs) {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dirs.clusters, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".yaml") names.push_back(it->path().stem().string());
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none found in " + dirs.clusters.string() : out;
}

// CLUSTER: a file, or the name of a preset (topologies/clusters/NAME.yaml).
std::filesystem::path cluster_file(const std::string& arg, const scenario::DataDirs& dirs) {
  namespace fs = std::filesystem;
  if (arg.empty()) throw UsageError("CLUSTER is empty: give a preset name or a file");
  std::error_code ec;
  const fs::file_status st = fs::status(arg, ec);
  if (fs::is_regular_file(st)) return arg;
  if (fs::exists(st)) throw UsageError("cluster " + in_quotes(arg) + " is not a regular file");
  const bool name_like = arg.find_first_of("/\\") == std::string::npos && arg.size() <= topo::limits::max_name;
  if (name_like) {
    const fs::path preset = dirs.clusters / (arg + ".yaml");
    if (fs::is_regular_file(preset, ec)) return preset;
  }
  throw UsageError("no cluster file or preset " + in_quotes(arg) + " (presets: " + known_presets(dirs) + ")");
}

topo::ClusterSpec load_sized_cluster(const std::string& arg, long long gpus) {
  const auto dirs = scenario::default_data_dirs();
  const auto file = cluster_file(arg, dirs);
  const topo::ClusterSpec preset = scenario::load_cluster(file, dirs, 0);
  // Whole nodes (the last NVLink domain may be partly filled, like a scenario's).
  const long long node = std::max(1, preset.gpus_per_node);
  const long long n = gpus > node ? (gpus + node - 1) / node * node : gpus;  // gpus <= 2^20: no overflow
  if (n > topo::limits::max_gpus)
    throw UsageError(std::to_string(gpus) + " GPUs rounded up to whole nodes of " + std::to_string(node) + " is " +
                     std::to_string(n) + ", more than " + std::to_string(topo::limits::max_gpus));
  return scenario::load_cluster(file, dirs, static_cast<int>(n));
}

int cmd_topo(const std::vector<std::string>& args) {
  CommandLine a("strata topo");
  for (const char* o : {"gpus", "from", "to", "json"}) a.option(o);
  if (!a.parse(args)) {
    std::cout << kTopoHelp;
    return 0;
  }
  const std::string cluster = a.one_positional("CLUSTER");
  const long long gpus = a.integer("gpus", 1024, 1, topo::limits::max_gpus);
  const auto json = a.output("json");
  const topo::ClusterSpec c = load_sized_cluster(cluster, gpus);
  const int from = static_cast<int>(a.integer("from", 0, 0, c.gpus - 1));
  const int to = static_cast<int>(a.integer("to", c.gpus - 1, 0, c.gpus - 1));
  try {
    std::cout << cli::topo_report(c, from, to);
    if (json) cli::write_file(*json, cli::topo_json(c, from, to));
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  return 0;
}

int cmd_collective(const std::vector<std::string>& args) {
  CommandLine a("strata collective");
  for (const char* o : {"op", "ranks", "size", "sweep", "algo", "stride", "gpus", "json"}) a.option(o);
  if (!a.parse(args)) {
    std::cout << kCollectiveHelp;
    return 0;
  }
  const std::string cluster = a.one_positional("CLUSTER");
  cli::CollectiveSetup setup;
  const std::string op = a.value("op").value_or("all-reduce");
  const auto parsed_op = sim::parse_collective_op(op);
  if (!parsed_op)
    throw UsageError("unknown --op " + in_quotes(op) + " (all-reduce, reduce-scatter, all-gather, all-to-all, broadcast, send-recv)");
  setup.op = *parsed_op;
  if (const auto algo_name = a.value("algo")) {
    const auto algo = sim::parse_algorithm(*algo_name);
    if (!algo) throw UsageError("unknown --algo " + in_quotes(*algo_name) + " (auto, ring, tree, nvls, hierarchical, direct)");
    setup.algorithm = *algo;
  }
  if (!a.has("ranks")) throw UsageError("--ranks N is required (see strata collective --help)");
  const long long max_gpus = topo::limits::max_gpus;
  const long long ranks = a.integer("ranks", 8, 1, max_gpus);
  const long long stride = a.integer("stride", 1, 1, max_gpus);
  if (ranks * stride > max_gpus)  // both at most 2^20: the product fits
    throw UsageError("--ranks " + std::to_string(ranks) + " at --stride " + std::to_string(stride) + " need " +
                     std::to_string(ranks * stride) + " GPUs, more than the largest cluster (" +
                     std::to_string(max_gpus) + ")");
  setup.ranks = static_cast<int>(ranks);
  setup.stride = static_cast<int>(stride);
  const long long gpus = a.integer("gpus", ranks * stride, 1, max_gpus);
  if (gpus < ranks * stride)
    throw UsageError("--ranks " + std::to_string(ranks) + " at --stride " + std::to_string(stride) + " need " +
                     std::to_string(ranks * stride) + " GPUs; --gpus is " + std::to_string(gpus));
  if (a.has("sweep") == a.has("size")) throw UsageError("give one of --size BYTES or --sweep MIN:MAX");
  const std::vector<double> sizes =
      a.has("sweep") ? cli::parse_sweep(*a.value("sweep")) : std::vector<double>{cli::parse_size(*a.value("size"), "--size")};
  const double n = static_cast<double>(sizes.size()), r = static_cast<double>(ranks), g = static_cast<double>(stride);
  if (n * r * g > kMaxRankSizes)
    throw UsageError(std::to_string(sizes.size()) + " size(s) over " + std::to_string(ranks) + " ranks x " +
                     std::to_string(stride) + " group(s) is too much to time (sizes x ranks x groups is at most " +
                     std::to_string(static_cast<long long>(kMaxRankSizes)) + "): use fewer sizes, ranks or groups");
  if (setup.op == sim::CollectiveOp::all_to_all && (r * r * g > kMaxAllToAllFlows || n * r * r * g > kMaxAllToAllWork))
    throw UsageError("an all-to-all over " + std::to_string(ranks) + " ranks x " + std::to_string(stride) +
                     " group(s) at " + std::to_string(sizes.size()) +
                     " size(s) is too much to time (ranks^2 x groups at most 2^28, times sizes at most 2^31)");
  const auto json = a.output("json");
  const topo::ClusterSpec c = load_sized_cluster(cluster, gpus);
  try {
    const auto rows = cli::time_collective(c, setup, sizes);
    std::cout << cli::collective_table(c, setup, rows);
    if (json) cli::write_file(*json, cli::collective_json(c, setup, rows));
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  return 0;
}

struct Command {
  const char* name;
  int (*run)(const std::vector<std::string>&);
  const char* help;
};

const Command kCommands[] = {{"rank", cmd_rank, kRankHelp},
                             {"simulate", cmd_simulate, kSimulateHelp},
                             {"validate", cmd_validate, kValidateHelp},
                             {"topo", cmd_topo, kTopoHelp},
                             {"collective", cmd_collective, kCollectiveHelp}};

const Command* find_command(const std::string& name) {
  for (const Command& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::cerr << kMainHelp;
      return 2;
    }
    const std::string cmd = argv[1];
    const std::vector<std::string> args(argv + 2, argv + argc);
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      if (args.empty()) {
        std::cout << kMainHelp;
        return 0;
      }
      const Command* c = args.size() == 1 ? find_command(args[0]) : nullptr;
      if (c == nullptr)
        throw UsageError("help takes one command name (rank, simulate, validate, topo, collective), got " + in_quotes(args[0]));
      std::cout << c->help;
      return 0;
    }
    if (cmd == "--version") {
      if (!args.empty()) throw UsageError("--version takes no arguments");
      std::cout << kVersion << "\n";
      return 0;
    }
    if (const Command* c = find_command(cmd)) return c->run(args);
    if (!cmd.empty() && cmd[0] == '-')
      throw UsageError("unknown option " + in_quotes(cmd) + " (a command comes first: rank, simulate, validate, topo, "
                       "collective; see strata --help)");
    throw UsageError("unknown command " + in_quotes(cmd) + " (commands: rank, simulate, validate, topo, collective; see --help)");
  } catch (const UsageError& e) {
    std::cerr << "strata: error: " << e.what() << "\n";
    return 2;
  } catch (const scenario::InputError& e) {
    std::cerr << "strata: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "strata: internal error: " << topo::printable(e.what(), 0) << "\n";
    return 1;
  }
}
