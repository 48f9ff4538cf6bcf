#pragma once
// What the CUPTI recorder collects, decoded into plain records (no CUDA types, so everything
// downstream builds and is tested without CUDA), and the attribution of every kernel to the
// operator that launched it.
//
// Attribution (docs/op-tables.md): a kernel's correlation id names the runtime (preferred) or
// driver API call that launched it. An external correlation id pushed around the launch (the
// strata-profile driver pushes one per measured op) wins; otherwise the innermost NVTX range open
// on the launching thread at the API call's start (PyTorch's emit_nvtx names each aten op).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace strata::profiler {

/// A kernel execution (CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL / KERNEL).
struct KernelRecord {
  std::string name;  ///< mangled; for reading, never a key
  std::uint64_t start = 0, end = 0;  ///< ns
  std::uint32_t device = 0, stream = 0, correlation = 0;
  std::int32_t grid[3] = {0, 0, 0};
  std::int32_t block[3] = {0, 0, 0};
  std::uint32_t graph = 0;  ///< CUDA graph id, 0 if launched eagerly
  [[nodiscard]] std::uint64_t duration() const { return end > start ? end - start : 0; }
};

/// A memcpy or memset (CUPTI_ACTIVITY_KIND_MEMCPY / MEMSET).
struct MemoryRecord {
  bool memset = false;
  std::uint64_t bytes = 0;
  std::uint64_t start = 0, end = 0;
  std::uint32_t device = 0, stream = 0, correlation = 0;
  std::uint8_t copy_kind = 0;  ///< CUpti_ActivityMemcpyKind for a memcpy
  [[nodiscard]] std::uint64_t duration() const { return end > start ? end - start : 0; }
};

/// A host API call (CUPTI_ACTIVITY_KIND_RUNTIME / DRIVER).
struct ApiRecord {
  bool driver = false;
  std::uint32_t cbid = 0;
  std::uint64_t start = 0, end = 0;
  std::uint32_t process = 0, thread = 0, correlation = 0;
};

/// One NVTX marker record (CUPTI_ACTIVITY_KIND_MARKER): a range start (with its name), a range
/// end (same id, no name) or an instantaneous mark.
struct MarkerRecord {
  enum class Type { start, end, instant } type = Type::instant;
  std::uint32_t id = 0;
  std::uint64_t timestamp = 0;
  std::uint64_t thread = 0;  ///< objectId.pt.threadId when the marker belongs to a thread
  std::string name, domain;
};

/// CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION: an id pushed by the host around an API call.
struct ExternalCorrelation {
  std::uint32_t kind = 0;  ///< CUpti_ExternalCorrelationKind
  std::uint64_t id = 0;
  std::uint32_t correlation = 0;
};

/// Everything decoded from the activity buffers of one process.
struct TraceData {
  std::vector<KernelRecord> kernels;
  std::vector<MemoryRecord> memory;
  std::vector<ApiRecord> api;
  std::vector<MarkerRecord> markers;
  std::vector<ExternalCorrelation> external;
  std::uint64_t dropped = 0;         ///< records CUPTI reported as dropped
  std::uint64_t unknown_records = 0; ///< records of kinds strata does not read
  std::uint32_t cupti_version = 0;   ///< cuptiGetVersion() at recording time
  /// Appends `other` (another buffer's records).
  void append(TraceData&& other);
};

/// An NVTX range, paired from its start and end markers.
struct Range {
  std::string name;
  std::uint64_t thread = 0, start = 0, end = 0;
  int depth = 0;  ///< nesting depth on its thread (0 = outermost)
};

/// Pairs start and end markers by id into ranges (an end without a start is ignored; a start
/// without an end runs to the end of time), sorted by thread and start, with their depth.
std::vector<Range> pair_ranges(const std::vector<MarkerRecord>& markers);

/// One kernel or memory operation with the operator it belongs to.
struct Attributed {
  enum class Kind { kernel, memcpy, memset } kind = Kind::kernel;
  std::size_t index = 0;  ///< into TraceData::kernels or ::memory
  std::string op;         ///< innermost NVTX range name, "" if none
  std::string path;       ///< enclosing ranges, outermost first, joined by " / "
  std::optional<std::uint64_t> external_id;  ///< an external correlation id, if one was pushed
  std::uint64_t start = 0, duration = 0;
  std::uint64_t range_start = 0;  ///< start of the innermost range (one call of the op)
};

/// Attributes every kernel, memcpy and memset of `t` (in time order).
std::vector<Attributed> attribute(const TraceData& t);

/// An aten op as PyTorch's emit_nvtx(record_shapes=True) names it:
/// "aten::mm, seq = 12, op_id = 7, sizes = [[4096, 1024], [1024, 3072]], input_op_ids = ...".
struct NvtxOp {
  std::string op;  ///< "aten::mm"
  std::optional<long> seq;
  std::vector<std::vector<long>> sizes;  ///< input shapes; empty when not recorded
};
/// Parses a range name in that form; a plain name gives `op` only, and a `seq` or `sizes` field
/// not in that form (a negative or oversized number, an unclosed list) is left out. Never throws
/// (beyond std::bad_alloc).
NvtxOp parse_nvtx_op(const std::string& range);

/// The kernels of `attributed` as CSV: op, range path, kind, kernel name, start, end and duration
/// (ns), device, stream, correlation id, grid, block, bytes, external id, range start.
std::string kernels_csv(const TraceData& t, const std::vector<Attributed>& attributed);

/// Nanoseconds of kernel (and memcpy/memset) time per external correlation id.
std::map<std::uint64_t, std::uint64_t> time_by_external_id(const std::vector<Attributed>& attributed);

/// One call of an NVTX-named op: the summed time of the kernels launched inside one instance of
/// its (innermost) range.
struct OpCall {
  std::string op;
  std::uint64_t range_start = 0;
  double seconds = 0;
};
/// The calls of `attributed`, in order of their range start (kernels outside any range left out).
std::vector<OpCall> op_calls(const std::vector<Attributed>& attributed);
/// CSV "op,range_start_ns,time_ns" (RFC 4180: the op is quoted, "" is a quote).
std::string op_calls_csv(const std::vector<OpCall>& calls);
/// The inverse of op_calls_csv: the header row, then rows of a non-empty op (quoted cells may
/// hold commas and line breaks), a start in ns (unsigned 64-bit) and a time of 0 to 3.6e12 ns.
/// Throws std::invalid_argument "FILE:LINE: ..." on anything else (no value is echoed).
std::vector<OpCall> parse_op_calls_csv(const std::string& text, const std::string& file);

}  // namespace strata::profiler

