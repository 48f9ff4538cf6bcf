#pragma once
// Measured kernel times (the profiler's op tables) as an OpCostModel: a GEMM's time from the
// measured efficiency of the nearest shapes (interpolated in log-spaced M, N, K), attention from
// the measured efficiency at the nearest FLOP count, memory-bound kernels from a per-kernel fit
// of time = overhead + bytes / bandwidth; the roofline for whatever the table does not cover.
//
// Text format (CSV, `docs/op-tables.md`): `# key: value` header lines (gpu, device, driver,
// cuda, cublas, cudnn, made_by, ...), then a header row and one row per measured kernel:
//
//   kind,name,dtype,m,n,k,batch,flops,bytes,time_us,repeats
//   gemm,qkv,bf16,8192,6144,4096,1,4.1e11,1.2e8,690.5,50
//   attention,flash_attention,bf16,0,0,0,0,1.1e12,6.7e7,2900.1,50
//   attention,flash_attention_bwd,bf16,0,0,0,0,2.7e12,1.3e8,9800.4,50
//   elementwise,norm1,bf16,0,0,0,0,0,6.7e7,40.2,50

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "strata/strategy/ops.hpp"

namespace strata::strategy {

/// What kind of kernel a measurement is.
enum class OpClass { gemm, attention, elementwise };

/// One measured kernel (or fused group of kernels) at one shape.
struct OpSample {
  OpClass kind = OpClass::gemm;
  std::string name;  ///< strata's op name (qkv, mlp_up, flash_attention_bwd, norm1, ...)
  topo::Precision dtype = topo::Precision::bf16;
  long m = 0, n = 0, k = 0, batch = 1;  ///< GEMM shape (0 for the others)
  Flops flops;
  Bytes bytes;
  Seconds time;  ///< median over the repeats
  int repeats = 1;
  int line = 0;  ///< line in the file it came from (0 if built in code)
};

/// A whole table: where and how it was measured, and its samples.
struct OpTable {
  std::string file;                         ///< where it was read from ("" if built in code)
  std::map<std::string, std::string> meta;  ///< header fields: gpu, device, driver, cuda, ...
  std::vector<OpSample> samples;
  /// The strata GPU preset the table was measured on (meta "gpu"), "" if absent.
  [[nodiscard]] std::string gpu() const;
};

/// A malformed table: what() is "FILE:LINE: COLUMN: message".
struct OpTableError : std::invalid_argument {
  OpTableError(std::string file, int line, std::string column, const std::string& message);
  std::string file, column, message;
  int line = 0;
};

/// One CSV row's cells, RFC 4180 style: a cell in double quotes may hold commas ("" is a
/// quote); cells are trimmed of blanks outside the quotes; a row is one line. Throws
/// OpTableError naming `file` and line `line` for an unclosed quote or text after one.
std::vector<std::string> csv_cells(std::string_view line, const std::string& file, int line_no);

/// Parses the text format. Cells follow RFC 4180 within a line (a cell in double quotes may
/// hold commas, "" is a quote); every row has as many cells as the column header, which names
/// each column once; ranges as in docs/inputs.md (dimensions <= 2^32, FLOPs <= 1e24, bytes <=
/// 1e15, time 1 ns to 1 hour, repeats 1 to 2^30). Throws OpTableError (values clipped) on a
/// malformed row or header, a repeated `# key:` header field included.
OpTable parse_op_table(const std::string& text, const std::string& file);
/// Writes the text format (the inverse of parse_op_table up to number formatting; names that
/// hold a comma or quote are quoted).
std::string format_op_table(const OpTable& t);

/// How many kernel-time queries the table answered and how many fell back to the roofline.
struct TableCoverage {
  std::uint64_t exact = 0, interpolated = 0, fallback = 0;
};

/// Kernel times from a measured table, the roofline where the table has nothing close.
class TableCost final : public OpCostModel {
 public:
  /// `fallback` prices what the table does not cover; `table.samples` for other precisions than
  /// `precision` are ignored (under fp8, bf16 samples price what does not run in FP8: the
  /// attention core, memory-bound kernels and the GEMMs outside linear layers). Throws std::invalid_argument if a sample has a non-positive or
  /// non-finite time, negative or non-finite FLOPs or bytes, an impossible GEMM shape, or lacks
  /// the FLOPs (GEMM, attention) or bytes (memory-bound) its kind is priced by.
  TableCost(OpTable table, topo::Precision precision, RooflineCost fallback);
  [[nodiscard]] std::string_view name() const override { return name_; }
  [[nodiscard]] Seconds device_time(const Op& op) const override;
  /// The fallback GPU preset's host_overhead.
  [[nodiscard]] Seconds host_time(const Op& op) const override;
  /// Queries answered so far (for reports; not thread-safe).
  [[nodiscard]] const TableCoverage& coverage() const { return coverage_; }
  [[nodiscard]] const OpTable& table() const { return table_; }

  /// GEMMs further than this many octaves from every measured shape (in any of M, N, K, batch)
  /// fall back to the roofline.
  static constexpr double kMaxOctaves = 2.0;

 private:
  [[nodiscard]] Seconds gemm_time(const Op& op, const Gemm& g) const;
  [[nodiscard]] Seconds attention_time(const Op& op) const;
  [[nodiscard]] Seconds elementwise_time(const Op& op) const;

  OpTable table_;
  topo::Precision precision_;
  RooflineCost fallback_;
  std::string name_;
  double peak_ = 0;      ///< of everything but FP8 GEMMs (bf16 under FP8 training)
  double fp8_peak_ = 0;  ///< of FP8 GEMMs, under FP8 training
  std::vector<const OpSample*> gemms_;      ///< in the training precision (bf16 under FP8)
  std::vector<const OpSample*> fp8_gemms_;  ///< FP8 samples, under FP8 training
  std::map<std::string, std::vector<const OpSample*>> attention_;  ///< by name (forward, backward)
  struct Fit {
    double overhead = 0, seconds_per_byte = 0;
  };
  std::map<std::string, Fit> elementwise_;  ///< per kernel name
  mutable TableCoverage coverage_;
};

const char* to_string(OpClass c);

/// The family a memory-bound kernel's time is fitted and looked up under: its name without
/// digits or a "final_" prefix (norm1, norm2 and final_norm are all "norm"; norm1_bwd "norm_bwd").
std::string kernel_family(std::string_view name);

}  // namespace strata::strategy
