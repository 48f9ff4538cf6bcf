// fit_gpu: fits a GPU preset's matmul and memory efficiencies and host time per kernel to
// measured step times, by coordinate descent from the preset's values (docs/modeling.md, "GPU
// constants"). The objective weighs two kinds of evidence equally: vTrain's measured runs
// (vtrain.hpp; the mean of the single-node and multi-node MAPEs, A100 only) and the published
// runs of calibration.yaml on that GPU (the mean over sources of each source's MAPE, searched as
// `strata validate --analytical` does). Prints every step and the result; writes nothing.
//
//   build/bin/fit_gpu [--leave-out TEXT] [--vtrain-limits S,M] [--residuals | --score] [GPU preset or file]
//
// --score prints the objective of the preset as it is and stops. --vtrain-limits S,M fits the
// calibration sources alone, subject to vTrain's single-node and multi-node MAPEs staying at or
// below S and M % (a steep penalty beyond them): calibrating on the published runs without
// giving up the vTrain fit.
// --leave-out TEXT drops the calibration sources whose name contains TEXT from the objective and
// reports their error with the fit that did not see them (the leave-one-source-out check).
// --residuals prints every vTrain run's measured and predicted time with the preset as it is.

#include <algorithm>
#include <cstdio>
#include <future>
#include <map>
#include <string>

#include "strata/scenario/validation.hpp"
#include "support.hpp"
#include "vtrain.hpp"

using namespace strata;

namespace {

struct Source {
  std::string name;
  std::vector<scenario::ValidationCase> cases;
};

// Per-source MAPE (%) of `sources` with `gpu`, and their mean.
std::pair<double, std::vector<double>> calibration_error(const std::vector<Source>& sources, const topo::GpuSpec& gpu) {
  strategy::SearchOptions options;
  options.use_simgrid = false;
  std::vector<double> per;
  double sum = 0;
  for (const Source& s : sources) {
    double e = 0;
    int n = 0;
    for (scenario::ValidationCase c : s.cases) {
      c.cluster.gpu = gpu;
      const scenario::CaseResult r = scenario::run_case(c, options, nullptr);
      if (r.status != "ok" || !r.predicted_s) continue;
      e += std::fabs(*r.predicted_s / *c.target_iteration_s - 1) * 100;
      ++n;
    }
    per.push_back(n ? e / n : 0);
    sum += per.back();
  }
  return {sources.empty() ? 0 : sum / static_cast<double>(sources.size()), per};
}

}  // namespace

int main(int argc, char** argv) {
  bool residuals = false, score_only = false;
  double limit_single = -1, limit_multi = -1;
  std::string leave_out, name = "a100-sxm-80gb";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--residuals") residuals = true;
    else if (a == "--score") score_only = true;
    else if (a == "--leave-out" && i + 1 < argc) leave_out = argv[++i];
    else if (a == "--vtrain-limits" && i + 1 < argc && std::sscanf(argv[i + 1], "%lf,%lf", &limit_single, &limit_multi) == 2) ++i;
    else name = a;
  }
  const auto dirs = scenario::DataDirs::under(test::source_dir());
  // A preset name, or a GPU file (a what-if copy of a preset).
  const bool file = name.size() > 5 && name.substr(name.size() - 5) == ".yaml";
  topo::GpuSpec gpu = scenario::load_gpu(file ? std::filesystem::path(name) : dirs.gpus / (name + ".yaml"));

  const bool a100 = gpu.name.rfind("a100", 0) == 0;
  const auto vt = test::validation_dir() / "vtrain";
  const auto single = a100 ? test::vtrain::read_runs(vt / "ground_truth_single.csv", false) : std::vector<test::vtrain::Run>{};
  const auto multi = a100 ? test::vtrain::read_runs(vt / "ground_truth_multi.csv", true) : std::vector<test::vtrain::Run>{};
  const topo::ClusterSpec one = test::vtrain::cluster(dirs, false), many = test::vtrain::cluster(dirs, true);

  if (residuals) {
    std::printf("file,gpus,hidden,heads,layers,seq,tp,dp,pp,micro_batch,global_batch,measured_s,predicted_s\n");
    for (const auto* set : {&single, &multi}) {
      std::vector<double> each;
      (void)test::vtrain::predict(*set, set == &single ? one : many, gpu, &each);
      for (std::size_t i = 0; i < set->size(); ++i) {
        const auto& r = (*set)[i];
        std::printf("%s,%d,%ld,%ld,%d,%d,%d,%d,%d,%d,%d,%.6f,%.6f\n", set == &single ? "single" : "multi", r.gpus,
                    static_cast<long>(r.model.hidden), static_cast<long>(r.model.heads), r.model.layers,
                    r.training.seq_len, r.plan.tp, r.plan.dp, r.plan.pp, r.plan.micro_batch, r.training.global_batch,
                    r.measured_s, each[i]);
      }
    }
    return 0;
  }

  // The calibration cases on this GPU with a target, by source; the left-out ones apart.
  std::vector<Source> fitted, held;
  {
    std::map<std::string, std::vector<scenario::ValidationCase>> by_source;
    for (auto& c : scenario::load_cases(test::validation_dir() / "calibration.yaml", dirs))
      if (!c.invalid && !c.unsupported && c.target_iteration_s && c.cluster.gpu.name == gpu.name)
        by_source[c.source].push_back(std::move(c));
    for (auto& [src, cases] : by_source)
      (!leave_out.empty() && src.find(leave_out) != std::string::npos ? held : fitted).push_back({src, std::move(cases)});
  }
  std::printf("%zu calibration sources fitted, %zu left out; vTrain runs: %zu single-node, %zu multi-node\n",
              fitted.size(), held.size(), single.size(), multi.size());

  auto score = [&](const topo::GpuSpec& g) {
    auto cal = std::async(std::launch::async, [&] { return calibration_error(fitted, g); });
    double vtrain = 0;
    test::vtrain::Error s, m;
    if (a100) {
      s = test::vtrain::predict(single, one, g);
      m = test::vtrain::predict(multi, many, g);
      vtrain = (s.mape + m.mape) / 2;
    }
    const auto [c, per] = cal.get();
    std::printf("  matmul %.3f memory %.3f host %5.1f us: vTrain single %5.2f %% (bias %+5.2f), multi %5.2f %% (%+5.2f); "
                "calibration %5.2f %%\n",
                g.matmul_efficiency, g.memory_efficiency, g.host_overhead.value() * 1e6, s.mape, s.bias, m.mape, m.bias, c);
    std::fflush(stdout);
    if (!a100) return c;
    if (limit_single >= 0)
      return c + 100 * (std::max(0.0, s.mape - limit_single) + std::max(0.0, m.mape - limit_multi));
    return fitted.empty() ? vtrain : (vtrain + c) / 2;
  };
  double best = score(gpu);
  if (score_only) return 0;
  struct Knob {
    double step, lo, hi;
    double (*get)(const topo::GpuSpec&);
    void (*set)(topo::GpuSpec&, double);
  };
  const Knob knobs[] = {
      {0.01, 0.5, 1.0, [](const topo::GpuSpec& g) { return g.matmul_efficiency; },
       [](topo::GpuSpec& g, double v) { g.matmul_efficiency = v; }},
      {0.02, 0.3, 1.0, [](const topo::GpuSpec& g) { return g.memory_efficiency; },
       [](topo::GpuSpec& g, double v) { g.memory_efficiency = v; }},
      {5e-6, 0, 200e-6, [](const topo::GpuSpec& g) { return g.host_overhead.value(); },
       [](topo::GpuSpec& g, double v) { g.host_overhead = sim::Seconds(v); }},
  };
  for (int round = 0; round < 4; ++round) {
    bool moved = false;
    for (const Knob& k : knobs) {
      for (double dir : {+1.0, -1.0}) {
        for (;;) {
          topo::GpuSpec g = gpu;
          const double v = k.get(gpu) + dir * k.step / (1 << round);
          if (v < k.lo || v > k.hi) break;
          k.set(g, v);
          const double s = score(g);
          if (s >= best) break;
          best = s;
          gpu = g;
          moved = true;
        }
      }
    }
    if (!moved && round > 0) break;
  }
  std::printf("best: matmul %.4f memory %.4f host_overhead %.1fus, objective %.2f %%\n", gpu.matmul_efficiency,
              gpu.memory_efficiency, gpu.host_overhead.value() * 1e6, best);
  const auto [all, per] = calibration_error(fitted, gpu);
  for (std::size_t i = 0; i < fitted.size(); ++i)
    std::printf("  fitted source %.2f %%: %.100s\n", per[i], fitted[i].name.c_str());
  const auto [out, held_per] = calibration_error(held, gpu);
  for (std::size_t i = 0; i < held.size(); ++i)
    std::printf("  left-out source %.2f %%: %.100s\n", held_per[i], held[i].name.c_str());
  return 0;
}
