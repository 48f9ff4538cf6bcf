#pragma once
// From profiler measurements to strata op tables (strategy::OpTable): the aten ops that PyTorch
// names under emit_nvtx, and the medians of repeated measurements.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "strata/profiler/trace.hpp"
#include "strata/strategy/op_table.hpp"

namespace strata::profiler {

/// The median of `values` (0 if empty).
double median(std::vector<double> values);

/// What an aten op measured under emit_nvtx(record_shapes=True) means for strata, or nullopt if
/// strata has no use for it: GEMMs (aten::mm, addmm, bmm, linear) give M, N, K and batch from
/// the input sizes; scaled-dot-product attention gives "flash_attention" (or "_bwd" for its
/// backward) with causal FLOPs; fused layer/RMS norms and GELU map to strata's kernel families
/// ("norm", "activation") with the bytes of their first input read and written once.
std::optional<strategy::OpSample> sample_of(const NvtxOp& op, int element_bytes);

/// An op table from op calls (each call: the summed kernel time of one range instance): calls
/// with the same kind, name and shape become one row at their median; `meta` is the header.
strategy::OpTable table_from_calls(const std::vector<OpCall>& calls, topo::Precision precision,
                                   std::map<std::string, std::string> meta);

}  // namespace strata::profiler
