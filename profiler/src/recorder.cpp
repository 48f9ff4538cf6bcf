#include "strata/profiler/recorder.hpp"

#include <cupti.h>

#include <cstdlib>
#include <mutex>

#include "strata/profiler/cupti_decode.hpp"

namespace strata::profiler {

namespace {

std::mutex g_mutex;
TraceData g_trace;  // guarded by g_mutex
std::size_t g_buffer_bytes = 8u << 20;
bool g_running = false;
bool g_serialized = false;
bool g_nvtx = false;

constexpr CUpti_ExternalCorrelationKind kExternalKind = CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM2;

void CUPTIAPI buffer_requested(std::uint8_t** buffer, std::size_t* size, std::size_t* max_records) {
  // CUPTI needs 8-byte aligned buffers (ACTIVITY_RECORD_ALIGNMENT).
  *buffer = static_cast<std::uint8_t*>(std::aligned_alloc(8, g_buffer_bytes));
  *size = *buffer != nullptr ? g_buffer_bytes : 0;
  *max_records = 0;  // fill the buffer
}

void CUPTIAPI buffer_completed(CUcontext context, std::uint32_t stream, std::uint8_t* buffer, std::size_t /*size*/,
                               std::size_t valid_size) {
  TraceData part;
  if (buffer != nullptr && valid_size > 0) decode_buffer(buffer, valid_size, part);
  std::free(buffer);
  // Outside our lock: CUPTI may hold its own while asking (Kineto's ABBA note).
  std::size_t dropped = 0;
  if (cuptiActivityGetNumDroppedRecords(context, stream, &dropped) == CUPTI_SUCCESS) part.dropped += dropped;
  const std::lock_guard<std::mutex> lock(g_mutex);
  g_trace.append(std::move(part));
}

const CUpti_ActivityKind* kinds(std::size_t& n) {
  static const CUpti_ActivityKind list[] = {CUPTI_ACTIVITY_KIND_MEMCPY, CUPTI_ACTIVITY_KIND_MEMSET,
                                            CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_ACTIVITY_KIND_DRIVER,
                                            CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION};
  n = sizeof list / sizeof list[0];
  return list;
}

std::string error(const char* what, CUptiResult r) {
  const char* text = nullptr;
  cuptiGetResultString(r, &text);
  return std::string(what) + ": " + (text != nullptr ? text : "unknown CUPTI error");
}

}  // namespace

std::string cupti_version_line() {
  std::uint32_t v = 0;
  cuptiGetVersion(&v);
  return "CUPTI API version " + std::to_string(v) + " (headers " + std::to_string(CUPTI_API_VERSION) + ")";
}

std::string start_recording(const RecorderOptions& o) {
  if (g_running) return "the CUPTI recorder is already running";
  g_buffer_bytes = o.buffer_bytes;
  g_serialized = o.serialize_kernels;
  g_nvtx = o.nvtx;
  {
    const std::lock_guard<std::mutex> lock(g_mutex);
    g_trace = TraceData{};
    std::uint32_t v = 0;
    cuptiGetVersion(&v);
    g_trace.cupti_version = v;
  }
  // API and marker records carry system thread ids, so they can be matched.
  if (auto r = cuptiSetThreadIdType(CUPTI_ACTIVITY_THREAD_ID_TYPE_SYSTEM); r != CUPTI_SUCCESS)
    return error("cannot start CUPTI (no GPU or CUDA driver here?): cuptiSetThreadIdType", r);
  if (auto r = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed); r != CUPTI_SUCCESS)
    return error("cuptiActivityRegisterCallbacks", r);
  const CUpti_ActivityKind kernel = o.serialize_kernels ? CUPTI_ACTIVITY_KIND_KERNEL : CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL;
  if (auto r = cuptiActivityEnable(kernel); r != CUPTI_SUCCESS) return error("cuptiActivityEnable(kernel)", r);
  std::size_t n = 0;
  const CUpti_ActivityKind* list = kinds(n);
  for (std::size_t i = 0; i < n; ++i)
    if (auto r = cuptiActivityEnable(list[i]); r != CUPTI_SUCCESS) return error("cuptiActivityEnable", r);
  if (o.nvtx)
    if (auto r = cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MARKER); r != CUPTI_SUCCESS)
      return error("cuptiActivityEnable(marker)", r);
  g_running = true;
  return "";
}

TraceData stop_recording() {
  if (g_running) {
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    cuptiActivityDisable(g_serialized ? CUPTI_ACTIVITY_KIND_KERNEL : CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
    std::size_t n = 0;
    const CUpti_ActivityKind* list = kinds(n);
    for (std::size_t i = 0; i < n; ++i) cuptiActivityDisable(list[i]);
    if (g_nvtx) cuptiActivityDisable(CUPTI_ACTIVITY_KIND_MARKER);
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    g_running = false;
  }
  const std::lock_guard<std::mutex> lock(g_mutex);
  TraceData out = std::move(g_trace);
  g_trace = TraceData{};
  return out;
}

void push_external_id(std::uint64_t id) { cuptiActivityPushExternalCorrelationId(kExternalKind, id); }

void pop_external_id() {
  std::uint64_t last = 0;
  cuptiActivityPopExternalCorrelationId(kExternalKind, &last);
}

}  // namespace strata::profiler
