#pragma once
// Decoding CUPTI activity buffers into TraceData. Needs the CUPTI headers (STRATA_WITH_CUPTI) but
// no GPU: the tests feed it fabricated records.

#include <cupti.h>

#include <cstddef>
#include <cstdint>

#include "strata/profiler/trace.hpp"

namespace strata::profiler {

/// CUPTI's record iterator (cuptiActivityGetNextRecord), replaceable in tests.
using NextRecordFn = CUptiResult (*)(std::uint8_t* buffer, std::size_t valid_size, CUpti_Activity** record);

/// Appends one record to `out`, reading only the leading fields that every CUDA 12-13 version of
/// its struct shares (start, end, device, stream, correlation, grid, block, name, graph id; API
/// thread and times; marker flags, id, thread, name; external ids). Unknown kinds are counted.
void decode_record(const CUpti_Activity* record, TraceData& out);

/// Decodes every complete record of a buffer CUPTI handed back; returns how many were read.
std::size_t decode_buffer(std::uint8_t* buffer, std::size_t valid_size, TraceData& out,
                          NextRecordFn next = &cuptiActivityGetNextRecord);

}  // namespace strata::profiler
