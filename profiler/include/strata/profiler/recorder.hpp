#pragma once
// The CUPTI activity recorder: one per process. Registers buffer callbacks, enables kernel,
// memcpy/memset, runtime and driver API, external-correlation and (optionally) NVTX marker
// records, decodes every completed buffer into a TraceData, counts dropped records, and flushes
// (forced) when stopped or at exit. Only the Activity API is used (no subscriber), so it coexists
// with nothing else tracing the process but also blocks nobody's subscription.

#include <cstdint>
#include <string>

#include "strata/profiler/trace.hpp"

namespace strata::profiler {

struct RecorderOptions {
  /// CUPTI_ACTIVITY_KIND_KERNEL (kernels serialized: isolated per-kernel times, for
  /// microbenchmarks) instead of CONCURRENT_KERNEL (for profiling a real program).
  bool serialize_kernels = false;
  bool nvtx = true;                       ///< MARKER records (needs NVTX_INJECTION64_PATH)
  std::size_t buffer_bytes = 8u << 20;    ///< activity buffer size handed to CUPTI
};

/// Starts recording. Returns an error message ("" on success); a second start is an error.
std::string start_recording(const RecorderOptions& options);
/// Flushes every buffer (forced), stops recording and returns what was recorded since start.
/// Synchronize the device first: a kernel still running is lost.
TraceData stop_recording();
/// Tags the API calls of this thread (and so their kernels) with `id` until pop_external_id().
void push_external_id(std::uint64_t id);
void pop_external_id();
/// "CUPTI API version X (headers Y)": what was recorded with.
std::string cupti_version_line();

}  // namespace strata::profiler
