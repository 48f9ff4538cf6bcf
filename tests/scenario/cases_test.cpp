#include <doctest/doctest.h>

#include <algorithm>

#include <stdexcept>

#include <map>

#include "strata/scenario/cases.hpp"
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

TEST_CASE("cases: the calibration set loads with every case classified") {
  const auto cases = scenario::load_cases(test::validation_dir() / "calibration.yaml", dirs());
  CHECK(cases.size() >= 70);
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

  // Rank groups keep their published throughput.
  const auto* f14 = by_id.at("narayanan2021_fig14_B512_p4_d16");
  CHECK(f14->rank_group == "narayanan2021_fig14_B512");
  CHECK(f14->measured_rank_value == doctest::Approx(141.1));
}

TEST_CASE("cases: a malformed case file names file, line and key") {
  test::TempDir d;
  const auto f = d.write("c.yaml", "version: 1\ncases:\n- id: x\n  model: {layers: 2, hidden: 64, heads: 4}\n"
                                   "  cluster: {gpu: a100-sxm-80gb, gpus: many, gpus_per_node: 8}\n  plan: {tp: 1}\n");
  try {
    (void)scenario::load_cases(f, dirs());
    FAIL("expected an InputError");
  } catch (const scenario::InputError& e) {
    CHECK(std::string(e.what()).find("c.yaml:5: cases[0].cluster.gpus: 'many' is not an integer") != std::string::npos);
  }
  const auto v = d.write("v.yaml", "version: 2\ncases: []\n");
  CHECK_THROWS_AS((void)scenario::load_cases(v, dirs()), scenario::InputError);
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
