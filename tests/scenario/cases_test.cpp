#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/scenario/cases.hpp"
#include "strata/strategy/ops.hpp"
#include "strata/strategy/search.hpp"
#include "strata/topo/gpu.hpp"
#include "support.hpp"

using namespace strata;

namespace {
scenario::DataDirs dirs() { return scenario::DataDirs::under(test::source_dir()); }
}  // namespace

TEST_CASE("cases: network descriptions become NICs and line rates") {
  auto r = scenario::parse_scale_out("8x 200 Gb/s HDR InfiniBand HCAs per node (+2 for storage)", 8);
  REQUIRE(r);
  CHECK(r->first == 8);
  CHECK(r->second.value() == 25e9);
  r = scenario::parse_scale_out("RDMA backend network, 400 Gb/s per GPU", 8);
  REQUIRE(r);
  CHECK(r->first == 8);
  CHECK(r->second.value() == 50e9);
  r = scenario::parse_scale_out("Omni-Path (4 OPA links per node), dedicated NCCL subnet", 8);
  REQUIRE(r);
  CHECK(r->first == 4);
  CHECK(r->second.value() == 12.5e9);
  CHECK_FALSE(scenario::parse_scale_out("a fast network", 8));
}

TEST_CASE("cases: scale-out descriptions in the spellings published runs use") {
  struct Want {
    const char* text;
    int nics;
    double gbps;
  };
  for (const Want w : {Want{"8x 200G NICs per server, multi-rail to 8 ToR switches; 3-layer CLOS, RoCE", 8, 200},
                       Want{"8 x HDR InfiniBand", 8, 200}, Want{"4x NDR per node", 4, 400}, Want{"8 × EDR", 8, 100},
                       Want{"2x HDR100 HCAs", 2, 100}, Want{"8x 400GbE RoCE", 8, 400}, Want{"8x400Gbps", 8, 400},
                       Want{"16 x XDR", 16, 800}, Want{"HDR InfiniBand fat tree (Selene)", 8, 200},
                       Want{"NVIDIA Eos, NDR InfiniBand", 8, 400}}) {
    INFO(w.text);
    const auto r = scenario::parse_scale_out(w.text, 8);
    REQUIRE(r);
    CHECK(r->first == w.nics);
    CHECK(r->second.value() == doctest::Approx(w.gbps * 1e9 / 8));
  }
  // Not a NIC count and a line rate: GPU memory, GPU counts, words that only contain a name.
  for (const char* text : {"8x 80GB A100", "8x A100 per node", "Seleneish cluster", "HDRx", "EFA", "RoCE fabric"}) {
    INFO(text);
    CHECK_FALSE(scenario::parse_scale_out(text, 8));
  }
}

TEST_CASE("cases: scale-up descriptions become a per-GPU rate") {
  const auto a100 = scenario::load_gpu(dirs().gpus / "a100-sxm-80gb.yaml");
  const auto h100 = scenario::load_gpu(dirs().gpus / "h100-sxm-80gb.yaml");
  // PCIe x16 per direction: 16 GT/s x 16 lanes / 8 x 128/130 (Gen4), twice that for Gen5.
  const double gen4 = 16e9 * 2 * 128 / 130, gen5 = 2 * gen4;
  struct Want {
    const char* text;
    const topo::GpuSpec* gpu;
    double bandwidth;  // bytes/s per direction
    bool nvswitch;
    bool pcie_efficiency;  // the PCIe copy efficiency replaces the preset's
    bool assumption;
  };
  for (const Want w : {Want{"NVLink/NVSwitch (DGX A100)", &a100, 300e9, true, false, false},
                       Want{"NVLink (fully connected, Grand Teton)", &h100, 450e9, true, false, false},
                       Want{"NVLink 4, 900 GB/s", &h100, 450e9, true, false, false},
                       Want{"NVLink, 450 GB/s per direction", &h100, 450e9, true, false, false},
                       Want{"NVL72, 1.8 TB/s", &h100, 900e9, true, false, false},
                       Want{"PCIe Gen4", &a100, gen4, false, true, true},
                       Want{"PCIe 5.0 x16 switches", &a100, gen5, false, true, true},
                       Want{"pcie", &h100, gen5, false, true, true},
                       Want{"2x A100 PCIe with NVLink bridge pairs", &a100, gen4, false, true, true},
                       Want{"NVLink bridges", &h100, gen5, false, true, true},
                       Want{"NVLink hybrid cube mesh", &a100, 300e9, false, false, true},
                       Want{"a very fast backplane", &a100, 300e9, true, false, true}}) {
    INFO(w.text);
    const auto r = scenario::parse_scale_up(w.text, *w.gpu);
    CHECK(r.bandwidth.value() == doctest::Approx(w.bandwidth));
    CHECK(r.nvswitch == w.nvswitch);
    CHECK(r.efficiency.has_value() == w.pcie_efficiency);
    if (r.efficiency) CHECK(*r.efficiency == doctest::Approx(55.43e9 / gen5));
    CHECK(r.assumption.empty() != w.assumption);
  }
  // A case on PCIe GPUs is scored, at the PCIe rate, without NVLS, with the reading recorded.
  const test::TempDir dir;
  const auto file = dir.write("pcie_case.yaml", R"(version: 1
cases:
- id: pcie_run
  source: a 2024 benchmark
  model: {name: m, layers: 24, hidden: 2048, heads: 16, vocab: 51200, seq_len: 2048}
  cluster: {gpu: h100-sxm-80gb, gpus: 8, gpus_per_node: 8, scale_up: "8x H100 PCIe, Gen5 switches"}
  plan: {tp: 8, pp: 1, dp: 1, micro_batch: 1, global_batch: 8, recompute: none, precision: bf16}
  target: {iteration_s: 1.0}
)");
  const auto cases = scenario::load_cases(file, dirs());
  REQUIRE(cases.size() == 1);
  const auto& c = cases.front();
  CHECK_FALSE(c.unsupported);
  CHECK(c.cluster.scale_up.bandwidth.value() == doctest::Approx(gen5));
  CHECK(c.cluster.scale_up.nvls_efficiency == 0);
  CHECK(std::any_of(c.assumptions.begin(), c.assumptions.end(),
                    [](const std::string& a) { return a.find("PCIe Gen5 x16") != std::string::npos; }));
}

TEST_CASE("cases: the calibration set loads with every case classified") {
  const auto cases = scenario::load_cases(test::validation_dir() / "calibration.yaml", dirs());
  CHECK(cases.size() >= 70);
  for (const auto& c : cases) CHECK_MESSAGE(!c.invalid, c.id << ": " << c.invalid.value_or(""));
  std::map<std::string, const scenario::ValidationCase*> by_id;
  for (const auto& c : cases) by_id[c.id] = &c;

  const auto* t1 = by_id.at("narayanan2021_table1_145.6B");
  CHECK_FALSE(t1->unsupported);
  CHECK(t1->model.layers == 80);
  CHECK(t1->model.ffn == 4 * 12288);
  CHECK(t1->cluster.gpus == 1536);
  CHECK(t1->cluster.scale_out.nics_per_node == 8);
  CHECK(t1->space.tp.values == std::vector<int>{8});
  CHECK(t1->space.micro_batch.values.empty());  // not published: searched
  CHECK(t1->target_iteration_s == doctest::Approx(24.82));
  CHECK(t1->training.attention == strategy::AttentionKernel::unfused);

  // Context parallelism is fixed where published; missing dimensions are reported, not guessed.
  const auto* cp = by_id.at("torchtitan_2024-12_table2_8B_4");
  CHECK_FALSE(cp->unsupported);
  CHECK(cp->space.cp.values == std::vector<int>{2});
  CHECK(cp->measured_peak_memory_gib == doctest::Approx(84.2));
  CHECK(by_id.at("narayanan2021_fig16_B128_mbs1")->unsupported->find("dimensions") != std::string::npos);
  // Runs from before TP overlap and zero-bubble schedules existed do not search them.
  CHECK(t1->space.tp_overlap == std::vector<bool>{false});
  CHECK(std::find(t1->space.schedule.begin(), t1->space.schedule.end(), strategy::Schedule::zb_h1) ==
        t1->space.schedule.end());

  // A Llama case without activation or vocabulary takes them from the card of the same shape.
  const auto* tt = by_id.at("torchtitan_2024-12_table1_8B_0");
  CHECK(tt->model.activation == strategy::Activation::swiglu);
  CHECK(tt->model.vocab == 128256);
  CHECK(tt->training.framework == strategy::Framework::torchtitan);
  CHECK(tt->cluster.gpu.name == "h100-sxm-96gb-500w");

  // BLOOM ran on Omni-Path: 4 x 100 Gb/s per node.
  const auto* bloom = by_id.at("bloom176b_production_48nodes");
  CHECK(bloom->cluster.scale_out.nics_per_node == 4);
  CHECK(bloom->model.vocab == 250880);

  // What each framework's release did (docs/modeling.md, "What frameworks add").
  auto traffic = [](const scenario::ValidationCase* c) {
    const auto& t = c->training.step_traffic;
    return std::vector<double>{t.accumulate, t.buffer, t.optimizer};
  };
  // Megatron-LM 2021, fp16: no distributed optimizer yet, activations scattered over TP ranks.
  CHECK(t1->training.framework == strategy::Framework::megatron);
  CHECK(t1->space.zero.values == std::vector<int>{0});
  CHECK(traffic(t1) == std::vector<double>{6, 12, 52});
  CHECK(t1->training.p2p_scatter_gather);
  // Megatron-LM 2020: apex-style FP16_Optimizer, no pipeline scatter/gather yet.
  const auto* v1 = by_id.at("megatron_readme_2020-09_dgxa100_mp_1B");
  CHECK(traffic(v1) == std::vector<double>{6, 12, 62});
  CHECK_FALSE(v1->training.p2p_scatter_gather);
  // Megatron-DeepSpeed: BF16_Optimizer, partitioned pipeline activations.
  CHECK(bloom->training.framework == strategy::Framework::megatron_deepspeed);
  CHECK(traffic(bloom) == std::vector<double>{18, 20, 34});
  CHECK(bloom->training.p2p_scatter_gather);
  CHECK(bloom->space.zero.values == std::vector<int>{1});  // as published, not forced to 0
  // torchtitan: FSDP2's shard only.
  CHECK(traffic(tt) == std::vector<double>{0, 0, 40});
  for (const auto* c : {t1, v1, bloom, tt}) {
    INFO(c->id);
    CHECK(std::any_of(c->assumptions.begin(), c->assumptions.end(),
                      [](const std::string& a) { return a.rfind("step traffic per parameter: ", 0) == 0; }));
  }

  // Rank groups keep their published throughput.
  const auto* f14 = by_id.at("narayanan2021_fig14_B512_p4_d16");
  CHECK(f14->rank_group == "narayanan2021_fig14_B512");
  CHECK(f14->measured_rank_value == doctest::Approx(141.1));
}

TEST_CASE("cases: a malformed case names file, line and key, and the other cases still load") {
  test::TempDir d;
  const auto f = d.write("c.yaml", "version: 1\ncases:\n- id: x\n  model: {layers: 2, hidden: 64, heads: 4}\n"
                                   "  cluster: {gpu: a100-sxm-80gb, gpus: many, gpus_per_node: 8}\n  plan: {tp: 1}\n"
                                   "- id: y\n  model: {layers: 2, hidden: 64, heads: 4}\n"
                                   "  cluster: {gpu: a100-sxm-80gb, gpus: 8, gpus_per_node: 8}\n  plan: {tp: 1}\n");
  const auto cases = scenario::load_cases(f, dirs());
  REQUIRE(cases.size() == 2);
  CHECK(cases[0].id == "x");
  CHECK(cases[0].line == 3);
  REQUIRE(cases[0].invalid);
  CHECK(cases[0].invalid->find("c.yaml:5: cases[0].cluster.gpus: 'many' is not an integer") != std::string::npos);
  CHECK_FALSE(cases[1].invalid);
  CHECK_FALSE(cases[1].unsupported);
  // The file's own structure still fails the whole file.
  const auto v = d.write("v.yaml", "version: 2\ncases: []\n");
  CHECK_THROWS_AS((void)scenario::load_cases(v, dirs()), scenario::InputError);
  const auto l = d.write("l.yaml", "version: 1\ncases: {a: 1}\n");
  CHECK_THROWS_WITH_AS((void)scenario::load_cases(l, dirs()), doctest::Contains("l.yaml:2: cases: expected a list"),
                       scenario::InputError);
  const auto m = d.write("m.yaml", "version: 1\ncases: [\n");
  CHECK_THROWS_WITH_AS((void)scenario::load_cases(m, dirs()), doctest::Contains("malformed YAML"), scenario::InputError);
}

TEST_CASE("cases: an unknown GPU or plan field makes the case unsupported, not the file invalid") {
  test::TempDir d;
  const auto f = d.write("c.yaml",
                         "version: 1\ncases:\n- id: a\n  model: {layers: 2, hidden: 64, heads: 4}\n"
                         "  cluster: {gpu: x9000, gpus: 8, gpus_per_node: 8}\n  plan: {tp: 1, global_batch: 8}\n"
                         "- id: b\n  model: {layers: 2, hidden: 64, heads: 4}\n"
                         "  cluster: {gpu: a100-sxm-80gb, gpus: 8, gpus_per_node: 8}\n  plan: {tp: 1, ep: 4, global_batch: 8}\n");
  const auto cases = scenario::load_cases(f, dirs());
  REQUIRE(cases.size() == 2);
  CHECK(cases[0].unsupported->find("unknown GPU 'x9000'") != std::string::npos);
  CHECK(cases[1].unsupported->find("plan.ep is not modelled") != std::string::npos);
}

namespace {

const char* kCase = "- id: ID\n  model: {layers: 2, hidden: 64, heads: 4}\n"
                    "  cluster: {gpu: a100-sxm-80gb, gpus: 16, gpus_per_node: 8}\n  plan: {tp: 1, global_batch: 8}\n";

// A file of one good case "ok" and the case `bad` (a YAML list item) after it.
std::vector<scenario::ValidationCase> with_case(const std::string& bad) {
  test::TempDir d;
  std::string ok = kCase;
  ok.replace(ok.find("ID"), 2, "ok");
  const auto f = d.write("c.yaml", "version: 1\ncases:\n" + ok + bad);
  return scenario::load_cases(f, dirs());
}

std::string invalid_of(const std::string& bad) {
  const auto cases = with_case(bad);
  REQUIRE(cases.size() == 2);
  CHECK_FALSE(cases[0].invalid);
  return cases[1].invalid.value_or("");
}

std::string replaced(const std::string& from, const std::string& to) {
  std::string s = kCase;
  s.replace(s.find("ID"), 2, "bad");
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("cases: zero, negative and oversized model shapes are invalid cases, not a division by zero") {
  for (const char* shape : {"layers: 2, hidden: 64, heads: 0", "layers: 2, hidden: 64, heads: -4",
                            "layers: 2, hidden: 64, heads: 4, kv_heads: 0", "layers: 0, hidden: 64, heads: 4",
                            "layers: 2, hidden: -64, heads: 4", "layers: 99999999999, hidden: 64, heads: 4",
                            "layers: 2, hidden: 2097152, heads: 4", "layers: 2, hidden: 64, heads: 4, vocab: 0",
                            "layers: 2, hidden: 64, heads: 4, seq_len: -1", "layers: 2, hidden: 64, heads: 4, ffn: 0"}) {
    INFO(shape);
    std::string s = replaced("layers: 2, hidden: 64, heads: 4", shape);
    const std::string why = invalid_of(s);
    CHECK(why.find("c.yaml:8: cases[1].model.") != std::string::npos);
  }
  // kv_heads that do not divide heads: unsupported, as before (the case is well-formed).
  const auto cases = with_case(replaced("heads: 4", "heads: 4, kv_heads: 3"));
  CHECK_FALSE(cases[1].invalid);
  REQUIRE(cases[1].unsupported);
  CHECK(cases[1].unsupported->find("inconsistent") != std::string::npos);
}

TEST_CASE("cases: counts that do not fit and out-of-range plan fields make the case invalid") {
  CHECK(invalid_of(replaced("gpus_per_node: 8}", "gpus_per_node: 8, scale_out: 99999999999x 200 Gb/s}"))
            .find("cases[1].cluster.scale_out: '99999999999x 200 Gb/s': 99999999999 NICs per node is out of range") !=
        std::string::npos);
  CHECK(invalid_of(replaced("gpus_per_node: 8}", "gpus_per_node: 8, scale_out: 8x 99999999999999 Gb/s}")).find("out of range") !=
        std::string::npos);
  CHECK(invalid_of(replaced("gpus: 16", "gpus: 0")).find("cases[1].cluster.gpus: must be a positive integer") !=
        std::string::npos);
  CHECK(invalid_of(replaced("tp: 1", "tp: 0")).find("cases[1].plan.tp: must be a positive integer") != std::string::npos);
  CHECK(invalid_of(replaced("tp: 1", "zero: 7")).find("cases[1].plan.zero: must be at most 3") != std::string::npos);
  CHECK(invalid_of(replaced("tp: 1", "tp: 1, cp: 0")).find("cases[1].plan.cp") != std::string::npos);
  // dp x micro_batch x 8 x pp when the batch is not published: computed in 64 bits and bounded.
  CHECK(invalid_of(replaced("tp: 1, global_batch: 8", "dp: 1048576, micro_batch: 1048576, pp: 1048576"))
            .find("above 16777216") != std::string::npos);
  CHECK(invalid_of("- id: bad\n  model: {layers: 2, hidden: 64, heads: 4}\n  cluster: 3\n  plan: {}\n")
            .find("cases[1].cluster: expected a mapping") != std::string::npos);
  for (const char* m : {"tflops_per_gpu: nan", "tflops_per_gpu: inf", "tflops_per_gpu: 12abc", "peak_memory_gib: -1",
                        "tokens_per_s_per_gpu: 1e300"}) {
    INFO(m);
    CHECK(invalid_of(replaced("global_batch: 8}\n", std::string("global_batch: 8}\n  measured: {") + m + "}\n"))
              .find("cases[1].measured.") != std::string::npos);
  }
  CHECK(invalid_of(replaced("global_batch: 8}\n", "global_batch: 8}\n  target: {iteration_s: nan}\n"))
            .find("cases[1].target.iteration_s: '") != std::string::npos);
  CHECK_THROWS_AS((void)scenario::parse_scale_out("99999999999x 200 Gb/s", 8), std::invalid_argument);
  CHECK_THROWS_AS((void)scenario::parse_scale_out("0x 200 Gb/s", 8), std::invalid_argument);
}

TEST_CASE("cases: an unreadable case keeps its id if it has one, else its position; a duplicate id is invalid") {
  std::string again = kCase;
  again.replace(again.find("ID"), 2, "ok");
  const auto cases = with_case("- 42\n- id: \"" + std::string(300, 'i') + "\"\n" + again);
  REQUIRE(cases.size() == 4);
  CHECK(cases[1].id == "cases[1]");
  CHECK(cases[1].invalid->find("cases[1]: expected a mapping") != std::string::npos);
  CHECK(cases[2].id == "cases[2]");
  CHECK(cases[2].invalid->find("is not a name") != std::string::npos);
  CHECK(cases[3].id == "ok");
  CHECK(cases[3].invalid->find("cases[3].id: duplicate id 'ok'") != std::string::npos);
  CHECK_FALSE(cases[0].invalid);
}

TEST_CASE("cases: a long note or source is scanned without recursion") {
  // std::regex recursed per character of a digit run and overflowed the stack on long scalars.
  const std::string note(1 << 20, '7');
  const auto cases = with_case(replaced("plan:", "notes: [\"" + note + " 2021\"]\n  source: \"" + note + "\"\n  plan:"));
  REQUIRE(cases.size() == 2);
  CHECK_FALSE(cases[1].invalid);
  CHECK(cases[1].training.precision == topo::Precision::fp16);  // the year 2021 was found at the end of the note
  CHECK_FALSE(scenario::parse_scale_out(note, 8));
}

TEST_CASE("cases: property: every field of a case refuses bad values on its own line, never throws") {
  const std::string good = "version: 1\ncases:\n- id: p\n  source: \"torchtitan 2024\"\n  trust: high\n  rank_group: g\n"
                           "  model:\n    name: m\n    layers: 2\n    hidden: 64\n    heads: 4\n    kv_heads: 4\n"
                           "    ffn: 256\n    vocab: 1000\n    seq_len: 512\n    activation: gelu\n"
                           "  cluster:\n    gpu: a100-sxm-80gb\n    gpus: 16\n    gpus_per_node: 8\n"
                           "    scale_up: NVLink 3\n    scale_out: 8x 200 Gb/s HDR\n"
                           "  plan:\n    tp: 1\n    pp: 2\n    dp: 8\n    cp: 1\n    vpp: 1\n    micro_batch: 1\n"
                           "    global_batch: 16\n    sequence_parallel: false\n    recompute: none\n    zero: 0\n"
                           "    schedule: 1f1b\n    precision: bf16\n"
                           "  measured:\n    tflops_per_gpu: 100\n    peak_memory_gib: 30\n  target:\n    iteration_s: 1.5\n";
  test::TempDir d;
  {
    const auto cases = scenario::load_cases(d.write("c.yaml", good), dirs());
    REQUIRE(cases.size() == 1);
    REQUIRE_FALSE(cases[0].invalid);
    REQUIRE_FALSE(cases[0].unsupported);
  }
  std::size_t at = 0;
  int line = 1, checked = 0;
  for (; at < good.size(); ++line) {
    const std::size_t nl = good.find('\n', at);
    const std::string l = good.substr(at, nl - at);
    const std::size_t colon = l.find(": ");
    if (line > 2 && colon != std::string::npos) {
      for (const std::string& v : {std::string(""), std::string("0"), std::string("-1"), std::string("nan"),
                                   std::string("inf"), std::string("1e300"), std::string("[1,2]"),
                                   std::string("{a: 1}"), std::string(10000, 'x')}) {
        std::string t = good;
        t.replace(at + colon + 1, l.size() - colon - 1, v.empty() ? "" : " " + v);
        INFO(line << ": " << l << " -> " << v.substr(0, 20));
        std::vector<scenario::ValidationCase> cases;
        try {
          cases = scenario::load_cases(d.write("c.yaml", t), dirs());
        } catch (const std::exception& e) {
          FAIL("the whole file failed: " << e.what());
        }
        REQUIRE(cases.size() == 1);
        if (cases[0].invalid) {
          ++checked;
          CHECK(cases[0].invalid->find("c.yaml:" + std::to_string(line) + ": ") != std::string::npos);
          CHECK(cases[0].invalid->size() < 600);
        }
      }
    }
    at = nl + 1;
  }
  CHECK(checked > 100);
}

TEST_CASE("cases: every published plan field is kept by the search, a published vpp > 1 as interleaving") {
  // Each variant publishes some plan fields; every plan the search may pick (every feasible
  // candidate) must carry exactly those values.
  struct Variant {
    std::string plan;
    std::function<bool(const strategy::Plan&)> keeps;
  };
  const std::vector<Variant> variants{
      {"{tp: 2, pp: 2, dp: 4, cp: 1, vpp: 2, micro_batch: 1, zero: 1, sequence_parallel: true, recompute: selective, "
       "global_batch: 64}",
       [](const strategy::Plan& p) {
         return p.tp == 2 && p.pp == 2 && p.dp == 4 && p.cp == 1 && p.vpp == 2 && p.micro_batch == 1 && p.zero == 1 &&
                p.sequence_parallel && p.recompute == strategy::Recompute::selective &&
                p.schedule == strategy::Schedule::interleaved;
       }},
      {"{pp: 4, vpp: 2, global_batch: 64}",
       [](const strategy::Plan& p) { return p.pp == 4 && p.vpp == 2 && p.schedule == strategy::Schedule::interleaved; }},
      {"{pp: 2, schedule: 1f1b, global_batch: 64}",
       [](const strategy::Plan& p) { return p.pp == 2 && p.vpp == 1 && p.schedule == strategy::Schedule::one_f_one_b; }},
      {"{pp: 2, schedule: gpipe, recompute: full, zero: 0, global_batch: 64}",
       [](const strategy::Plan& p) {
         return p.pp == 2 && p.schedule == strategy::Schedule::gpipe && p.recompute == strategy::Recompute::full &&
                p.zero == 0;
       }},
      {"{tp: 4, sequence_parallel: false, micro_batch: 2, global_batch: 64}",
       [](const strategy::Plan& p) { return p.tp == 4 && !p.sequence_parallel && p.micro_batch == 2; }},
      {"{cp: 2, dp: 8, global_batch: 64}", [](const strategy::Plan& p) { return p.cp == 2 && p.dp == 8; }},
  };
  for (const auto& v : variants) {
    INFO("plan: " << v.plan);
    test::TempDir d;
    const auto f = d.write("c.yaml", "version: 1\ncases:\n- id: v\n  source: test 2024\n"
                                     "  model: {layers: 8, hidden: 1024, heads: 16, seq_len: 2048}\n"
                                     "  cluster: {gpu: a100-sxm-80gb, gpus: 16, gpus_per_node: 8}\n  plan: " +
                                         v.plan + "\n");
    const auto cases = scenario::load_cases(f, dirs());
    REQUIRE(cases.size() == 1);
    const auto& c = cases[0];
    REQUIRE_FALSE(c.invalid);
    REQUIRE_FALSE(c.unsupported);
    CHECK(c.training.global_batch == 64);
    const strategy::RooflineCost cost(c.cluster.gpu, c.training.precision);
    const strategy::Problem pb{c.model, c.training, c.cluster, &cost};
    const auto e = strategy::enumerate_plans(pb, c.space);
    std::string refused;
    for (const auto& [why, n] : e.infeasible) refused += why + ": " + std::to_string(n) + "; ";
    INFO("refused: " << refused);
    REQUIRE_FALSE(e.feasible.empty());
    for (const auto& cand : e.feasible) {
      INFO(cand.plan.to_string());
      CHECK(v.keeps(cand.plan));
    }
    // The search itself keeps a fixed vpp > 1 even with every schedule open (as in a scenario's
    // `search: {vpp: [2]}`): the other schedules are refused, not run with vpp=1.
    if (c.space.vpp.values == std::vector<int>{2}) {
      strategy::SearchSpace open = c.space;
      open.schedule.clear();
      const auto all = strategy::enumerate_plans(pb, open);
      REQUIRE_FALSE(all.feasible.empty());
      for (const auto& cand : all.feasible) {
        INFO(cand.plan.to_string());
        CHECK(cand.plan.vpp == 2);
        CHECK(cand.plan.schedule == strategy::Schedule::interleaved);
      }
      CHECK(all.infeasible.count("vpp needs the interleaved schedule") == 1);
    }
  }
}
