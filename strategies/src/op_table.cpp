#include "strata/strategy/op_table.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>

#include "strata/topo/gpu.hpp"

namespace strata::strategy {

const char* to_string(OpClass c) {
  switch (c) {
    case OpClass::gemm: return "gemm";
    case OpClass::attention: return "attention";
    case OpClass::elementwise: return "elementwise";
  }
  return "unknown";
}

OpTableError::OpTableError(std::string f, int l, std::string c, const std::string& m)
    : std::invalid_argument(f + ":" + std::to_string(l) + ": " + c + ": " + m), file(std::move(f)), column(std::move(c)),
      message(m), line(l) {}

std::string OpTable::gpu() const {
  const auto it = meta.find("gpu");
  return it == meta.end() ? std::string() : it->second;
}

namespace {

const std::vector<std::string> kColumns{"kind", "name", "dtype", "m", "n", "k", "batch", "flops", "bytes", "time_us",
                                        "repeats"};

// Ranges of the columns (docs/inputs.md): a GEMM dimension above 2^32, FLOPs or bytes that are
// neither 0 nor at least 1, or a time outside 1 ns to 1 hour is a typo, and would overflow or
// underflow the interpolated efficiencies (a kernel priced at 0 s or infinity).
constexpr long kMaxDimension = 1L << 32;
constexpr double kMaxFlops = 1e24;
constexpr double kMaxBytes = 1e15;  // a round bound: %.9g never rounds a value in range above it
constexpr double kMinTimeUs = 1e-3, kMaxTimeUs = 3.6e9;
constexpr long kMaxRepeats = 1L << 30;

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

std::string quoted(const std::string& v) {
  std::string q(1, '\'');
  q += topo::printable(v);
  q += '\'';
  return q;
}

[[noreturn]] void fail(const std::string& file, int line, const std::string& column, const std::string& what) {
  throw OpTableError(file, line, column, what);
}

}  // namespace

std::vector<std::string> csv_cells(std::string_view line, const std::string& file, int n) {
  std::vector<std::string> out;
  std::size_t i = 0;
  for (;;) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::string cell;
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;; ++i) {
        if (i >= line.size()) fail(file, n, "row", "a quoted cell is not closed");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            cell += '"';
            ++i;
          } else {
            ++i;
            break;
          }
        } else {
          cell += line[i];
        }
      }
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      if (i < line.size() && line[i] != ',') fail(file, n, "row", "text after a closing quote");
    } else {
      const std::size_t e = std::min(line.find(',', i), line.size());
      cell = trim(line.substr(i, e - i));
      if (cell.find('"') != std::string::npos) fail(file, n, "row", "a quote inside an unquoted cell");
      i = e;
    }
    out.push_back(std::move(cell));
    if (i >= line.size()) return out;
    ++i;  // the comma
  }
}

namespace {

// A cell as format_op_table writes it: quoted when it holds a comma, quote or edge blanks.
std::string cell_text(const std::string& v) {
  const bool plain = v.find_first_of(",\"") == std::string::npos && v == trim(v);
  if (plain) return v;
  std::string q = "\"";
  for (char c : v) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

long integer(const std::string& v, const std::string& file, int line, const std::string& column, long max) {
  long out = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < 0)
    fail(file, line, column, quoted(v) + " is not a non-negative integer");
  if (out > max) fail(file, line, column, quoted(v) + " is above " + std::to_string(max));
  return out;
}

std::string format_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// A finite number in [0, max]; with `whole`, a nonzero one must be at least 1 (FLOPs, bytes).
double number(const std::string& v, const std::string& file, int line, const std::string& column, double max,
              bool whole = false) {
  double out = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !std::isfinite(out) || out < 0)
    fail(file, line, column, quoted(v) + " is not a non-negative number");
  if (out > max || (whole && out > 0 && out < 1))
    fail(file, line, column, quoted(v) + " is out of range (" + (whole ? "0, or 1" : "0") + " to " + format_number(max) + ")");
  return out;
}

}  // namespace

std::string kernel_family(std::string_view name) {
  std::string out;
  for (char c : name)
    if (c < '0' || c > '9') out += c;
  if (out.rfind("final_", 0) == 0) out.erase(0, 6);
  return out;
}

OpTable parse_op_table(const std::string& text, const std::string& file) {
  OpTable t;
  t.file = file;
  std::string_view rest = text;
  int line = 0;
  std::vector<int> where;     // column index of each of kColumns
  std::size_t width = 0;      // cells in the header row
  std::map<std::string, int> meta_line;
  while (!rest.empty()) {
    const std::size_t nl = std::min(rest.find('\n'), rest.size());
    const std::string_view raw = rest.substr(0, nl);
    rest.remove_prefix(std::min(nl + 1, rest.size()));
    ++line;
    const std::string s = trim(raw);
    if (s.empty()) continue;
    if (s[0] == '#') {
      // "# key: value" before the column header is a header field (each key once); other
      // comment lines are ignored.
      const auto colon = s.find(':');
      if (colon != std::string::npos && where.empty()) {
        const std::string key = trim(std::string_view(s).substr(1, colon - 1));
        const std::string value = trim(std::string_view(s).substr(colon + 1));
        if (!key.empty() && key.find(' ') == std::string::npos) {
          if (const auto [it, fresh] = meta_line.emplace(key, line); !fresh)
            fail(file, line, "header", quoted(key) + " given twice (first on line " +
                                           std::to_string(it->second) + ")");
          t.meta[key] = value;
        }
      }
      continue;
    }
    const std::vector<std::string> cells = csv_cells(s, file, line);
    if (where.empty()) {
      for (std::size_t i = 0; i < cells.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
          if (cells[i] == cells[j]) fail(file, line, topo::printable(cells[i], 40), "column given twice");
      for (const std::string& c : kColumns) {
        const auto it = std::find(cells.begin(), cells.end(), c);
        if (it == cells.end()) fail(file, line, c, "missing column (the header needs kind,name,dtype,m,n,k,batch,flops,bytes,time_us,repeats)");
        where.push_back(static_cast<int>(it - cells.begin()));
      }
      width = cells.size();
      continue;
    }
    // Every row as wide as the header: a short row would leave a column without a cell.
    if (cells.size() != width)
      fail(file, line, "row", "has " + std::to_string(cells.size()) + " cells, the header has " + std::to_string(width));
    auto cell = [&](int i) { return cells[static_cast<std::size_t>(where[static_cast<std::size_t>(i)])]; };
    OpSample o;
    o.line = line;
    const std::string kind = cell(0);
    if (kind == "gemm") o.kind = OpClass::gemm;
    else if (kind == "attention") o.kind = OpClass::attention;
    else if (kind == "elementwise") o.kind = OpClass::elementwise;
    else fail(file, line, "kind", quoted(kind) + " is not gemm, attention or elementwise");
    o.name = cell(1);
    if (o.name.empty()) fail(file, line, "name", "is empty");
    if (!topo::clean_text(o.name)) fail(file, line, "name", quoted(o.name) + " holds control characters");
    const std::string dtype_text = cell(2);
    const auto dtype = topo::parse_precision(dtype_text);
    if (!dtype) fail(file, line, "dtype", quoted(dtype_text) + " is not fp32, tf32, fp16, bf16 or fp8");
    o.dtype = *dtype;
    o.m = integer(cell(3), file, line, "m", kMaxDimension);
    o.n = integer(cell(4), file, line, "n", kMaxDimension);
    o.k = integer(cell(5), file, line, "k", kMaxDimension);
    o.batch = integer(cell(6), file, line, "batch", kMaxDimension);
    o.flops = Flops(number(cell(7), file, line, "flops", kMaxFlops, true));
    o.bytes = Bytes(number(cell(8), file, line, "bytes", kMaxBytes, true));
    const double us = number(cell(9), file, line, "time_us", kMaxTimeUs);
    if (!(us > 0)) fail(file, line, "time_us", "must be positive");
    if (us < kMinTimeUs) fail(file, line, "time_us", quoted(cell(9)) + " is below 1 ns");
    o.time = Seconds(us * 1e-6);
    const long repeats = integer(cell(10), file, line, "repeats", kMaxRepeats);
    if (repeats < 1) fail(file, line, "repeats", "must be at least 1");
    o.repeats = static_cast<int>(repeats);
    if (o.kind == OpClass::gemm && (o.m == 0 || o.n == 0 || o.k == 0 || o.batch == 0))
      fail(file, line, "m", "a gemm row needs m, n, k and batch");
    if (o.kind != OpClass::elementwise && !(o.flops.value() > 0))
      fail(file, line, "flops", "a " + kind + " row needs its FLOPs");
    if (o.kind == OpClass::elementwise && !(o.bytes.value() > 0))
      fail(file, line, "bytes", "an elementwise row needs its bytes");
    t.samples.push_back(std::move(o));
  }
  if (where.empty()) fail(file, line, "header", "no header row (kind,name,dtype,m,n,k,batch,flops,bytes,time_us,repeats)");
  return t;
}

std::string format_op_table(const OpTable& t) {
  // Built as strings (no fixed buffer: a long name is written whole), one row per line: a line
  // break in a header value (only a table built in code can hold one) is written as \n.
  const auto one_line = [](const std::string& v) {
    std::string out;
    for (char c : v) out += c == '\n' ? std::string("\\n") : std::string(1, c);
    return out;
  };
  std::string out = "# strata op table\n";
  for (const auto& [k, v] : t.meta) out += "# " + one_line(k) + ": " + one_line(v) + "\n";
  for (std::size_t i = 0; i < kColumns.size(); ++i) out += (i ? "," : "") + kColumns[i];
  out += "\n";
  for (const OpSample& o : t.samples) {
    out += to_string(o.kind);
    out += ",";
    out += cell_text(topo::printable(o.name, 0));
    out += ",";
    out += topo::to_string(o.dtype);
    // Appended piece by piece (GCC 12 warns, wrongly, on "," + std::string temporaries here).
    for (long v : {o.m, o.n, o.k, o.batch}) {
      out += ',';
      out += std::to_string(v);
    }
    for (double v : {o.flops.value(), o.bytes.value(), o.time.value() * 1e6}) {
      out += ',';
      out += format_number(v);
    }
    out += ',';
    out += std::to_string(o.repeats);
    out += '\n';
  }
  return out;
}

TableCost::TableCost(OpTable table, topo::Precision precision, RooflineCost fallback)
    : table_(std::move(table)), precision_(precision), fallback_(std::move(fallback)) {
  name_ = "table:" + (table_.file.empty() ? std::string("(in memory)") : table_.file);
  // FP8 training: FP8 samples price the FP8 GEMMs (and, from a profile of an FP8 run, anything
  // else); the other GEMMs, attention and memory-bound kernels also take bf16 samples.
  const bool fp8 = precision == topo::Precision::fp8;
  const topo::Precision base = fp8 ? topo::Precision::bf16 : precision;
  peak_ = fallback_.gpu().peak_at(base).value();
  if (fp8) fp8_peak_ = fallback_.gpu().peak_at(precision).value();
  std::map<std::string, std::vector<const OpSample*>> element;
  for (const OpSample& o : table_.samples) {
    // Tables built in code skip parse_op_table's checks: the same ones again, or NaN and infinity
    // would reach the interpolation.
    if (!(o.time.value() > 0) || !std::isfinite(o.time.value()))
      throw std::invalid_argument(name_ + ": sample '" + topo::printable(o.name) + "' has no finite positive time");
    if (!std::isfinite(o.flops.value()) || o.flops.value() < 0 || !std::isfinite(o.bytes.value()) || o.bytes.value() < 0)
      throw std::invalid_argument(name_ + ": sample '" + topo::printable(o.name) + "' has non-finite or negative FLOPs or bytes");
    if (o.m < 0 || o.n < 0 || o.k < 0 || o.batch < 0 || (o.kind == OpClass::gemm && (o.m == 0 || o.n == 0 || o.k == 0 || o.batch == 0)))
      throw std::invalid_argument(name_ + ": sample '" + topo::printable(o.name) + "' has an impossible GEMM shape");
    if (o.kind != OpClass::elementwise && !(o.flops.value() > 0))
      throw std::invalid_argument(name_ + ": sample '" + topo::printable(o.name) + "' has no FLOPs");
    if (o.kind == OpClass::elementwise && !(o.bytes.value() > 0))
      throw std::invalid_argument(name_ + ": sample '" + topo::printable(o.name) + "' has no bytes");
    if (o.dtype != precision_ && o.dtype != base) continue;
    if (o.kind == OpClass::gemm) (o.dtype == base ? gemms_ : fp8_gemms_).push_back(&o);
    else if (o.kind == OpClass::attention) attention_[o.name].push_back(&o);
    else element[kernel_family(o.name)].push_back(&o);
  }
  for (auto& [name, v] : attention_)
    std::sort(v.begin(), v.end(), [](const OpSample* a, const OpSample* b) { return a->flops < b->flops; });
  // time = overhead + bytes x seconds_per_byte, least squares; one size gives a pure bandwidth.
  for (const auto& [name, v] : element) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    const double n = static_cast<double>(v.size());
    for (const OpSample* o : v) {
      const double x = o->bytes.value(), y = o->time.value();
      sx += x, sy += y, sxx += x * x, sxy += x * y;
    }
    Fit f;
    const double den = n * sxx - sx * sx;
    if (v.size() >= 2 && den > 0) {
      f.seconds_per_byte = (n * sxy - sx * sy) / den;
      f.overhead = (sy - f.seconds_per_byte * sx) / n;
    }
    if (v.size() < 2 || den <= 0 || f.seconds_per_byte <= 0 || f.overhead < 0) {
      f.overhead = 0;
      f.seconds_per_byte = sy / sx;
    }
    elementwise_[name] = f;
  }
}

Seconds TableCost::device_time(const Op& op) const {
  // A measured kernel time is GPU time; the host's issue time is host_time's.
  if (const auto* g = std::get_if<Gemm>(&op.kind)) return gemm_time(op, *g);
  if (std::holds_alternative<FusedAttention>(op.kind)) return attention_time(op);
  return elementwise_time(op);
}

Seconds TableCost::host_time(const Op& op) const { return fallback_.host_time(op); }

Seconds TableCost::gemm_time(const Op& op, const Gemm& g) const {
  struct Near {
    double distance;
    const OpSample* sample;
  };
  std::vector<Near> near;
  auto octaves = [](double a, double b) { return std::fabs(std::log2(a / b)); };
  const std::vector<const OpSample*>& samples = g.fp8 ? fp8_gemms_ : gemms_;
  const double peak = g.fp8 ? fp8_peak_ : peak_;
  for (const OpSample* s : samples) {
    const double dm = octaves(static_cast<double>(g.m), static_cast<double>(s->m));
    const double dn = octaves(static_cast<double>(g.n), static_cast<double>(s->n));
    const double dk = octaves(static_cast<double>(g.k), static_cast<double>(s->k));
    const double db = octaves(static_cast<double>(g.batch), static_cast<double>(s->batch));
    if (dm + dn + dk + db == 0) {
      ++coverage_.exact;
      return s->time;
    }
    if (std::max({dm, dn, dk, db}) <= kMaxOctaves) near.push_back({std::sqrt(dm * dm + dn * dn + dk * dk + db * db), s});
  }
  if (near.empty()) {
    ++coverage_.fallback;
    return fallback_.device_time(op);
  }
  // Efficiency (FLOPs per second over peak) of the four nearest shapes, weighted by inverse
  // squared distance in log space.
  std::sort(near.begin(), near.end(), [](const Near& a, const Near& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.sample->line < b.sample->line);
  });
  near.resize(std::min<std::size_t>(near.size(), 4));
  double weight = 0, efficiency = 0;
  for (const Near& n : near) {
    const double w = 1.0 / (n.distance * n.distance);
    efficiency += w * n.sample->flops.value() / (n.sample->time.value() * peak);
    weight += w;
  }
  ++coverage_.interpolated;
  return Seconds(op.flops.value() / (efficiency / weight * peak));
}

Seconds TableCost::attention_time(const Op& op) const {
  const auto it = attention_.find(std::string(op.name));
  if (it == attention_.end() || it->second.empty()) {
    ++coverage_.fallback;
    return fallback_.device_time(op);
  }
  const auto& v = it->second;
  const double f = op.flops.value();
  auto eff = [&](const OpSample* s) { return s->flops.value() / (s->time.value() * peak_); };
  for (const OpSample* s : v)
    if (s->flops.value() == f) {
      ++coverage_.exact;
      return s->time;
    }
  // Efficiency linear in log FLOPs between the neighbours; held flat up to two octaves outside.
  const auto upper = std::lower_bound(v.begin(), v.end(), f, [](const OpSample* s, double x) { return s->flops.value() < x; });
  double e = 0;
  if (upper == v.begin() || upper == v.end()) {
    const OpSample* edge = upper == v.begin() ? v.front() : v.back();
    if (std::fabs(std::log2(f / edge->flops.value())) > kMaxOctaves) {
      ++coverage_.fallback;
      return fallback_.device_time(op);
    }
    e = eff(edge);
  } else {
    const OpSample* lo = *(upper - 1);
    const OpSample* hi = *upper;
    const double x = std::log(f / lo->flops.value()) / std::log(hi->flops.value() / lo->flops.value());
    e = eff(lo) + x * (eff(hi) - eff(lo));
  }
  ++coverage_.interpolated;
  return Seconds(f / (e * peak_));
}

Seconds TableCost::elementwise_time(const Op& op) const {
  const auto it = elementwise_.find(kernel_family(op.name));
  if (it == elementwise_.end()) {
    ++coverage_.fallback;
    return fallback_.device_time(op);
  }
  ++coverage_.interpolated;
  return Seconds(it->second.overhead + it->second.seconds_per_byte * op.bytes.value());
}

}  // namespace strata::strategy
