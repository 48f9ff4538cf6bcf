#include "strata/strategy/op_table.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

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

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

std::string quoted(const std::string& v) {
  std::string q = "'";
  q += v;
  q += '\'';
  return q;
}

[[noreturn]] void fail(const std::string& file, int line, const std::string& column, const std::string& what) {
  throw OpTableError(file, line, column, what);
}

long integer(const std::string& v, const std::string& file, int line, const std::string& column) {
  long out = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < 0)
    fail(file, line, column, "'" + v + "' is not a non-negative integer");
  return out;
}

double number(const std::string& v, const std::string& file, int line, const std::string& column) {
  char* end = nullptr;
  const double out = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(out) || out < 0)
    fail(file, line, column, "'" + v + "' is not a non-negative number");
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
  std::istringstream in(text);
  std::string raw;
  int line = 0;
  std::vector<int> where;  // column index of each of kColumns
  while (std::getline(in, raw)) {
    ++line;
    const std::string s = trim(raw);
    if (s.empty()) continue;
    if (s[0] == '#') {
      const auto colon = s.find(':');
      if (colon != std::string::npos && where.empty()) {
        const std::string key = trim(s.substr(1, colon - 1)), value = trim(s.substr(colon + 1));
        if (!key.empty() && key.find(' ') == std::string::npos) t.meta[key] = value;
      }
      continue;
    }
    const std::vector<std::string> cells = split(s);
    if (where.empty()) {
      for (const std::string& c : kColumns) {
        const auto it = std::find(cells.begin(), cells.end(), c);
        if (it == cells.end()) fail(file, line, c, "missing column (the header needs kind,name,dtype,m,n,k,batch,flops,bytes,time_us,repeats)");
        where.push_back(static_cast<int>(it - cells.begin()));
      }
      continue;
    }
    if (cells.size() < kColumns.size()) fail(file, line, "row", "has " + std::to_string(cells.size()) + " cells");
    auto cell = [&](int i) { return cells.at(static_cast<std::size_t>(where[static_cast<std::size_t>(i)])); };
    OpSample o;
    o.line = line;
    const std::string kind = cell(0);
    if (kind == "gemm") o.kind = OpClass::gemm;
    else if (kind == "attention") o.kind = OpClass::attention;
    else if (kind == "elementwise") o.kind = OpClass::elementwise;
    else fail(file, line, "kind", "'" + kind + "' is not gemm, attention or elementwise");
    o.name = cell(1);
    if (o.name.empty()) fail(file, line, "name", "is empty");
    const std::string dtype_text = cell(2);
    const auto dtype = topo::parse_precision(dtype_text);
    if (!dtype) fail(file, line, "dtype", quoted(dtype_text) + " is not fp32, tf32, fp16, bf16 or fp8");
    o.dtype = *dtype;
    o.m = integer(cell(3), file, line, "m");
    o.n = integer(cell(4), file, line, "n");
    o.k = integer(cell(5), file, line, "k");
    o.batch = integer(cell(6), file, line, "batch");
    o.flops = Flops(number(cell(7), file, line, "flops"));
    o.bytes = Bytes(number(cell(8), file, line, "bytes"));
    const double us = number(cell(9), file, line, "time_us");
    if (!(us > 0)) fail(file, line, "time_us", "must be positive");
    o.time = Seconds(us * 1e-6);
    o.repeats = static_cast<int>(integer(cell(10), file, line, "repeats"));
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
  std::ostringstream os;
  os << "# strata op table\n";
  for (const auto& [k, v] : t.meta) os << "# " << k << ": " << v << "\n";
  for (std::size_t i = 0; i < kColumns.size(); ++i) os << (i ? "," : "") << kColumns[i];
  os << "\n";
  char buf[512];
  for (const OpSample& o : t.samples) {
    std::snprintf(buf, sizeof buf, "%s,%s,%s,%ld,%ld,%ld,%ld,%.9g,%.9g,%.9g,%d\n", to_string(o.kind), o.name.c_str(),
                  std::string(topo::to_string(o.dtype)).c_str(), o.m, o.n, o.k, o.batch, o.flops.value(),
                  o.bytes.value(), o.time.value() * 1e6, o.repeats);
    os << buf;
  }
  return os.str();
}

TableCost::TableCost(OpTable table, topo::Precision precision, RooflineCost fallback)
    : table_(std::move(table)), precision_(precision), fallback_(std::move(fallback)) {
  name_ = "table:" + (table_.file.empty() ? std::string("(in memory)") : table_.file);
  peak_ = fallback_.gpu().peak_at(precision).value();
  std::map<std::string, std::vector<const OpSample*>> element;
  for (const OpSample& o : table_.samples) {
    if (!(o.time.value() > 0)) throw std::invalid_argument(name_ + ": sample '" + o.name + "' has no time");
    if (o.dtype != precision_) continue;
    if (o.kind == OpClass::gemm) gemms_.push_back(&o);
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

Seconds TableCost::time(const Op& op) const {
  Seconds t;
  if (const auto* g = std::get_if<Gemm>(&op.kind)) t = gemm_time(op, *g);
  else if (std::holds_alternative<FusedAttention>(op.kind)) t = attention_time(op);
  else t = elementwise_time(op);
  // A measured kernel time is GPU time; the host still issues kernels no faster than it can.
  return std::max(t, fallback_.gpu().host_overhead);
}

Seconds TableCost::gemm_time(const Op& op, const Gemm& g) const {
  struct Near {
    double distance;
    const OpSample* sample;
  };
  std::vector<Near> near;
  auto octaves = [](double a, double b) { return std::fabs(std::log2(a / b)); };
  for (const OpSample* s : gemms_) {
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
    return fallback_.time(op);
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
    efficiency += w * n.sample->flops.value() / (n.sample->time.value() * peak_);
    weight += w;
  }
  ++coverage_.interpolated;
  return Seconds(op.flops.value() / (efficiency / weight * peak_));
}

Seconds TableCost::attention_time(const Op& op) const {
  const auto it = attention_.find(std::string(op.name));
  if (it == attention_.end() || it->second.empty()) {
    ++coverage_.fallback;
    return fallback_.time(op);
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
      return fallback_.time(op);
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
    return fallback_.time(op);
  }
  ++coverage_.interpolated;
  return Seconds(it->second.overhead + it->second.seconds_per_byte * op.bytes.value());
}

}  // namespace strata::strategy
