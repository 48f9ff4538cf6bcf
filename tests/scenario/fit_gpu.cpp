// fit_gpu: fits a GPU preset's matmul and memory efficiencies and host time per kernel to
// measured step times, by coordinate descent (docs/modeling.md, "GPU constants"). The evidence:
// vTrain's measured runs (vtrain.hpp; A100 only) and the published runs of calibration.yaml on
// that GPU (the mean over sources of each source's MAPE, searched as `strata validate
// --analytical` does). Prints every step and the result; writes nothing.
//
//   build/bin/fit_gpu [--vtrain-limits S,M] [--from MATMUL,MEMORY,HOST_US] [--leave-out TEXT | --loso]
//                     [--residuals | --score] [GPU preset or file, default a100-sxm-80gb]
//
// Objective: the mean of the vTrain MAPE (single-node and multi-node averaged) and the calibration
// MAPE; with --vtrain-limits S,M, the calibration MAPE alone, subject to vTrain's single-node and
// multi-node MAPEs staying at or below S and M % (a steep penalty beyond): calibrating on the
// published runs without giving up the vTrain fit. The descent starts from the preset's values,
// or from --from's.
// --leave-out TEXT drops the calibration sources whose name contains TEXT from the objective and
// reports their error with the fit that did not see them. --loso does that for every source in
// turn, beside the full fit, and exits 1 if a left-out source's error differs from its error in
// the full fit by more than 5 points (the leave-one-source-out check; a ctest test runs it).
// --score prints the objective with the preset as it is; --residuals prints every vTrain run's
// measured and predicted time.

#include <algorithm>
#include <cmath>
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

// Everything one fit needs besides the calibration sources it may see.
struct Evidence {
  bool a100 = false;
  std::vector<test::vtrain::Run> single, multi;
  topo::ClusterSpec one, many;
  double limit_single = -1, limit_multi = -1;  // < 0: no limits, the mean objective
};

double objective(const Evidence& ev, const std::vector<Source>& fitted, const topo::GpuSpec& g) {
  auto cal = std::async(std::launch::async, [&] { return calibration_error(fitted, g); });
  test::vtrain::Error s, m;
  if (ev.a100) {
    s = test::vtrain::predict(ev.single, ev.one, g);
    m = test::vtrain::predict(ev.multi, ev.many, g);
  }
  const double c = cal.get().first;
  std::printf("  matmul %.3f memory %.3f host %5.1f us: vTrain single %5.2f %% (bias %+5.2f), multi %5.2f %% (%+5.2f); "
              "calibration %5.2f %%\n",
              g.matmul_efficiency, g.memory_efficiency, g.host_overhead.value() * 1e6, s.mape, s.bias, m.mape, m.bias, c);
  std::fflush(stdout);
  if (!ev.a100) return c;
  if (ev.limit_single >= 0)
    return c + 100 * (std::max(0.0, s.mape - ev.limit_single) + std::max(0.0, m.mape - ev.limit_multi));
  const double vtrain = (s.mape + m.mape) / 2;
  return fitted.empty() ? vtrain : (vtrain + c) / 2;
}

// Coordinate descent from `gpu`: each knob stepped while the objective falls, the steps halved
// each round, until a round moves nothing.
topo::GpuSpec fit(const Evidence& ev, const std::vector<Source>& fitted, topo::GpuSpec gpu) {
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
  double best = objective(ev, fitted, gpu);
  for (int round = 0; round < 4; ++round) {
    bool moved = false;
    for (const Knob& k : knobs) {
      for (double dir : {+1.0, -1.0}) {
        for (;;) {
          topo::GpuSpec g = gpu;
          const double v = k.get(gpu) + dir * k.step / (1 << round);
          if (v < k.lo || v > k.hi) break;
          k.set(g, v);
          const double s = objective(ev, fitted, g);
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
  return gpu;
}

// The sources whose name contains `text` (none when empty) apart from the others.
std::pair<std::vector<Source>, std::vector<Source>> split(const std::vector<Source>& all, const std::string& text) {
  std::vector<Source> fitted, held;
  for (const Source& s : all) (!text.empty() && s.name.find(text) != std::string::npos ? held : fitted).push_back(s);
  return {fitted, held};
}

}  // namespace

int main(int argc, char** argv) {
  bool residuals = false, score_only = false, loso = false;
  Evidence ev;
  double from[3] = {-1, -1, -1};
  std::string leave_out, name = "a100-sxm-80gb";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--residuals") residuals = true;
    else if (a == "--score") score_only = true;
    else if (a == "--loso") loso = true;
    else if (a == "--leave-out" && i + 1 < argc) leave_out = argv[++i];
    else if (a == "--vtrain-limits" && i + 1 < argc &&
             std::sscanf(argv[i + 1], "%lf,%lf", &ev.limit_single, &ev.limit_multi) == 2)
      ++i;
    else if (a == "--from" && i + 1 < argc && std::sscanf(argv[i + 1], "%lf,%lf,%lf", &from[0], &from[1], &from[2]) == 3)
      ++i;
    else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "fit_gpu: unknown or incomplete option %s (see the comment at the top of fit_gpu.cpp)\n", a.c_str());
      return 2;
    } else name = a;
  }
  const auto dirs = scenario::DataDirs::under(test::source_dir());
  // A preset name, or a GPU file (a what-if copy of a preset).
  const bool file = name.size() > 5 && name.substr(name.size() - 5) == ".yaml";
  topo::GpuSpec gpu = scenario::load_gpu(file ? std::filesystem::path(name) : dirs.gpus / (name + ".yaml"));
  if (from[0] >= 0) {
    gpu.matmul_efficiency = from[0];
    gpu.memory_efficiency = from[1];
    gpu.host_overhead = sim::Seconds(from[2] * 1e-6);
  }

  ev.a100 = gpu.name.rfind("a100", 0) == 0;
  const auto vt = test::validation_dir() / "vtrain";
  if (ev.a100) {
    ev.single = test::vtrain::read_runs(vt / "ground_truth_single.csv", false);
    ev.multi = test::vtrain::read_runs(vt / "ground_truth_multi.csv", true);
  }
  ev.one = test::vtrain::cluster(dirs, false);
  ev.many = test::vtrain::cluster(dirs, true);

  if (residuals) {
    std::printf("file,gpus,hidden,heads,layers,seq,tp,dp,pp,micro_batch,global_batch,measured_s,predicted_s\n");
    for (const auto* set : {&ev.single, &ev.multi}) {
      std::vector<double> each;
      (void)test::vtrain::predict(*set, set == &ev.single ? ev.one : ev.many, gpu, &each);
      for (std::size_t i = 0; i < set->size(); ++i) {
        const auto& r = (*set)[i];
        std::printf("%s,%d,%ld,%ld,%d,%d,%d,%d,%d,%d,%d,%.6f,%.6f\n", set == &ev.single ? "single" : "multi", r.gpus,
                    static_cast<long>(r.model.hidden), static_cast<long>(r.model.heads), r.model.layers,
                    r.training.seq_len, r.plan.tp, r.plan.dp, r.plan.pp, r.plan.micro_batch, r.training.global_batch,
                    r.measured_s, each[i]);
      }
    }
    return 0;
  }

  // The calibration cases on this GPU with a target, by source.
  std::vector<Source> sources;
  {
    std::map<std::string, std::vector<scenario::ValidationCase>> by_source;
    for (auto& c : scenario::load_cases(test::validation_dir() / "calibration.yaml", dirs))
      if (!c.invalid && !c.unsupported && c.target_iteration_s && c.cluster.gpu.name == gpu.name)
        by_source[c.source].push_back(std::move(c));
    for (auto& [src, cases] : by_source) sources.push_back({src, std::move(cases)});
  }
  if (score_only) {
    (void)objective(ev, sources, gpu);
    return 0;
  }
  if (!loso) {
    const auto [fitted, held] = split(sources, leave_out);
    std::printf("%zu calibration sources fitted, %zu left out; vTrain runs: %zu single-node, %zu multi-node\n",
                fitted.size(), held.size(), ev.single.size(), ev.multi.size());
    const topo::GpuSpec best = fit(ev, fitted, gpu);
    const auto per = calibration_error(fitted, best).second;
    for (std::size_t i = 0; i < fitted.size(); ++i)
      std::printf("  fitted source %.2f %%: %.100s\n", per[i], fitted[i].name.c_str());
    const auto held_per = calibration_error(held, best).second;
    for (std::size_t i = 0; i < held.size(); ++i)
      std::printf("  left-out source %.2f %%: %.100s\n", held_per[i], held[i].name.c_str());
    return 0;
  }
  // Leave-one-source-out: every source's error with the full fit against its error with a fit
  // that never saw it.
  const topo::GpuSpec full = fit(ev, sources, gpu);
  const auto in_full = calibration_error(sources, full).second;
  bool ok = true;
  std::printf("\nleave-one-source-out (error %% in the full fit -> with the source left out):\n");
  for (std::size_t i = 0; i < sources.size(); ++i) {
    std::vector<Source> fitted = sources;
    fitted.erase(fitted.begin() + static_cast<std::ptrdiff_t>(i));
    const topo::GpuSpec without = fit(ev, fitted, gpu);
    const double out = calibration_error({sources[i]}, without).first;
    const bool within = std::fabs(out - in_full[i]) <= 5.0;
    ok = ok && within;
    std::printf("  %6.2f -> %6.2f %s  %.100s\n", in_full[i], out, within ? "ok  " : "FAIL", sources[i].name.c_str());
  }
  std::printf("%s\n", ok ? "every source within 5 points" : "a source moved by more than 5 points");
  return ok ? 0 : 1;
}
