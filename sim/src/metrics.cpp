#include "strata/sim/metrics.hpp"

#include <algorithm>
#include <cstddef>
#include <map>
#include <utility>

namespace strata::sim {
namespace {

using Interval = std::pair<double, double>;

// Merges `more` (sorted here) into the sorted `v`, keeping it sorted: each category's spans are
// sorted once, not the whole growing union once per category.
void merge_into(std::vector<Interval>& v, std::vector<Interval>& more) {
  std::sort(more.begin(), more.end());
  const auto mid = static_cast<std::ptrdiff_t>(v.size());
  v.insert(v.end(), more.begin(), more.end());
  std::inplace_merge(v.begin(), v.begin() + mid, v.end());
}

// Total length of the union of sorted intervals.
double covered(const std::vector<Interval>& v) {
  double total = 0, lo = 0, hi = -1;
  bool open = false;
  for (const auto& [a, b] : v) {
    if (!open || a > hi) {
      if (open) total += hi - lo;
      lo = a;
      hi = b;
      open = true;
    } else {
      hi = std::max(hi, b);
    }
  }
  if (open) total += hi - lo;
  return total;
}

}  // namespace

Breakdown summarize(const TaskGraph& graph, const ReplayResult& result) {
  struct Acc {
    std::array<double, kCategoryCount> busy{};
    std::array<std::vector<Interval>, kCategoryCount> spans;
  };
  std::map<int, Acc> by_gpu;
  for (TaskId v = 0; v < graph.size(); ++v) {
    const Task& t = graph.task(v);
    const TaskTiming& tm = result.timings.at(v);
    if (tm.finish <= tm.start) continue;
    Acc& acc = by_gpu[t.gpu];
    const auto c = static_cast<std::size_t>(t.category);
    acc.busy[c] += tm.finish - tm.start;
    acc.spans[c].emplace_back(tm.start, tm.finish);
  }

  Breakdown out;
  out.step = result.step_time;
  out.mean.gpu = -1;
  for (auto& [gpu, acc] : by_gpu) {
    GpuBreakdown b;
    b.gpu = gpu;
    b.forward = Seconds(acc.busy[static_cast<int>(Category::forward)]);
    b.backward = Seconds(acc.busy[static_cast<int>(Category::backward)]);
    b.recompute = Seconds(acc.busy[static_cast<int>(Category::recompute)]);
    b.optimizer = Seconds(acc.busy[static_cast<int>(Category::optimizer)]);
    // Grow the union category by category, in order of precedence.
    std::vector<Interval> all;
    for (Category c : {Category::forward, Category::backward, Category::recompute,
                       Category::optimizer}) {
      merge_into(all, acc.spans[static_cast<int>(c)]);
    }
    double prev = covered(all);
    // A named reference, not the structured binding: C++20 lets lambdas capture bindings, but
    // clang 14 (the fuzzing compiler) does not implement that yet.
    Acc& gpu_acc = acc;
    auto expose = [&](Category c) {
      merge_into(all, gpu_acc.spans[static_cast<int>(c)]);
      const double now = covered(all);
      const double exposed = now - prev;
      prev = now;
      return Seconds(exposed);
    };
    b.exposed_tp = expose(Category::tp_comm);
    b.exposed_cp = expose(Category::cp_comm);
    b.exposed_ep = expose(Category::ep_comm);
    b.exposed_pp = expose(Category::pp_comm);
    b.exposed_dp = expose(Category::dp_comm);
    b.idle = Seconds(std::max(0.0, out.step.value() - prev));
    out.per_gpu.push_back(b);
  }
  if (!out.per_gpu.empty()) {
    const double k = 1.0 / static_cast<double>(out.per_gpu.size());
    for (const GpuBreakdown& b : out.per_gpu) {
      out.mean.forward += b.forward * k;
      out.mean.backward += b.backward * k;
      out.mean.recompute += b.recompute * k;
      out.mean.optimizer += b.optimizer * k;
      out.mean.exposed_tp += b.exposed_tp * k;
      out.mean.exposed_cp += b.exposed_cp * k;
      out.mean.exposed_ep += b.exposed_ep * k;
      out.mean.exposed_pp += b.exposed_pp * k;
      out.mean.exposed_dp += b.exposed_dp * k;
      out.mean.idle += b.idle * k;
    }
  }
  return out;
}

}  // namespace strata::sim
