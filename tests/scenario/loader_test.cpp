#include <doctest/doctest.h>

#include <stdexcept>

#include <fstream>
#include <sstream>

#include "strata/scenario/loader.hpp"
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
}

TEST_CASE("loader: bad input names the file, line and key") {
  std::string e = error_of(with("  precision: bf16\n", "  precision: bf16\n  colour: blue\n"));
  CHECK(e.find("s.yaml:9: training.colour: unknown key") != std::string::npos);
  e = error_of(with("  global_batch: 128\n", ""));
  CHECK(e.find("training.global_batch: missing required field") != std::string::npos);
  e = error_of(with("  global_batch: 128", "  global_batch: 0"));
  CHECK(e.find(":7: training.global_batch: must be a positive integer") != std::string::npos);
  e = error_of(with("  gpus: 64", "  gpus: 60"));
  CHECK(e.find("cluster.gpus: 60 is not a multiple of gpus_per_node") != std::string::npos);
  e = error_of(with("  gpus: 64\n", "  gpus: 64\n  gpu: x9000\n"));
  CHECK(e.find("cluster.gpu: unknown GPU 'x9000'") != std::string::npos);
  e = error_of(with("  gpus: 64\n", "  gpus: 64\n  scale_out: {nic_bandwidth: 0Gbps}\n"));
  CHECK(e.find("cluster.scale_out.nic_bandwidth: must be positive") != std::string::npos);
  e = error_of(with("  gpus: 64\n", "  gpus: 64\n  scale_out: {nic_bandwidth: 400}\n"));
  CHECK(e.find("has no unit") != std::string::npos);
  e = error_of(with("  precision: bf16", "  precision: fp8"));
  CHECK(e.find("training.precision: GPU a100-sxm-80gb has no fp8 matrix units") != std::string::npos);
  e = error_of(with("model: gpt3-175b", "model: gpt5"));
  CHECK(e.find(":2: model: no model card 'gpt5'") != std::string::npos);
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
  const auto eff = d.write("e.yaml", std::string(gpu).replace(gpu.find("matmul: 0.80"), 12, "matmul: 1.30"));
  CHECK_THROWS_WITH_AS((void)scenario::load_gpu(eff), doctest::Contains("efficiency.matmul: must be in (0, 1]"), InputError);
  const auto cluster = d.write("c.yaml", "name: c\ngpu: a100-sxm-80gb\ngpus_per_node: 8\nscale_up: {latency: 1us}\n"
                                         "scale_out: {nics_per_node: 8, nic_bandwidth: 200Gbps, efficiency: 0.9,"
                                         " latency: 5us, topology: torus}\ncollectives: {launch: 40us, reduction_passes: 4,"
                                         " p2p_launch: 10us}\n");
  CHECK_THROWS_WITH_AS((void)scenario::load_cluster(cluster, dirs()), doctest::Contains("c.yaml:5: scale_out.topology"),
                       InputError);
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
