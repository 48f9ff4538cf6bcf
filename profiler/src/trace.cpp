#include "strata/profiler/trace.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace strata::profiler {

void TraceData::append(TraceData&& o) {
  auto move_all = [](auto& to, auto& from) { to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end())); };
  move_all(kernels, o.kernels);
  move_all(memory, o.memory);
  move_all(api, o.api);
  move_all(markers, o.markers);
  move_all(external, o.external);
  dropped += o.dropped;
  unknown_records += o.unknown_records;
  if (o.cupti_version != 0) cupti_version = o.cupti_version;
}

std::vector<Range> pair_ranges(const std::vector<MarkerRecord>& markers) {
  std::unordered_map<std::uint32_t, std::size_t> open;  // id -> index into out
  std::vector<Range> out;
  for (const MarkerRecord& m : markers) {
    if (m.type == MarkerRecord::Type::start) {
      open[m.id] = out.size();
      out.push_back({m.name, m.thread, m.timestamp, UINT64_MAX, 0});
    } else if (m.type == MarkerRecord::Type::end) {
      if (auto it = open.find(m.id); it != open.end()) {
        out[it->second].end = m.timestamp;
        open.erase(it);
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Range& a, const Range& b) {
    if (a.thread != b.thread) return a.thread < b.thread;
    if (a.start != b.start) return a.start < b.start;
    return a.end > b.end;  // the enclosing range first
  });
  // Depth: how many earlier ranges of the thread are still open.
  std::vector<std::uint64_t> stack;
  std::uint64_t thread = 0;
  for (Range& r : out) {
    if (r.thread != thread) {
      stack.clear();
      thread = r.thread;
    }
    while (!stack.empty() && stack.back() <= r.start) stack.pop_back();
    r.depth = static_cast<int>(stack.size());
    stack.push_back(r.end);
  }
  return out;
}

namespace {

// The ranges of one thread that contain time `t`, outermost first.
std::vector<const Range*> containing(const std::vector<Range>& ranges, std::size_t begin, std::size_t end,
                                     std::uint64_t t) {
  // Ranges are sorted by start: walk back from the last one that starts at or before t.
  auto first_after = std::upper_bound(ranges.begin() + static_cast<long>(begin), ranges.begin() + static_cast<long>(end), t,
                                      [](std::uint64_t x, const Range& r) { return x < r.start; });
  std::vector<const Range*> found;
  int want = -1;  // depth of the next enclosing range to look for (-1: any)
  for (auto it = first_after; it != ranges.begin() + static_cast<long>(begin);) {
    --it;
    if (want >= 0 && it->depth != want) continue;
    if (it->end > t) {
      found.push_back(&*it);
      if (it->depth == 0) break;
      want = it->depth - 1;
    } else if (want < 0 && it->depth == 0) {
      break;  // a closed outermost range: nothing earlier can contain t
    }
  }
  std::reverse(found.begin(), found.end());
  return found;
}

}  // namespace

std::vector<Attributed> attribute(const TraceData& t) {
  std::unordered_map<std::uint32_t, const ApiRecord*> api;
  for (const ApiRecord& a : t.api) {
    auto [it, fresh] = api.emplace(a.correlation, &a);
    if (!fresh && it->second->driver && !a.driver) it->second = &a;  // the runtime call launched it
  }
  std::unordered_map<std::uint32_t, std::uint64_t> external;
  for (const ExternalCorrelation& e : t.external) external[e.correlation] = e.id;
  const std::vector<Range> ranges = pair_ranges(t.markers);
  std::unordered_map<std::uint64_t, std::pair<std::size_t, std::size_t>> by_thread;  // [begin, end)
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    auto [it, fresh] = by_thread.emplace(ranges[i].thread, std::make_pair(i, i + 1));
    if (!fresh) it->second.second = i + 1;
  }

  std::vector<Attributed> out;
  auto attach = [&](Attributed a, std::uint32_t correlation) {
    if (auto e = external.find(correlation); e != external.end()) a.external_id = e->second;
    if (auto c = api.find(correlation); c != api.end()) {
      if (auto r = by_thread.find(c->second->thread); r != by_thread.end()) {
        const auto enclosing = containing(ranges, r->second.first, r->second.second, c->second->start);
        for (const Range* x : enclosing) a.path += (a.path.empty() ? "" : " / ") + x->name;
        if (!enclosing.empty()) {
          a.op = enclosing.back()->name;
          a.range_start = enclosing.back()->start;
        }
      }
    }
    out.push_back(std::move(a));
  };
  for (std::size_t i = 0; i < t.kernels.size(); ++i)
    attach({Attributed::Kind::kernel, i, "", "", std::nullopt, t.kernels[i].start, t.kernels[i].duration(), 0},
           t.kernels[i].correlation);
  for (std::size_t i = 0; i < t.memory.size(); ++i)
    attach({t.memory[i].memset ? Attributed::Kind::memset : Attributed::Kind::memcpy, i, "", "", std::nullopt,
            t.memory[i].start, t.memory[i].duration(), 0},
           t.memory[i].correlation);
  std::stable_sort(out.begin(), out.end(), [](const Attributed& a, const Attributed& b) { return a.start < b.start; });
  return out;
}

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(' ');
  const auto e = s.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The value after "key = " in an emit_nvtx string, up to the next top-level ", " (lists kept).
std::optional<std::string> field(const std::string& s, const std::string& key) {
  const std::string needle = key + " = ";
  std::size_t at = 0;
  while ((at = s.find(needle, at)) != std::string::npos) {
    if (at == 0 || (at >= 2 && s.compare(at - 2, 2, ", ") == 0)) break;
    ++at;
  }
  if (at == std::string::npos) return std::nullopt;
  std::size_t i = at + needle.size();
  int depth = 0;
  std::string v;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
    v += c;
  }
  return trim(v);
}

// A whole non-negative decimal that fits a long; nullopt otherwise.
std::optional<long> whole_number(std::string_view s) {
  long v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// "[[4096, 1024], [], [3]]": one list of dimensions per input; nullopt unless it has exactly
// that form (a list of lists of non-negative integers that fit a long).
std::optional<std::vector<std::vector<long>>> parse_sizes(std::string_view s) {
  std::vector<std::vector<long>> out;
  std::size_t i = 0;
  const auto blanks = [&] {
    while (i < s.size() && s[i] == ' ') ++i;
  };
  const auto take = [&](char c) {
    blanks();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  if (!take('[')) return std::nullopt;
  if (take(']')) return i == s.size() ? std::optional(out) : std::nullopt;
  do {
    if (!take('[')) return std::nullopt;
    std::vector<long> dims;
    if (!take(']')) {
      do {
        blanks();
        const std::size_t b = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        const auto v = whole_number(s.substr(b, i - b));
        if (!v) return std::nullopt;
        dims.push_back(*v);
      } while (take(','));
      if (!take(']')) return std::nullopt;
    }
    out.push_back(std::move(dims));
  } while (take(','));
  if (!take(']')) return std::nullopt;
  blanks();
  return i == s.size() ? std::optional(out) : std::nullopt;
}

}  // namespace

NvtxOp parse_nvtx_op(const std::string& range) {
  // Never throws: a part that is not in emit_nvtx's form is left out (no seq, no sizes), and
  // sample_of then prices nothing from it.
  NvtxOp o;
  const auto comma = range.find(", ");
  o.op = trim(comma == std::string::npos ? range : range.substr(0, comma));
  if (comma == std::string::npos) return o;
  if (auto seq = field(range, "seq")) o.seq = whole_number(*seq);
  if (auto sizes = field(range, "sizes"))
    if (auto z = parse_sizes(*sizes)) o.sizes = std::move(*z);
  return o;
}

namespace {
std::string csv_quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}
}  // namespace

std::string kernels_csv(const TraceData& t, const std::vector<Attributed>& attributed) {
  std::ostringstream os;
  os << "op,path,kind,name,start_ns,end_ns,dur_ns,device,stream,correlation,grid,block,bytes,external_id,range_start_ns\n";
  char buf[256];
  for (const Attributed& a : attributed) {
    os << csv_quote(a.op) << "," << csv_quote(a.path) << ",";
    if (a.kind == Attributed::Kind::kernel) {
      const KernelRecord& k = t.kernels[a.index];
      std::snprintf(buf, sizeof buf, ",%llu,%llu,%llu,%u,%u,%u,%dx%dx%d,%dx%dx%d,0,",
                    static_cast<unsigned long long>(k.start), static_cast<unsigned long long>(k.end),
                    static_cast<unsigned long long>(k.duration()), k.device, k.stream, k.correlation, k.grid[0],
                    k.grid[1], k.grid[2], k.block[0], k.block[1], k.block[2]);
      os << "kernel," << csv_quote(k.name) << buf;
    } else {
      const MemoryRecord& m = t.memory[a.index];
      std::snprintf(buf, sizeof buf, ",%llu,%llu,%llu,%u,%u,%u,,,%llu,", static_cast<unsigned long long>(m.start),
                    static_cast<unsigned long long>(m.end), static_cast<unsigned long long>(m.duration()), m.device,
                    m.stream, m.correlation, static_cast<unsigned long long>(m.bytes));
      os << (m.memset ? "memset," : "memcpy,") << csv_quote(m.memset ? "memset" : "memcpy") << buf;
    }
    if (a.external_id) os << *a.external_id;
    os << "," << a.range_start << "\n";
  }
  return os.str();
}

std::map<std::uint64_t, std::uint64_t> time_by_external_id(const std::vector<Attributed>& attributed) {
  std::map<std::uint64_t, std::uint64_t> out;
  for (const Attributed& a : attributed)
    if (a.external_id) out[*a.external_id] += a.duration;
  return out;
}

std::vector<OpCall> op_calls(const std::vector<Attributed>& attributed) {
  std::map<std::pair<std::uint64_t, std::string>, double> calls;
  for (const Attributed& a : attributed)
    if (!a.op.empty()) calls[{a.range_start, a.op}] += static_cast<double>(a.duration) * 1e-9;
  std::vector<OpCall> out;
  for (const auto& [k, seconds] : calls) out.push_back({k.second, k.first, seconds});
  return out;
}

std::string op_calls_csv(const std::vector<OpCall>& calls) {
  std::ostringstream os;
  os << "op,range_start_ns,time_ns\n";
  char buf[64];
  for (const OpCall& c : calls) {
    std::snprintf(buf, sizeof buf, ",%llu,%.0f\n", static_cast<unsigned long long>(c.range_start), c.seconds * 1e9);
    os << csv_quote(c.op) << buf;
  }
  return os.str();
}

namespace {

// Reads one RFC 4180 record at `pos`: cells separated by commas, a cell in double quotes may hold
// commas, line breaks and "" (a quote); a record ends at a line break outside quotes. Returns
// false at the end of the text. `line` counts lines; `first` is the line the record starts on.
bool next_record(std::string_view text, std::size_t& pos, int& line, int& first, std::vector<std::string>& cells,
                 const std::string& file) {
  cells.clear();
  if (pos >= text.size()) return false;
  first = line;
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument(file + ":" + std::to_string(line) + ": " + why);
  };
  for (;;) {
    std::string cell;
    if (pos < text.size() && text[pos] == '"') {
      ++pos;
      for (;;) {
        if (pos >= text.size()) throw bad("a quoted cell is not closed");
        const char c = text[pos++];
        if (c == '"') {
          if (pos < text.size() && text[pos] == '"') {
            cell += '"';
            ++pos;
            continue;
          }
          break;
        }
        if (c == '\n') ++line;
        cell += c;
      }
      if (pos < text.size() && text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ++pos;
      if (pos < text.size() && text[pos] != ',' && text[pos] != '\n') throw bad("text after a closing quote");
    } else {
      while (pos < text.size() && text[pos] != ',' && text[pos] != '\n') cell += text[pos++];
      if (!cell.empty() && cell.back() == '\r') cell.pop_back();
      if (cell.find('"') != std::string::npos) throw bad("a quote inside an unquoted cell");
    }
    cells.push_back(std::move(cell));
    if (pos >= text.size()) return true;
    if (text[pos++] == '\n') {
      ++line;
      return true;
    }
  }
}

}  // namespace

std::vector<OpCall> parse_op_calls_csv(const std::string& text, const std::string& file) {
  std::vector<OpCall> out;
  std::size_t pos = 0;
  int line = 1, first = 1;
  std::vector<std::string> cells;
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument(file + ":" + std::to_string(first) + ": " + why);
  };
  if (!next_record(text, pos, line, first, cells, file) || cells != std::vector<std::string>{"op", "range_start_ns", "time_ns"})
    throw bad("expected the header op,range_start_ns,time_ns");
  while (next_record(text, pos, line, first, cells, file)) {
    if (cells.size() == 1 && cells[0].empty()) continue;  // a blank line
    if (cells.size() != 3) throw bad("expected op,range_start_ns,time_ns (" + std::to_string(cells.size()) + " cells)");
    if (cells[0].empty()) throw bad("op: is empty");
    std::uint64_t start = 0;
    {
      const std::string& c = cells[1];
      const auto [p, ec] = std::from_chars(c.data(), c.data() + c.size(), start);
      if (c.empty() || ec != std::errc() || p != c.data() + c.size())
        throw bad("range_start_ns: expected op,range_start_ns,time_ns with a non-negative integer start");
    }
    double ns = 0;
    {
      const std::string& c = cells[2];
      const auto [p, ec] = std::from_chars(c.data(), c.data() + c.size(), ns);
      // One call of one op takes no more than an hour; NaN, infinity and negatives are refused.
      if (c.empty() || ec != std::errc() || p != c.data() + c.size() || !(ns >= 0 && ns <= 3.6e12))
        throw bad("time_ns: expected op,range_start_ns,time_ns with a time of 0 to 3.6e12 ns");
    }
    out.push_back({cells[0], start, ns * 1e-9});
  }
  return out;
}

}  // namespace strata::profiler
