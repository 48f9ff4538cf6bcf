// CUPTI records decoded without a GPU: fabricated records of the CUDA 13 structs, packed back to
// back the way CUPTI fills a buffer, walked by CUPTI's own iterator (which needs no driver).

#include <doctest/doctest.h>

#include <cstring>
#include <iterator>
#include <vector>

#include "strata/profiler/cupti_decode.hpp"

using namespace strata;

namespace {

// A buffer of records, 8-byte aligned as CUPTI requires (every record's size is a multiple of 8).
class Buffer {
 public:
  template <class Record>
  void add(const Record& r) {
    static_assert(sizeof(Record) % 8 == 0);
    const std::size_t at = words_.size();
    words_.resize(at + sizeof(Record) / 8);
    std::memcpy(words_.data() + at, &r, sizeof(Record));
  }
  std::uint8_t* data() { return reinterpret_cast<std::uint8_t*>(words_.data()); }
  [[nodiscard]] std::size_t size() const { return words_.size() * 8; }

 private:
  std::vector<std::uint64_t> words_;
};

}  // namespace

TEST_CASE("decode: every record kind strata reads, walked by CUPTI's iterator") {
  static const char* kKernelName = "sm90_xmma_gemm_bf16bf16_bf16f32";
  static const char* kRange = "aten::mm, seq = 1, sizes = [[64, 32], [32, 16]]";
  Buffer b;
  CUpti_ActivityAPI rt{};
  rt.kind = CUPTI_ACTIVITY_KIND_RUNTIME;
  rt.start = 100;
  rt.end = 110;
  rt.processId = 11;
  rt.threadId = 7;
  rt.correlationId = 5;
  CUpti_ActivityExternalCorrelation ext{};
  ext.kind = CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION;
  ext.externalKind = CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM2;
  ext.externalId = 77;
  ext.correlationId = 5;
  CUpti_ActivityMarker2 m0{};
  m0.kind = CUPTI_ACTIVITY_KIND_MARKER;
  m0.flags = CUPTI_ACTIVITY_FLAG_MARKER_START;
  m0.timestamp = 90;
  m0.id = 3;
  m0.objectKind = CUPTI_ACTIVITY_OBJECT_THREAD;
  m0.objectId.pt.processId = 11;
  m0.objectId.pt.threadId = 7;
  m0.name = kRange;
  CUpti_ActivityMarker2 m1 = m0;
  m1.flags = CUPTI_ACTIVITY_FLAG_MARKER_END;
  m1.timestamp = 130;
  m1.name = nullptr;
  CUpti_ActivityKernel10 k{};
  k.kind = CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL;
  k.start = 1000;
  k.end = 1250;
  k.deviceId = 1;
  k.streamId = 13;
  k.gridX = 132;
  k.gridY = 1;
  k.gridZ = 1;
  k.blockX = 384;
  k.blockY = 1;
  k.blockZ = 1;
  k.correlationId = 5;
  k.name = kKernelName;
  CUpti_ActivityMemcpy6 cp{};
  cp.kind = CUPTI_ACTIVITY_KIND_MEMCPY;
  cp.copyKind = CUPTI_ACTIVITY_MEMCPY_KIND_HTOD;
  cp.bytes = 4096;
  cp.start = 800;
  cp.end = 900;
  cp.correlationId = 5;
  CUpti_ActivityMemset4 ms{};
  ms.kind = CUPTI_ACTIVITY_KIND_MEMSET;
  ms.bytes = 512;
  ms.start = 950;
  ms.end = 960;
  ms.correlationId = 5;
  CUpti_ActivityName name{};  // a kind strata does not read
  name.kind = CUPTI_ACTIVITY_KIND_NAME;
  b.add(m0);
  b.add(rt);
  b.add(ext);
  b.add(m1);
  b.add(k);
  b.add(cp);
  b.add(ms);
  b.add(name);

  profiler::TraceData t;
  std::uint8_t* data = b.data();
  CHECK(profiler::decode_buffer(data, b.size(), t) == 8);
  REQUIRE(t.kernels.size() == 1);
  CHECK(t.kernels[0].name == kKernelName);
  CHECK(t.kernels[0].duration() == 250);
  CHECK(t.kernels[0].stream == 13);
  CHECK(t.kernels[0].grid[0] == 132);
  CHECK(t.kernels[0].block[0] == 384);
  REQUIRE(t.api.size() == 1);
  CHECK_FALSE(t.api[0].driver);
  CHECK(t.api[0].thread == 7);
  REQUIRE(t.markers.size() == 2);
  CHECK(t.markers[0].type == profiler::MarkerRecord::Type::start);
  CHECK(t.markers[0].thread == 7);
  CHECK(t.markers[0].name == kRange);
  CHECK(t.markers[1].type == profiler::MarkerRecord::Type::end);
  CHECK(t.markers[1].name.empty());
  REQUIRE(t.external.size() == 1);
  CHECK(t.external[0].id == 77);
  REQUIRE(t.memory.size() == 2);
  CHECK(t.memory[0].bytes == 4096);
  CHECK(t.memory[1].memset);
  CHECK(t.unknown_records == 1);

  // End to end: the kernel and the copies belong to the mm range and to external id 77.
  const auto a = profiler::attribute(t);
  REQUIRE(a.size() == 3);
  for (const auto& x : a) {
    CHECK(x.op == kRange);
    CHECK(x.external_id == 77u);
  }
  CHECK(profiler::time_by_external_id(a).at(77) == 250 + 100 + 10);

  // A truncated buffer: the incomplete last record is not read.
  profiler::TraceData part;
  CHECK(profiler::decode_buffer(b.data(), b.size() - 8, part) == 7);
}

TEST_CASE("decode: a replaced iterator feeds decode_buffer record by record") {
  static int calls = 0;
  calls = 0;
  auto fake = [](std::uint8_t* buffer, std::size_t, CUpti_Activity** record) -> CUptiResult {
    if (calls++ == 3) return CUPTI_ERROR_MAX_LIMIT_REACHED;
    *record = reinterpret_cast<CUpti_Activity*>(buffer);
    return CUPTI_SUCCESS;
  };
  CUpti_ActivityKernel10 k{};
  k.kind = CUPTI_ACTIVITY_KIND_KERNEL;
  k.start = 1;
  k.end = 3;
  profiler::TraceData t;
  CHECK(profiler::decode_buffer(reinterpret_cast<std::uint8_t*>(&k), sizeof k, t, fake) == 3);
  CHECK(t.kernels.size() == 3);
}
