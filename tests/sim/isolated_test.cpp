#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <stdexcept>
#include <string>

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

TEST_CASE("isolated: a hung or stopped job is killed at its time limit, the others still finish") {
  std::vector<std::function<std::string()>> jobs;
  jobs.emplace_back([]() -> std::string {
    for (;;) ::pause();  // hangs
  });
  jobs.emplace_back([]() -> std::string {
    std::raise(SIGSTOP);  // stopped, as by kill -STOP
    return "resumed";
  });
  jobs.emplace_back([] { return std::string("fine"); });
  const auto out = run_isolated(jobs, 3, 0.5);
  REQUIRE(out.size() == 3);
  for (int i : {0, 1}) {
    CHECK_FALSE(out[i].ok);
    CHECK(out[i].timed_out);
    CHECK(out[i].error.find("timed out after") != std::string::npos);
  }
  CHECK(out[2].ok);
  CHECK_FALSE(out[2].timed_out);
  CHECK(out[2].payload == "fine");
}

TEST_CASE("isolated: a job killed from outside is reported with its signal") {
  std::vector<std::function<std::string()>> jobs;
  jobs.emplace_back([]() -> std::string {
    ::kill(::getpid(), SIGKILL);
    return "unreachable";
  });
  const auto out = run_isolated(jobs, 1, 30);
  CHECK_FALSE(out[0].ok);
  CHECK_FALSE(out[0].timed_out);
  CHECK(out[0].error.find("signal 9") != std::string::npos);
}

namespace {
// State letter of a process ('Z' zombie), or 0 if it is gone.
char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? 0 : line[close + 2];
}
}  // namespace

TEST_CASE("isolated: replay children die with the process that started them") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t runner = ::fork();
  REQUIRE(runner >= 0);
  if (runner == 0) {
    ::close(fds[0]);
    std::vector<std::function<std::string()>> jobs;
    jobs.emplace_back([w = fds[1]]() -> std::string {
      const pid_t me = ::getpid();
      (void)!::write(w, &me, sizeof me);
      for (;;) ::pause();
    });
    (void)run_isolated(jobs, 1);
    ::_exit(0);
  }
  ::close(fds[1]);
  pid_t job = 0;
  REQUIRE(::read(fds[0], &job, sizeof job) == static_cast<ssize_t>(sizeof job));
  ::close(fds[0]);
  CHECK(process_state(job) != 0);
  ::kill(runner, SIGKILL);
  int status = 0;
  ::waitpid(runner, &status, 0);
  char state = process_state(job);
  for (int i = 0; i < 500 && state != 0 && state != 'Z'; ++i) {
    ::usleep(10000);
    state = process_state(job);
  }
  CHECK((state == 0 || state == 'Z'));
}

TEST_CASE("isolated: a stopped job is killed even without a time limit") {
  std::vector<std::function<std::string()>> jobs;
  jobs.emplace_back([]() -> std::string {
    std::raise(SIGSTOP);
    return "resumed";
  });
  jobs.emplace_back([] { return std::string("fine"); });
  const auto out = run_isolated(jobs, 2, 0);
  CHECK_FALSE(out[0].ok);
  CHECK(out[0].timed_out);
  CHECK(out[0].error.find("stopped") != std::string::npos);
  CHECK(out[1].ok);
}
