#pragma once
// GPU specifications: datasheet rates plus the few efficiencies measured once per GPU type.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/sim/units.hpp"

namespace strata::topo {

using sim::ByteRate;
using sim::Bytes;
using sim::FlopRate;
using sim::Seconds;

/// Accepted ranges of the physical quantities of the input files (docs/inputs.md). The unit
/// parsers refuse values outside them, and GpuSpec::check and ClusterSpec::check enforce them
/// again for specs built in code, so that no NaN, infinity or absurd magnitude reaches a replay
/// (SimGrid aborts on a link of 1e-300 B/s or 1e300 B/s).
namespace limits {
inline constexpr double min_byte_rate = 125;    ///< smallest nonzero bandwidth: 1 Kb/s, bytes/s
inline constexpr double max_byte_rate = 1e15;   ///< largest bandwidth: 1 PB/s, bytes/s
inline constexpr double min_flop_rate = 1e9;    ///< smallest nonzero FLOP rate: 1 GFLOP/s
inline constexpr double max_flop_rate = 1e18;   ///< largest FLOP rate, FLOP/s
inline constexpr double min_seconds = 1e-9;     ///< smallest nonzero duration: 1 ns
inline constexpr double max_seconds = 3600;     ///< longest duration: 1 hour, s
inline constexpr double min_bytes = 1;          ///< smallest nonzero size: 1 byte
inline constexpr double max_bytes = 1125899906842624.0;  ///< largest size: 1 PiB (2^50 bytes)
inline constexpr int max_sms = 65536;           ///< streaming multiprocessors per GPU
inline constexpr int max_gemm_tile = 65536;     ///< GEMM output tile rows or columns
inline constexpr std::size_t max_name = 256;    ///< characters of a name (preset, model, scenario, case id)
}  // namespace limits

/// `text` made safe to quote in a one-line message: control characters, NULs and bytes that are
/// not UTF-8 written as \n, \t, \0 or \xNN, and cut after `max` bytes (at a character boundary)
/// with "..." appended; `max` = 0 keeps the whole text. Never throws beyond std::bad_alloc.
std::string printable(std::string_view text, std::size_t max = 80);
/// True if `text` is valid UTF-8 without control characters (what a name may hold).
bool clean_text(std::string_view text);

/// Arithmetic precision of the matrix units.
enum class Precision { fp32, tf32, fp16, bf16, fp8 };
inline constexpr int kPrecisionCount = 5;

/// "fp16", "bf16", ...
std::string_view to_string(Precision p);
/// Parses "fp16", "bf16", ...; std::nullopt for anything else.
std::optional<Precision> parse_precision(std::string_view s);

/// Fused-attention kernel libraries whose measured curves a GPU preset may carry.
/// flash2: FlashAttention-2 (also PyTorch SDPA's flash backend); cudnn: cuDNN's fused
/// attention (Transformer Engine's FusedAttention, what it prefers on Hopper and later).
enum class AttentionLibrary { flash2, cudnn };
inline constexpr int kAttentionLibraryCount = 2;

/// "flash2", "cudnn".
std::string_view to_string(AttentionLibrary a);
/// Parses "flash2", "cudnn"; std::nullopt for anything else.
std::optional<AttentionLibrary> parse_attention_library(std::string_view s);

/// Fraction of the dense peak one fused-attention kernel reaches in one direction, fitted to
/// kernel measurements (docs/modeling.md, tools/calibration/fit_attention.py). With n = key
/// tokens / `block` key/value blocks per query block:
///     non-causal: E(head_dim) x n / (n + fixed_blocks)
///     causal:     E(head_dim) x causal x n / (n + 1 + 2 fixed_blocks)
/// (a query block costs `fixed_blocks` blocks beyond its loop: loading Q, the final rescale and
/// the store; causally, the diagonal block is computed whole and the mean row holds (n+1)/2).
struct AttentionCurve {
  /// (head dim, long-sequence non-causal fraction of peak), ascending head dims; between two
  /// the fraction is interpolated in log2(head dim), outside them the nearest is used.
  std::vector<std::pair<int, double>> efficiency;
  double causal = 1;        ///< long-sequence causal over non-causal efficiency
  double fixed_blocks = 0;  ///< fixed cost of one query block, in key/value blocks
  int block = 128;          ///< key/value block of the kernel, tokens

  /// Fraction of peak for head dim `head_dim` over `keys` key tokens per query.
  [[nodiscard]] double at(int head_dim, double keys, bool causal_mask) const;
};

/// One library's forward and backward curves.
struct AttentionKernelSpec {
  AttentionCurve forward, backward;
};

/// How fast a GPU type runs: datasheet facts and measured efficiencies.
struct GpuSpec {
  std::string name;   ///< preset name, e.g. "a100-sxm-80gb"
  Bytes memory;       ///< HBM capacity, bytes
  Bytes reserved_memory;  ///< kept by the runtime: CUDA context, library workspaces, allocator slack
  ByteRate memory_bw; ///< HBM bandwidth, bytes/s
  int sms = 0;        ///< streaming multiprocessors (for GEMM wave quantisation)
  std::array<std::optional<FlopRate>, kPrecisionCount> peak;  ///< dense matrix peak; empty = unsupported
  ByteRate nvlink_bw;          ///< NVLink bandwidth per GPU, bytes/s per direction
  int pcie_generation = 0;     ///< PCIe generation of the GPU's x16 host link (3-6); 0: not given
  double matmul_efficiency = 0;   ///< fraction of peak a large GEMM sustains in training
  /// Fraction of the fp8 peak a large FP8 GEMM sustains; set exactly when `peak` has fp8.
  double matmul_fp8_efficiency = 0;
  double attention_efficiency = 0;  ///< fraction of peak a fused (flash) attention kernel sustains
                                    ///< where no measured curve exists for its library
  /// Measured fused-attention curves by library (AttentionLibrary); empty = not measured.
  std::array<std::optional<AttentionKernelSpec>, kAttentionLibraryCount> attention;
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
  /// Throws std::invalid_argument naming the first missing, impossible or out-of-range field
  /// (ranges: `limits`; NaN and infinity are never in range).
  void check() const;
};

}  // namespace strata::topo
