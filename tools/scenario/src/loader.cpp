#include "strata/scenario/loader.hpp"
#include "strata/topo/fabric.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <system_error>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include "reader.hpp"
#include "strata/scenario/units.hpp"

#ifndef STRATA_SOURCE_DIR
#define STRATA_SOURCE_DIR "."
#endif

namespace strata::scenario {

namespace fs = std::filesystem;
using detail::MapReader;
using detail::shown;

namespace {
// what(): one line whatever the file name, key and message hold.
std::string compose(const std::string& file, int line, const std::string& key, const std::string& message) {
  return topo::printable(file, 256) + ":" + std::to_string(line) + ": " +
         (key.empty() ? "" : topo::printable(key, 160) + ": ") + topo::printable(message, 4096);
}

std::string mib(std::uintmax_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }
}  // namespace

InputError::InputError(const std::string& file, int line, const std::string& key, const std::string& message)
    : std::runtime_error(compose(file, line, key, message)), file_(file), line_(line), key_(key) {}

DataDirs DataDirs::under(const fs::path& root) {
  return {root / "topologies" / "gpus", root / "topologies" / "clusters", root / "scenarios" / "models",
          root / "profiler" / "data"};
}

DataDirs default_data_dirs() {
  if (const char* home = std::getenv("STRATA_HOME"); home != nullptr && *home != '\0') return DataDirs::under(home);
  return DataDirs::under(STRATA_SOURCE_DIR);
}

namespace {

std::string errno_text(int e) {
  if (e == ENOENT) return "no such file";
  if (e == ENAMETOOLONG) return "file name too long";
  return std::generic_category().message(e);
}

// Why a file with this stat cannot be read as an input, or "".
std::string kind_problem(mode_t mode) {
  if (S_ISDIR(mode)) return "is a directory, not a file";
  if (!S_ISREG(mode)) return "not a regular file (a FIFO, device or socket)";
  return "";
}

}  // namespace

std::string read_input_file(const fs::path& file, std::uintmax_t limit) {
  const std::string name = file.string();
  if (name.empty()) throw InputError(name, 0, "", "no file name given");
  if (auto why = detail::file_problem(file)) throw InputError(name, 0, "", *why);
  // Opened without blocking and checked again on the descriptor: a file swapped for a FIFO
  // between the two checks must not hang the reader.
  const int fd = ::open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) throw InputError(name, 0, "", "cannot open: " + errno_text(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw InputError(name, 0, "", "cannot read: " + errno_text(errno));
  if (const std::string why = kind_problem(st.st_mode); !why.empty()) throw InputError(name, 0, "", why);
  const auto over = [&](std::uintmax_t size) {
    return InputError(name, 0, "", "is " + std::to_string(size) + " bytes, over the " + mib(limit) + " limit");
  };
  if (static_cast<std::uintmax_t>(st.st_size) > limit) throw over(static_cast<std::uintmax_t>(st.st_size));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw InputError(name, 0, "", "cannot read: " + errno_text(errno));
    if (n == 0) break;
    // A file that grows while it is read (or reports no size, like /proc) is cut at the limit.
    if (out.size() + static_cast<std::size_t>(n) > limit) throw over(out.size() + static_cast<std::size_t>(n));
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

namespace detail {

std::string shown(std::string_view s) {
  std::string q(1, '\'');
  q += topo::printable(s);
  q += '\'';
  return q;
}

std::optional<std::int64_t> to_integer(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> to_number(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

bool preset_name(std::string_view name) {
  if (name.empty() || name.size() > topo::limits::max_name || name.front() == '.') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return false;
  return true;
}

std::optional<std::string> file_problem(const fs::path& path) {
  const std::string& name = path.native();
  if (name.find('\0') != std::string::npos) return "the file name holds a NUL character";
  struct stat st {};
  if (::stat(name.c_str(), &st) != 0) return errno_text(errno);
  if (std::string why = kind_problem(st.st_mode); !why.empty()) return why;
  return std::nullopt;
}

std::string known_names(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".yaml") names.push_back(it->path().stem().string());
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

namespace {

// Walks the parser's events (not the node tree, so aliases cost nothing) and refuses what
// yaml-cpp would accept silently or fail on later: a key given twice (iteration keeps both, a
// lookup returns the first), a key that is a list, mapping, alias or null, a second document.
class StructureCheck final : public YAML::EventHandler {
 public:
  explicit StructureCheck(std::string file) : file_(std::move(file)) {}
  int documents = 0;
  int second_document_line = 0;

  void OnDocumentStart(const YAML::Mark& m) override {
    if (++documents == 2) second_document_line = m.line + 1;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { (void)node(m, Kind::null, ""); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { (void)node(m, Kind::alias, ""); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string& value) override {
    (void)node(m, Kind::scalar, value);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    push(false, node(m, Kind::collection, ""));
  }
  void OnSequenceEnd() override { frames_.pop_back(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    push(true, node(m, Kind::collection, ""));
  }
  void OnMapEnd() override { frames_.pop_back(); }

 private:
  enum class Kind { null, alias, scalar, collection };
  struct Frame {
    bool map = false;
    std::string path;
    bool want_key = true;
    std::string key;
    std::size_t index = 0;
    std::map<std::string, int> keys;  // key -> line
  };
  void push(bool map, std::string path) {
    Frame f;
    f.map = map;
    f.path = std::move(path);
    frames_.push_back(std::move(f));
  }
  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  // Records one node in its parent; returns its key path.
  std::string node(const YAML::Mark& m, Kind kind, const std::string& value) {
    if (frames_.empty()) return "";
    Frame& f = frames_.back();
    if (!f.map) return f.path + "[" + std::to_string(f.index++) + "]";
    if (!f.want_key) {
      f.want_key = true;
      return join(f.path, f.key);
    }
    f.want_key = false;
    const int line = m.line + 1;
    const std::string where = f.path.empty() ? "(document)" : f.path;
    if (kind == Kind::null) throw InputError(file_, line, where, "a key is empty or null");
    if (kind == Kind::alias) throw InputError(file_, line, where, "a key must be a plain name, not an alias");
    if (kind == Kind::collection) throw InputError(file_, line, where, "a key must be a plain name, not a list or mapping");
    const auto [it, fresh] = f.keys.emplace(value, line);
    if (!fresh)
      throw InputError(file_, line, join(f.path, value), "given twice (first on line " + std::to_string(it->second) + ")");
    f.key = value;
    return "";
  }

  std::string file_;
  std::vector<Frame> frames_;
};

}  // namespace

YAML::Node parse_file(const std::string& file) {
  const std::string text = read_input_file(file, kMaxYamlBytes);
  try {
    StructureCheck check(file);
    std::istringstream in(text);
    YAML::Parser parser(in);
    if (!parser.HandleNextDocument(check)) throw InputError(file, 1, "", "file is empty");
    if (parser.HandleNextDocument(check) || check.documents > 1)
      throw InputError(file, check.second_document_line, "", "holds more than one YAML document (---)");
    YAML::Node root = YAML::Load(text);
    if (!root.IsDefined() || root.IsNull()) throw InputError(file, 1, "", "file is empty");
    return root;
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's message for it reads "bad file".
    throw InputError(file, e.mark.is_null() ? 0 : e.mark.line + 1, "",
                     "malformed YAML: lists and mappings nested too deeply (depth " + std::to_string(e.depth()) + ")");
  } catch (const YAML::Exception& e) {
    throw InputError(file, e.mark.is_null() ? 0 : e.mark.line + 1, "", "malformed YAML: " + e.msg);
  }
}

MapReader::MapReader(YAML::Node node, std::string file, std::string path, bool nulls)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)), nulls_(nulls) {
  if (!node_.IsMap())
    throw InputError(file_, line(), path_.empty() ? "(document)" : path_, "expected a mapping of key: value");
}

int MapReader::line() const { return node_.Mark().line >= 0 ? node_.Mark().line + 1 : 0; }

std::string MapReader::key_of(const YAML::Node& k) const {
  // parse_file refused every other kind of key; a node built in code could still hold one.
  if (!k.IsScalar())
    throw InputError(file_, k.Mark().line >= 0 ? k.Mark().line + 1 : line(), path_.empty() ? "(document)" : path_,
                     "a key must be a plain name, not a list or mapping");
  return k.Scalar();
}

int MapReader::line_of(const std::string& key) const {
  for (const auto& kv : node_)
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.first.Mark().line + 1;
  return line();
}

std::string MapReader::key_path(const std::string& key) const {
  if (key.empty()) return path_;
  return path_.empty() ? key : path_ + "." + key;
}

void MapReader::fail(const std::string& key, const std::string& message) const {
  throw InputError(file_, line_of(key), key_path(key), message);
}

void MapReader::fail_at(const YAML::Node& n, const std::string& key, const std::string& message) const {
  const int l = n.Mark().line >= 0 ? n.Mark().line + 1 : line_of(key);
  throw InputError(file_, l, key_path(key), message);
}

bool MapReader::has(const std::string& key) const {
  const YAML::Node n = std::as_const(node_)[key];
  // `key:` with nothing after it is a value left out by mistake, not a request for the default.
  if (n.IsDefined() && n.IsNull() && !nulls_) fail(key, "must not be empty (leave the key out for its default)");
  return n.IsDefined() && !n.IsNull();
}

YAML::Node MapReader::need(const std::string& key) {
  read_.insert(key);
  const YAML::Node n = std::as_const(node_)[key];
  if (!n.IsDefined()) throw InputError(file_, line(), key_path(key), "missing required field");
  if (n.IsNull()) fail(key, "must not be empty");
  return n;
}

std::optional<YAML::Node> MapReader::maybe(const std::string& key) {
  read_.insert(key);
  const YAML::Node n = std::as_const(node_)[key];
  if (n.IsDefined() && n.IsNull() && !nulls_) fail(key, "must not be empty (leave the key out for its default)");
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  return n;
}

std::string MapReader::scalar(const YAML::Node& n, const std::string& key) const {
  if (!n.IsScalar()) fail_at(n, key, "expected a single value");
  return n.Scalar();
}

std::string MapReader::text(const std::string& key) { return scalar(need(key), key); }

std::string MapReader::name(const std::string& key) {
  const YAML::Node n = need(key);
  std::string s = scalar(n, key);
  if (s.size() > topo::limits::max_name || !topo::clean_text(s))
    fail_at(n, key, shown(s) + " is not a name: at most 256 characters, no control characters");
  return s;
}

int MapReader::integer(const std::string& key, int min, int max) {
  const YAML::Node n = need(key);
  const std::string s = scalar(n, key);
  const auto v = to_integer(s);
  if (!v) {
    // Only digits (after a sign): a whole number too large for 64 bits.
    const std::size_t first = !s.empty() && (s[0] == '+' || s[0] == '-') ? 1 : 0;
    const bool digits = s.size() > first && s.find_first_not_of("0123456789", first) == std::string::npos;
    fail_at(n, key, digits ? shown(s) + " is out of range (at most " + std::to_string(max) + ")"
                           : shown(s) + " is not an integer");
  }
  if (*v < min) {
    if (min == 1) fail_at(n, key, "must be a positive integer, got " + shown(s));
    if (min == 0) fail_at(n, key, "must not be negative, got " + shown(s));
    fail_at(n, key, "must be at least " + std::to_string(min) + ", got " + shown(s));
  }
  if (*v > max) fail_at(n, key, "must be at most " + std::to_string(max) + ", got " + shown(s));
  return static_cast<int>(*v);
}

double MapReader::number(const std::string& key) {
  const YAML::Node n = need(key);
  const std::string s = scalar(n, key);
  const auto v = to_number(s);
  if (!v) fail_at(n, key, shown(s) + " is not a finite number");
  return *v;
}

bool MapReader::boolean(const std::string& key) {
  const YAML::Node n = need(key);
  const std::string s = scalar(n, key);
  if (s == "true" || s == "on" || s == "yes") return true;
  if (s == "false" || s == "off" || s == "no") return false;
  fail_at(n, key, shown(s) + " is not true or false");
}

MapReader MapReader::map(const std::string& key) {
  const YAML::Node n = need(key);
  if (!n.IsMap()) fail_at(n, key, "expected a mapping of key: value");
  return MapReader(n, file_, key_path(key), nulls_);
}

std::vector<std::string> MapReader::keys() const {
  std::vector<std::string> out;
  for (const auto& kv : node_) out.push_back(key_of(kv.first));
  return out;
}

void MapReader::finish() const {
  for (const auto& kv : node_) {
    const std::string k = key_of(kv.first);
    if (!read_.count(k)) throw InputError(file_, kv.first.Mark().line + 1, key_path(k), "unknown key");
  }
}

}  // namespace detail

namespace {

namespace mlim = strategy::limits;
namespace tlim = topo::limits;

int positive(MapReader& r, const std::string& key, int max) { return r.integer(key, 1, max); }

int nonnegative(MapReader& r, const std::string& key, int max) { return r.integer(key, 0, max); }

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A finite number in [lo, hi].
double number_in(MapReader& r, const std::string& key, double lo, double hi, const std::string& range) {
  const double v = r.number(key);
  if (!(v >= lo && v <= hi)) r.fail(key, "must be " + range + ", got " + shown(r.scalar(r.need(key), key)));
  return v;
}

double fraction(MapReader& r, const std::string& key) {
  const double v = r.number(key);
  if (!(v > 0 && v <= 1)) r.fail(key, "must be in (0, 1], got " + shown(r.scalar(r.need(key), key)));
  return v;
}

template <class T>
T positive_unit(MapReader& r, const std::string& key, T (*parse)(std::string_view)) {
  const T v = r.parsed<T>(key, [parse](const std::string& s) { return parse(s); });
  if (!(v.value() > 0)) r.fail(key, "must be positive, got " + shown(r.scalar(r.need(key), key)));
  return v;
}

template <class T>
T nonnegative_unit(MapReader& r, const std::string& key, T (*parse)(std::string_view)) {
  return r.parsed<T>(key, [parse](const std::string& s) { return parse(s); });
}

strategy::Activation activation(MapReader& r, const std::string& key) {
  const std::string a = r.text(key);
  if (a == "gelu") return strategy::Activation::gelu;
  if (a == "swiglu") return strategy::Activation::swiglu;
  r.fail(key, shown(a) + " is not a known activation (gelu, swiglu)");
}

void read_model(MapReader& r, strategy::ModelSpec& m) {
  m.name = r.name("name");
  m.layers = positive(r, "layers", mlim::max_layers);
  m.hidden = positive(r, "hidden", mlim::max_hidden);
  m.heads = positive(r, "heads", mlim::max_heads);
  m.kv_heads = positive(r, "kv_heads", mlim::max_heads);
  m.ffn = positive(r, "ffn", mlim::max_ffn);
  m.vocab = positive(r, "vocab", mlim::max_vocab);
  m.seq_len = positive(r, "seq_len", mlim::max_seq_len);
  m.activation = activation(r, "activation");
  const bool gpt = m.activation == strategy::Activation::gelu;
  m.dropout = r.has("dropout") ? r.boolean("dropout") : gpt;
  m.tied_embeddings = r.has("tied_embeddings") ? r.boolean("tied_embeddings") : gpt;
  m.learned_positions = gpt;
  if (r.has("position_embedding")) {
    const std::string p = r.text("position_embedding");
    if (p == "learned") m.learned_positions = true;
    else if (p == "rotary") m.learned_positions = false;
    else r.fail("position_embedding", shown(p) + " is not learned or rotary");
  }
  r.maybe("dropout");
  r.maybe("tied_embeddings");
  r.maybe("position_embedding");
  // Mixture of experts: all of experts, top_k and moe_ffn, or none.
  if (r.has("experts") || r.has("top_k") || r.has("moe_ffn") || r.has("shared_experts") || r.has("dense_layers")) {
    m.experts = positive(r, "experts", mlim::max_experts);
    m.top_k = positive(r, "top_k", mlim::max_experts);
    m.moe_ffn = positive(r, "moe_ffn", mlim::max_ffn);
    if (m.top_k > m.experts) r.fail("top_k", "must not exceed experts (" + std::to_string(m.experts) + ")");
    if (r.has("shared_experts")) m.shared_experts = nonnegative(r, "shared_experts", mlim::max_shared_experts);
    if (r.has("dense_layers")) m.dense_layers = nonnegative(r, "dense_layers", mlim::max_layers);
    if (m.dense_layers >= m.layers) r.fail("dense_layers", "must be below layers (" + std::to_string(m.layers) + ")");
  }
  for (const char* k : {"experts", "top_k", "moe_ffn", "shared_experts", "dense_layers"}) r.maybe(k);
  if (m.hidden % m.heads != 0) r.fail("heads", "must divide hidden (" + std::to_string(m.hidden) + ")");
  if (m.heads % m.kv_heads != 0) r.fail("kv_heads", "must divide heads (" + std::to_string(m.heads) + ")");
  try {
    m.check();  // the same rules for cards built in code: a second defence
  } catch (const std::invalid_argument& e) {
    throw InputError(r.file(), r.line(), r.key_path(""), e.what());
  }
}

// The card or preset file a scenario names at `key`: a .yaml path (relative to the scenario), or
// NAME for `dir`/NAME.yaml. Unknown names list the known ones.
fs::path locate(MapReader& r, const std::string& key, const fs::path& dir, const fs::path& here, const char* what,
                bool allow_path) {
  const YAML::Node n = r.need(key);
  const std::string name = r.scalar(n, key);
  const fs::path p(name);
  if (allow_path && (p.extension() == ".yaml" || p.extension() == ".yml")) {
    const fs::path file = p.is_absolute() ? p : here / p;
    if (auto why = detail::file_problem(file)) r.fail_at(n, key, "cannot read " + shown(name) + ": " + *why);
    return file;
  }
  if (!detail::preset_name(name))
    r.fail_at(n, key, shown(name) + " is not a " + what + " name (at most 256 letters, digits, '.', '_' or '-')" +
                          (allow_path ? " or a .yaml file" : ""));
  const fs::path file = dir / (name + ".yaml");
  if (detail::file_problem(file)) {
    const std::string known = detail::known_names(dir);
    r.fail_at(n, key, "unknown " + std::string(what) + " " + shown(name) +
                          (known.empty() ? " (none in " + dir.string() + ")" : " (known: " + known + ")"));
  }
  return file;
}

// One direction of a fused-attention library's curve (topo::AttentionCurve):
//   {efficiency: {HEAD_DIM: FRACTION, ...}, causal: X, fixed_blocks: C, block: TOKENS}
topo::AttentionCurve read_attention_curve(MapReader& r, const std::string& key) {
  MapReader c = r.map(key);
  topo::AttentionCurve curve;
  MapReader eff = c.map("efficiency");
  for (const std::string& hd : eff.keys()) {
    const auto v = detail::to_integer(hd);
    if (!v || *v < 1 || *v > 65536) eff.fail(hd, "a head dim must be an integer from 1 to 65536");
    curve.efficiency.emplace_back(static_cast<int>(*v), fraction(eff, hd));
  }
  eff.finish();
  if (curve.efficiency.empty()) c.fail("efficiency", "must give at least one head dim");
  std::sort(curve.efficiency.begin(), curve.efficiency.end());
  for (std::size_t i = 1; i < curve.efficiency.size(); ++i)
    if (curve.efficiency[i].first == curve.efficiency[i - 1].first)
      c.fail("efficiency", "head dim " + std::to_string(curve.efficiency[i].first) + " is given twice");
  curve.causal = number_in(c, "causal", 1e-3, 2, "in (0, 2]");
  curve.fixed_blocks = number_in(c, "fixed_blocks", 0, 1000, "between 0 and 1000");
  if (c.has("block")) curve.block = positive(c, "block", 65536);
  c.maybe("block");
  c.finish();
  return curve;
}

void read_gpu(MapReader& r, topo::GpuSpec& g) {
  g.name = r.name("name");
  g.memory = positive_unit(r, "memory", parse_bytes);
  g.reserved_memory = nonnegative_unit(r, "reserved_memory", parse_bytes);
  if (!(g.reserved_memory < g.memory)) r.fail("reserved_memory", "must be below memory");
  g.memory_bw = positive_unit(r, "memory_bandwidth", parse_byte_rate);
  g.sms = positive(r, "sms", tlim::max_sms);
  g.nvlink_bw = positive_unit(r, "nvlink", parse_byte_rate);
  if (r.has("pcie")) g.pcie_generation = r.integer("pcie", 3, 6);
  r.maybe("pcie");
  MapReader peak = r.map("peak");
  for (const std::string& k : peak.keys()) {
    const auto p = topo::parse_precision(k);
    if (!p) peak.fail(k, "unknown precision (fp32, tf32, fp16, bf16, fp8)");
    g.peak[static_cast<int>(*p)] = positive_unit(peak, k, parse_flop_rate);
  }
  peak.finish();
  MapReader eff = r.map("efficiency");
  g.matmul_efficiency = fraction(eff, "matmul");
  if (g.supports(topo::Precision::fp8)) g.matmul_fp8_efficiency = fraction(eff, "matmul_fp8");
  else if (eff.has("matmul_fp8")) eff.fail("matmul_fp8", "needs an fp8 peak under peak:");
  g.attention_efficiency = fraction(eff, "attention");
  g.memory_efficiency = fraction(eff, "memory");
  g.kernel_overhead = nonnegative_unit(eff, "kernel_overhead", parse_seconds);
  g.host_overhead = nonnegative_unit(eff, "host_overhead", parse_seconds);
  eff.finish();
  MapReader tile = r.map("gemm_tile");
  g.gemm_tile_m = positive(tile, "m", tlim::max_gemm_tile);
  g.gemm_tile_n = positive(tile, "n", tlim::max_gemm_tile);
  tile.finish();
  if (r.has("attention")) {
    MapReader att = r.map("attention");
    for (const std::string& k : att.keys()) {
      const auto lib = topo::parse_attention_library(k);
      if (!lib) att.fail(k, "unknown attention library (flash2, cudnn)");
      MapReader kernel = att.map(k);
      topo::AttentionKernelSpec spec;
      spec.forward = read_attention_curve(kernel, "forward");
      spec.backward = read_attention_curve(kernel, "backward");
      kernel.finish();
      g.attention[static_cast<int>(*lib)] = std::move(spec);
    }
    att.finish();
  }
  r.maybe("attention");
}

void read_cluster_body(MapReader& r, topo::ClusterSpec& c, const DataDirs& dirs, bool preset) {
  if (preset || r.has("gpu")) {
    c.gpu = load_gpu(locate(r, "gpu", dirs.gpus, {}, "GPU", false));
    if (!preset) c.scale_up.bandwidth = c.gpu.nvlink_bw;
  }
  if (preset || r.has("gpus_per_node")) c.gpus_per_node = positive(r, "gpus_per_node", tlim::max_gpus_per_node);
  if (r.has("gpus")) c.gpus = positive(r, "gpus", tlim::max_gpus);
  r.maybe("gpus");
  if (preset || r.has("scale_up")) {
    MapReader up = r.map("scale_up");
    c.scale_up.bandwidth = up.has("bandwidth") ? positive_unit(up, "bandwidth", parse_byte_rate) : c.gpu.nvlink_bw;
    up.maybe("bandwidth");
    if (preset || up.has("latency")) c.scale_up.latency = nonnegative_unit(up, "latency", parse_seconds);
    if (up.has("efficiency")) c.scale_up.efficiency = fraction(up, "efficiency");
    if (up.has("domain")) c.scale_up.domain = positive(up, "domain", tlim::max_gpus);
    if (up.has("nvls_efficiency")) c.scale_up.nvls_efficiency = fraction(up, "nvls_efficiency");
    for (const char* k : {"efficiency", "domain", "nvls_efficiency"}) up.maybe(k);
    up.finish();
  }
  r.maybe("scale_up");
  if (preset || r.has("scale_out")) {
    MapReader out = r.map("scale_out");
    if (preset || out.has("nics_per_node"))
      c.scale_out.nics_per_node = positive(out, "nics_per_node", tlim::max_nics_per_node);
    if (preset || out.has("nic_bandwidth"))
      c.scale_out.nic_bandwidth = positive_unit(out, "nic_bandwidth", parse_byte_rate);
    if (preset || out.has("efficiency")) c.scale_out.efficiency = fraction(out, "efficiency");
    if (preset || out.has("latency")) c.scale_out.latency = nonnegative_unit(out, "latency", parse_seconds);
    if (out.has("topology")) {
      const std::string t = out.text("topology");
      if (t == "fat-tree") c.scale_out.topology = topo::Topology::fat_tree;
      else if (t == "rail-optimized") c.scale_out.topology = topo::Topology::rail_optimized;
      else out.fail("topology", shown(t) + " is not modelled (fat-tree or rail-optimized)");
    }
    if (out.has("levels")) {
      c.scale_out.levels = out.integer("levels", 2, 3);
    }
    if (out.has("switch_radix")) c.scale_out.switch_radix = out.integer("switch_radix", 2, tlim::max_switch_radix);
    if (out.has("oversubscription"))
      c.scale_out.oversubscription = number_in(out, "oversubscription", 1, tlim::max_oversubscription,
                                               "between 1 and 1024 (2 means 2:1)");
    if (out.has("planes")) c.scale_out.planes = positive(out, "planes", tlim::max_planes);
    for (const char* k : {"nics_per_node", "nic_bandwidth", "efficiency", "latency", "topology", "levels",
                          "switch_radix", "oversubscription", "planes"})
      out.maybe(k);
    out.finish();
  }
  r.maybe("scale_out");
  if (preset || r.has("collectives")) {
    MapReader col = r.map("collectives");
    if (preset || col.has("launch")) c.collectives.launch = nonnegative_unit(col, "launch", parse_seconds);
    if (preset || col.has("reduction_passes"))
      c.collectives.reduction_passes =
          number_in(col, "reduction_passes", tlim::min_reduction_passes, tlim::max_reduction_passes,
                    "between 0.01 and 100 (HBM passes per buffer byte)");
    if (preset || col.has("p2p_launch")) c.collectives.p2p_launch = nonnegative_unit(col, "p2p_launch", parse_seconds);
    // Leaving loop_bytes out means no staircase; a given one must be a real loop size.
    if (col.has("loop_bytes")) c.collectives.loop_bytes = positive_unit(col, "loop_bytes", parse_bytes);
    if (col.has("partial_loop_efficiency"))
      c.collectives.partial_loop_efficiency = fraction(col, "partial_loop_efficiency");
    if (col.has("tree_hop_latency"))
      c.collectives.tree_hop_latency = nonnegative_unit(col, "tree_hop_latency", parse_seconds);
    if (col.has("nvls_tree_latency"))
      c.collectives.nvls_tree_latency = nonnegative_unit(col, "nvls_tree_latency", parse_seconds);
    if (col.has("nvls_channels")) c.collectives.nvls_channels = positive(col, "nvls_channels", tlim::max_nvls_channels);
    if (col.has("nvls_tree_chunk")) c.collectives.nvls_tree_chunk = positive_unit(col, "nvls_tree_chunk", parse_bytes);
    for (const char* k : {"launch", "reduction_passes", "p2p_launch", "loop_bytes", "partial_loop_efficiency",
                          "tree_hop_latency", "nvls_tree_latency", "nvls_channels", "nvls_tree_chunk"})
      col.maybe(k);
    col.finish();
  }
  r.maybe("collectives");
}

void check_cluster(MapReader& r, const topo::ClusterSpec& c) {
  if (c.gpus <= 0) r.fail("gpus", "missing: size the cluster with gpus: N");
  if (c.gpus > tlim::max_gpus)
    r.fail("gpus", std::to_string(c.gpus) + " GPUs is more than the " + std::to_string(tlim::max_gpus) + " strata models");
  if (c.gpus > c.gpus_per_node && c.gpus % c.gpus_per_node != 0) {
    const int below = c.gpus / c.gpus_per_node * c.gpus_per_node;
    r.fail("gpus", std::to_string(c.gpus) + " is not a whole number of " + std::to_string(c.gpus_per_node) +
                       "-GPU nodes (gpus_per_node): use " + std::to_string(below) + " or " +
                       std::to_string(below + c.gpus_per_node));
  }
  try {
    c.check();
    (void)topo::build_fabric(c);
  } catch (const std::invalid_argument& e) {
    r.fail("", e.what());
  }
}

constexpr std::size_t kMaxListValues = 1024;

template <class T>
std::vector<T> list_of(MapReader& r, const std::string& key, const std::function<T(const YAML::Node&)>& one) {
  const YAML::Node n = r.need(key);
  std::vector<T> out;
  if (n.IsSequence()) {
    if (n.size() == 0) r.fail_at(n, key, "empty list");
    // Each value multiplies the plans enumerated; no field has this many sensible values.
    if (n.size() > kMaxListValues)
      r.fail_at(n, key, "lists " + std::to_string(n.size()) + " values, at most " + std::to_string(kMaxListValues));
    for (const auto& item : n) {
      const T v = one(item);
      // A value listed twice would enumerate every plan with it twice.
      if (std::find(out.begin(), out.end(), v) != out.end()) r.fail_at(item, key, shown(item.Scalar()) + " is listed twice");
      out.push_back(v);
    }
  } else {
    out.push_back(one(n));
  }
  return out;
}

// One integer search field: values in [lo, hi].
strategy::IntChoice int_choice(MapReader& r, const std::string& key, int lo, int hi) {
  strategy::IntChoice c;
  const YAML::Node n = r.need(key);
  auto as_int = [&](const YAML::Node& x) {
    const std::string s = r.scalar(x, key);
    const auto v = detail::to_integer(s);
    if (!v) r.fail_at(x, key, shown(s) + " is not an integer");
    if (key == "zero" && (*v < 0 || *v > 3)) r.fail_at(x, key, "ZeRO stages are 0-3, got " + shown(s));
    if (*v < lo) r.fail_at(x, key, lo == 1 ? "sizes are at least 1, got " + shown(s) : "must not be negative, got " + shown(s));
    if (*v > hi) r.fail_at(x, key, "must be at most " + std::to_string(hi) + ", got " + shown(s));
    return static_cast<int>(*v);
  };
  if (n.IsMap()) {
    MapReader m(n, r.file(), r.key_path(key), false);
    if (m.has("min")) c.min = m.integer("min", lo, hi);
    if (m.has("max")) c.max = m.integer("max", lo, hi);
    m.maybe("min");
    m.maybe("max");
    m.finish();
    if (!c.min && !c.max) r.fail(key, "give min and/or max");
    if (c.min && c.max && *c.min > *c.max) r.fail(key, "min is above max");
  } else {
    c.values = list_of<int>(r, key, as_int);
  }
  return c;
}

bool switch_value(MapReader& s, const YAML::Node& x, const std::string& key) {
  const std::string v = s.scalar(x, key);
  if (v == "true" || v == "on") return true;
  if (v == "false" || v == "off") return false;
  s.fail_at(x, key, shown(v) + " is not true or false");
}

strategy::SearchSpace read_search(MapReader& s) {
  strategy::SearchSpace sp;
  constexpr int dim = strategy::kMaxPlanDimension;
  for (auto [key, field, lo, hi] :
       {std::tuple<const char*, strategy::IntChoice*, int, int>{"tp", &sp.tp, 1, dim}, {"pp", &sp.pp, 1, dim},
        {"dp", &sp.dp, 1, dim}, {"micro_batch", &sp.micro_batch, 1, dim}, {"vpp", &sp.vpp, 1, dim},
        {"zero", &sp.zero, 0, 3}, {"cp", &sp.cp, 1, dim}, {"ep", &sp.ep, 1, dim},
        // shard 0 = shard over every dp x cp GPU (no hybrid sharding); recompute_layers 0 = all.
        {"shard", &sp.shard, 0, dim}, {"recompute_layers", &sp.recompute_layers, 0, mlim::max_layers}}) {
    if (s.has(key)) *field = int_choice(s, key, lo, hi);
    s.maybe(key);
  }
  if (s.has("cp_comm")) {
    sp.cp_comm = list_of<strategy::CpComm>(s, "cp_comm", [&](const YAML::Node& x) {
      const std::string v = s.scalar(x, "cp_comm");
      if (v == "ring") return strategy::CpComm::ring;
      if (v == "a2a" || v == "all-to-all") return strategy::CpComm::all_to_all;
      s.fail_at(x, "cp_comm", shown(v) + " is not ring or a2a");
    });
  }
  s.maybe("cp_comm");
  if (s.has("tp_overlap"))
    sp.tp_overlap = list_of<bool>(s, "tp_overlap", [&](const YAML::Node& x) { return switch_value(s, x, "tp_overlap"); });
  s.maybe("tp_overlap");
  if (s.has("min_cp_tokens")) sp.min_cp_tokens = positive(s, "min_cp_tokens", mlim::max_seq_len);
  s.maybe("min_cp_tokens");
  if (s.has("sequence_parallel"))
    sp.sequence_parallel = list_of<bool>(
        s, "sequence_parallel", [&](const YAML::Node& x) { return switch_value(s, x, "sequence_parallel"); });
  s.maybe("sequence_parallel");
  if (s.has("recompute")) {
    sp.recompute = list_of<strategy::Recompute>(s, "recompute", [&](const YAML::Node& x) {
      const std::string v = s.scalar(x, "recompute");
      if (v == "none") return strategy::Recompute::none;
      if (v == "selective") return strategy::Recompute::selective;
      if (v == "full") return strategy::Recompute::full;
      s.fail_at(x, "recompute", shown(v) + " is not none, selective or full");
    });
  }
  s.maybe("recompute");
  if (s.has("schedule")) {
    sp.schedule = list_of<strategy::Schedule>(s, "schedule", [&](const YAML::Node& x) {
      const std::string v = s.scalar(x, "schedule");
      if (v == "gpipe") return strategy::Schedule::gpipe;
      if (v == "1f1b") return strategy::Schedule::one_f_one_b;
      if (v == "interleaved-1f1b") return strategy::Schedule::interleaved;
      if (v == "zb-h1") return strategy::Schedule::zb_h1;
      s.fail_at(x, "schedule", shown(v) + " is not gpipe, 1f1b, interleaved-1f1b or zb-h1");
    });
  }
  s.maybe("schedule");
  if (s.has("order")) {
    sp.order = list_of<std::string>(s, "order", [&](const YAML::Node& x) {
      std::string v = s.scalar(x, "order");
      try {
        strategy::check_order(v);
      } catch (const std::invalid_argument&) {
        s.fail_at(x, "order", shown(v) + " must list tp, cp, ep, dp and pp once each, innermost first (Megatron-LM: tp-cp-ep-dp-pp)");
      }
      return v;
    });
  }
  s.maybe("order");
  if (s.has("tp_within_node")) sp.tp_within_node = s.boolean("tp_within_node");
  s.maybe("tp_within_node");
  if (s.has("max_micro_batch")) sp.max_micro_batch = positive(s, "max_micro_batch", dim);
  s.maybe("max_micro_batch");
  s.finish();
  return sp;
}

}  // namespace

strategy::ModelSpec load_model(const fs::path& file) {
  return detail::guard_yaml(file.string(), [&] {
    MapReader r(detail::parse_file(file.string()), file.string(), "");
    strategy::ModelSpec m;
    read_model(r, m);
    r.finish();
    return m;
  });
}

topo::GpuSpec load_gpu(const fs::path& file) {
  return detail::guard_yaml(file.string(), [&] {
    MapReader r(detail::parse_file(file.string()), file.string(), "");
    topo::GpuSpec g;
    read_gpu(r, g);
    r.finish();
    try {
      g.check();
    } catch (const std::invalid_argument& e) {
      throw InputError(file.string(), r.line(), "", e.what());
    }
    return g;
  });
}

topo::ClusterSpec load_cluster(const fs::path& file, const DataDirs& dirs, int gpus) {
  return detail::guard_yaml(file.string(), [&] {
    MapReader r(detail::parse_file(file.string()), file.string(), "");
    topo::ClusterSpec c;
    c.name = r.name("name");
    read_cluster_body(r, c, dirs, true);
    r.finish();
    if (gpus > 0) c.gpus = gpus;
    if (c.gpus > 0) check_cluster(r, c);  // a preset may leave its size to the scenario
    return c;
  });
}

namespace {

Scenario read_scenario(const fs::path& file, const DataDirs& dirs) {
  const std::string f = file.string();
  MapReader r(detail::parse_file(f), f, "");
  Scenario sc;
  sc.file = file;
  sc.name = r.name("name");
  const fs::path here = file.parent_path();

  // Model: a card name, a path, or an inline mapping.
  const YAML::Node model = r.need("model");
  if (model.IsMap()) {
    MapReader mr(model, f, "model");
    read_model(mr, sc.model);
    mr.finish();
  } else {
    sc.model = load_model(locate(r, "model", dirs.models, here, "model card", true));
  }

  // Cluster: a preset sized by gpus, with optional overrides.
  MapReader cr = r.map("cluster");
  sc.cluster = load_cluster(locate(cr, "preset", dirs.clusters, here, "cluster preset", true), dirs, 0);
  read_cluster_body(cr, sc.cluster, dirs, false);
  if (!cr.has("gpus")) cr.need("gpus");
  cr.finish();
  check_cluster(cr, sc.cluster);

  MapReader tr = r.map("training");
  sc.training.global_batch = positive(tr, "global_batch", mlim::max_global_batch);
  sc.training.seq_len = tr.has("seq_len") ? positive(tr, "seq_len", mlim::max_seq_len) : sc.model.seq_len;
  tr.maybe("seq_len");
  if (static_cast<std::int64_t>(sc.training.global_batch) * sc.training.seq_len > mlim::max_tokens_per_step)
    tr.fail("global_batch", "global_batch x seq_len = " +
                                std::to_string(static_cast<std::int64_t>(sc.training.global_batch) * sc.training.seq_len) +
                                " tokens per step exceeds " + std::to_string(mlim::max_tokens_per_step));
  const std::string prec = tr.text("precision");
  const auto p = topo::parse_precision(prec);
  if (!p || (*p != topo::Precision::fp16 && *p != topo::Precision::bf16 && *p != topo::Precision::fp8))
    tr.fail("precision", shown(prec) + " is not fp16, bf16 or fp8");
  sc.training.precision = *p;
  if (!sc.cluster.gpu.supports(*p))
    tr.fail("precision", "GPU " + sc.cluster.gpu.name + " has no " + prec + " matrix units");
  sc.training.attention = strategy::AttentionKernel::flash;
  if (tr.has("attention")) {
    const std::string a = tr.text("attention");
    if (a == "flash") sc.training.attention = strategy::AttentionKernel::flash;
    else if (a == "unfused") sc.training.attention = strategy::AttentionKernel::unfused;
    else tr.fail("attention", shown(a) + " is not flash or unfused");
  }
  tr.maybe("attention");
  if (tr.has("framework")) {
    const std::string fw = tr.text("framework");
    if (fw == "megatron") sc.training.framework = strategy::Framework::megatron;
    else if (fw == "torchtitan") sc.training.framework = strategy::Framework::torchtitan;
    else if (fw == "megatron-deepspeed") sc.training.framework = strategy::Framework::megatron_deepspeed;
    else tr.fail("framework", shown(fw) + " is not megatron, torchtitan or megatron-deepspeed");
  }
  tr.maybe("framework");
  sc.training.step_traffic = strategy::StepTraffic::of(sc.training.framework, sc.training.precision);
  if (tr.has("overlap_grad_reduce")) sc.training.overlap_grad_reduce = tr.boolean("overlap_grad_reduce");
  tr.maybe("overlap_grad_reduce");
  if (tr.has("blocking_p2p")) sc.training.blocking_p2p = tr.boolean("blocking_p2p");
  tr.maybe("blocking_p2p");
  if (tr.has("p2p_scatter_gather")) sc.training.p2p_scatter_gather = tr.boolean("p2p_scatter_gather");
  tr.maybe("p2p_scatter_gather");
  if (tr.has("capacity_factor")) {
    if (!sc.model.moe()) tr.fail("capacity_factor", "the model " + sc.model.name + " has no experts");
    // The busiest expert cannot take more than every token: factor x top_k / experts <= 1.
    const double most = static_cast<double>(sc.model.experts) / sc.model.top_k;
    sc.training.capacity_factor =
        number_in(tr, "capacity_factor", 1.0, std::max(1.0, most),
                  "between 1 (balanced routing) and experts / top_k = " + number_text(std::max(1.0, most)));
  }
  tr.maybe("capacity_factor");
  tr.finish();
  try {
    sc.training.check();
  } catch (const std::invalid_argument& e) {
    tr.fail("", e.what());
  }

  if (r.has("search")) {
    MapReader sr = r.map("search");
    sc.search = read_search(sr);
  }
  r.maybe("search");
  r.finish();
  return sc;
}

}  // namespace

Scenario load_scenario(const fs::path& file, const DataDirs& dirs) {
  return detail::guard_yaml(file.string(), [&] { return read_scenario(file, dirs); });
}

strategy::OpTable load_op_table(const fs::path& file) {
  const std::string text = read_input_file(file, kMaxTableBytes);
  try {
    return strategy::parse_op_table(text, file.string());
  } catch (const strategy::OpTableError& e) {
    throw InputError(e.file, e.line, e.column, e.message);
  }
}

std::optional<fs::path> shipped_op_table(const DataDirs& dirs, const std::string& gpu) {
  if (!detail::preset_name(gpu)) return std::nullopt;
  const fs::path p = dirs.op_tables / (gpu + ".csv");
  if (!detail::file_problem(p)) return p;
  return std::nullopt;
}

}  // namespace strata::scenario
