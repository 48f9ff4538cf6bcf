#include "strata/scenario/cases.hpp"

#include <algorithm>
#include <regex>
#include <set>

#include "reader.hpp"

namespace strata::scenario {

namespace fs = std::filesystem;
using detail::MapReader;

std::optional<std::pair<int, sim::ByteRate>> parse_scale_out(const std::string& text, int gpus_per_node) {
  std::smatch m;
  const auto gbps = [](const std::string& v) { return sim::ByteRate(std::stod(v) * 1e9 / 8); };
  // "8x 200 Gb/s HDR InfiniBand HCAs per node"
  static const std::regex per_node(R"((\d+)\s*[xX×]\s*(\d+(?:\.\d+)?)\s*Gb(?:/s|ps))");
  if (std::regex_search(text, m, per_node)) return std::make_pair(std::stoi(m[1]), gbps(m[2]));
  // "RDMA backend network, 400 Gb/s per GPU"
  static const std::regex per_gpu(R"((\d+(?:\.\d+)?)\s*Gb(?:/s|ps)\s+per\s+GPU)");
  if (std::regex_search(text, m, per_gpu)) return std::make_pair(gpus_per_node, gbps(m[1]));
  // "Omni-Path (4 OPA links per node)": Omni-Path links run at 100 Gb/s.
  static const std::regex opa(R"((\d+)\s+OPA\s+links?\s+per\s+node)");
  if (std::regex_search(text, m, opa)) return std::make_pair(std::stoi(m[1]), gbps("100"));
  return std::nullopt;
}

namespace {

// Year of the run: the first year in its source, id or notes ("... 2021 ...", "2022-04-28"); 0 if none.
int source_year(const std::string& id, const std::string& source, const std::vector<std::string>& notes) {
  static const std::regex year(R"((20[12]\d))");
  std::smatch m;
  for (const std::string* s : {&source, &id})
    if (std::regex_search(*s, m, year)) return std::stoi(m[1]);
  for (const std::string& n : notes)
    if (std::regex_search(n, m, year)) return std::stoi(m[1]);
  return 0;
}

bool contains(const std::string& text, const std::string& word) {
  std::string a = text, b = word;
  std::transform(a.begin(), a.end(), a.begin(), ::tolower);
  std::transform(b.begin(), b.end(), b.begin(), ::tolower);
  return a.find(b) != std::string::npos;
}

std::optional<int> opt_int(MapReader& r, const std::string& key) {
  if (!r.has(key)) {
    r.maybe(key);
    return std::nullopt;
  }
  return r.integer(key);
}

std::optional<std::string> opt_text(MapReader& r, const std::string& key) {
  if (!r.has(key)) {
    r.maybe(key);
    return std::nullopt;
  }
  return r.text(key);
}

// A bundled card with the same shape supplies what a case leaves out (vocabulary, context).
std::optional<strategy::ModelSpec> matching_card(const strategy::ModelSpec& m, const DataDirs& dirs,
                                                 bool match_activation) {
  if (!fs::is_directory(dirs.models)) return std::nullopt;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dirs.models))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    const strategy::ModelSpec c = load_model(f);
    if (c.layers == m.layers && c.hidden == m.hidden && c.heads == m.heads && c.kv_heads == m.kv_heads &&
        c.ffn == m.ffn && (!match_activation || c.activation == m.activation))
      return c;
  }
  return std::nullopt;
}

// The bundled cluster whose network constants a case's GPU generation uses.
std::string base_cluster(const std::string& gpu) {
  return gpu.rfind("a100", 0) == 0 ? "dgx-a100-hdr" : "dgx-h100-ndr";
}

void read_case(MapReader& c, ValidationCase& vc, const DataDirs& dirs) {
  vc.id = c.text("id");
  vc.source = c.has("source") ? c.text("source") : "";
  c.maybe("source");
  vc.trust = c.has("trust") ? c.text("trust") : "";
  c.maybe("trust");
  vc.rank_group = c.has("rank_group") ? c.text("rank_group") : "";
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
  vc.training.framework = titan ? strategy::Framework::torchtitan : strategy::Framework::megatron;
  // FlashAttention reached Megatron-LM and PyTorch in 2023; earlier runs used the unfused path.
  const bool modern = titan || year >= 2023 || (year == 0 && !deepspeed);
  vc.training.attention = modern ? strategy::AttentionKernel::flash : strategy::AttentionKernel::unfused;
  // Megatron-LM reduced gradients after the backward pass until overlap_grad_reduce (2023).
  vc.training.overlap_grad_reduce = modern;
  // DeepSpeed's pipeline engine sends whole activations from every TP rank.
  vc.training.p2p_scatter_gather = !deepspeed;
  vc.assumptions.push_back(std::string("framework=") + (deepspeed ? "megatron-deepspeed" : strategy::to_string(vc.training.framework)) +
                           ", attention=" + strategy::to_string(vc.training.attention) +
                           ", overlap_grad_reduce=" + (modern ? "true" : "false") + " (from the source" +
                           (year ? ", " + std::to_string(year) : std::string()) + ")");

  // Model.
  MapReader m = c.map("model");
  vc.model.name = m.has("name") ? m.text("name") : vc.id;
  m.maybe("name");
  const auto layers = opt_int(m, "layers"), hidden = opt_int(m, "hidden"), heads = opt_int(m, "heads");
  const auto kv = opt_int(m, "kv_heads"), ffn = opt_int(m, "ffn"), vocab = opt_int(m, "vocab");
  const auto seq = opt_int(m, "seq_len");
  const auto act = opt_text(m, "activation");
  for (const std::string& k : m.keys()) {
    static const std::set<std::string> known{"name", "layers", "hidden", "heads", "kv_heads", "ffn",
                                             "vocab", "seq_len", "activation"};
    if (!known.count(k))
      unsupported(c.file() + ":" + std::to_string(m.line_of(k)) + ": model." + k + " is not modelled");
  }
  if (!layers || !hidden || !heads) {
    unsupported("model dimensions (layers, hidden, heads) not published");
  } else {
    vc.model.layers = *layers;
    vc.model.hidden = *hidden;
    vc.model.heads = *heads;
    vc.model.kv_heads = kv.value_or(*heads);
    vc.model.ffn = ffn.value_or(4 * *hidden);
    vc.model.activation = strategy::Activation::gelu;
    if (act) {
      if (*act == "swiglu") vc.model.activation = strategy::Activation::swiglu;
      else if (*act != "gelu") unsupported("activation '" + *act + "' is not modelled");
    }
    // A bundled card of the same shape supplies what the case leaves out; otherwise the format's
    // defaults hold (GELU, GPT-2 vocabulary).
    const auto card = matching_card(vc.model, dirs, act.has_value());
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
    if (vc.model.hidden % vc.model.heads != 0 || vc.model.heads % vc.model.kv_heads != 0)
      unsupported("model shape is inconsistent (heads must divide hidden, kv_heads must divide heads)");
  }
  m.finish();

  // Cluster.
  MapReader cl = c.map("cluster");
  const std::string gpu = cl.text("gpu");
  const int gpus = cl.integer("gpus");
  const int per_node = cl.integer("gpus_per_node");
  if (gpus <= 0) cl.fail("gpus", "must be positive");
  if (per_node <= 0) cl.fail("gpus_per_node", "must be positive");
  const auto scale_up = opt_text(cl, "scale_up");
  const auto scale_out = opt_text(cl, "scale_out");
  cl.finish();
  const fs::path gpu_file = dirs.gpus / (gpu + ".yaml");
  if (!fs::exists(gpu_file)) {
    unsupported("unknown GPU '" + gpu + "'");
  } else {
    vc.cluster = load_cluster(dirs.clusters / (base_cluster(gpu) + ".yaml"), dirs, 0);
    vc.cluster.gpu = load_gpu(gpu_file);
    vc.cluster.name = vc.id;
    vc.cluster.gpus = gpus;
    vc.cluster.gpus_per_node = per_node;
    vc.cluster.scale_up.bandwidth = vc.cluster.gpu.nvlink_bw;
    if (scale_up && !contains(*scale_up, "nvlink")) unsupported("scale-up network '" + *scale_up + "' is not modelled");
    if (scale_out) {
      if (auto nics = parse_scale_out(*scale_out, per_node)) {
        vc.cluster.scale_out.nics_per_node = nics->first;
        vc.cluster.scale_out.nic_bandwidth = nics->second;
      } else if (gpus > per_node) {
        unsupported("cannot read the scale-out network '" + *scale_out + "'");
      }
    } else if (gpus > per_node) {
      vc.assumptions.push_back("scale_out from the " + base_cluster(gpu) + " preset (not published)");
    }
    if (gpus > per_node && gpus % per_node != 0) unsupported("gpus is not a multiple of gpus_per_node");
  }

  // Plan: published fields fixed, null ones searched.
  MapReader p = c.map("plan");
  strategy::SearchSpace& sp = vc.space;
  sp.tp_within_node = false;  // a published plan may span nodes
  std::optional<int> pp_fixed;
  for (auto [key, field] : {std::pair<const char*, strategy::IntChoice*>{"tp", &sp.tp}, {"pp", &sp.pp}, {"dp", &sp.dp},
                            {"micro_batch", &sp.micro_batch}, {"vpp", &sp.vpp}, {"zero", &sp.zero}}) {
    if (auto v = opt_int(p, key)) {
      if (*v < 0 || (*v < 1 && std::string(key) != "zero")) p.fail(key, "must be positive");
      field->values = {*v};
      if (std::string(key) == "pp") pp_fixed = *v;
    }
  }
  if (sp.zero.values.empty()) {
    // Megatron-LM runs do not use ZeRO-3; torchtitan's data parallelism is FSDP (ZeRO-3).
    sp.zero.max = 2;
  }
  if (auto cp = opt_int(p, "cp")) {
    if (*cp < 1) p.fail("cp", "must be positive");
    sp.cp.values = {*cp};
  }
  if (auto gb = opt_int(p, "global_batch")) {
    if (*gb <= 0) p.fail("global_batch", "must be positive");
    vc.training.global_batch = *gb;
  }
  if (p.has("sequence_parallel")) sp.sequence_parallel = {p.boolean("sequence_parallel")};
  p.maybe("sequence_parallel");
  if (auto rc = opt_text(p, "recompute")) {
    if (*rc == "none") sp.recompute = {strategy::Recompute::none};
    else if (*rc == "selective") sp.recompute = {strategy::Recompute::selective};
    else if (*rc == "full") sp.recompute = {strategy::Recompute::full};
    else p.fail("recompute", "'" + *rc + "' is not none, selective or full");
  }
  if (auto sc = opt_text(p, "schedule")) {
    strategy::Schedule s{};
    if (*sc == "1f1b") s = strategy::Schedule::one_f_one_b;
    else if (*sc == "interleaved-1f1b") s = strategy::Schedule::interleaved;
    else if (*sc == "gpipe") s = strategy::Schedule::gpipe;
    else p.fail("schedule", "'" + *sc + "' is not gpipe, 1f1b or interleaved-1f1b");
    if (pp_fixed && *pp_fixed == 1) {
      vc.assumptions.push_back("schedule " + *sc + " is moot with pp=1");
    } else {
      sp.schedule = {s};
    }
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
      p.fail("precision", "'" + *pr + "' is not fp16, bf16 or fp8");
    vc.training.precision = *prec;
  } else {
    vc.training.precision = year > 0 && year <= 2021 ? topo::Precision::fp16 : topo::Precision::bf16;
    vc.assumptions.push_back(std::string("precision=") + std::string(topo::to_string(vc.training.precision)) +
                             " (not published)");
  }
  for (const std::string& k : p.keys()) {
    static const std::set<std::string> known{"tp", "pp", "dp", "cp", "vpp", "micro_batch", "global_batch",
                                             "sequence_parallel", "recompute", "zero", "schedule", "precision"};
    if (!known.count(k)) {
      const YAML::Node v = p.maybe(k).value_or(YAML::Node());
      const bool trivial = !v.IsDefined() || v.IsNull() || (v.IsScalar() && (v.Scalar() == "1" || v.Scalar() == "false"));
      if (!trivial) unsupported(c.file() + ":" + std::to_string(p.line_of(k)) + ": plan." + k + " is not modelled");
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
  if (!titan && year > 0 && year <= 2020 && sp.micro_batch.values.empty() && !sp.dp.values.empty() &&
      vc.training.global_batch > 0 && vc.training.global_batch % sp.dp.values.front() == 0) {
    // Megatron-LM v1 (2020) had no gradient accumulation: each replica ran its whole batch.
    sp.micro_batch.values = {vc.training.global_batch / sp.dp.values.front()};
    vc.assumptions.push_back("micro_batch=" + std::to_string(sp.micro_batch.values.front()) +
                             " (Megatron-LM v1 had no gradient accumulation: global_batch / dp)");
  }
  if (vc.training.global_batch <= 0) {
    // Throughput barely depends on it; pick 8 micro-batches per pipeline stage.
    const int dp = sp.dp.values.empty() ? 1 : sp.dp.values.front();
    const int mbs = sp.micro_batch.values.empty() ? 1 : sp.micro_batch.values.front();
    const int pp = pp_fixed.value_or(1);
    vc.training.global_batch = dp * mbs * 8 * pp;
    vc.assumptions.push_back("global_batch=" + std::to_string(vc.training.global_batch) +
                             " (not published: dp x micro_batch x 8 x pp)");
  }

  // Measurements and target.
  if (c.has("measured")) {
    MapReader me = c.map("measured");
    for (const char* key : {"tflops_per_gpu", "tflops_per_gpu_approx", "tokens_per_s_per_gpu"}) {
      if (!vc.measured_rank_value && me.has(key)) {
        const YAML::Node n = me.need(key);
        try {
          vc.measured_rank_value = std::stod(me.scalar(n, key));
          vc.measured_rank_key = key;
        } catch (const std::exception&) {
          me.fail(key, "is not a number");
        }
      }
    }
    if (me.has("peak_memory_gib")) {
      vc.measured_peak_memory_gib = me.number("peak_memory_gib");
      if (!(*vc.measured_peak_memory_gib > 0)) me.fail("peak_memory_gib", "must be positive");
    }
  }
  c.maybe("measured");
  if (c.has("target")) {
    MapReader t = c.map("target");
    if (t.has("iteration_s")) {
      vc.target_iteration_s = t.number("iteration_s");
      if (!(*vc.target_iteration_s > 0)) t.fail("iteration_s", "must be positive");
    }
    for (const char* k : {"iteration_s", "derived", "how"}) t.maybe(k);
    t.finish();
  }
  c.maybe("target");
  for (const std::string& k : c.keys()) {
    static const std::set<std::string> known{"id", "source", "trust", "model", "cluster", "plan",
                                             "measured", "target", "rank_group", "notes"};
    if (!known.count(k)) unsupported(c.file() + ":" + std::to_string(c.line_of(k)) + ": " + k + " is not understood");
  }
  c.finish();
}

}  // namespace

std::vector<ValidationCase> load_cases(const fs::path& file, const DataDirs& dirs) {
  const std::string f = file.string();
  MapReader root(detail::parse_file(f), f, "");
  const int version = root.integer("version");
  if (version != 1) root.fail("version", "only version 1 is understood");
  const YAML::Node cases = root.need("cases");
  if (!cases.IsSequence()) root.fail("cases", "expected a list of cases");
  root.finish();
  std::vector<ValidationCase> out;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    MapReader c(cases[i], f, "cases[" + std::to_string(i) + "]");
    ValidationCase vc;
    vc.line = c.line();
    read_case(c, vc, dirs);
    if (!ids.insert(vc.id).second) c.fail("id", "duplicate id '" + vc.id + "'");
    out.push_back(std::move(vc));
  }
  return out;
}

}  // namespace strata::scenario
