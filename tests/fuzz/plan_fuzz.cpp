// Fuzzes plan strings (strategy::parse_plan): accepted, or refused with std::invalid_argument.
// What parses must round-trip: parse_plan(p.to_string()) == p.
#include "fuzz.hpp"
#include "strata/strategy/plan.hpp"

using namespace strata;

namespace {

// The fields in which two plans differ, for the report.
std::string differences(const strategy::Plan& a, const strategy::Plan& b) {
  std::string out;
  auto field = [&](const char* name, bool same) {
    if (!same) out += std::string(out.empty() ? "" : ", ") + name;
  };
  field("tp", a.tp == b.tp);
  field("pp", a.pp == b.pp);
  field("dp", a.dp == b.dp);
  field("micro_batch", a.micro_batch == b.micro_batch);
  field("vpp", a.vpp == b.vpp);
  field("sequence_parallel", a.sequence_parallel == b.sequence_parallel);
  field("recompute", a.recompute == b.recompute);
  field("zero", a.zero == b.zero);
  field("schedule", a.schedule == b.schedule);
  field("order", a.order == b.order);
  field("cp", a.cp == b.cp);
  field("cp_comm", a.cp_comm == b.cp_comm);
  field("ep", a.ep == b.ep);
  field("shard", a.shard == b.shard);
  field("tp_overlap", a.tp_overlap == b.tp_overlap);
  field("recompute_layers", a.recompute_layers == b.recompute_layers);
  return out.empty() ? "a field operator== compares and this list misses" : out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  strategy::Plan p;
  try {
    p = strategy::parse_plan(fuzz::text(data, size));
  } catch (const std::invalid_argument&) {
    return 0;
  }
  const std::string s = p.to_string();
  strategy::Plan q;
  try {
    q = strategy::parse_plan(s);
  } catch (const std::invalid_argument& e) {
    fuzz::finding("parse_plan refuses its own to_string() '" + s + "': " + e.what());
  }
  if (!(q == p)) fuzz::finding("parse_plan(to_string()) changes the plan '" + s + "' in " + differences(p, q));
  return 0;
}
