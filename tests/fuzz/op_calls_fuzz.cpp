// Fuzzes the profiler's op-call CSV (profiler::parse_op_calls_csv): accepted, or refused with
// std::invalid_argument naming the line. What parses must survive op_calls_csv and parse again
// with the same ops, and become an op table (profiler::table_from_calls).
#include <string>

#include "fuzz.hpp"
#include "strata/profiler/tables.hpp"
#include "strata/profiler/trace.hpp"

using namespace strata;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<profiler::OpCall> calls;
  try {
    calls = profiler::parse_op_calls_csv(std::string(fuzz::text(data, size)), "calls.csv");
  } catch (const std::invalid_argument&) {
    return 0;
  }
  const std::string text = profiler::op_calls_csv(calls);
  std::vector<profiler::OpCall> back;
  try {
    back = profiler::parse_op_calls_csv(text, "formatted.csv");
  } catch (const std::invalid_argument& e) {
    fuzz::finding(std::string("parse_op_calls_csv refuses op_calls_csv's output: ") + e.what());
  }
  if (back.size() != calls.size()) fuzz::finding("op_calls_csv/parse_op_calls_csv changes the number of calls");
  for (std::size_t i = 0; i < calls.size(); ++i)
    if (back[i].op != calls[i].op || back[i].range_start != calls[i].range_start)
      fuzz::finding("op_calls_csv/parse_op_calls_csv changes call " + std::to_string(i + 1) + " ('" + calls[i].op + "')");
  (void)profiler::table_from_calls(calls, topo::Precision::bf16, {{"gpu", "h100-sxm-80gb"}});
  return 0;
}
