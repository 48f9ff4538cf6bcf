#include "strata/profiler/cupti_decode.hpp"

namespace strata::profiler {

namespace {
std::string text(const char* s) { return s != nullptr ? std::string(s) : std::string(); }
}  // namespace

void decode_record(const CUpti_Activity* r, TraceData& out) {
  switch (r->kind) {
    case CUPTI_ACTIVITY_KIND_KERNEL:
    case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
      const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(r);
      KernelRecord o;
      o.name = text(k->name);
      o.start = k->start;
      o.end = k->end;
      o.device = k->deviceId;
      o.stream = k->streamId;
      o.correlation = k->correlationId;
      o.grid[0] = k->gridX, o.grid[1] = k->gridY, o.grid[2] = k->gridZ;
      o.block[0] = k->blockX, o.block[1] = k->blockY, o.block[2] = k->blockZ;
      o.graph = k->graphId;
      out.kernels.push_back(std::move(o));
      return;
    }
    case CUPTI_ACTIVITY_KIND_MEMCPY: {
      const auto* m = reinterpret_cast<const CUpti_ActivityMemcpy6*>(r);
      out.memory.push_back({false, m->bytes, m->start, m->end, m->deviceId, m->streamId, m->correlationId, m->copyKind});
      return;
    }
    case CUPTI_ACTIVITY_KIND_MEMSET: {
      const auto* m = reinterpret_cast<const CUpti_ActivityMemset4*>(r);
      out.memory.push_back({true, m->bytes, m->start, m->end, m->deviceId, m->streamId, m->correlationId, 0});
      return;
    }
    case CUPTI_ACTIVITY_KIND_RUNTIME:
    case CUPTI_ACTIVITY_KIND_DRIVER: {
      const auto* a = reinterpret_cast<const CUpti_ActivityAPI*>(r);
      out.api.push_back({r->kind == CUPTI_ACTIVITY_KIND_DRIVER, a->cbid, a->start, a->end, a->processId, a->threadId,
                         a->correlationId});
      return;
    }
    case CUPTI_ACTIVITY_KIND_MARKER: {
      const auto* m = reinterpret_cast<const CUpti_ActivityMarker2*>(r);
      MarkerRecord o;
      if (m->flags & CUPTI_ACTIVITY_FLAG_MARKER_START) o.type = MarkerRecord::Type::start;
      else if (m->flags & CUPTI_ACTIVITY_FLAG_MARKER_END) o.type = MarkerRecord::Type::end;
      else o.type = MarkerRecord::Type::instant;
      o.id = m->id;
      o.timestamp = m->timestamp;
      if (m->objectKind == CUPTI_ACTIVITY_OBJECT_THREAD || m->objectKind == CUPTI_ACTIVITY_OBJECT_PROCESS)
        o.thread = m->objectId.pt.threadId;
      o.name = text(m->name);
      o.domain = text(m->domain);
      out.markers.push_back(std::move(o));
      return;
    }
    case CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION: {
      const auto* e = reinterpret_cast<const CUpti_ActivityExternalCorrelation*>(r);
      out.external.push_back({static_cast<std::uint32_t>(e->externalKind), e->externalId, e->correlationId});
      return;
    }
    default:
      ++out.unknown_records;
  }
}

std::size_t decode_buffer(std::uint8_t* buffer, std::size_t valid_size, TraceData& out, NextRecordFn next) {
  std::size_t n = 0;
  CUpti_Activity* record = nullptr;
  while (next(buffer, valid_size, &record) == CUPTI_SUCCESS) {
    decode_record(record, out);
    ++n;
  }
  return n;
}

}  // namespace strata::profiler
