#include "strata/scenario/cases.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <climits>
#include <cstdint>
#include <map>
#include <set>
#include <variant>

#include "reader.hpp"

namespace strata::scenario {

namespace fs = std::filesystem;
using detail::MapReader;
using detail::shown;

namespace {

namespace mlim = strategy::limits;
namespace tlim = topo::limits;

// Hand-written scanners instead of std::regex: libstdc++'s regex recurses once per character
// and overflows the stack on a long scalar (a 1 MB `notes` entry), and its captures went
// through std::stoi, which throws on a count that does not fit.
bool digit(char c) { return c >= '0' && c <= '9'; }
bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::size_t skip_spaces(std::string_view s, std::size_t i) {
  while (i < s.size() && space(s[i])) ++i;
  return i;
}

// \d+ at i: its end (i itself if there is none).
std::size_t digits_end(std::string_view s, std::size_t i) {
  while (i < s.size() && digit(s[i])) ++i;
  return i;
}

// \d+(\.\d+)? at i: its end, or i if there is none.
std::size_t decimal_end(std::string_view s, std::size_t i) {
  std::size_t e = digits_end(s, i);
  if (e == i) return i;
  if (e + 1 < s.size() && s[e] == '.' && digit(s[e + 1])) e = digits_end(s, e + 1);
  return e;
}

// "Gb/s" or "Gbps" at i: its end, or i.
std::size_t gbps_end(std::string_view s, std::size_t i) {
  for (std::string_view unit : {"Gb/s", "Gbps"})
    if (s.substr(i, unit.size()) == unit) return i + unit.size();
  return i;
}

// `word` at i: its end, or i.
std::size_t word_end(std::string_view s, std::size_t i, std::string_view word) {
  return s.substr(i, word.size()) == word ? i + word.size() : i;
}

bool letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// `word` at i and no letter right after it: its end, or i.
std::size_t whole_word_end(std::string_view s, std::size_t i, std::string_view word) {
  const std::size_t e = word_end(s, i, word);
  return e != i && (e == s.size() || !letter(s[e])) ? e : i;
}

// A line rate at i, as the descriptions of published runs spell it: "200 Gb/s", "200Gbps",
// "200G", "200GbE", or an InfiniBand generation (EDR 100, HDR 200, HDR100 100, NDR 400, XDR 800
// Gb/s per port, the IBTA rates of a 4x port). Its end and the rate in Gb/s as text, or nullopt.
std::optional<std::pair<std::size_t, std::string_view>> line_rate(std::string_view s, std::size_t i) {
  struct Named {
    std::string_view word, gbps;
  };
  for (const Named n : {Named{"HDR100", "100"}, Named{"EDR", "100"}, Named{"HDR", "200"}, Named{"NDR", "400"},
                        Named{"XDR", "800"}}) {
    if (const std::size_t e = whole_word_end(s, i, n.word); e != i) return std::make_pair(e, n.gbps);
  }
  const std::size_t r_end = decimal_end(s, i);
  if (r_end == i) return std::nullopt;
  const std::size_t u = skip_spaces(s, r_end);
  if (const std::size_t e = gbps_end(s, u); e != u) return std::make_pair(e, s.substr(i, r_end - i));
  for (std::string_view unit : {"GbE", "Gb", "G"}) {
    if (const std::size_t e = whole_word_end(s, u, unit); e != u) return std::make_pair(e, s.substr(i, r_end - i));
  }
  return std::nullopt;
}

// \s+ at i: its end, or i if there is no space.
std::size_t spaces_end(std::string_view s, std::size_t i) { return skip_spaces(s, i); }

int nic_count(std::string_view text, std::string_view digits) {
  int n = 0;
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || p != digits.data() + digits.size() || n < 1 || n > tlim::max_nics_per_node)
    throw std::invalid_argument(shown(text) + ": " + topo::printable(digits, 24) + " NICs per node is out of range (1 to " +
                                std::to_string(tlim::max_nics_per_node) + ")");
  return n;
}

sim::ByteRate gbps(std::string_view text, std::string_view number) {
  double v = 0;
  const auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
  const double rate = v * 1e9 / 8;
  if (ec != std::errc() || !(rate >= tlim::min_byte_rate && rate <= tlim::max_byte_rate))
    throw std::invalid_argument(shown(text) + ": " + topo::printable(number, 24) +
                                " Gb/s is out of range (1 Kb/s to 1 PB/s)");
  return sim::ByteRate(rate);
}

bool run_start(std::string_view s, std::size_t i) { return digit(s[i]) && (i == 0 || !digit(s[i - 1])); }

}  // namespace

std::optional<std::pair<int, sim::ByteRate>> parse_scale_out(const std::string& text, int gpus_per_node) {
  const std::string_view s = text;
  // "8x 200 Gb/s HDR InfiniBand HCAs per node", "8 x HDR", "8x 200G NICs": a count, x (or ×),
  // a line rate (line_rate).
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!run_start(s, i)) continue;
    const std::size_t n_end = digits_end(s, i);
    std::size_t j = skip_spaces(s, n_end);
    if (j < s.size() && (s[j] == 'x' || s[j] == 'X')) ++j;
    else if (s.substr(j, 2) == "\xC3\x97") j += 2;  // ×
    else continue;
    const auto rate = line_rate(s, skip_spaces(s, j));
    if (!rate) continue;
    return std::make_pair(nic_count(s, s.substr(i, n_end - i)), gbps(s, rate->second));
  }
  // "RDMA backend network, 400 Gb/s per GPU": (\d+(\.\d+)?)\s*Gb(/s|ps)\s+per\s+GPU
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!run_start(s, i)) continue;
    const std::size_t r_end = decimal_end(s, i);
    const std::size_t u0 = skip_spaces(s, r_end), u = gbps_end(s, u0);
    if (u == u0) continue;
    std::size_t j = spaces_end(s, u);
    if (j == u || word_end(s, j, "per") == j) continue;
    j = word_end(s, j, "per");
    const std::size_t k = spaces_end(s, j);
    if (k == j || word_end(s, k, "GPU") == k) continue;
    if (gpus_per_node < 1 || gpus_per_node > tlim::max_nics_per_node)
      throw std::invalid_argument(shown(text) + ": gpus_per_node is out of range");
    return std::make_pair(gpus_per_node, gbps(s, s.substr(i, r_end - i)));
  }
  // "Omni-Path (4 OPA links per node)": (\d+)\s+OPA\s+links?\s+per\s+node. Omni-Path links run
  // at 100 Gb/s.
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!run_start(s, i)) continue;
    const std::size_t n_end = digits_end(s, i);
    std::size_t j = spaces_end(s, n_end);
    if (j == n_end || word_end(s, j, "OPA") == j) continue;
    std::size_t k = word_end(s, j, "OPA");
    j = spaces_end(s, k);
    if (j == k || word_end(s, j, "link") == j) continue;
    k = word_end(s, j, "link");
    if (k < s.size() && s[k] == 's') ++k;
    j = spaces_end(s, k);
    if (j == k || word_end(s, j, "per") == j) continue;
    k = word_end(s, j, "per");
    j = spaces_end(s, k);
    if (j == k || word_end(s, j, "node") == j) continue;
    return std::make_pair(nic_count(s, s.substr(i, n_end - i)), gbps(s, "100"));
  }
  // Named systems whose networks are documented: Selene (NVIDIA's DGX A100 SuperPOD, 8 HDR
  // 200 Gb/s compute HCAs per node) and Eos (DGX H100 SuperPOD, 8 NDR 400 Gb/s per node).
  struct System {
    std::string_view name;
    int nics;
    std::string_view gbps;
  };
  for (const System sys : {System{"Selene", 8, "200"}, System{"Eos", 8, "400"}})
    for (std::size_t i = s.find(sys.name); i != std::string_view::npos; i = s.find(sys.name, i + 1))
      if ((i == 0 || !letter(s[i - 1])) && whole_word_end(s, i, sys.name) != i)
        return std::make_pair(sys.nics, gbps(s, sys.gbps));
  return std::nullopt;
}

namespace {

// ASCII lower case (bytes above 0x7F as they are).
std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// `word` (lower case) in `s` (lower case) not preceded by a letter; npos if none.
std::size_t find_word(std::string_view s, std::string_view word, std::size_t from = 0) {
  for (std::size_t i = s.find(word, from); i != std::string_view::npos; i = s.find(word, i + 1))
    if (i == 0 || !letter(s[i - 1])) return i;
  return std::string_view::npos;
}

// PCIe generation 3-6 named in `s` (lower case): "gen4", "gen 5", "pcie4", "pcie 4.0",
// "pcie gen5", "pcie-5"; 0 if none.
int pcie_generation(std::string_view s) {
  for (std::string_view lead : {"gen", "pcie"}) {
    for (std::size_t i = find_word(s, lead); i != std::string_view::npos; i = find_word(s, lead, i + 1)) {
      std::size_t j = i + lead.size();
      if (j < s.size() && (s[j] == ' ' || s[j] == '-')) ++j;
      if (j < s.size() && s[j] >= '3' && s[j] <= '6' && (j + 1 == s.size() || !digit(s[j + 1]) ||
                                                          (s[j + 1] == '.' && j + 2 < s.size() && s[j + 2] == '0')))
        return s[j] - '0';
    }
  }
  return 0;
}

// Data rate of a PCIe x16 link per direction, bytes/s: 8, 16, 32, 64 GT/s per lane for
// generations 3-6, 128b/130b encoding (Gen6's FLIT mode carries 242 data bytes of 256).
double pcie_x16_rate(int gen) {
  const double lanes = 16.0 / 8.0;  // bytes per transfer across 16 lanes
  switch (gen) {
    case 3: return 8e9 * lanes * 128 / 130;
    case 4: return 16e9 * lanes * 128 / 130;
    case 5: return 32e9 * lanes * 128 / 130;
    default: return 64e9 * lanes * 242 / 256;
  }
}

// What PCIe copies reach of the x16 rate: nvbandwidth's host-to-device copy over PCIe Gen5 x16
// on H200 moved 55.43 GB/s (shared/validation/hopper/collectives.csv).
double pcie_efficiency() { return 55.43e9 / pcie_x16_rate(5); }

// A bandwidth in the text: "(\d+(\.\d+)?)\s*(GB/s|TB/s)", bytes/s; 0 if none or out of range.
double stated_rate(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!run_start(s, i)) continue;
    const std::size_t e = decimal_end(s, i);
    const std::size_t u = skip_spaces(s, e);
    double scale = 0;
    if (s.substr(u, 4) == "gb/s") scale = 1e9;
    else if (s.substr(u, 4) == "tb/s") scale = 1e12;
    if (scale == 0) continue;
    double v = 0;
    std::from_chars(s.data() + i, s.data() + e, v);
    const double rate = v * scale;
    if (rate >= tlim::min_byte_rate && rate <= tlim::max_byte_rate) return rate;
  }
  return 0;
}

}  // namespace

ScaleUpReading parse_scale_up(const std::string& text, const topo::GpuSpec& gpu) {
  const std::string s = lowered(text);
  const std::string quoted = shown(text);
  const auto has = [&](std::string_view w) { return find_word(s, w) != std::string::npos; };
  ScaleUpReading r;
  r.bandwidth = gpu.nvlink_bw;
  const bool nvlink = has("nvlink") || has("nvswitch") || has("nvl");
  const bool bridge = has("bridge");
  if (bridge || (has("pcie") && !nvlink)) {
    const int stated = pcie_generation(s);
    const int gen = stated ? stated : gpu.pcie_generation ? gpu.pcie_generation : 4;
    r.bandwidth = sim::ByteRate(pcie_x16_rate(gen));
    r.efficiency = pcie_efficiency();
    r.nvswitch = false;
    const std::string rate = "PCIe Gen" + std::to_string(gen) + " x16" +
                             (stated ? "" : gpu.pcie_generation ? " (the GPU's)" : " (generation not given)");
    r.assumption = bridge ? "scale_up " + quoted + ": NVLink bridges join pairs only, so rings beyond a pair run at the " +
                                rate + " rate (a pair's own traffic is under-estimated)"
                          : "scale_up " + quoted + ": " + rate + " between the GPUs, no NVLink";
    return r;
  }
  if (!nvlink) {
    r.assumption = "scale_up " + quoted + " not read: the " + gpu.name + "'s NVLink through NVSwitch";
    return r;
  }
  if (const double rate = stated_rate(s); rate > 0) {
    const bool one_way = has("per direction") || has("each direction") || has("unidirectional") || has("uni-directional");
    r.bandwidth = sim::ByteRate(one_way ? rate : rate / 2);
  }
  const bool mesh = has("mesh") || has("hybrid cube");
  r.nvswitch = !mesh;
  if (mesh)
    r.assumption = "scale_up " + quoted + ": a partial NVLink mesh at the GPU's NVLink rate (NCCL's rings use every link), no NVLS";
  return r;
}

namespace {

// The first year 2010-2029 in `s` ("... 2021 ...", "2022-04-28"), 0 if none.
int first_year(std::string_view s) {
  for (std::size_t i = 0; i + 4 <= s.size(); ++i)
    if (s[i] == '2' && s[i + 1] == '0' && (s[i + 2] == '1' || s[i + 2] == '2') && digit(s[i + 3]))
      return 2000 + (s[i + 2] - '0') * 10 + (s[i + 3] - '0');
  return 0;
}

// Year of the run: the first year in its source, id or notes; 0 if none.
int source_year(const std::string& id, const std::string& source, const std::vector<std::string>& notes) {
  for (const std::string* s : {&source, &id})
    if (const int y = first_year(*s)) return y;
  for (const std::string& n : notes)
    if (const int y = first_year(n)) return y;
  return 0;
}

// ASCII case-insensitive search (bytes above 0x7F compare as they are).
bool contains(const std::string& text, const std::string& word) {
  return lowered(text).find(lowered(word)) != std::string::npos;
}

std::optional<int> opt_int(MapReader& r, const std::string& key, int lo, int hi) {
  if (!r.has(key)) {
    r.maybe(key);
    return std::nullopt;
  }
  return r.integer(key, lo, hi);
}

std::optional<std::string> opt_text(MapReader& r, const std::string& key) {
  if (!r.has(key)) {
    r.maybe(key);
    return std::nullopt;
  }
  return r.text(key);
}

// A finite number in (0, hi].
double positive_number(MapReader& r, const std::string& key, double hi) {
  const double v = r.number(key);
  if (!(v > 0 && v <= hi)) r.fail(key, "must be positive and at most " + std::to_string(hi) + ", got " +
                                           shown(r.scalar(r.need(key), key)));
  return v;
}

// The presets and cards every case draws on, each read once per file (a file of many cases
// would otherwise read every model card once per case).
class Presets {
 public:
  explicit Presets(const DataDirs& dirs) : dirs_(dirs) {}
  [[nodiscard]] const DataDirs& dirs() const { return dirs_; }

  // A bundled card with the same shape supplies what a case leaves out (vocabulary, context).
  std::optional<strategy::ModelSpec> matching_card(const strategy::ModelSpec& m, bool match_activation) {
    if (!cards_) {
      cards_.emplace();
      std::vector<fs::path> files;
      std::error_code ec;
      for (fs::directory_iterator it(dirs_.models, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".yaml") files.push_back(it->path());
      std::sort(files.begin(), files.end());
      for (const fs::path& f : files) {
        try {
          cards_->emplace_back(load_model(f));
        } catch (const InputError& e) {
          cards_->emplace_back(e);
        }
      }
    }
    for (const auto& card : *cards_) {
      if (const auto* e = std::get_if<InputError>(&card)) throw *e;
      const auto& c = std::get<strategy::ModelSpec>(card);
      if (c.layers == m.layers && c.hidden == m.hidden && c.heads == m.heads && c.kv_heads == m.kv_heads &&
          c.ffn == m.ffn && (!match_activation || c.activation == m.activation))
        return c;
    }
    return std::nullopt;
  }
  const topo::ClusterSpec& cluster(const std::string& name) {
    auto it = clusters_.find(name);
    if (it == clusters_.end())
      it = clusters_.emplace(name, load_cluster(dirs_.clusters / (name + ".yaml"), dirs_, 0)).first;
    return it->second;
  }
  const topo::GpuSpec& gpu(const fs::path& file) {
    auto it = gpus_.find(file.string());
    if (it == gpus_.end()) it = gpus_.emplace(file.string(), load_gpu(file)).first;
    return it->second;
  }

 private:
  const DataDirs& dirs_;
  std::optional<std::vector<std::variant<strategy::ModelSpec, InputError>>> cards_;
  std::map<std::string, topo::ClusterSpec> clusters_;
  std::map<std::string, topo::GpuSpec> gpus_;
};

// What Megatron-LM's step moved per parameter beyond the layers in `year` (StepTraffic; read
// from NVIDIA/Megatron-LM's history, docs/modeling.md). 0 = unknown year: today's release.
strategy::StepTraffic megatron_step_traffic(int year, topo::Precision precision) {
  const bool fp16 = precision == topo::Precision::fp16;
  if (year == 0 || year >= 2023) return strategy::StepTraffic::of(strategy::Framework::megatron, precision);
  if (year <= 2020) {
    // apex-style FP16_Optimizer (megatron/fp16/): model grads to fp32 master grads (2 + 4), an
    // overflow check per parameter (x.float().sum(): 2 + 4 + 4), unscale (4 + 4), clipping norm
    // (4), fused Adam (16 + 12), master to model weights (4 + 2); local DDP flattens the fp16
    // gradients, divides them by dp and copies them back (3 x (2 + 2)).
    return {fp16 ? 6.0 : 10.0, 12, 62};
  }
  if (year == 2021) {
    // Float16OptimizerWithFloat16Params (1a2cb60c, 2021-03): a cast of each gradient to fp32
    // (2 + 4, none when bf16 accumulates in fp32), unscale (4 + 4, fp16 only), clipping norm (4),
    // fused Adam (28), copy back (4 + 2); local DDP without contiguous buffers (the default until
    // 3715b0bc, 2021-08) flattens, scales and copies back the gradients (12); micro-batches
    // accumulate by a separate add (2 + 2 + 2 in fp16, 2 + 4 + 4 into fp32 under bf16).
    return {fp16 ? 6.0 : 10.0, 12, fp16 ? 52.0 : 38.0};
  }
  // 2022: contiguous gradient buffers, zeroed and scaled by 1/dp (fp16: 2 + 2 + 2, fp32: 4 + 4
  // + 4); gradient_accumulation_fusion (9c5a830f, 2022-02) accumulates bf16 runs' gradients in
  // the weight-gradient GEMM, fp16 runs' only from 42c40715 (2022-11).
  return {fp16 ? 6.0 : 0.0, fp16 ? 6.0 : 12.0, fp16 ? 52.0 : 38.0};
}

// The bundled cluster whose network constants a case's GPU generation uses.
std::string base_cluster(const std::string& gpu) {
  return gpu.rfind("a100", 0) == 0 ? "dgx-a100-hdr" : "dgx-h100-ndr";
}

void read_case(MapReader& c, ValidationCase& vc, Presets& presets) {
  constexpr int dim = strategy::kMaxPlanDimension;
  vc.id = c.name("id");
  vc.source = c.has("source") ? c.text("source") : "";
  c.maybe("source");
  vc.trust = c.has("trust") ? c.text("trust") : "";
  c.maybe("trust");
  vc.rank_group = c.has("rank_group") ? c.name("rank_group") : "";
  c.maybe("rank_group");
  std::vector<std::string> notes;
  if (auto n = c.maybe("notes"); n && n->IsSequence())
    for (const auto& item : *n)
      if (item.IsScalar()) notes.push_back(item.Scalar());
  auto unsupported = [&](const std::string& why) {
    if (!vc.unsupported) vc.unsupported = why;
  };
  // The software that produced the measurement, from the source: torchtitan, Megatron-DeepSpeed
  // (BigScience, vTrain) or Megatron-LM; and its date, which says what that software could do.
  const int year = source_year(vc.id, vc.source, notes);
  const bool titan = contains(vc.source, "torchtitan");
  const bool deepspeed = contains(vc.source, "deepspeed") || contains(vc.source, "bigscience") ||
                         contains(vc.source, "vtrain");
  vc.training.framework = titan       ? strategy::Framework::torchtitan
                          : deepspeed ? strategy::Framework::megatron_deepspeed
                                      : strategy::Framework::megatron;
  // FlashAttention reached Megatron-LM and PyTorch in 2023; earlier runs used the unfused path.
  const bool modern = titan || year >= 2023 || (year == 0 && !deepspeed);
  vc.training.attention = modern ? strategy::AttentionKernel::flash : strategy::AttentionKernel::unfused;
  // Megatron-LM reduced gradients after the backward pass until overlap_grad_reduce (2023).
  vc.training.overlap_grad_reduce = modern;
  // Megatron-LM scatters pipeline activations over the TP ranks from February 2021
  // (--scatter-gather-tensors-in-pipeline on by default, 72e4230b); DeepSpeed's pipeline engine
  // partitions them over the model-parallel ranks too (is_pipe_partitioned).
  vc.training.p2p_scatter_gather = titan || deepspeed || year == 0 || year >= 2021;
  vc.assumptions.push_back(std::string("framework=") + strategy::to_string(vc.training.framework) +
                           ", attention=" + strategy::to_string(vc.training.attention) +
                           ", overlap_grad_reduce=" + (modern ? "true" : "false") + " (from the source" +
                           (year ? ", " + std::to_string(year) : std::string()) + ")");

  // Model.
  MapReader m = c.map("model");
  vc.model.name = m.has("name") ? m.name("name") : vc.id;
  m.maybe("name");
  const auto layers = opt_int(m, "layers", 1, mlim::max_layers), hidden = opt_int(m, "hidden", 1, mlim::max_hidden);
  const auto heads = opt_int(m, "heads", 1, mlim::max_heads);
  const auto kv = opt_int(m, "kv_heads", 1, mlim::max_heads), ffn = opt_int(m, "ffn", 1, mlim::max_ffn);
  const auto vocab = opt_int(m, "vocab", 1, mlim::max_vocab);
  const auto seq = opt_int(m, "seq_len", 1, mlim::max_seq_len);
  const auto act = opt_text(m, "activation");
  for (const std::string& k : m.keys()) {
    static const std::set<std::string> known{"name", "layers", "hidden", "heads", "kv_heads", "ffn",
                                             "vocab", "seq_len", "activation"};
    if (!known.count(k))
      unsupported(c.file() + ":" + std::to_string(m.line_of(k)) + ": model." + topo::printable(k) + " is not modelled");
  }
  if (!layers || !hidden || !heads) {
    unsupported("model dimensions (layers, hidden, heads) not published");
  } else {
    vc.model.layers = *layers;
    vc.model.hidden = *hidden;
    vc.model.heads = *heads;
    vc.model.kv_heads = kv.value_or(*heads);
    vc.model.ffn = ffn.value_or(std::min(4 * *hidden, mlim::max_ffn));
    vc.model.activation = strategy::Activation::gelu;
    if (act) {
      if (*act == "swiglu") vc.model.activation = strategy::Activation::swiglu;
      else if (*act != "gelu") unsupported("activation " + shown(*act) + " is not modelled");
    }
    const bool consistent = vc.model.hidden % vc.model.heads == 0 && vc.model.heads % vc.model.kv_heads == 0;
    if (!consistent)
      unsupported("model shape is inconsistent (heads must divide hidden, kv_heads must divide heads)");
    // A bundled card of the same shape supplies what the case leaves out; otherwise the format's
    // defaults hold (GELU, GPT-2 vocabulary).
    const auto card = presets.matching_card(vc.model, act.has_value());
    if (card && !act) {
      vc.model.activation = card->activation;
      vc.assumptions.push_back(std::string("activation=") + strategy::to_string(card->activation) +
                               " from the card '" + card->name + "'");
    }
    const bool gpt = vc.model.activation == strategy::Activation::gelu;
    vc.model.dropout = gpt;
    vc.model.tied_embeddings = gpt;
    vc.model.learned_positions = gpt;
    if (vocab) {
      vc.model.vocab = *vocab;
    } else if (card) {
      vc.model.vocab = card->vocab;
      vc.assumptions.push_back("vocab=" + std::to_string(card->vocab) + " from the card '" + card->name + "'");
    } else {
      vc.model.vocab = 51200;
      vc.assumptions.push_back("vocab=51200 (not published; GPT-2 vocabulary as padded by Megatron-LM)");
    }
    if (card) {
      vc.model.tied_embeddings = card->tied_embeddings;
      vc.model.learned_positions = card->learned_positions;
      vc.model.dropout = card->dropout;
    }
    if (seq) {
      vc.model.seq_len = *seq;
    } else {
      vc.model.seq_len = 2048;
      vc.assumptions.push_back("seq_len=2048 (not published)");
    }
    if (consistent) {
      try {
        vc.model.check();  // the rules for cards built in code, as a second defence
      } catch (const std::invalid_argument& e) {
        throw InputError(c.file(), m.line(), m.key_path(""), e.what());
      }
    }
  }
  m.finish();

  // Cluster.
  MapReader cl = c.map("cluster");
  const std::string gpu = cl.name("gpu");
  const int gpus = cl.integer("gpus", 1, tlim::max_gpus);
  const int per_node = cl.integer("gpus_per_node", 1, tlim::max_gpus_per_node);
  const auto scale_up = opt_text(cl, "scale_up");
  const auto scale_out = opt_text(cl, "scale_out");
  cl.finish();
  const fs::path gpu_file = presets.dirs().gpus / (gpu + ".yaml");
  if (!detail::preset_name(gpu) || detail::file_problem(gpu_file)) {
    unsupported("unknown GPU " + shown(gpu));
  } else {
    vc.cluster = presets.cluster(base_cluster(gpu));
    vc.cluster.gpu = presets.gpu(gpu_file);
    vc.cluster.name = vc.id;
    vc.cluster.gpus = gpus;
    vc.cluster.gpus_per_node = per_node;
    vc.cluster.scale_up.bandwidth = vc.cluster.gpu.nvlink_bw;
    if (scale_up) {
      const ScaleUpReading up = parse_scale_up(*scale_up, vc.cluster.gpu);
      vc.cluster.scale_up.bandwidth = up.bandwidth;
      if (up.efficiency) vc.cluster.scale_up.efficiency = *up.efficiency;
      if (!up.nvswitch) vc.cluster.scale_up.nvls_efficiency = 0;
      if (!up.assumption.empty()) vc.assumptions.push_back(up.assumption);
    }
    if (scale_out) {
      std::optional<std::pair<int, sim::ByteRate>> nics;
      try {
        nics = parse_scale_out(*scale_out, per_node);
      } catch (const std::invalid_argument& e) {
        cl.fail("scale_out", e.what());
      }
      if (nics) {
        vc.cluster.scale_out.nics_per_node = nics->first;
        vc.cluster.scale_out.nic_bandwidth = nics->second;
      } else if (gpus > per_node) {
        vc.assumptions.push_back("scale_out " + shown(*scale_out) + " not read (no NIC count and line rate): the " +
                                 base_cluster(gpu) + " preset's network");
      }
    } else if (gpus > per_node) {
      vc.assumptions.push_back("scale_out from the " + base_cluster(gpu) + " preset (not published)");
    }
    if (gpus > per_node && gpus % per_node != 0) unsupported("gpus is not a multiple of gpus_per_node");
    if (!vc.unsupported) {
      try {
        vc.cluster.check();
      } catch (const std::invalid_argument& e) {
        throw InputError(c.file(), cl.line(), cl.key_path(""), e.what());
      }
    }
  }

  // Plan: published fields fixed, null ones searched.
  MapReader p = c.map("plan");
  strategy::SearchSpace& sp = vc.space;
  sp.tp_within_node = false;  // a published plan may span nodes
  std::optional<int> pp_fixed;
  for (auto [key, field, lo, hi] :
       {std::tuple<const char*, strategy::IntChoice*, int, int>{"tp", &sp.tp, 1, dim}, {"pp", &sp.pp, 1, dim},
        {"dp", &sp.dp, 1, dim}, {"micro_batch", &sp.micro_batch, 1, dim}, {"vpp", &sp.vpp, 1, dim},
        {"zero", &sp.zero, 0, 3}}) {
    if (auto v = opt_int(p, key, lo, hi)) {
      field->values = {*v};
      if (std::string(key) == "pp") pp_fixed = *v;
    }
  }
  if (sp.zero.values.empty()) {
    // Megatron-LM runs do not use ZeRO-3; torchtitan's data parallelism is FSDP (ZeRO-3).
    sp.zero.max = 2;
  }
  if (auto cp = opt_int(p, "cp", 1, dim)) sp.cp.values = {*cp};
  if (auto gb = opt_int(p, "global_batch", 1, mlim::max_global_batch)) vc.training.global_batch = *gb;
  if (p.has("sequence_parallel")) sp.sequence_parallel = {p.boolean("sequence_parallel")};
  p.maybe("sequence_parallel");
  if (auto rc = opt_text(p, "recompute")) {
    if (*rc == "none") sp.recompute = {strategy::Recompute::none};
    else if (*rc == "selective") sp.recompute = {strategy::Recompute::selective};
    else if (*rc == "full") sp.recompute = {strategy::Recompute::full};
    else p.fail("recompute", shown(*rc) + " is not none, selective or full");
  }
  if (auto sc = opt_text(p, "schedule")) {
    strategy::Schedule s{};
    if (*sc == "1f1b") s = strategy::Schedule::one_f_one_b;
    else if (*sc == "interleaved-1f1b") s = strategy::Schedule::interleaved;
    else if (*sc == "gpipe") s = strategy::Schedule::gpipe;
    else p.fail("schedule", shown(*sc) + " is not gpipe, 1f1b or interleaved-1f1b");
    if (pp_fixed && *pp_fixed == 1) {
      vc.assumptions.push_back("schedule " + *sc + " is moot with pp=1");
    } else {
      sp.schedule = {s};
    }
  }
  // A published vpp above 1 is Megatron's interleaved schedule (--num-layers-per-virtual-pipeline-stage).
  if (sp.schedule.empty() && sp.vpp.values.size() == 1 && sp.vpp.values.front() > 1) {
    sp.schedule = {strategy::Schedule::interleaved};
    vc.assumptions.push_back("schedule=interleaved-1f1b (vpp=" + std::to_string(sp.vpp.values.front()) + ")");
  }
  // Dimensions that arrived later than the run: TP communication overlap (Megatron-LM and
  // Transformer Engine 2023, torchtitan's async TP 2024) and zero-bubble schedules (2024).
  if (!titan && year > 0 && year < 2023) {
    sp.tp_overlap = {false};
    vc.assumptions.push_back("tp_overlap=off (not available before 2023)");
  }
  if (sp.schedule.empty() && year > 0 && year < 2024)
    sp.schedule = {strategy::Schedule::gpipe, strategy::Schedule::one_f_one_b, strategy::Schedule::interleaved};
  if (auto pr = opt_text(p, "precision")) {
    const auto prec = topo::parse_precision(*pr);
    if (!prec || *prec == topo::Precision::fp32 || *prec == topo::Precision::tf32)
      p.fail("precision", shown(*pr) + " is not fp16, bf16 or fp8");
    vc.training.precision = *prec;
  } else {
    vc.training.precision = year > 0 && year <= 2021 ? topo::Precision::fp16 : topo::Precision::bf16;
    vc.assumptions.push_back(std::string("precision=") + std::string(topo::to_string(vc.training.precision)) +
                             " (not published)");
  }
  if (vc.training.framework == strategy::Framework::megatron) {
    vc.training.step_traffic = megatron_step_traffic(year, vc.training.precision);
  } else {
    vc.training.step_traffic = strategy::StepTraffic::of(vc.training.framework, vc.training.precision);
  }
  {
    const auto& st = vc.training.step_traffic;
    const auto bytes = [](double v) { return std::to_string(static_cast<int>(std::lround(v))); };
    vc.assumptions.push_back("step traffic per parameter: " + bytes(st.accumulate) + " B per micro-batch (" +
                             (st.accumulate > 0 ? "gradient accumulation by its own kernel" : "fused accumulation") +
                             "), " + bytes(st.buffer) + " B per step on the gradient buffer, " + bytes(st.optimizer) +
                             " B per optimizer-shard parameter (" + strategy::to_string(vc.training.framework) +
                             (year ? " as of " + std::to_string(year) : std::string()) + ")");
  }
  if (vc.training.framework == strategy::Framework::megatron && year > 0 && year <= 2022 && sp.zero.values.empty()) {
    // Megatron-LM had no optimizer sharding until --use-distributed-optimizer (d07d29df,
    // 2022-06; first released in 23.04): every data-parallel rank kept the whole Adam state.
    sp.zero.values = {0};
    vc.assumptions.push_back("zero=0 (Megatron-LM had no distributed optimizer before mid-2022)");
  }
  for (const std::string& k : p.keys()) {
    static const std::set<std::string> known{"tp", "pp", "dp", "cp", "vpp", "micro_batch", "global_batch",
                                             "sequence_parallel", "recompute", "zero", "schedule", "precision"};
    if (!known.count(k)) {
      const YAML::Node v = p.maybe(k).value_or(YAML::Node());
      const bool trivial = !v.IsDefined() || v.IsNull() || (v.IsScalar() && (v.Scalar() == "1" || v.Scalar() == "false"));
      if (!trivial)
        unsupported(c.file() + ":" + std::to_string(p.line_of(k)) + ": plan." + topo::printable(k) + " is not modelled");
    }
  }
  p.finish();
  vc.training.seq_len = vc.model.seq_len;
  // What the framework could do at the time of the run.
  if (!titan && year > 0 && year <= 2021) {
    // Megatron-LM runs of 2020-2021 recomputed every layer: the released GPT scripts pass
    // --checkpoint-activations and the papers' FLOP counts include the recomputed forward.
    // Selective recomputation and sequence parallelism only arrived in 2022.
    if (sp.recompute.empty()) {
      sp.recompute = {strategy::Recompute::full};
      vc.assumptions.push_back("recompute=full (Megatron-LM 2020-2021 recomputed every layer)");
    }
    if (sp.sequence_parallel.empty()) sp.sequence_parallel = {false};
  }
  if (!titan && year > 0 && year <= 2021 && sp.zero.values == std::vector<int>{3}) {
    // ZeRO-3 outside torchtitan is DeepSpeed's (Megatron-LM had none); before v0.6.0 (March
    // 2022) its parameter fetch blocked compute: see TrainingSpec::zero3_blocking_fetch.
    vc.training.zero3_blocking_fetch = true;
    vc.assumptions.push_back(
        "zero3=deepspeed-2021: one all-gather per weight matrix after torch.cuda.synchronize(), 5e7-element "
        "prefetch, one copy kernel per rank (PyTorch list all_gather), one reduce-scatter per matrix "
        "(DeepSpeed v0.3.16-v0.5.10 stage3.py)");
  }
  if (!titan && year > 0 && year <= 2020 && sp.micro_batch.values.empty() && !sp.dp.values.empty() &&
      vc.training.global_batch > 0 && vc.training.global_batch % sp.dp.values.front() == 0) {
    // Megatron-LM v1 (2020) had no gradient accumulation: each replica ran its whole batch.
    sp.micro_batch.values = {vc.training.global_batch / sp.dp.values.front()};
    vc.assumptions.push_back("micro_batch=" + std::to_string(sp.micro_batch.values.front()) +
                             " (Megatron-LM v1 had no gradient accumulation: global_batch / dp)");
  }
  if (vc.training.global_batch <= 0) {
    // Throughput barely depends on it; pick 8 micro-batches per pipeline stage.
    const std::int64_t dp = sp.dp.values.empty() ? 1 : sp.dp.values.front();
    const std::int64_t mbs = sp.micro_batch.values.empty() ? 1 : sp.micro_batch.values.front();
    const std::int64_t pp = pp_fixed.value_or(1);
    // Each factor is at most 2^20, so the product (up to 2^63) is checked in floating point first.
    const double product = static_cast<double>(dp) * static_cast<double>(mbs) * 8.0 * static_cast<double>(pp);
    if (product > mlim::max_global_batch)
      p.fail("", "global_batch is not published and dp x micro_batch x 8 x pp = " + std::to_string(dp) + " x " +
                     std::to_string(mbs) + " x 8 x " + std::to_string(pp) + " is above " +
                     std::to_string(mlim::max_global_batch));
    const std::int64_t batch = dp * mbs * 8 * pp;
    vc.training.global_batch = static_cast<int>(batch);
    vc.assumptions.push_back("global_batch=" + std::to_string(vc.training.global_batch) +
                             " (not published: dp x micro_batch x 8 x pp)");
  }
  if (!vc.unsupported) {
    try {
      vc.training.check();
    } catch (const std::invalid_argument& e) {
      throw InputError(c.file(), p.line(), p.key_path(""), e.what());
    }
  }

  // Measurements and target.
  if (c.has("measured")) {
    MapReader me = c.map("measured");
    for (const char* key : {"tflops_per_gpu", "tflops_per_gpu_approx", "tokens_per_s_per_gpu"}) {
      if (!vc.measured_rank_value && me.has(key)) {
        vc.measured_rank_value = positive_number(me, key, 1e15);
        vc.measured_rank_key = key;
      }
    }
    if (me.has("peak_memory_gib"))
      vc.measured_peak_memory_gib = positive_number(me, "peak_memory_gib", 1 << 20);
  }
  c.maybe("measured");
  if (c.has("target")) {
    MapReader t = c.map("target");
    if (t.has("iteration_s")) vc.target_iteration_s = positive_number(t, "iteration_s", 1e6);
    for (const char* k : {"iteration_s", "derived", "how"}) t.maybe(k);
    t.finish();
  }
  c.maybe("target");
  for (const std::string& k : c.keys()) {
    static const std::set<std::string> known{"id", "source", "trust", "model", "cluster", "plan",
                                             "measured", "target", "rank_group", "notes"};
    if (!known.count(k))
      unsupported(c.file() + ":" + std::to_string(c.line_of(k)) + ": " + topo::printable(k) + " is not understood");
  }
  c.finish();
}

// The id of a case that failed to read, if it has a usable one.
std::optional<std::string> readable_id(const YAML::Node& node) {
  if (!node.IsMap()) return std::nullopt;
  const YAML::Node id = node["id"];
  if (!id.IsDefined() || !id.IsScalar()) return std::nullopt;
  const std::string& s = id.Scalar();
  if (s.empty() || s.size() > tlim::max_name || !topo::clean_text(s)) return std::nullopt;
  return s;
}

}  // namespace

std::vector<ValidationCase> load_cases(const fs::path& file, const DataDirs& dirs) {
  const std::string f = file.string();
  return detail::guard_yaml(f, [&] {
    MapReader root(detail::parse_file(f), f, "");
    const int version = root.integer("version", INT_MIN, INT_MAX);
    if (version != 1) root.fail("version", "only version 1 is understood");
    const YAML::Node cases = root.need("cases");
    if (!cases.IsSequence()) root.fail("cases", "expected a list of cases");
    // Aliases let a small file repeat one case millions of times; no validation set is this big.
    constexpr std::size_t max_cases = 1 << 16;
    if (cases.size() > max_cases)
      root.fail("cases", "holds " + std::to_string(cases.size()) + " cases, at most " + std::to_string(max_cases));
    root.finish();
    std::vector<ValidationCase> out;
    std::set<std::string> ids;
    Presets presets(dirs);
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const YAML::Node node = cases[i];
      const std::string where = "cases[" + std::to_string(i) + "]";
      const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
      ValidationCase vc;
      vc.line = line;
      std::optional<std::string> invalid;
      // A malformed case is reported on its own; the others still run.
      try {
        MapReader c(node, f, where, true);  // null plan fields were not published
        read_case(c, vc, presets);
        if (ids.count(vc.id)) c.fail("id", "duplicate id " + shown(vc.id));
      } catch (const InputError& e) {
        invalid = e.what();
      } catch (const YAML::Exception& e) {
        invalid = InputError(f, e.mark.is_null() ? line : e.mark.line + 1, where, "YAML: " + e.msg).what();
      }
      if (invalid) {
        vc = ValidationCase{};
        vc.line = line;
        vc.id = readable_id(node).value_or(where);
        vc.invalid = std::move(invalid);
      }
      ids.insert(vc.id);
      out.push_back(std::move(vc));
    }
    return out;
  });
}

}  // namespace strata::scenario
