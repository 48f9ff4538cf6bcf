#include "strata/strategy/plan.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/strategy/model.hpp"
#include "strata/topo/cluster.hpp"

namespace strata::strategy {

static_assert(kMaxPlanDimension == topo::limits::max_gpus, "a plan may span the largest cluster, no more");
static_assert(kMaxPlanChunks == limits::max_layers, "a model chunk holds at least one layer");

namespace {
// a x b, saturating at INT64_MAX (negative factors give 0: no plan has a negative dimension).
std::int64_t times(std::int64_t a, std::int64_t b) {
  if (a <= 0 || b <= 0) return 0;
  std::int64_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? INT64_MAX : out;
}
}  // namespace

std::int64_t Plan::gpus() const { return times(times(times(tp, cp), pp), dp); }

int Plan::dp_cp() const {
  const std::int64_t v = times(dp, cp);
  return v > INT_MAX ? INT_MAX : static_cast<int>(v);
}

const char* to_string(Recompute r) {
  switch (r) {
    case Recompute::none: return "none";
    case Recompute::selective: return "selective";
    case Recompute::full: return "full";
  }
  return "unknown";
}

const char* to_string(Schedule s) {
  switch (s) {
    case Schedule::gpipe: return "gpipe";
    case Schedule::one_f_one_b: return "1f1b";
    case Schedule::interleaved: return "interleaved-1f1b";
    case Schedule::zb_h1: return "zb-h1";
  }
  return "unknown";
}

const char* to_string(CpComm c) { return c == CpComm::ring ? "ring" : "a2a"; }

std::vector<int> virtual_stage_layers(int layers, int pp, int vpp) {
  const std::int64_t chunks = static_cast<std::int64_t>(pp) * vpp;
  if (pp < 1 || vpp < 1 || layers < chunks)
    throw std::invalid_argument(std::to_string(layers) + " layers cannot fill " + std::to_string(chunks) +
                                " pipeline stages");
  const int v = static_cast<int>(chunks);
  std::vector<int> out(static_cast<std::size_t>(v), layers / v);
  int extra = layers % v;
  for (int i = 1; i < v - 1 && extra > 0; ++i, --extra) ++out[static_cast<std::size_t>(i)];
  if (extra > 0 && v > 1) {
    ++out[static_cast<std::size_t>(v - 1)];
    --extra;
  }
  if (extra > 0) ++out[0];
  return out;
}

int Plan::microbatches(int global_batch) const {
  // In 64 bits: dp x micro_batch of two ints cannot wrap into a divisor of the batch.
  const std::int64_t per_step = static_cast<std::int64_t>(dp) * micro_batch;
  if (per_step <= 0 || global_batch <= 0 || global_batch % per_step != 0) return 0;
  return static_cast<int>(global_batch / per_step);
}

std::string Plan::to_string() const {
  std::ostringstream os;
  os << "tp=" << tp << " pp=" << pp << " dp=" << dp << " mbs=" << micro_batch << " vpp=" << vpp
     << " sp=" << (sequence_parallel ? "on" : "off") << " recompute=" << strategy::to_string(recompute)
     << " zero=" << zero << " schedule=" << strategy::to_string(schedule);
  const Plan d{};
  if (cp != d.cp) os << " cp=" << cp;
  // Written whenever it is not the default, cp=1 or not, so that parse_plan(to_string()) gives
  // back the same plan.
  if (cp_comm != d.cp_comm) os << " cp_comm=" << strategy::to_string(cp_comm);
  if (ep != d.ep) os << " ep=" << ep;
  if (shard != d.shard) os << " shard=" << shard;
  if (tp_overlap) os << " tpo=on";
  if (recompute_layers != d.recompute_layers) os << " rc_layers=" << recompute_layers;
  if (order != d.order) os << " order=" << order;
  return os.str();
}

namespace {

std::string shown(const std::string& key, const std::string& value) {
  return "plan: " + topo::printable(key, 40) + "=" + topo::printable(value);
}

int parse_int(const std::string& key, const std::string& value, int max = kMaxPlanDimension) {
  int out = 0;
  const auto* end = value.data() + value.size();
  auto [p, ec] = std::from_chars(value.data(), end, out);
  if (ec != std::errc() || p != end || out < 0)
    throw std::invalid_argument(shown(key, value) + " is not a non-negative integer" +
                                (ec == std::errc::result_out_of_range ? " of at most " + std::to_string(max) : ""));
  if (out > max) throw std::invalid_argument(shown(key, value) + " is above " + std::to_string(max));
  return out;
}

bool parse_switch(const std::string& key, const std::string& value) {
  if (value == "on" || value == "true" || value == "1") return true;
  if (value == "off" || value == "false" || value == "0") return false;
  throw std::invalid_argument(shown(key, value) + " (use on or off)");
}

}  // namespace

Plan parse_plan(std::string_view text) {
  Plan plan;
  std::istringstream in{std::string(text)};
  std::string item;
  bool any = false;
  std::set<std::string> seen;  // canonical keys given so far
  while (in >> item) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw std::invalid_argument("plan: '" + topo::printable(item) + "' is not key=value");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    any = true;
    // Aliases name one field: the second of "mbs=1 micro_batch=2" is a repeat too.
    const std::string canonical = key == "micro_batch" ? "mbs" : key == "tp_overlap" ? "tpo"
                                  : key == "recompute_layers" ? "rc_layers" : key;
    if (key == "tp") {
      plan.tp = parse_int(key, value);
    } else if (key == "pp") {
      plan.pp = parse_int(key, value);
    } else if (key == "dp") {
      plan.dp = parse_int(key, value);
    } else if (key == "mbs" || key == "micro_batch") {
      plan.micro_batch = parse_int(key, value);
    } else if (key == "vpp") {
      plan.vpp = parse_int(key, value, kMaxPlanChunks);
    } else if (key == "zero") {
      plan.zero = parse_int(key, value);
      if (plan.zero > 3) throw std::invalid_argument(shown(key, value) + " (stages are 0-3)");
    } else if (key == "sp") {
      plan.sequence_parallel = parse_switch(key, value);
    } else if (key == "tpo" || key == "tp_overlap") {
      plan.tp_overlap = parse_switch(key, value);
    } else if (key == "cp") {
      plan.cp = parse_int(key, value);
    } else if (key == "cp_comm") {
      if (value == "ring") plan.cp_comm = CpComm::ring;
      else if (value == "a2a" || value == "all-to-all" || value == "ulysses") plan.cp_comm = CpComm::all_to_all;
      else throw std::invalid_argument(shown(key, value) + " (use ring or a2a)");
    } else if (key == "ep") {
      plan.ep = parse_int(key, value);
    } else if (key == "shard") {
      plan.shard = parse_int(key, value);
    } else if (key == "rc_layers" || key == "recompute_layers") {
      plan.recompute_layers = parse_int(key, value, kMaxPlanChunks);
    } else if (key == "recompute") {
      if (value == "none") plan.recompute = Recompute::none;
      else if (value == "selective") plan.recompute = Recompute::selective;
      else if (value == "full") plan.recompute = Recompute::full;
      else throw std::invalid_argument(shown(key, value) + " (use none, selective or full)");
    } else if (key == "order") {
      try {
        check_order(value);
      } catch (const std::invalid_argument&) {
        throw std::invalid_argument(shown(key, value) + " must list tp, cp, ep, dp and pp once each, innermost first");
      }
      plan.order = value;
    } else if (key == "schedule") {
      if (value == "gpipe") plan.schedule = Schedule::gpipe;
      else if (value == "1f1b") plan.schedule = Schedule::one_f_one_b;
      else if (value == "interleaved-1f1b" || value == "interleaved") plan.schedule = Schedule::interleaved;
      else if (value == "zb-h1" || value == "zbh1") plan.schedule = Schedule::zb_h1;
      else throw std::invalid_argument(shown(key, value) + " (use gpipe, 1f1b, interleaved-1f1b or zb-h1)");
    } else {
      throw std::invalid_argument("plan: unknown key '" + topo::printable(key, 40) +
                                  "' (keys: tp pp dp mbs vpp sp recompute zero schedule cp cp_comm ep shard tpo "
                                  "rc_layers order)");
    }
    if (!seen.insert(canonical).second)
      throw std::invalid_argument("plan: key '" + canonical + "' given twice");
  }
  if (!any) throw std::invalid_argument("plan: empty plan string");
  for (auto [k, v] : {std::pair{"tp", plan.tp}, {"pp", plan.pp}, {"dp", plan.dp}, {"mbs", plan.micro_batch},
                      {"vpp", plan.vpp}, {"cp", plan.cp}, {"ep", plan.ep}})
    if (v < 1) throw std::invalid_argument(std::string("plan: ") + k + " must be at least 1");
  if (plan.gpus() > kMaxPlanDimension)
    throw std::invalid_argument("plan: tp x cp x pp x dp = " + std::to_string(plan.gpus()) + " GPUs is above " +
                                std::to_string(kMaxPlanDimension));
  if (static_cast<std::int64_t>(plan.pp) * plan.vpp > kMaxPlanChunks)
    throw std::invalid_argument("plan: pp x vpp = " + std::to_string(static_cast<std::int64_t>(plan.pp) * plan.vpp) +
                                " model chunks is above " + std::to_string(kMaxPlanChunks) + " (one layer each)");
  return plan;
}

namespace {
std::vector<std::string> order_dims(const std::string& order) {
  std::vector<std::string> dims;
  std::string cur;
  for (char ch : order + "-") {
    if (ch == '-') {
      dims.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  return dims;
}
}  // namespace

void check_order(const std::string& order) {
  std::vector<std::string> dims = order_dims(order);
  std::vector<std::string> sorted = dims;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != std::vector<std::string>{"cp", "dp", "ep", "pp", "tp"})
    throw std::invalid_argument("plan: order=" + topo::printable(order) + " must list tp, cp, ep, dp and pp once each, innermost first");
}

std::string effective_order(const Plan& p, const std::string& order) {
  std::string out;
  for (const std::string& dim : order_dims(order)) {
    const int size = dim == "tp" ? p.tp : dim == "dp" ? p.dp / std::max(1, p.ep) : dim == "pp" ? p.pp
                     : dim == "cp" ? p.cp : p.ep;
    if (size > 1) out += (out.empty() ? "" : "-") + dim;
  }
  return out;
}

int placement_rank(const Plan& p, int t, int c, int d, int s) {
  const int ep = std::max(1, p.ep);
  const int e = d % ep, r = d / ep;
  int rank = 0, stride = 1;
  for (const std::string& dim : order_dims(p.order)) {
    if (dim == "tp") rank += t * stride, stride *= p.tp;
    else if (dim == "cp") rank += c * stride, stride *= p.cp;
    else if (dim == "ep") rank += e * stride, stride *= ep;
    else if (dim == "dp") rank += r * stride, stride *= p.dp / ep;
    else if (dim == "pp") rank += s * stride, stride *= p.pp;
    else throw std::invalid_argument("plan: order=" + topo::printable(p.order) + " has unknown dimension '" + dim + "'");
  }
  return rank;
}

}  // namespace strata::strategy
