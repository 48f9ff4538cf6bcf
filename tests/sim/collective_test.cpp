#include <doctest/doctest.h>

#include <stdexcept>

#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "network.hpp"
#include "strata/sim/collective.hpp"
#include "support.hpp"

using namespace strata::sim;

namespace {
NetworkSpec net() { return strata::test::network(1024); }
}  // namespace

TEST_CASE("collective: ring all-reduce moves 2(n-1)/n of the buffer per rank") {
  for (int n : {2, 3, 4, 8}) {
    const auto c = lower({CollectiveOp::all_reduce, Bytes(1e9), {n, n}, Algorithm::ring}, net());
    CHECK(c.load.scale_up.value() == doctest::Approx(2.0 * (n - 1) / n * 1e9));
    CHECK(c.load.scale_out.value() == 0.0);
    CHECK(c.steps == 2 * (n - 1));
  }
}

TEST_CASE("collective: across nodes a member's NIC carries 1/g of what it sends") {
  // 32 ranks, 8 per node: each rank sends 2*31/32 S; 7/8 of it stays on NVLink.
  const auto c = lower({CollectiveOp::all_reduce, Bytes(1e9), {32, 8}, Algorithm::ring}, net());
  const double sent = 2.0 * 31 / 32 * 1e9;
  CHECK(c.load.scale_up.value() == doctest::Approx(sent * 7 / 8));
  CHECK(c.load.scale_out.value() == doctest::Approx(sent / 8));
  // One rank per node: everything crosses the NIC.
  const auto rail = lower({CollectiveOp::all_reduce, Bytes(1e9), {16, 1}, Algorithm::ring}, net());
  CHECK(rail.load.scale_up.value() == 0.0);
  CHECK(rail.load.scale_out.value() == doctest::Approx(2.0 * 15 / 16 * 1e9));
}

TEST_CASE("collective: all-gather and reduce-scatter move (n-1)/n; together they equal an all-reduce") {
  const auto ag = lower({CollectiveOp::all_gather, Bytes(8e8), {8, 8}}, net());
  const auto rs = lower({CollectiveOp::reduce_scatter, Bytes(8e8), {8, 8}}, net());
  const auto ar = lower({CollectiveOp::all_reduce, Bytes(8e8), {8, 8}}, net());
  CHECK(ag.load.scale_up.value() == doctest::Approx(7.0 / 8 * 8e8));
  CHECK((ag.load.scale_up + rs.load.scale_up).value() == doctest::Approx(ar.load.scale_up.value()));
  CHECK(ag.steps + rs.steps == ar.steps);
}

TEST_CASE("collective: a one-rank group and an empty buffer cost nothing") {
  const auto one = lower({CollectiveOp::all_reduce, Bytes(1e9), {1, 1}}, net());
  CHECK(isolated_time(one, net()).value() == 0.0);
  const auto empty = lower({CollectiveOp::all_gather, Bytes(0), {8, 8}}, net());
  CHECK(isolated_time(empty, net()).value() == 0.0);
  CHECK(p2p_time(Bytes(0), false, net()).value() == 0.0);
}

TEST_CASE("collective: isolated time is latency plus the slower port") {
  const NetworkSpec n = net();
  const auto c = lower({CollectiveOp::all_reduce, Bytes(1e9), {16, 8}, Algorithm::ring}, n);
  const double sent = 2.0 * 15 / 16 * 1e9;
  const double up = sent * 7 / 8 / 300e9, out = sent / 8 / 25e9;
  // 30 ring steps, of which 2(m-1) = 2 cross between the two nodes (NCCL's nInterSteps).
  const double fixed = 40e-6 + 28 * 2e-6 + 2 * 5e-6 + 1e9 / 500e9;
  CHECK(isolated_time(c, n).value() == doctest::Approx(fixed + std::max(up, out)));
  // One rank per node: every step crosses; reduce-scatter crosses m-1 of its n-1 steps.
  const auto rail = lower({CollectiveOp::all_reduce, Bytes(1e6), {4, 1}, Algorithm::ring}, n);
  CHECK(rail.fixed.value() == doctest::Approx(40e-6 + 6 * 5e-6 + 1e6 / 500e9));
  const auto rs = lower({CollectiveOp::reduce_scatter, Bytes(1e6), {32, 8}, Algorithm::ring}, n);
  CHECK(rs.fixed.value() == doctest::Approx(40e-6 + 28 * 2e-6 + 3 * 5e-6 + 0.5e6 / 500e9));
  CHECK(p2p_time(Bytes(25e6), false, n).value() == doctest::Approx(10e-6 + 5e-6 + 1e-3));
  CHECK(p2p_time(Bytes(30e6), true, n).value() == doctest::Approx(10e-6 + 2e-6 + 1e-4));
}

TEST_CASE("collective: inconsistent group shapes are rejected") {
  CHECK_THROWS_AS(lower({CollectiveOp::all_reduce, Bytes(1), {12, 8}}, net()), std::invalid_argument);
  CHECK_THROWS_AS(lower({CollectiveOp::all_reduce, Bytes(1), {0, 1}}, net()), std::invalid_argument);
}

TEST_CASE("collective: hierarchical, tree and NVLS move what their closed forms say") {
  NetworkSpec n = net();
  n.nvls_bw = ByteRate(200e9);
  const double S = 1e9;
  // Hierarchical all-reduce over 4 domains x 8: 2(g-1)/g S on NVLink, 2(m-1)/m S/g per NIC.
  const auto h = lower({CollectiveOp::all_reduce, Bytes(S), {32, 8}, Algorithm::hierarchical}, n);
  CHECK(h.load.scale_up.value() == doctest::Approx(2.0 * 7 / 8 * S));
  CHECK(h.load.scale_out.value() == doctest::Approx(2.0 * 3 / 4 * S / 8));
  CHECK(h.steps == 2 * (7 + 3));
  // Double binary tree over 16 domains: the busiest domain has 4 edges of S/2 each way over g NICs.
  const auto t = lower({CollectiveOp::all_reduce, Bytes(S), {16, 1}, Algorithm::tree}, n);
  CHECK(t.load.scale_out.value() == doctest::Approx(2.0 * S));
  CHECK(t.steps == 2 * 4);
  const auto t2 = lower({CollectiveOp::all_reduce, Bytes(S), {2, 1}, Algorithm::tree}, n);
  CHECK(t2.load.scale_out.value() == doctest::Approx(S));
  // NVLS: the buffer once each way at the NVLS rate, expressed at the NVLink rate.
  const auto v = lower({CollectiveOp::all_reduce, Bytes(S), {8, 8}, Algorithm::nvls}, n);
  CHECK((v.load.scale_up / n.scale_up_bw).value() == doctest::Approx(S / 200e9));
  // Algorithms that do not apply are refused; automatic picks the fastest that does.
  CHECK_THROWS_AS(lower({CollectiveOp::all_reduce, Bytes(S), {8, 8}, Algorithm::tree}, n), std::invalid_argument);
  CHECK_THROWS_AS(lower({CollectiveOp::all_to_all, Bytes(S), {8, 8}, Algorithm::ring}, n), std::invalid_argument);
  for (auto shape : {GroupShape{8, 8}, GroupShape{64, 8}, GroupShape{1024, 1}, GroupShape{4, 2}}) {
    const auto best = lower({CollectiveOp::all_reduce, Bytes(1e6), shape}, n);
    for (auto a : {Algorithm::ring, Algorithm::tree, Algorithm::nvls, Algorithm::hierarchical}) {
      if (!applicable(a, CollectiveOp::all_reduce, shape, n)) continue;
      CHECK(isolated_time(best, n) <= isolated_time(lower({CollectiveOp::all_reduce, Bytes(1e6), shape, a}, n), n));
    }
  }
  // At 1024 ranks the ring's 2046 latency steps lose to the tree's log-depth.
  CHECK(lower({CollectiveOp::all_reduce, Bytes(1e6), {1024, 1}}, n).algorithm == Algorithm::tree);
}

TEST_CASE("collective: flows carry each member's port load, and a non-blocking fabric gives the isolated time") {
  const NetworkSpec n = net();
  const auto fabric = n.links();
  LinkLoads loads(*fabric);
  for (auto a : {Algorithm::ring, Algorithm::hierarchical, Algorithm::tree}) {
    const Collective c{CollectiveOp::all_reduce, Bytes(1e9), {16, 4}, a};
    const auto cost = lower(c, n);
    std::vector<int> members;
    for (int node = 0; node < 4; ++node)
      for (int k = 0; k < 4; ++k) members.push_back(node * 8 + k);
    std::vector<Flow> flows;
    append_flows(c, cost, members, n, flows);
    CAPTURE(to_string(a));
    CHECK(fabric_time(cost, flows, loads).value() == doctest::Approx(isolated_time(cost, n).value()));
  }
  // all-to-all: n(n-1) pairs collapse to one flow per member and destination domain.
  const Collective a2a{CollectiveOp::all_to_all, Bytes(8e8), {16, 8}};
  std::vector<int> members(16);
  for (int i = 0; i < 16; ++i) members[static_cast<std::size_t>(i)] = i;
  std::vector<Flow> flows;
  append_flows(a2a, lower(a2a, n), members, n, flows);
  CHECK(flows.size() == 16 * 7 + 16);
  CHECK(fabric_time(lower(a2a, n), flows, loads).value() == doctest::Approx(isolated_time(lower(a2a, n), n).value()));
  // Members must match the shape.
  flows.clear();
  CHECK_THROWS_AS(append_flows(a2a, lower(a2a, n), {0, 1, 2}, n, flows), std::invalid_argument);
}

TEST_CASE("collective: a partial NCCL loop runs at the partial-loop efficiency") {
  NetworkSpec n = net();
  n.loop_bytes = Bytes(3 * kMiB);
  n.partial_loop_efficiency = 0.5;
  const auto small = lower({CollectiveOp::all_reduce, Bytes(8 * 2 * kMiB), {8, 8}, Algorithm::ring}, n);
  const auto full = lower({CollectiveOp::all_reduce, Bytes(8 * 3 * kMiB), {8, 8}, Algorithm::ring}, n);
  CHECK(small.load.scale_up.value() == doctest::Approx(2.0 * 7 / 8 * 16 * kMiB / 0.5));
  CHECK(full.load.scale_up.value() == doctest::Approx(2.0 * 7 / 8 * 24 * kMiB));
}

TEST_CASE("collective: a tree's partial loop counts a domain head's bytes, not a rank's") {
  NetworkSpec n = net();
  n.loop_bytes = Bytes(3 * kMiB);
  n.partial_loop_efficiency = 0.5;
  // 64 ranks, 8 per node: 32 MiB is 0.5 MiB per rank (a partial ring loop) but 4 MiB per head.
  const double S = 32 * kMiB;
  const auto tree = lower({CollectiveOp::all_reduce, Bytes(S), {64, 8}, Algorithm::tree}, n);
  CHECK(tree.load.scale_out.value() == doctest::Approx(4 * S / 16));
  const auto ring = lower({CollectiveOp::all_reduce, Bytes(S), {64, 8}, Algorithm::ring}, n);
  CHECK(ring.load.scale_out.value() == doctest::Approx(2.0 * 63 / 64 * S / 8 / 0.5));
  // 16 MiB is 2 MiB per head: partial. (The busiest of 8 domains has 4 tree edges.)
  const auto small = lower({CollectiveOp::all_reduce, Bytes(S / 2), {64, 8}, Algorithm::tree}, n);
  CHECK(small.load.scale_out.value() == doctest::Approx(4 * S / 32 / 0.5));
}

TEST_CASE("collective: NVLSTree latency is NCCL's intra term, 2 log2(m) hops, and one chunk per hop") {
  NetworkSpec n = net();
  n.nvls_bw = ByteRate(200e9);
  n.tree_latency = Seconds(14e-6);
  n.nvls_tree_latency = Seconds(23e-6);
  n.nvls_channels = 16;
  n.nvls_tree_chunk = Bytes(64 * 1024);
  // 32 nodes x 8: depth 5; 1 GiB is far above 16 x 8 x 64 KiB, so the chunk is 64 KiB and
  // each of the 10 hops adds 64 KiB on 1/16 of the 25 GB/s NIC.
  const double S = 1024 * kMiB;
  const auto big = lower({CollectiveOp::all_reduce, Bytes(S), {256, 8}, Algorithm::tree}, n);
  const double hop = 14e-6 + 64 * 1024 * 16 / 25e9;
  CHECK(big.fixed.value() == doctest::Approx(40e-6 + 23e-6 + 10 * hop + S / 500e9));
  // Under 16 x 8 x 64 KiB = 8 MiB NCCL halves the chunk to 32 KiB; under 16 x 8 x 32 KiB =
  // 4 MiB a head's channel holds less than a chunk.
  const double mid = 6 * kMiB;
  const auto m6 = lower({CollectiveOp::all_reduce, Bytes(mid), {256, 8}, Algorithm::tree}, n);
  CHECK(m6.fixed.value() == doctest::Approx(40e-6 + 23e-6 + 10 * (14e-6 + 32 * 1024 * 16 / 25e9) + mid / 500e9));
  const double tiny = 1 * kMiB;
  const auto t1 = lower({CollectiveOp::all_reduce, Bytes(tiny), {256, 8}, Algorithm::tree}, n);
  CHECK(t1.fixed.value() == doctest::Approx(40e-6 + 23e-6 + 10 * (14e-6 + tiny / 128 * 16 / 25e9) + tiny / 500e9));
  // The ports are the tree's; only the fixed part is NVLSTree's.
  NetworkSpec chains = n;
  chains.nvls_channels = 0;
  const auto classic = lower({CollectiveOp::all_reduce, Bytes(S), {256, 8}, Algorithm::tree}, chains);
  CHECK(classic.load.scale_out.value() == doctest::Approx(big.load.scale_out.value()));
  CHECK(classic.load.scale_up.value() == doctest::Approx(big.load.scale_up.value()));
  CHECK(classic.fixed.value() == doctest::Approx(40e-6 + 10 * 14e-6 + 14 * 2e-6 + S / 500e9));
  // Without NVLS in the domain, or with one rank per domain, the tree chains as before.
  NetworkSpec no_nvls = n;
  no_nvls.nvls_bw = ByteRate(0);
  CHECK(lower({CollectiveOp::all_reduce, Bytes(S), {256, 8}, Algorithm::tree}, no_nvls).fixed.value() ==
        doctest::Approx(classic.fixed.value()));
  CHECK(lower({CollectiveOp::all_reduce, Bytes(S), {32, 1}, Algorithm::tree}, n).fixed.value() ==
        doctest::Approx(40e-6 + 10 * 14e-6 + S / 500e9));
  // Channels without a chunk, or negative channels, are refused by check().
  CHECK_NOTHROW(n.check());
  NetworkSpec bad = n;
  bad.nvls_tree_chunk = Bytes(0);
  CHECK_THROWS_AS(bad.check(), std::invalid_argument);
  bad.nvls_channels = -1;
  CHECK_THROWS_AS(bad.check(), std::invalid_argument);
  CHECK_FALSE(same_network(n, chains));
}

TEST_CASE("collective: the shape of a group laid over 8-GPU domains, even or not") {
  const NetworkSpec n = net();
  CHECK(shape_of({0, 1, 2, 3, 4, 5}, n) == GroupShape{6, 6});
  const GroupShape straddling = shape_of({6, 7, 8, 9, 10, 11}, n);  // 2 GPUs in node 0, 4 in node 1
  CHECK(straddling == GroupShape{6, 2, 2, 4});
  CHECK_FALSE(straddling.even());
  CHECK(straddling.nodes() == 2);
  CHECK(straddling.max_per_node() == 4);
  CHECK(shape_of({0, 6, 12, 18}, n) == GroupShape{4, 1, 3, 2});  // data parallelism of tp=6
  CHECK(shape_of({0, 8, 16}, n) == GroupShape{3, 1});
  CHECK(shape_of({0, 8, 16}, n).even());
  // The slowest instance prices them all: the one spread over the most domains.
  CHECK(slowest_shape({{0, 1, 2, 3, 4, 5}, {6, 7, 8, 9, 10, 11}}, n) == straddling);
  CHECK_THROWS_AS(shape_of({}, n), std::invalid_argument);
  CHECK_THROWS_AS(shape_of({0, 4096}, n), std::invalid_argument);
  CHECK_THROWS_AS(slowest_shape({{0, 1}, {2}}, n), std::invalid_argument);
  // A shape no layout has is refused.
  CHECK_THROWS_AS(lower({CollectiveOp::all_reduce, Bytes(1), {6, 4, 2, 3}}, n), std::invalid_argument);
  CHECK_THROWS_AS(lower({CollectiveOp::all_reduce, Bytes(1), {6, 2, 1, 4}}, n), std::invalid_argument);
}

TEST_CASE("collective: an uneven group runs at its busiest ports: NVLink of its fullest domain, NIC of its emptiest") {
  const NetworkSpec n = net();
  const double S = 1e9;
  // Ring all-reduce over 6 ranks, 2 in one node and 4 in the next: every rank sends 2(n-1)/n S;
  // a domain's members share one ring exit per channel, so the 2-rank domain's NICs carry half.
  const Collective c{CollectiveOp::all_reduce, Bytes(S), {6, 2, 2, 4}, Algorithm::ring};
  const auto cost = lower(c, n);
  const double sent = 2.0 * 5 / 6 * S;
  CHECK(cost.load.scale_up.value() == doctest::Approx(sent * 3 / 4));
  CHECK(cost.load.scale_out.value() == doctest::Approx(sent / 2));
  CHECK(cost.steps == 10);
  // Per-rail algorithms need the same ranks in every domain.
  CHECK_FALSE(applicable(Algorithm::hierarchical, CollectiveOp::all_reduce, c.group, n));
  CHECK(applicable(Algorithm::hierarchical, CollectiveOp::all_reduce, GroupShape{8, 4}, n));
  // The tree and the all-to-all follow the same rule.
  const auto tree = lower({CollectiveOp::all_reduce, Bytes(S), {6, 2, 2, 4}, Algorithm::tree}, n);
  CHECK(tree.load.scale_out.value() == doctest::Approx(2 * S / (2.0 * 2)));  // an edge in each tree, 2 NICs
  CHECK(tree.load.scale_up.value() == doctest::Approx(2 * S * 3 / 4));
  const auto a2a = lower({CollectiveOp::all_to_all, Bytes(S), {6, 2, 2, 4}}, n);
  CHECK(a2a.load.scale_out.value() == doctest::Approx(S * 4 / 6));  // a 2-rank domain's members send to 4 others
  CHECK(a2a.load.scale_up.value() == doctest::Approx(S * 3 / 6));   // a 4-rank domain's to 3 neighbours

  // Its flows: on a non-blocking fabric the bottleneck is the isolated time's, and every domain
  // sends the ring's whole traffic across.
  const auto fabric = n.links();
  LinkLoads loads(*fabric);
  for (auto algo : {Algorithm::ring, Algorithm::tree}) {
    const Collective u{CollectiveOp::all_reduce, Bytes(S), {6, 2, 2, 4}, algo};
    const auto uc = lower(u, n);
    std::vector<Flow> flows;
    append_flows(u, uc, {6, 7, 8, 9, 10, 11}, n, flows);
    CAPTURE(to_string(algo));
    CHECK(fabric_time(uc, flows, loads).value() == doctest::Approx(isolated_time(uc, n).value()));
    double across = 0;
    for (const Flow& f : flows)
      if (n.node_of(f.src) == 0 && n.node_of(f.dst) == 1) across += f.bytes;
    CHECK(across == doctest::Approx(algo == Algorithm::ring ? sent : S));  // the tree: S/2 per tree
  }
  std::vector<Flow> flows;
  const Collective ua{CollectiveOp::all_to_all, Bytes(S), {6, 2, 2, 4}};
  append_flows(ua, lower(ua, n), {6, 7, 8, 9, 10, 11}, n, flows);
  CHECK(fabric_time(lower(ua, n), flows, loads).value() == doctest::Approx(isolated_time(lower(ua, n), n).value()));
  double total = 0;
  for (const Flow& f : flows) total += f.bytes;
  CHECK(total == doctest::Approx(6 * S * 5 / 6));  // every rank sends 1/n of its buffer to each other rank

  // An even shape whose instance is laid out otherwise (a sibling group) is routed as it lies.
  const Collective even{CollectiveOp::all_reduce, Bytes(S), {6, 6}, Algorithm::ring};
  flows.clear();
  append_flows(even, lower(even, n), {6, 7, 8, 9, 10, 11}, n, flows);
  double out = 0;
  for (const Flow& f : flows)
    if (n.node_of(f.src) != n.node_of(f.dst)) out += f.bytes;
  CHECK(out > 0);
}

TEST_CASE("collective: shape_of_sorted is shape_of of the strided, shifted ranks, and checks its input") {
  const NetworkSpec n = net();
  std::vector<int> members;
  for (int r = 0; r < 96; r += 3) members.push_back(r);  // 0, 3, ..., 93
  int checked = 0;
  for (std::size_t stride : {1u, 2u, 5u})
    for (int offset : {0, 1, 6, 7, 100, 900})
      for (std::size_t count = 1; count * stride <= members.size(); count += 3) {
        std::vector<int> picked;
        for (std::size_t i = 0; i < count; ++i) picked.push_back(members[i * stride] + offset);
        CAPTURE(stride);
        CAPTURE(offset);
        CAPTURE(count);
        CHECK(shape_of_sorted(members.data(), count, stride, offset, n) == shape_of(picked, n));
        ++checked;
      }
  CHECK(checked > 50);
  const std::vector<int> descending{9, 3};
  CHECK_THROWS_AS(shape_of_sorted(descending.data(), 2, 1, 0, n), std::invalid_argument);
  CHECK_THROWS_AS(shape_of_sorted(members.data(), 2, 1, 1022, n), std::invalid_argument);  // 1025: past rank 1023
  CHECK_THROWS_AS(shape_of_sorted(members.data(), 2, 1, -1, n), std::invalid_argument);
  CHECK_THROWS_AS(shape_of_sorted(members.data(), 0, 1, 0, n), std::invalid_argument);
}

TEST_CASE("collective: buckets run one after another take at least sequence_bound of their total") {
  // Property over operations, group shapes (even and straddling), networks with and without
  // NVLS and the partial-loop penalty, and random splits of the total into buckets.
  NetworkSpec plain = net();
  NetworkSpec nccl = net();
  nccl.nvls_bw = ByteRate(450e9);
  nccl.loop_bytes = Bytes(4 * 1024 * 1024);
  nccl.partial_loop_efficiency = 0.4;
  std::uint64_t state = 12345;
  auto next = [&] { return (state = state * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
  int cases = 0, tight = 0;
  for (const NetworkSpec& n : {plain, nccl})
    for (CollectiveOp op : {CollectiveOp::all_reduce, CollectiveOp::reduce_scatter, CollectiveOp::all_gather,
                            CollectiveOp::all_to_all, CollectiveOp::broadcast})
      for (GroupShape g : {GroupShape{8, 8}, GroupShape{4, 1}, GroupShape{64, 8}, GroupShape{6, 2, 2, 4},
                           GroupShape{4, 1, 3, 2}, GroupShape{128, 4}})
        for (double total : {1e4, 3e6, 5e8}) {
          const int buckets = 1 + static_cast<int>(next() % 12);
          std::vector<double> w(static_cast<std::size_t>(buckets));
          double sum = 0;
          for (double& x : w) sum += (x = 1 + static_cast<double>(next() % 1000));
          double serial = 0;
          for (double x : w) serial += isolated_time(lower({op, Bytes(total * x / sum), g}, n), n).value();
          const double bound = sequence_bound(op, Bytes(total), g, n).value();
          CAPTURE(to_string(op));
          CAPTURE(g.size);
          CAPTURE(g.per_node);
          CAPTURE(total);
          CAPTURE(buckets);
          CHECK(bound > 0);
          CHECK(bound <= serial * (1 + 1e-12));
          // One bucket: the bound is its launch plus the ports of the best algorithm, so within
          // the steps' latencies of the isolated time.
          if (buckets == 1 && total >= 5e8) tight += bound >= 0.8 * serial ? 1 : 0;
          ++cases;
        }
  CHECK(cases == 2 * 5 * 6 * 3);
  CHECK(tight > 0);
  CHECK(sequence_bound(CollectiveOp::all_reduce, Bytes(1e9), GroupShape{1, 1}, plain).value() == 0);
  CHECK(sequence_bound(CollectiveOp::all_reduce, Bytes(0), GroupShape{8, 8}, plain).value() == 0);
  CHECK_THROWS_AS(sequence_bound(CollectiveOp::all_reduce, Bytes(1), GroupShape{6, 4, 2, 3}, plain),
                  std::invalid_argument);
}
