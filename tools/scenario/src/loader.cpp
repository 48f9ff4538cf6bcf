#include "strata/scenario/loader.hpp"
#include "strata/topo/fabric.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "reader.hpp"
#include "strata/scenario/units.hpp"

#ifndef STRATA_SOURCE_DIR
#define STRATA_SOURCE_DIR "."
#endif

namespace strata::scenario {

namespace fs = std::filesystem;
using detail::MapReader;

InputError::InputError(const std::string& file, int line, const std::string& key, const std::string& message)
    : std::runtime_error(file + ":" + std::to_string(line) + ": " + (key.empty() ? "" : key + ": ") + message),
      file_(file),
      line_(line),
      key_(key) {}

DataDirs DataDirs::under(const fs::path& root) {
  return {root / "topologies" / "gpus", root / "topologies" / "clusters", root / "scenarios" / "models",
          root / "profiler" / "data"};
}

DataDirs default_data_dirs() {
  if (const char* home = std::getenv("STRATA_HOME"); home != nullptr && *home != '\0') return DataDirs::under(home);
  return DataDirs::under(STRATA_SOURCE_DIR);
}

namespace detail {

YAML::Node parse_file(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file, 0, "", "cannot open file");
  std::stringstream buf;
  buf << in.rdbuf();
  try {
    YAML::Node root = YAML::Load(buf.str());
    if (!root.IsDefined() || root.IsNull()) throw InputError(file, 1, "", "file is empty");
    return root;
  } catch (const YAML::ParserException& e) {
    throw InputError(file, e.mark.line + 1, "", "malformed YAML: " + e.msg);
  }
}

MapReader::MapReader(YAML::Node node, std::string file, std::string path)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)) {
  if (!node_.IsMap())
    throw InputError(file_, line(), path_.empty() ? "(document)" : path_, "expected a mapping of key: value");
}

int MapReader::line() const { return node_.Mark().line >= 0 ? node_.Mark().line + 1 : 0; }

int MapReader::line_of(const std::string& key) const {
  for (const auto& kv : node_)
    if (kv.first.as<std::string>() == key) return kv.first.Mark().line + 1;
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
  const YAML::Node n = node_[key];
  return n.IsDefined() && !n.IsNull();
}

YAML::Node MapReader::need(const std::string& key) {
  read_.insert(key);
  const YAML::Node n = node_[key];
  if (!n.IsDefined()) throw InputError(file_, line(), key_path(key), "missing required field");
  if (n.IsNull()) fail(key, "must not be empty");
  return n;
}

std::optional<YAML::Node> MapReader::maybe(const std::string& key) {
  read_.insert(key);
  const YAML::Node n = node_[key];
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  return n;
}

std::string MapReader::scalar(const YAML::Node& n, const std::string& key) const {
  if (!n.IsScalar()) fail_at(n, key, "expected a single value");
  return n.Scalar();
}

std::string MapReader::text(const std::string& key) { return scalar(need(key), key); }

int MapReader::integer(const std::string& key) {
  const YAML::Node n = need(key);
  const std::string s = scalar(n, key);
  try {
    std::size_t used = 0;
    const long v = std::stol(s, &used);
    if (used != s.size() || v < -2147483647L || v > 2147483647L) throw std::invalid_argument(s);
    return static_cast<int>(v);
  } catch (const std::exception&) {
    fail_at(n, key, "'" + s + "' is not an integer");
  }
}

double MapReader::number(const std::string& key) {
  const YAML::Node n = need(key);
  const std::string s = scalar(n, key);
  try {
    std::size_t used = 0;
    const double v = std::stod(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    fail_at(n, key, "'" + s + "' is not a number");
  }
}

bool MapReader::boolean(const std::string& key) {
  const YAML::Node n = need(key);
  const std::string s = scalar(n, key);
  if (s == "true" || s == "on" || s == "yes") return true;
  if (s == "false" || s == "off" || s == "no") return false;
  fail_at(n, key, "'" + s + "' is not true or false");
}

MapReader MapReader::map(const std::string& key) {
  const YAML::Node n = need(key);
  if (!n.IsMap()) fail_at(n, key, "expected a mapping of key: value");
  return MapReader(n, file_, key_path(key));
}

std::vector<std::string> MapReader::keys() const {
  std::vector<std::string> out;
  for (const auto& kv : node_) out.push_back(kv.first.as<std::string>());
  return out;
}

void MapReader::finish() const {
  for (const auto& kv : node_) {
    const std::string k = kv.first.as<std::string>();
    if (!read_.count(k)) throw InputError(file_, kv.first.Mark().line + 1, key_path(k), "unknown key");
  }
}

}  // namespace detail

namespace {

int positive(MapReader& r, const std::string& key) {
  const int v = r.integer(key);
  if (v <= 0) r.fail(key, "must be a positive integer, got " + std::to_string(v));
  return v;
}

int nonnegative(MapReader& r, const std::string& key) {
  const int v = r.integer(key);
  if (v < 0) r.fail(key, "must not be negative, got " + std::to_string(v));
  return v;
}

double fraction(MapReader& r, const std::string& key) {
  const double v = r.number(key);
  if (!(v > 0 && v <= 1)) r.fail(key, "must be in (0, 1], got " + r.scalar(r.need(key), key));
  return v;
}

template <class T>
T positive_unit(MapReader& r, const std::string& key, T (*parse)(std::string_view)) {
  const T v = r.parsed<T>(key, [parse](const std::string& s) { return parse(s); });
  if (v.value() <= 0) r.fail(key, "must be positive, got " + r.scalar(r.need(key), key));
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
  r.fail(key, "'" + a + "' is not a known activation (gelu, swiglu)");
}

void read_model(MapReader& r, strategy::ModelSpec& m) {
  m.name = r.text("name");
  m.layers = positive(r, "layers");
  m.hidden = positive(r, "hidden");
  m.heads = positive(r, "heads");
  m.kv_heads = positive(r, "kv_heads");
  m.ffn = positive(r, "ffn");
  m.vocab = positive(r, "vocab");
  m.seq_len = positive(r, "seq_len");
  m.activation = activation(r, "activation");
  const bool gpt = m.activation == strategy::Activation::gelu;
  m.dropout = r.has("dropout") ? r.boolean("dropout") : gpt;
  m.tied_embeddings = r.has("tied_embeddings") ? r.boolean("tied_embeddings") : gpt;
  m.learned_positions = gpt;
  if (r.has("position_embedding")) {
    const std::string p = r.text("position_embedding");
    if (p == "learned") m.learned_positions = true;
    else if (p == "rotary") m.learned_positions = false;
    else r.fail("position_embedding", "'" + p + "' is not learned or rotary");
  }
  r.maybe("dropout");
  r.maybe("tied_embeddings");
  r.maybe("position_embedding");
  // Mixture of experts: all of experts, top_k and moe_ffn, or none.
  if (r.has("experts") || r.has("top_k") || r.has("moe_ffn") || r.has("shared_experts") || r.has("dense_layers")) {
    m.experts = positive(r, "experts");
    m.top_k = positive(r, "top_k");
    m.moe_ffn = positive(r, "moe_ffn");
    if (m.top_k > m.experts) r.fail("top_k", "must not exceed experts (" + std::to_string(m.experts) + ")");
    if (r.has("shared_experts")) m.shared_experts = nonnegative(r, "shared_experts");
    if (r.has("dense_layers")) m.dense_layers = nonnegative(r, "dense_layers");
    if (m.dense_layers >= m.layers) r.fail("dense_layers", "must be below layers (" + std::to_string(m.layers) + ")");
  }
  for (const char* k : {"experts", "top_k", "moe_ffn", "shared_experts", "dense_layers"}) r.maybe(k);
  if (m.hidden % m.heads != 0) r.fail("heads", "must divide hidden (" + std::to_string(m.hidden) + ")");
  if (m.heads % m.kv_heads != 0) r.fail("kv_heads", "must divide heads (" + std::to_string(m.heads) + ")");
}

fs::path resolve(const std::string& name, const fs::path& dir, const fs::path& relative_to) {
  const fs::path p(name);
  if (p.extension() == ".yaml" || p.extension() == ".yml") return p.is_absolute() ? p : relative_to / p;
  return dir / (name + ".yaml");
}

void read_gpu(MapReader& r, topo::GpuSpec& g) {
  g.name = r.text("name");
  g.memory = positive_unit(r, "memory", parse_bytes);
  g.reserved_memory = nonnegative_unit(r, "reserved_memory", parse_bytes);
  if (!(g.reserved_memory < g.memory)) r.fail("reserved_memory", "must be below memory");
  g.memory_bw = positive_unit(r, "memory_bandwidth", parse_byte_rate);
  g.sms = positive(r, "sms");
  g.nvlink_bw = positive_unit(r, "nvlink", parse_byte_rate);
  MapReader peak = r.map("peak");
  for (const std::string& k : peak.keys()) {
    const auto p = topo::parse_precision(k);
    if (!p) peak.fail(k, "unknown precision (fp32, tf32, fp16, bf16, fp8)");
    g.peak[static_cast<int>(*p)] = positive_unit(peak, k, parse_flop_rate);
  }
  peak.finish();
  MapReader eff = r.map("efficiency");
  g.matmul_efficiency = fraction(eff, "matmul");
  g.attention_efficiency = fraction(eff, "attention");
  g.memory_efficiency = fraction(eff, "memory");
  g.kernel_overhead = nonnegative_unit(eff, "kernel_overhead", parse_seconds);
  g.host_overhead = nonnegative_unit(eff, "host_overhead", parse_seconds);
  eff.finish();
  MapReader tile = r.map("gemm_tile");
  g.gemm_tile_m = positive(tile, "m");
  g.gemm_tile_n = positive(tile, "n");
  tile.finish();
}

topo::GpuSpec gpu_by_name(const std::string& name, const DataDirs& dirs, MapReader& r, const std::string& key) {
  const fs::path file = dirs.gpus / (name + ".yaml");
  if (!fs::exists(file)) {
    std::string known;
    if (fs::is_directory(dirs.gpus)) {
      std::vector<std::string> names;
      for (const auto& e : fs::directory_iterator(dirs.gpus))
        if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
      std::sort(names.begin(), names.end());
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    }
    r.fail(key, "unknown GPU '" + name + "' (known: " + known + ")");
  }
  return load_gpu(file);
}

void read_cluster_body(MapReader& r, topo::ClusterSpec& c, const DataDirs& dirs, bool preset) {
  if (preset || r.has("gpu")) {
    const std::string gpu = r.text("gpu");
    c.gpu = gpu_by_name(gpu, dirs, r, "gpu");
    if (!preset) c.scale_up.bandwidth = c.gpu.nvlink_bw;
  }
  if (preset || r.has("gpus_per_node")) c.gpus_per_node = positive(r, "gpus_per_node");
  if (r.has("gpus")) c.gpus = positive(r, "gpus");
  r.maybe("gpus");
  if (preset || r.has("scale_up")) {
    MapReader up = r.map("scale_up");
    c.scale_up.bandwidth = up.has("bandwidth") ? positive_unit(up, "bandwidth", parse_byte_rate) : c.gpu.nvlink_bw;
    up.maybe("bandwidth");
    if (preset || up.has("latency")) c.scale_up.latency = nonnegative_unit(up, "latency", parse_seconds);
    if (up.has("efficiency")) c.scale_up.efficiency = fraction(up, "efficiency");
    if (up.has("domain")) c.scale_up.domain = positive(up, "domain");
    if (up.has("nvls_efficiency")) c.scale_up.nvls_efficiency = fraction(up, "nvls_efficiency");
    for (const char* k : {"efficiency", "domain", "nvls_efficiency"}) up.maybe(k);
    up.finish();
  }
  r.maybe("scale_up");
  if (preset || r.has("scale_out")) {
    MapReader out = r.map("scale_out");
    if (preset || out.has("nics_per_node")) c.scale_out.nics_per_node = positive(out, "nics_per_node");
    if (preset || out.has("nic_bandwidth"))
      c.scale_out.nic_bandwidth = positive_unit(out, "nic_bandwidth", parse_byte_rate);
    if (preset || out.has("efficiency")) c.scale_out.efficiency = fraction(out, "efficiency");
    if (preset || out.has("latency")) c.scale_out.latency = nonnegative_unit(out, "latency", parse_seconds);
    if (out.has("topology")) {
      const std::string t = out.text("topology");
      if (t == "fat-tree") c.scale_out.topology = topo::Topology::fat_tree;
      else if (t == "rail-optimized") c.scale_out.topology = topo::Topology::rail_optimized;
      else out.fail("topology", "'" + t + "' is not modelled (fat-tree or rail-optimized)");
    }
    if (out.has("levels")) {
      c.scale_out.levels = positive(out, "levels");
      if (c.scale_out.levels != 2 && c.scale_out.levels != 3) out.fail("levels", "must be 2 or 3");
    }
    if (out.has("switch_radix")) c.scale_out.switch_radix = positive(out, "switch_radix");
    if (out.has("oversubscription")) {
      c.scale_out.oversubscription = out.number("oversubscription");
      if (!(c.scale_out.oversubscription >= 1)) out.fail("oversubscription", "must be >= 1 (2 means 2:1)");
    }
    if (out.has("planes")) c.scale_out.planes = positive(out, "planes");
    for (const char* k : {"nics_per_node", "nic_bandwidth", "efficiency", "latency", "topology", "levels",
                          "switch_radix", "oversubscription", "planes"})
      out.maybe(k);
    out.finish();
  }
  r.maybe("scale_out");
  if (preset || r.has("collectives")) {
    MapReader col = r.map("collectives");
    if (preset || col.has("launch")) c.collectives.launch = nonnegative_unit(col, "launch", parse_seconds);
    if (preset || col.has("reduction_passes")) {
      c.collectives.reduction_passes = col.number("reduction_passes");
      if (!(c.collectives.reduction_passes > 0)) col.fail("reduction_passes", "must be positive");
    }
    if (preset || col.has("p2p_launch")) c.collectives.p2p_launch = nonnegative_unit(col, "p2p_launch", parse_seconds);
    if (col.has("loop_bytes")) c.collectives.loop_bytes = nonnegative_unit(col, "loop_bytes", parse_bytes);
    if (col.has("partial_loop_efficiency"))
      c.collectives.partial_loop_efficiency = fraction(col, "partial_loop_efficiency");
    for (const char* k : {"launch", "reduction_passes", "p2p_launch", "loop_bytes", "partial_loop_efficiency"})
      col.maybe(k);
    col.finish();
  }
  r.maybe("collectives");
}

void check_cluster(MapReader& r, const topo::ClusterSpec& c) {
  if (c.gpus <= 0) r.fail("gpus", "missing: size the cluster with gpus: N");
  if (c.gpus > c.gpus_per_node && c.gpus % c.gpus_per_node != 0)
    r.fail("gpus", std::to_string(c.gpus) + " is not a multiple of gpus_per_node (" +
                       std::to_string(c.gpus_per_node) + ")");
  try {
    c.check();
    (void)topo::build_fabric(c);
  } catch (const std::invalid_argument& e) {
    r.fail("", e.what());
  }
}

template <class T>
std::vector<T> list_of(MapReader& r, const std::string& key, const std::function<T(const YAML::Node&)>& one) {
  const YAML::Node n = r.need(key);
  std::vector<T> out;
  if (n.IsSequence()) {
    if (n.size() == 0) r.fail_at(n, key, "empty list");
    for (const auto& item : n) out.push_back(one(item));
  } else {
    out.push_back(one(n));
  }
  return out;
}

strategy::IntChoice int_choice(MapReader& r, const std::string& key) {
  strategy::IntChoice c;
  const YAML::Node n = r.need(key);
  auto as_int = [&](const YAML::Node& x) {
    const std::string s = r.scalar(x, key);
    try {
      std::size_t used = 0;
      const int v = std::stoi(s, &used);
      if (used != s.size() || v < 0) throw std::invalid_argument(s);
      return v;
    } catch (const std::exception&) {
      r.fail_at(x, key, "'" + s + "' is not a non-negative integer");
    }
  };
  if (n.IsMap()) {
    MapReader m(n, r.file(), r.key_path(key));
    if (m.has("min")) c.min = m.integer("min");
    if (m.has("max")) c.max = m.integer("max");
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

strategy::SearchSpace read_search(MapReader& s) {
  strategy::SearchSpace sp;
  for (auto [key, field] : {std::pair<const char*, strategy::IntChoice*>{"tp", &sp.tp}, {"pp", &sp.pp}, {"dp", &sp.dp},
                            {"micro_batch", &sp.micro_batch}, {"vpp", &sp.vpp}, {"zero", &sp.zero}, {"cp", &sp.cp},
                            {"ep", &sp.ep}, {"shard", &sp.shard}, {"recompute_layers", &sp.recompute_layers}}) {
    if (s.has(key)) *field = int_choice(s, key);
    s.maybe(key);
  }
  for (auto [key, field] : {std::pair<const char*, strategy::IntChoice*>{"cp", &sp.cp}, {"ep", &sp.ep}})
    for (int v : field->values)
      if (v < 1) s.fail(key, "sizes are at least 1");
  if (s.has("cp_comm")) {
    sp.cp_comm = list_of<strategy::CpComm>(s, "cp_comm", [&](const YAML::Node& x) {
      const std::string v = s.scalar(x, "cp_comm");
      if (v == "ring") return strategy::CpComm::ring;
      if (v == "a2a" || v == "all-to-all") return strategy::CpComm::all_to_all;
      s.fail_at(x, "cp_comm", "'" + v + "' is not ring or a2a");
    });
  }
  s.maybe("cp_comm");
  if (s.has("tp_overlap")) {
    sp.tp_overlap = list_of<bool>(s, "tp_overlap", [&](const YAML::Node& x) {
      const std::string v = s.scalar(x, "tp_overlap");
      if (v == "true" || v == "on") return true;
      if (v == "false" || v == "off") return false;
      s.fail_at(x, "tp_overlap", "'" + v + "' is not true or false");
    });
  }
  s.maybe("tp_overlap");
  if (s.has("min_cp_tokens")) sp.min_cp_tokens = positive(s, "min_cp_tokens");
  s.maybe("min_cp_tokens");
  if (sp.zero.values.size() > 0)
    for (int z : sp.zero.values)
      if (z > 3) s.fail("zero", "ZeRO stages are 0-3");
  if (s.has("sequence_parallel")) {
    sp.sequence_parallel = list_of<bool>(s, "sequence_parallel", [&](const YAML::Node& x) {
      const std::string v = s.scalar(x, "sequence_parallel");
      if (v == "true" || v == "on") return true;
      if (v == "false" || v == "off") return false;
      s.fail_at(x, "sequence_parallel", "'" + v + "' is not true or false");
    });
  }
  s.maybe("sequence_parallel");
  if (s.has("recompute")) {
    sp.recompute = list_of<strategy::Recompute>(s, "recompute", [&](const YAML::Node& x) {
      const std::string v = s.scalar(x, "recompute");
      if (v == "none") return strategy::Recompute::none;
      if (v == "selective") return strategy::Recompute::selective;
      if (v == "full") return strategy::Recompute::full;
      s.fail_at(x, "recompute", "'" + v + "' is not none, selective or full");
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
      s.fail_at(x, "schedule", "'" + v + "' is not gpipe, 1f1b, interleaved-1f1b or zb-h1");
    });
  }
  s.maybe("schedule");
  if (s.has("order")) {
    sp.order = list_of<std::string>(s, "order", [&](const YAML::Node& x) {
      std::string v = s.scalar(x, "order");
      try {
        strategy::check_order(v);
      } catch (const std::invalid_argument&) {
        s.fail_at(x, "order", "'" + v + "' must list tp, cp, ep, dp and pp once each, innermost first (Megatron-LM: tp-cp-ep-dp-pp)");
      }
      return v;
    });
  }
  s.maybe("order");
  if (s.has("tp_within_node")) sp.tp_within_node = s.boolean("tp_within_node");
  s.maybe("tp_within_node");
  if (s.has("max_micro_batch")) sp.max_micro_batch = positive(s, "max_micro_batch");
  s.maybe("max_micro_batch");
  s.finish();
  return sp;
}

}  // namespace

strategy::ModelSpec load_model(const fs::path& file) {
  MapReader r(detail::parse_file(file.string()), file.string(), "");
  strategy::ModelSpec m;
  read_model(r, m);
  r.finish();
  return m;
}

topo::GpuSpec load_gpu(const fs::path& file) {
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
}

topo::ClusterSpec load_cluster(const fs::path& file, const DataDirs& dirs, int gpus) {
  MapReader r(detail::parse_file(file.string()), file.string(), "");
  topo::ClusterSpec c;
  c.name = r.text("name");
  read_cluster_body(r, c, dirs, true);
  r.finish();
  if (gpus > 0) c.gpus = gpus;
  if (c.gpus > 0) check_cluster(r, c);  // a preset may leave its size to the scenario
  return c;
}

Scenario load_scenario(const fs::path& file, const DataDirs& dirs) {
  const std::string f = file.string();
  MapReader r(detail::parse_file(f), f, "");
  Scenario sc;
  sc.file = file;
  sc.name = r.text("name");
  const fs::path here = file.parent_path();

  // Model: a card name, a path, or an inline mapping.
  const YAML::Node model = r.need("model");
  if (model.IsMap()) {
    MapReader mr(model, f, "model");
    read_model(mr, sc.model);
    mr.finish();
  } else {
    const std::string name = r.scalar(model, "model");
    const fs::path card = resolve(name, dirs.models, here);
    if (!fs::exists(card)) r.fail("model", "no model card '" + name + "' (looked for " + card.string() + ")");
    sc.model = load_model(card);
  }

  // Cluster: a preset sized by gpus, with optional overrides.
  MapReader cr = r.map("cluster");
  const std::string preset = cr.text("preset");
  const fs::path pfile = resolve(preset, dirs.clusters, here);
  if (!fs::exists(pfile)) cr.fail("preset", "no cluster preset '" + preset + "' (looked for " + pfile.string() + ")");
  sc.cluster = load_cluster(pfile, dirs, 0);
  read_cluster_body(cr, sc.cluster, dirs, false);
  if (!cr.has("gpus")) cr.need("gpus");
  cr.finish();
  check_cluster(cr, sc.cluster);

  MapReader tr = r.map("training");
  sc.training.global_batch = positive(tr, "global_batch");
  sc.training.seq_len = tr.has("seq_len") ? positive(tr, "seq_len") : sc.model.seq_len;
  tr.maybe("seq_len");
  const std::string prec = tr.text("precision");
  const auto p = topo::parse_precision(prec);
  if (!p || (*p != topo::Precision::fp16 && *p != topo::Precision::bf16 && *p != topo::Precision::fp8))
    tr.fail("precision", "'" + prec + "' is not fp16, bf16 or fp8");
  sc.training.precision = *p;
  if (!sc.cluster.gpu.supports(*p))
    tr.fail("precision", "GPU " + sc.cluster.gpu.name + " has no " + prec + " matrix units");
  sc.training.attention = strategy::AttentionKernel::flash;
  if (tr.has("attention")) {
    const std::string a = tr.text("attention");
    if (a == "flash") sc.training.attention = strategy::AttentionKernel::flash;
    else if (a == "unfused") sc.training.attention = strategy::AttentionKernel::unfused;
    else tr.fail("attention", "'" + a + "' is not flash or unfused");
  }
  tr.maybe("attention");
  if (tr.has("framework")) {
    const std::string fw = tr.text("framework");
    if (fw == "megatron") sc.training.framework = strategy::Framework::megatron;
    else if (fw == "torchtitan") sc.training.framework = strategy::Framework::torchtitan;
    else tr.fail("framework", "'" + fw + "' is not megatron or torchtitan");
  }
  tr.maybe("framework");
  if (tr.has("overlap_grad_reduce")) sc.training.overlap_grad_reduce = tr.boolean("overlap_grad_reduce");
  tr.maybe("overlap_grad_reduce");
  if (tr.has("blocking_p2p")) sc.training.blocking_p2p = tr.boolean("blocking_p2p");
  tr.maybe("blocking_p2p");
  if (tr.has("p2p_scatter_gather")) sc.training.p2p_scatter_gather = tr.boolean("p2p_scatter_gather");
  tr.maybe("p2p_scatter_gather");
  if (tr.has("capacity_factor")) {
    if (!sc.model.moe()) tr.fail("capacity_factor", "the model " + sc.model.name + " has no experts");
    sc.training.capacity_factor = tr.number("capacity_factor");
    if (!(sc.training.capacity_factor >= 1.0)) tr.fail("capacity_factor", "must be at least 1 (1 = balanced routing)");
  }
  tr.maybe("capacity_factor");
  tr.finish();

  if (r.has("search")) {
    MapReader sr = r.map("search");
    sc.search = read_search(sr);
  }
  r.maybe("search");
  r.finish();
  return sc;
}

strategy::OpTable load_op_table(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file.string(), 0, "", "cannot read the op table");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return strategy::parse_op_table(ss.str(), file.string());
  } catch (const strategy::OpTableError& e) {
    throw InputError(e.file, e.line, e.column, e.message);
  }
}

std::optional<fs::path> shipped_op_table(const DataDirs& dirs, const std::string& gpu) {
  const fs::path p = dirs.op_tables / (gpu + ".csv");
  if (fs::exists(p)) return p;
  return std::nullopt;
}

}  // namespace strata::scenario
