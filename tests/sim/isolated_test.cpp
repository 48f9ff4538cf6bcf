#include <doctest/doctest.h>

#include <csignal>
#include <stdexcept>

#include "strata/sim/isolated.hpp"

using namespace strata::sim;

TEST_CASE("isolated: results come back in job order, in parallel") {
  std::vector<std::function<std::string()>> jobs;
  for (int i = 0; i < 7; ++i) jobs.emplace_back([i] { return std::string(100000 + i, static_cast<char>('a' + i)); });
  const auto out = run_isolated(jobs, 3);
  REQUIRE(out.size() == 7);
  for (int i = 0; i < 7; ++i) {
    CHECK(out[i].ok);
    CHECK(out[i].payload.size() == static_cast<std::size_t>(100000 + i));
    CHECK(out[i].payload.front() == 'a' + i);
  }
}

TEST_CASE("isolated: an exception or a crash costs one job, not the run") {
  std::vector<std::function<std::string()>> jobs;
  jobs.emplace_back([] { return std::string("fine"); });
  jobs.emplace_back([]() -> std::string { throw std::runtime_error("bad plan"); });
  jobs.emplace_back([]() -> std::string {
    std::raise(SIGABRT);
    return "unreachable";
  });
  const auto out = run_isolated(jobs, 2);
  CHECK(out[0].ok);
  CHECK(out[0].payload == "fine");
  CHECK_FALSE(out[1].ok);
  CHECK(out[1].error == "bad plan");
  CHECK_FALSE(out[2].ok);
  CHECK(out[2].error.find("signal") != std::string::npos);
}
