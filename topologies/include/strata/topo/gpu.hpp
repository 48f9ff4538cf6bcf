#pragma once
// GPU specifications: datasheet rates plus the few efficiencies measured once per GPU type.

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "strata/sim/units.hpp"

namespace strata::topo {

using sim::ByteRate;
using sim::Bytes;
using sim::FlopRate;
using sim::Seconds;

/// Arithmetic precision of the matrix units.
enum class Precision { fp32, tf32, fp16, bf16, fp8 };
inline constexpr int kPrecisionCount = 5;

/// "fp16", "bf16", ...
std::string_view to_string(Precision p);
/// Parses "fp16", "bf16", ...; std::nullopt for anything else.
std::optional<Precision> parse_precision(std::string_view s);

/// How fast a GPU type runs: datasheet facts and measured efficiencies.
struct GpuSpec {
  std::string name;   ///< preset name, e.g. "a100-sxm-80gb"
  Bytes memory;       ///< HBM capacity, bytes
  Bytes reserved_memory;  ///< kept by the runtime: CUDA context, library workspaces, allocator slack
  ByteRate memory_bw; ///< HBM bandwidth, bytes/s
  int sms = 0;        ///< streaming multiprocessors (for GEMM wave quantisation)
  std::array<std::optional<FlopRate>, kPrecisionCount> peak;  ///< dense matrix peak; empty = unsupported
  ByteRate nvlink_bw;          ///< NVLink bandwidth per GPU, bytes/s per direction
  double matmul_efficiency = 0;   ///< fraction of peak a large GEMM sustains in training
  double attention_efficiency = 0;  ///< fraction of peak a fused (flash) attention kernel sustains
  double memory_efficiency = 0;   ///< fraction of HBM bandwidth streaming kernels reach
  Seconds kernel_overhead;        ///< launch and tail cost per kernel on the GPU, s
  Seconds host_overhead;          ///< host time to issue one kernel (eager framework); a kernel
                                  ///< never takes less, s
  int gemm_tile_m = 128;          ///< output tile rows of the GEMM kernels (wave quantisation)
  int gemm_tile_n = 256;          ///< output tile columns

  /// Dense peak at `p`; throws std::invalid_argument if the GPU has no such matrix unit.
  [[nodiscard]] FlopRate peak_at(Precision p) const;
  /// True if the GPU has matrix units for `p`.
  [[nodiscard]] bool supports(Precision p) const { return peak[static_cast<int>(p)].has_value(); }
  /// Throws std::invalid_argument naming the first missing or impossible field.
  void check() const;
};

}  // namespace strata::topo
