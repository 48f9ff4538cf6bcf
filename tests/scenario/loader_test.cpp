#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "strata/scenario/cases.hpp"
#include "strata/scenario/loader.hpp"
#include "strata/topo/gpu.hpp"
#include "support.hpp"

using namespace strata;
using scenario::InputError;

namespace {
scenario::DataDirs dirs() { return scenario::DataDirs::under(test::source_dir()); }

const char* kScenario = R"(name: test scenario
model: gpt3-175b
cluster:
  preset: dgx-a100-hdr
  gpus: 64
training:
  global_batch: 128
  precision: bf16
)";

// Loads `text` as a scenario and returns the error message (empty if it loaded).
std::string error_of(const std::string& text) {
  test::TempDir d;
  const auto f = d.write("s.yaml", text);
  try {
    (void)scenario::load_scenario(f, dirs());
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string with(const std::string& from, const std::string& to) {
  std::string s = kScenario;
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}
}  // namespace

TEST_CASE("loader: the bundled scenarios, presets and model cards load") {
  for (const char* s : {"gpt3-175b-1024xa100.yaml", "gpt3-175b-1024xa100-rail.yaml", "gpt3-175b-1024xa100-2to1.yaml",
                        "llama3-70b-512xh100.yaml", "llama3-8b-128k-64xh100.yaml", "mixtral-8x7b-128xh100.yaml",
                        "llama3-70b-16xa100.yaml"}) {
    const auto sc = scenario::load_scenario(test::source_dir() / "scenarios" / s, dirs());
    CHECK(sc.cluster.gpus > 0);
    CHECK_NOTHROW(sc.cluster.check());
    CHECK_NOTHROW(sc.model.check());
  }
  for (const char* card : {"gpt3-175b", "llama3-8b", "llama3-70b", "llama3-405b", "megatron-gpt-1.7b",
                           "megatron-gpt-3.6b", "megatron-gpt-7.5b", "megatron-gpt-18.4b", "megatron-gpt-39.1b",
                           "megatron-gpt-76.1b", "megatron-gpt-145.6b", "megatron-gpt-310.1b",
                           "megatron-gpt-529.6b", "megatron-gpt-1008b", "mixtral-8x7b", "deepseek-v3-shaped"})
    CHECK_NOTHROW(scenario::load_model(dirs().models / (std::string(card) + ".yaml")));
  for (const char* gpu : {"a100-sxm-80gb", "a100-sxm-40gb", "h100-sxm-80gb", "h100-sxm-96gb-500w", "h200-sxm-141gb"})
    CHECK_NOTHROW(scenario::load_gpu(dirs().gpus / (std::string(gpu) + ".yaml")));
  const auto l = scenario::load_model(dirs().models / "llama3-70b.yaml");
  CHECK(l.activation == strategy::Activation::swiglu);
  CHECK(l.kv_heads == 8);
  CHECK_FALSE(l.tied_embeddings);
  const auto mx = scenario::load_model(dirs().models / "mixtral-8x7b.yaml");
  CHECK(mx.experts == 8);
  CHECK(mx.top_k == 2);
  CHECK(mx.total_params(4096) == doctest::Approx(46.7e9).epsilon(0.01));
  const auto ds = scenario::load_model(dirs().models / "deepseek-v3-shaped.yaml");
  CHECK(ds.dense_layers == 3);
  CHECK(ds.shared_experts == 1);
  CHECK(ds.total_params(4096) == doctest::Approx(671e9).epsilon(0.01));
}

TEST_CASE("loader: a bad MoE card or MoE setting names the file, line and key") {
  test::TempDir d;
  const std::string card = "name: m\nlayers: 4\nhidden: 512\nheads: 8\nkv_heads: 8\nffn: 2048\nvocab: 1000\n"
                           "seq_len: 512\nactivation: swiglu\nexperts: 4\ntop_k: 6\nmoe_ffn: 1024\n";
  CHECK_THROWS_WITH_AS((void)scenario::load_model(d.write("m.yaml", card)),
                       doctest::Contains("m.yaml:11: top_k: must not exceed experts (4)"), InputError);
  const std::string half = "name: m\nlayers: 4\nhidden: 512\nheads: 8\nkv_heads: 8\nffn: 2048\nvocab: 1000\n"
                           "seq_len: 512\nactivation: swiglu\nexperts: 4\n";
  CHECK_THROWS_WITH_AS((void)scenario::load_model(d.write("h.yaml", half)), doctest::Contains("top_k: missing"),
                       InputError);
  std::string e = error_of(with("  precision: bf16\n", "  precision: bf16\n  capacity_factor: 1.5\n"));
  CHECK(e.find(":9: training.capacity_factor: the model GPT-3 175B has no experts") != std::string::npos);
  e = error_of(std::string(kScenario) + "search:\n  cp_comm: [ring, tree]\n");
  CHECK(e.find("search.cp_comm: 'tree' is not ring or a2a") != std::string::npos);
  e = error_of(std::string(kScenario) + "search:\n  schedule: [zb-h2]\n");
  CHECK(e.find("'zb-h2' is not gpipe, 1f1b, interleaved-1f1b or zb-h1") != std::string::npos);
  e = error_of(std::string(kScenario) + "search:\n  ep: [0, 2]\n");
  CHECK(e.find("search.ep: sizes are at least 1") != std::string::npos);
}

TEST_CASE("loader: a scenario sizes its cluster preset and may override it") {
  const auto sc = scenario::load_scenario(test::source_dir() / "scenarios" / "gpt3-175b-1024xa100.yaml", dirs());
  CHECK(sc.cluster.gpus == 1024);
  CHECK(sc.cluster.scale_out.nic_bandwidth.value() == 25e9);
  test::TempDir d;
  const auto f = d.write("s.yaml", with("  gpus: 64\n", "  gpus: 64\n  gpu: h100-sxm-80gb\n  scale_out: {nic_bandwidth: 400Gbps}\n"));
  const auto o = scenario::load_scenario(f, dirs());
  CHECK(o.cluster.gpu.name == "h100-sxm-80gb");
  CHECK(o.cluster.scale_up.bandwidth.value() == 450e9);
  CHECK(o.cluster.scale_out.nic_bandwidth.value() == 50e9);
  CHECK(o.cluster.scale_out.nics_per_node == 8);
  CHECK(o.training.seq_len == 2048);  // from the model card
  // The framework sets the step's extra passes (docs/modeling.md, "What frameworks add").
  CHECK(sc.training.framework == strategy::Framework::megatron);
  CHECK(sc.training.step_traffic.optimizer == strategy::StepTraffic::of(strategy::Framework::megatron, sc.training.precision).optimizer);
  const auto ds = scenario::load_scenario(d.write("ds.yaml", with("  precision: bf16\n", "  precision: bf16\n  framework: megatron-deepspeed\n")), dirs());
  CHECK(ds.training.framework == strategy::Framework::megatron_deepspeed);
  CHECK(ds.training.step_traffic.accumulate == 18);
  CHECK(error_of(with("  precision: bf16\n", "  precision: bf16\n  framework: jax\n"))
            .find("training.framework: 'jax' is not megatron, torchtitan or megatron-deepspeed") != std::string::npos);
}

TEST_CASE("loader: bad input names the file, line and key") {
  std::string e = error_of(with("  precision: bf16\n", "  precision: bf16\n  colour: blue\n"));
  CHECK(e.find("s.yaml:9: training.colour: unknown key") != std::string::npos);
  e = error_of(with("  global_batch: 128\n", ""));
  CHECK(e.find("training.global_batch: missing required field") != std::string::npos);
  e = error_of(with("  global_batch: 128", "  global_batch: 0"));
  CHECK(e.find(":7: training.global_batch: must be a positive integer") != std::string::npos);
  e = error_of(with("  gpus: 64", "  gpus: 60"));
  CHECK(e.find("cluster.gpus: 60 is not a whole number of 8-GPU nodes") != std::string::npos);
  e = error_of(with("  gpus: 64\n", "  gpus: 64\n  gpu: x9000\n"));
  CHECK(e.find("cluster.gpu: unknown GPU 'x9000'") != std::string::npos);
  e = error_of(with("  gpus: 64\n", "  gpus: 64\n  scale_out: {nic_bandwidth: 0Gbps}\n"));
  CHECK(e.find("cluster.scale_out.nic_bandwidth: must be positive") != std::string::npos);
  e = error_of(with("  gpus: 64\n", "  gpus: 64\n  scale_out: {nic_bandwidth: 400}\n"));
  CHECK(e.find("has no unit") != std::string::npos);
  e = error_of(with("  precision: bf16", "  precision: fp8"));
  CHECK(e.find("training.precision: GPU a100-sxm-80gb has no fp8 matrix units") != std::string::npos);
  e = error_of(with("model: gpt3-175b", "model: gpt5"));
  CHECK(e.find(":2: model: unknown model card 'gpt5' (known: ") != std::string::npos);
  CHECK(e.find("gpt3-175b, ") != std::string::npos);
  e = error_of(with("cluster:", "cluster: [1, 2"));
  CHECK(e.find("malformed YAML") != std::string::npos);
  e = error_of(std::string(kScenario) + "search:\n  tp: {min: 8, max: 2}\n");
  CHECK(e.find("search.tp: min is above max") != std::string::npos);
  e = error_of(std::string(kScenario) + "search:\n  recompute: [none, most]\n");
  CHECK(e.find("search.recompute: 'most' is not none, selective or full") != std::string::npos);
}

TEST_CASE("loader: GPU and cluster presets are checked the same way") {
  test::TempDir d;
  std::string gpu;
  {
    std::ifstream in(dirs().gpus / "a100-sxm-80gb.yaml");
    std::stringstream ss;
    ss << in.rdbuf();
    gpu = ss.str();
  }
  const auto at = gpu.find("nvlink: 300GB/s");
  REQUIRE(at != std::string::npos);
  const auto bad = d.write("g.yaml", std::string(gpu).replace(at, 15, "nvlink: 0GB/s"));
  CHECK_THROWS_WITH_AS((void)scenario::load_gpu(bad), doctest::Contains("g.yaml:8: nvlink: must be positive"), InputError);
  const auto eff = d.write("e.yaml", std::string(gpu).replace(gpu.find("matmul: 0.765"), 13, "matmul: 1.300"));
  CHECK_THROWS_WITH_AS((void)scenario::load_gpu(eff), doctest::Contains("efficiency.matmul: must be in (0, 1]"), InputError);
  const auto cluster = d.write("c.yaml", "name: c\ngpu: a100-sxm-80gb\ngpus_per_node: 8\nscale_up: {latency: 1us}\n"
                                         "scale_out: {nics_per_node: 8, nic_bandwidth: 200Gbps, efficiency: 0.9,"
                                         " latency: 5us, topology: torus}\ncollectives: {launch: 40us, reduction_passes: 4,"
                                         " p2p_launch: 10us}\n");
  CHECK_THROWS_WITH_AS((void)scenario::load_cluster(cluster, dirs()), doctest::Contains("c.yaml:5: scale_out.topology"),
                       InputError);
  // NCCL's NVLSTree constants: a chunk needs channels, channels need a chunk, both in range.
  const std::string base = "name: c\ngpu: h100-sxm-80gb\ngpus_per_node: 8\nscale_up: {latency: 1us}\n"
                           "scale_out: {nics_per_node: 8, nic_bandwidth: 400Gbps, efficiency: 0.9, latency: 5us}\n"
                           "collectives: {launch: 40us, reduction_passes: 4, p2p_launch: 10us";
  const auto nvls = scenario::load_cluster(
      d.write("n.yaml", base + ", tree_hop_latency: 14us, nvls_tree_latency: 23us, nvls_channels: 16, nvls_tree_chunk: 64KiB}\n"),
      dirs(), 64);
  CHECK(nvls.collectives.nvls_channels == 16);
  CHECK(nvls.collectives.nvls_tree_chunk.value() == 65536);
  CHECK(nvls.collectives.tree_hop_latency.value() == doctest::Approx(14e-6));
  CHECK(nvls.network(false).nvls_channels == 16);
  CHECK_THROWS_WITH_AS((void)scenario::load_cluster(d.write("n1.yaml", base + ", nvls_tree_chunk: 64KiB}\n"), dirs(), 64),
                       doctest::Contains("nvls_tree_chunk"), InputError);
  CHECK_THROWS_WITH_AS((void)scenario::load_cluster(d.write("n2.yaml", base + ", nvls_channels: 16}\n"), dirs(), 64),
                       doctest::Contains("nvls_tree_chunk"), InputError);
  CHECK_THROWS_WITH_AS((void)scenario::load_cluster(d.write("n3.yaml", base + ", nvls_channels: 0, nvls_tree_chunk: 1KiB}\n"), dirs(), 64),
                       doctest::Contains("n3.yaml:6: collectives.nvls_channels"), InputError);
}

TEST_CASE("loader: every message is one line") {
  const std::string e = error_of(with("  precision: bf16\n", "  precision: bf16\n  colour: blue\n"));
  REQUIRE_FALSE(e.empty());
  CHECK(e.find('\n') == std::string::npos);
}

TEST_CASE("loader: search constraints") {
  test::TempDir d;
  const auto f = d.write("s.yaml", std::string(kScenario) +
                                       "search:\n  tp: [4, 8]\n  pp: {max: 8}\n  sequence_parallel: true\n"
                                       "  schedule: interleaved-1f1b\n  tp_within_node: false\n"
                                       "  order: [tp-cp-ep-dp-pp, tp-cp-ep-pp-dp]\n");
  const auto sc = scenario::load_scenario(f, dirs());
  CHECK(sc.search.order == std::vector<std::string>{"tp-cp-ep-dp-pp", "tp-cp-ep-pp-dp"});
  CHECK(sc.search.tp.values == std::vector<int>{4, 8});
  CHECK(sc.search.pp.max == 8);
  CHECK(sc.search.sequence_parallel == std::vector<bool>{true});
  CHECK(sc.search.schedule == std::vector<strategy::Schedule>{strategy::Schedule::interleaved});
  CHECK_FALSE(sc.search.tp_within_node);
  const auto g = d.write("g.yaml", std::string(kScenario) +
                                       "search:\n  cp: [1, 2, 4]\n  cp_comm: a2a\n  ep: {max: 8}\n  shard: [0, 8]\n"
                                       "  tp_overlap: [true]\n  recompute_layers: [0, 4]\n  schedule: [1f1b, zb-h1]\n"
                                       "  min_cp_tokens: 1024\n");
  const auto sg = scenario::load_scenario(g, dirs());
  CHECK(sg.search.cp.values == std::vector<int>{1, 2, 4});
  CHECK(sg.search.cp_comm == std::vector<strategy::CpComm>{strategy::CpComm::all_to_all});
  CHECK(sg.search.ep.max == 8);
  CHECK(sg.search.shard.values == std::vector<int>{0, 8});
  CHECK(sg.search.tp_overlap == std::vector<bool>{true});
  CHECK(sg.search.recompute_layers.values == std::vector<int>{0, 4});
  CHECK(sg.search.schedule == std::vector<strategy::Schedule>{strategy::Schedule::one_f_one_b, strategy::Schedule::zb_h1});
  CHECK(sg.search.min_cp_tokens == 1024);
}

TEST_CASE("loader: a rank order that is not a permutation names its line") {
  test::TempDir d;
  const auto f = d.write("s.yaml", std::string(kScenario) + "search:\n  order: [tp-cp-ep-dp-pp, tp-dp-pp]\n");
  CHECK_THROWS_WITH_AS((void)scenario::load_scenario(f, dirs()), doctest::Contains("s.yaml:"), InputError);
  CHECK_THROWS_WITH_AS((void)scenario::load_scenario(f, dirs()), doctest::Contains("search.order: 'tp-dp-pp' must list"),
                       InputError);
}

// ---------------------------------------------------------------------------------------------
// Strict, bounded input: every malformed file is one InputError naming file, line and key.

namespace {

// The InputError of loading scenario `text`; fails the test on any other exception.
std::optional<InputError> input_error(const std::string& text) {
  test::TempDir d;
  const auto f = d.write("s.yaml", text);
  try {
    (void)scenario::load_scenario(f, dirs());
  } catch (const InputError& e) {
    return e;
  } catch (const std::exception& e) {
    FAIL("not an InputError: " << e.what());
  }
  return std::nullopt;
}

// A scenario that sets every key a scenario may hold (model inline, every cluster override).
const char* kFull = R"(name: property scenario
model:
  name: tiny-moe
  layers: 4
  hidden: 512
  heads: 8
  kv_heads: 8
  ffn: 2048
  vocab: 1000
  seq_len: 512
  activation: swiglu
  dropout: false
  tied_embeddings: false
  position_embedding: rotary
  experts: 4
  top_k: 2
  moe_ffn: 1024
  shared_experts: 1
  dense_layers: 1
cluster:
  preset: dgx-a100-hdr
  gpus: 64
  gpu: a100-sxm-80gb
  gpus_per_node: 8
  scale_up:
    bandwidth: 300GB/s
    latency: 2us
    efficiency: 0.9
    domain: 8
    nvls_efficiency: 0.5
  scale_out:
    nics_per_node: 8
    nic_bandwidth: 200Gbps
    efficiency: 0.9
    latency: 5us
    topology: fat-tree
    levels: 2
    switch_radix: 40
    oversubscription: 1
    planes: 1
  collectives:
    launch: 37us
    reduction_passes: 3
    p2p_launch: 10us
    loop_bytes: 3MiB
    partial_loop_efficiency: 0.9
training:
  global_batch: 128
  seq_len: 512
  precision: bf16
  attention: flash
  framework: megatron
  overlap_grad_reduce: true
  blocking_p2p: true
  p2p_scatter_gather: true
  capacity_factor: 1.5
search:
  tp: [1, 2]
  pp: {max: 4}
  dp: {min: 1}
  micro_batch: 1
  vpp: [1, 2]
  zero: [0, 1]
  cp: [1]
  ep: [1, 2]
  shard: [0, 8]
  recompute_layers: [0, 1]
  cp_comm: [ring]
  tp_overlap: [false]
  min_cp_tokens: 1024
  sequence_parallel: [false, true]
  recompute: [none]
  schedule: [1f1b]
  order: [tp-cp-ep-dp-pp]
  tp_within_node: true
  max_micro_batch: 8
)";

// One "key: value" line of a YAML text in block style.
struct Leaf {
  int line = 0;                    // 1-based
  std::size_t begin = 0, end = 0;  // the value's bytes in the text
  std::string key;
};

// The block-style "key: value" lines of `text` whose value is on the same line (comments after
// the value are left in place).
std::vector<Leaf> leaves(const std::string& text) {
  std::vector<Leaf> out;
  std::size_t at = 0;
  for (int line = 1; at < text.size(); ++line) {
    const std::size_t nl = std::min(text.find('\n', at), text.size());
    const std::string l = text.substr(at, nl - at);
    const std::size_t k = l.find_first_not_of(" -");
    const std::size_t colon = l.find(": ");
    if (k != std::string::npos && l[k] != '#' && colon != std::string::npos && colon > k) {
      std::size_t v = colon + 2, e = l.find(" #", v);
      if (e == std::string::npos) e = l.size();
      while (e > v && l[e - 1] == ' ') --e;
      if (e > v) out.push_back({line, at + v, at + e, l.substr(k, colon - k)});
    }
    at = nl + 1;
  }
  return out;
}

// The values every key is tried with: empty, zero, negative, not a number, infinite, huge, a list,
// a mapping, a 10 kB string.
std::vector<std::string> bad_values() {
  return {"", "0", "-1", "nan", "inf", "1e300", "[1,2]", "{a: 1}", std::string(10000, 'x')};
}

// Loads every variant of `text` with one leaf's value replaced by each bad value: each must load
// (only where `accepted(key, value)`) or throw an InputError naming that key on that line, in a
// short message; never another exception.
template <class Load, class Accepted>
void every_key_checked(const std::string& name, const std::string& text, Load load, Accepted accepted) {
  test::TempDir d;
  const auto ls = leaves(text);
  REQUIRE(ls.size() > 5);
  for (const Leaf& leaf : ls) {
    for (const std::string& v : bad_values()) {
      std::string t = text;
      t.replace(leaf.begin, leaf.end - leaf.begin, v);
      if (v.empty() && t[leaf.begin - 1] == ' ') t.erase(leaf.begin - 1, 1);  // "key:" with nothing after
      const auto f = d.write(name, t);
      INFO(name << ":" << leaf.line << " " << leaf.key << ": '" << v.substr(0, 20) << "'");
      try {
        load(f);
        CHECK_MESSAGE(accepted(leaf.key, v), "accepted silently");
      } catch (const InputError& e) {
        const std::string what = e.what();
        INFO(what.substr(0, 300));
        CHECK(e.line() == leaf.line);
        CHECK(e.key().find(leaf.key) != std::string::npos);
        CHECK(what.size() < 600);  // a 10 kB value is never echoed whole
        CHECK(what.find('\n') == std::string::npos);
      } catch (const std::exception& e) {
        FAIL("not an InputError: " << e.what());
      }
    }
  }
}

std::string file_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool a_name(const std::string& key, const std::string& v) {
  return key == "name" && (v == "0" || v == "-1" || v == "nan" || v == "inf" || v == "1e300");
}

}  // namespace

TEST_CASE("loader: property: every key of a scenario refuses every bad value with its own line") {
  REQUIRE_FALSE(input_error(kFull));
  every_key_checked("s.yaml", kFull, [](const auto& f) { (void)scenario::load_scenario(f, dirs()); },
                    [](const std::string& key, const std::string& v) {
                      if (a_name(key, v)) return true;
                      // Zero means "no ZeRO", "no hybrid sharding", "all layers", "no leading dense layers".
                      if (v == "0") return key == "zero" || key == "shard" || key == "recompute_layers" ||
                                           key == "dense_layers" || key == "shared_experts";
                      // A list of two sizes is a search constraint.
                      if (v == "[1,2]")
                        return key == "tp" || key == "pp" || key == "dp" || key == "micro_batch" || key == "vpp" ||
                               key == "zero" || key == "cp" || key == "ep" || key == "shard" ||
                               key == "recompute_layers";
                      return false;
                    });
}

TEST_CASE("loader: property: every key of the bundled presets and cards refuses every bad value") {
  const auto gpu = dirs().gpus / "a100-sxm-80gb.yaml";
  every_key_checked("gpu.yaml", file_text(gpu), [](const auto& f) { (void)scenario::load_gpu(f); }, a_name);
  const auto cluster = dirs().clusters / "dgx-a100-hdr.yaml";
  every_key_checked("cluster.yaml", file_text(cluster), [](const auto& f) { (void)scenario::load_cluster(f, dirs(), 64); },
                    a_name);
  const auto card = dirs().models / "deepseek-v3-shaped.yaml";
  every_key_checked("card.yaml", file_text(card), [](const auto& f) { (void)scenario::load_model(f); },
                    [](const std::string& key, const std::string& v) {
                      return a_name(key, v) || (v == "0" && (key == "dense_layers" || key == "shared_experts"));
                    });
}

TEST_CASE("loader: property: mutated scenarios are loaded or refused with an InputError, nothing else") {
  // A fixed-seed byte mutator over a full scenario: flips, deletions, insertions of YAML syntax.
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  const auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const std::string alphabet = ":-[]{},#&*!|>'\"\n \t0123456789.e+x~?%@`\\";
  test::TempDir d;
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    std::string t = kFull;
    for (int m = 1 + static_cast<int>(next() % 4); m > 0; --m) {
      const std::size_t at = next() % t.size();
      switch (next() % 3) {
        case 0: t[at] = alphabet[next() % alphabet.size()]; break;
        case 1: t.erase(at, 1 + next() % 8); break;
        default: t.insert(at, 1, alphabet[next() % alphabet.size()]); break;
      }
    }
    const auto f = d.write("m.yaml", t);
    try {
      (void)scenario::load_scenario(f, dirs());
    } catch (const InputError& e) {
      ++refused;
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    } catch (const std::exception& e) {
      FAIL("mutation " << i << " escaped as " << e.what() << "\n" << t);
    }
  }
  CHECK(refused > 100);  // the mutations do break most files
}

TEST_CASE("loader: only regular files of bounded size are read") {
  test::TempDir d;
  const auto is_error = [](const std::filesystem::path& p, const std::string& what) {
    INFO(p.string().substr(0, 80));
    try {
      (void)scenario::load_scenario(p, dirs());
      FAIL("loaded");
    } catch (const InputError& e) {
      CHECK(std::string(e.what()).find(what) != std::string::npos);
      CHECK(e.line() == 0);
    }
  };
  std::filesystem::create_directory(d.path() / "dir.yaml");
  is_error(d.path() / "dir.yaml", "is a directory");
  REQUIRE(::mkfifo((d.path() / "fifo.yaml").c_str(), 0600) == 0);
  is_error(d.path() / "fifo.yaml", "not a regular file");  // and does not block
  is_error("/dev/zero", "not a regular file");
  is_error(d.path() / "missing.yaml", "no such file");
  is_error(d.path() / (std::string(300, 'a') + ".yaml"), "file name too long");
  is_error(std::filesystem::path(std::string("a\0b.yaml", 8)), "NUL");
  // 16 MiB + 1 byte (sparse): refused before it is read, with the limit in the message.
  const auto big = d.path() / "big.yaml";
  { std::ofstream(big) << "name: x\n"; }
  std::filesystem::resize_file(big, scenario::kMaxYamlBytes + 1);
  is_error(big, "over the 16 MiB limit");
  std::filesystem::resize_file(big, scenario::kMaxYamlBytes);
  CHECK_THROWS_WITH_AS(scenario::read_input_file(big, 1024), doctest::Contains("over the 0 MiB limit"), InputError);
  CHECK(scenario::read_input_file(big, scenario::kMaxYamlBytes).size() == scenario::kMaxYamlBytes);
  // Op tables have their own, larger limit.
  CHECK_THROWS_WITH_AS((void)scenario::load_op_table(d.path() / "dir.yaml"), doctest::Contains("is a directory"), InputError);
  CHECK_THROWS_WITH_AS((void)scenario::load_op_table("/dev/zero"), doctest::Contains("not a regular file"), InputError);
}

TEST_CASE("loader: long names, NULs and paths in card and preset names are InputErrors") {
  const std::string l(300, 'a');
  for (const std::string& bad : {l, l + ".yaml", std::string("gpt\0x", 5), std::string("../gpus/a100-sxm-80gb"),
                                 std::string("a/b"), std::string(".hidden")}) {
    INFO(bad.substr(0, 40));
    const auto model = input_error(with("model: gpt3-175b", "model: \"" + (bad.find('\0') != std::string::npos ? std::string("gpt\\0x") : bad) + "\""));
    REQUIRE(model);
    CHECK(model->line() == 2);
    CHECK(model->key() == "model");
    const auto preset = input_error(with("preset: dgx-a100-hdr", "preset: \"" + (bad.find('\0') != std::string::npos ? std::string("gpt\\0x") : bad) + "\""));
    REQUIRE(preset);
    CHECK(preset->line() == 4);
    CHECK(preset->key() == "cluster.preset");
    const auto gpu = input_error(with("  gpus: 64\n", "  gpus: 64\n  gpu: \"" + (bad.find('\0') != std::string::npos ? std::string("gpt\\0x") : bad) + "\"\n"));
    REQUIRE(gpu);
    CHECK(gpu->key() == "cluster.gpu");
  }
  const auto p = input_error(with("preset: dgx-a100-hdr", "preset: dgx-z"));
  REQUIRE(p);
  CHECK(std::string(p->what()).find("unknown cluster preset 'dgx-z' (known: a100-opa, dgx-a100-hdr, dgx-a100-hdr-2to1,") !=
        std::string::npos);
}

TEST_CASE("loader: a duplicate key in any mapping names its line and the first") {
  auto e = input_error(with("  global_batch: 128\n", "  global_batch: 128\n  global_batch: 256\n"));
  REQUIRE(e);
  CHECK(std::string(e->what()).find("s.yaml:8: training.global_batch: given twice (first on line 7)") != std::string::npos);
  e = input_error(std::string(kScenario) + "name: again\n");
  REQUIRE(e);
  CHECK(std::string(e->what()).find("s.yaml:9: name: given twice (first on line 1)") != std::string::npos);
  e = input_error(with("  gpus: 64\n", "  gpus: 64\n  scale_out: {nic_bandwidth: 400Gbps, nic_bandwidth: 200Gbps}\n"));
  REQUIRE(e);
  CHECK(e->key() == "cluster.scale_out.nic_bandwidth");
  CHECK(e->line() == 6);
  // In a list item's mapping (validation cases, search lists of maps).
  test::TempDir d;
  const auto c = d.write("c.yaml", "version: 1\ncases:\n- id: a\n  id: b\n");
  CHECK_THROWS_WITH_AS((void)scenario::load_cases(c, dirs()), doctest::Contains("c.yaml:4: cases[0].id: given twice"),
                       InputError);
}

TEST_CASE("loader: keys that are not plain names and extra documents are InputErrors") {
  for (const char* key : {"[a, b]", "{a: 1}", "? [a]\n", "*anchor ", "~", "null"}) {
    INFO(key);
    const auto e = input_error(std::string("base: &anchor x\n") + key + ": 3\n" + kScenario);
    REQUIRE(e);
    CHECK(e->line() == 2);
  }
  auto e = input_error(std::string(kScenario) + "---\nname: second\n");
  REQUIRE(e);
  CHECK(std::string(e->what()).find("more than one YAML document") != std::string::npos);
  CHECK(e->line() == 9);
  e = input_error(std::string(kScenario) + "search:\n  tp: " + std::string(3000, '[') + std::string(3000, ']') + "\n");
  REQUIRE(e);  // nesting deeper than yaml-cpp's guard: refused, not a stack overflow
  CHECK(std::string(e->what()).find("malformed YAML") != std::string::npos);
}

TEST_CASE("loader: numbers are finite and in range before any arithmetic") {
  const auto override = [](const std::string& what) { return with("  gpus: 64\n", "  gpus: 64\n  " + what + "\n"); };
  struct Bad {
    std::string text, key, message;
  };
  const std::vector<Bad> bad{
      {override("scale_out: {nic_bandwidth: 1e300Tbps}"), "cluster.scale_out.nic_bandwidth", "out of range"},
      {override("scale_out: {nic_bandwidth: 1e-300bps}"), "cluster.scale_out.nic_bandwidth", "out of range"},
      {override("scale_up: {latency: 2h}"), "cluster.scale_up.latency", "unknown duration unit"},
      {override("scale_up: {latency: 7200s}"), "cluster.scale_up.latency", "out of range"},
      {override("collectives: {reduction_passes: inf}"), "cluster.collectives.reduction_passes", "not a finite number"},
      {override("collectives: {reduction_passes: nan}"), "cluster.collectives.reduction_passes", "not a finite number"},
      {override("collectives: {reduction_passes: 1e300}"), "cluster.collectives.reduction_passes", "between 0.01 and 100"},
      {override("collectives: {reduction_passes: 0}"), "cluster.collectives.reduction_passes", "between 0.01 and 100"},
      {override("collectives: {loop_bytes: 0B}"), "cluster.collectives.loop_bytes", "must be positive"},
      {override("collectives: {loop_bytes: 1e300TB}"), "cluster.collectives.loop_bytes", "out of range"},
      {override("scale_out: {oversubscription: nan}"), "cluster.scale_out.oversubscription", "not a finite number"},
      {override("scale_out: {oversubscription: 1e9}"), "cluster.scale_out.oversubscription", "between 1 and 1024"},
      {override("scale_out: {efficiency: nan}"), "cluster.scale_out.efficiency", "not a finite number"},
      {override("scale_out: {efficiency: 1.5}"), "cluster.scale_out.efficiency", "must be in (0, 1]"},
      {override("scale_out: {switch_radix: 100000}"), "cluster.scale_out.switch_radix", "at most 1024"},
      {override("scale_out: {planes: 0}"), "cluster.scale_out.planes", "positive"},
      {override("scale_out: {nics_per_node: 99999999999}"), "cluster.scale_out.nics_per_node", "at most 1024"},
      {with("  gpus: 64", "  gpus: 2097152"), "cluster.gpus", "at most 1048576"},
      {with("  global_batch: 128", "  global_batch: 1e3"), "training.global_batch", "not an integer"},
      {with("  global_batch: 128", "  global_batch: 16777217"), "training.global_batch", "at most 16777216"},
      {with("  global_batch: 128", "  global_batch: 16777216\n  seq_len: 16384"), "training.global_batch",
       "tokens per step exceeds"},
      {std::string(kScenario) + "search:\n  tp: [0]\n", "search.tp", "sizes are at least 1"},
      {std::string(kScenario) + "search:\n  pp: [1, 0]\n", "search.pp", "sizes are at least 1"},
      {std::string(kScenario) + "search:\n  dp: [0]\n", "search.dp", "sizes are at least 1"},
      {std::string(kScenario) + "search:\n  micro_batch: 0\n", "search.micro_batch", "sizes are at least 1"},
      {std::string(kScenario) + "search:\n  vpp: [0]\n", "search.vpp", "sizes are at least 1"},
      {std::string(kScenario) + "search:\n  cp: [0]\n", "search.cp", "sizes are at least 1"},
      {std::string(kScenario) + "search:\n  tp: {max: 0}\n", "search.tp.max", "positive"},
      {std::string(kScenario) + "search:\n  tp: [2097152]\n", "search.tp", "at most 1048576"},
      {std::string(kScenario) + "search:\n  tp: [8, 8]\n", "search.tp", "listed twice"},
      {std::string(kScenario) + "search:\n  zero: [4]\n", "search.zero", "ZeRO stages are 0-3"},
      {std::string(kScenario) + "search:\n  recompute_layers: [-1]\n", "search.recompute_layers", "must not be negative"},
      {std::string(kScenario) + "search:\n", "search", "must not be empty"},
  };
  for (const Bad& b : bad) {
    INFO(b.key << ": " << b.message);
    const auto e = input_error(b.text);
    REQUIRE(e);
    CHECK(e->key() == b.key);
    CHECK(std::string(e->what()).find(b.message) != std::string::npos);
  }
  // What is fine stays fine: zero: [0], recompute_layers: [0], shard: [0].
  CHECK_FALSE(input_error(std::string(kScenario) + "search:\n  zero: [0]\n  recompute_layers: [0]\n  shard: [0]\n"));
}

TEST_CASE("loader: a MoE capacity factor is finite and at most experts / top_k") {
  test::TempDir d;
  const std::string moe = "name: m\nmodel: mixtral-8x7b\ncluster:\n  preset: dgx-h100-ndr\n  gpus: 64\n"
                          "training:\n  global_batch: 128\n  precision: bf16\n  capacity_factor: ";
  for (const char* v : {"inf", "nan", "0.5", "4.5", "1e300"}) {
    INFO(v);
    const auto e = input_error(moe + v + "\n");
    REQUIRE(e);
    CHECK(e->key() == "training.capacity_factor");
    CHECK(e->line() == 9);
  }
  CHECK_FALSE(input_error(moe + "4\n"));  // 8 experts, top-2: the busiest takes every token
}

TEST_CASE("loader: a huge or binary value is clipped and escaped in the message") {
  const auto e = input_error(with("  precision: bf16", "  precision: \"" + std::string(100000, 'b') + "\\0\\n\\x01\""));
  REQUIRE(e);
  const std::string what = e->what();
  CHECK(what.size() < 300);
  CHECK(what.find("bbbb...") != std::string::npos);
  const auto n = input_error(with("name: test scenario", "name: \"a\\0b\\nc\""));
  REQUIRE(n);
  CHECK(std::string(n->what()).find("'a\\0b\\nc' is not a name") != std::string::npos);
  const auto k = input_error(with("  precision: bf16\n", "  precision: bf16\n  " + std::string(5000, 'k') + ": 1\n"));
  REQUIRE(k);
  CHECK(std::string(k->what()).size() < 400);
  CHECK(k->line() == 9);
  CHECK(topo::printable("ab\x01\xff\xc3\xa9", 0) == "ab\\x01\\xff\xc3\xa9");  // UTF-8 kept, stray bytes escaped
  CHECK(topo::printable(std::string(100, 'z'), 10) == "zzzzzzzzzz...");
}
