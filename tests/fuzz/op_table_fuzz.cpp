// Fuzzes the op-table CSV: strategy::parse_op_table on the text (OpTableError on bad input) and
// scenario::load_op_table on the same bytes as a file (InputError). What parses goes on: the
// table must survive format_op_table and parse_op_table again with the same rows, and become a
// TableCost (or be refused with std::invalid_argument, its documented error) that prices every
// kernel of a layer's forward and backward pass at a finite positive time.
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "fuzz.hpp"
#include "strata/strategy/op_table.hpp"
#include "strata/strategy/ops.hpp"
#include "strata/topo/gpu.hpp"

using namespace strata;

namespace {

const topo::GpuSpec& gpu() {
  static const topo::GpuSpec g = scenario::load_gpu(fuzz::data_dirs().gpus / "h100-sxm-80gb.yaml");
  return g;
}

// The kernels of one Llama-3-8B-shaped layer, forward and backward: GEMMs, fused attention and
// memory-bound kernels, the three kinds a table holds.
const std::vector<strategy::Op>& layer_ops() {
  static const std::vector<strategy::Op> ops = [] {
    strategy::LayerShape s;
    s.seq = 8192;
    s.hidden = 4096;
    s.heads = 32;
    s.kv_width = 1024;
    s.ffn = 14336;
    s.vocab = 128256;
    s.activation = strategy::Activation::swiglu;
    s.rotary = true;
    std::vector<strategy::Op> all = strategy::layer_forward(s);
    for (const strategy::Op& op : strategy::layer_backward(s)) all.push_back(op);
    return all;
  }();
  return ops;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = fuzz::as_file(data, size, "table.csv");
  try {
    (void)scenario::load_op_table(file);
  } catch (const scenario::InputError&) {
  }
  strategy::OpTable t;
  try {
    t = strategy::parse_op_table(std::string(fuzz::text(data, size)), "table.csv");
  } catch (const strategy::OpTableError&) {
    return 0;
  }
  const std::string text = strategy::format_op_table(t);
  strategy::OpTable back;
  try {
    back = strategy::parse_op_table(text, "formatted.csv");
  } catch (const strategy::OpTableError& e) {
    fuzz::finding(std::string("parse_op_table refuses format_op_table's output: ") + e.what());
  }
  if (back.samples.size() != t.samples.size() || back.meta != t.meta)
    fuzz::finding("format_op_table/parse_op_table changes the table: " + std::to_string(t.samples.size()) + " rows, " +
                  std::to_string(back.samples.size()) + " read back");
  for (std::size_t i = 0; i < t.samples.size(); ++i)
    if (back.samples[i].name != t.samples[i].name || back.samples[i].kind != t.samples[i].kind ||
        back.samples[i].m != t.samples[i].m || back.samples[i].repeats != t.samples[i].repeats)
      fuzz::finding("format_op_table/parse_op_table changes row " + std::to_string(i + 1) + " ('" + t.samples[i].name + "')");
  for (const topo::Precision precision : {topo::Precision::bf16, topo::Precision::fp8}) {
    std::optional<strategy::TableCost> cost;
    try {
      cost.emplace(t, precision, strategy::RooflineCost(gpu(), precision));
    } catch (const std::invalid_argument&) {
      continue;
    }
    for (const strategy::Op& op : layer_ops()) {
      const double sec = cost->time(op).value();
      if (!std::isfinite(sec) || sec <= 0)
        fuzz::finding("TableCost prices " + std::string(op.name) + " at " + std::to_string(sec) + " s");
    }
  }
  return 0;
}
