#include "strata/sim/isolated.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <system_error>

#if defined(STRATA_SANITIZE)
#include <sanitizer/lsan_interface.h>
#endif

namespace strata::sim {
namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  pid_t pid = -1;
  int fd = -1;
  std::size_t job = 0;
  std::string data;
  Clock::time_point deadline = Clock::time_point::max();
  Clock::time_point stopped_since = Clock::time_point::max();  // when it was first seen stopped
};

// A child stopped by a signal (kill -STOP) makes no progress and never ends by itself: after
// this long it is treated as hung, whatever its time limit.
constexpr std::chrono::seconds kStoppedGrace{10};
// How often running children are looked at for that.
constexpr int kWatchMs = 1000;

// Whether process `pid` is stopped by a signal (state T in /proc/PID/stat; not a debugger's t).
bool is_stopped(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return false;
  char line[512];
  const bool got = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  if (!got) return false;
  const char* close = std::strrchr(line, ')');
  return close != nullptr && close[1] == ' ' && close[2] == 'T';
}

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t w = ::write(fd, s.data() + off, s.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    off += static_cast<std::size_t>(w);
  }
}

// Exit status of a child whose job threw, and of one whose leak check failed.
constexpr int kThrew = 3;
constexpr int kLeaked = 4;

// The first byte of what a child writes says how it ended: 'O' payload or 'E' error text.
Child spawn(const std::function<std::string()>& job, std::size_t index, double timeout_s) {
  // A child must not inherit unwritten output: it would be written twice.
  std::fflush(nullptr);
  int fds[2];
  if (::pipe(fds) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::system_error(errno, std::generic_category(), "fork");
  }
  if (pid == 0) {
    // An orphaned replay would run on after `strata` is killed: die with the parent.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(kThrew);
    ::close(fds[0]);
    int status = 0;
    try {
      const std::string payload = job();
      write_all(fds[1], "O");
      write_all(fds[1], payload);
    } catch (const std::exception& e) {
      write_all(fds[1], "E");
      write_all(fds[1], e.what());
      status = kThrew;
    } catch (...) {
      write_all(fds[1], "Eunknown exception");
      status = kThrew;
    }
    ::close(fds[1]);
#if defined(STRATA_SANITIZE)
    // _exit skips LeakSanitizer's exit-time check: run it here so replays are leak-checked too.
    if (__lsan_do_recoverable_leak_check() != 0) status = kLeaked;
#endif
    ::_exit(status);
  }
  ::close(fds[1]);
  Child c{pid, fds[0], index, {}, Clock::time_point::max()};
  if (timeout_s > 0)
    c.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  return c;
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

IsolatedResult kill_hung(Child& c, const std::string& why) {
  ::kill(c.pid, SIGKILL);
  (void)wait_for(c.pid);
  ::close(c.fd);
  IsolatedResult r;
  r.timed_out = true;
  r.error = why;
  return r;
}

IsolatedResult kill_timed_out(Child& c, double timeout_s) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "replay timed out after %g s (killed)", timeout_s);
  return kill_hung(c, buf);
}

// The child closed its pipe: it is exiting. Waits for it, but not past its deadline (a child
// stopped between closing the pipe and exiting would otherwise block the search); nullopt then.
std::optional<int> wait_until(pid_t pid, Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return wait_for(pid);
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return 0;
    if (Clock::now() >= deadline) return std::nullopt;
    ::usleep(2000);
  }
}

IsolatedResult reap(Child& c, double timeout_s) {
  const std::optional<int> waited = wait_until(c.pid, c.deadline);
  if (!waited) return kill_timed_out(c, timeout_s);
  const int status = *waited;
  ::close(c.fd);
  IsolatedResult r;
  const bool exited = WIFEXITED(status);
  if (!c.data.empty() && c.data[0] == 'O' && exited && WEXITSTATUS(status) == 0) {
    r.ok = true;
    r.payload = c.data.substr(1);
  } else if (!c.data.empty() && c.data[0] == 'E') {
    r.error = c.data.substr(1);
  } else if (WIFSIGNALED(status)) {
    r.error = std::string("replay process killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
              ::strsignal(WTERMSIG(status)) + ")";
  } else if (exited && WEXITSTATUS(status) == kLeaked) {
    r.error = "replay process leaked memory (LeakSanitizer report on stderr)";
  } else {
    r.error = "replay process exited with status " + std::to_string(WEXITSTATUS(status));
  }
  return r;
}

// Milliseconds until the earliest deadline (rounded up), at most kWatchMs.
int poll_timeout(const std::vector<Child>& running) {
  auto first = Clock::time_point::max();
  for (const Child& c : running) first = std::min(first, c.deadline);
  if (first == Clock::time_point::max()) return kWatchMs;
  const auto left = std::chrono::duration<double, std::milli>(first - Clock::now()).count();
  return static_cast<int>(std::clamp(std::ceil(left), 0.0, static_cast<double>(kWatchMs)));
}

}  // namespace

std::vector<IsolatedResult> run_isolated(const std::vector<std::function<std::string()>>& jobs, int parallel,
                                         double timeout_s) {
  parallel = std::max(1, parallel);
  if (!(timeout_s >= 0) || !std::isfinite(timeout_s)) timeout_s = 0;
  std::vector<IsolatedResult> out(jobs.size());
  std::vector<Child> running;
  std::size_t next = 0;
  auto watched = Clock::now();
  char buf[1 << 16];
  while (next < jobs.size() || !running.empty()) {
    while (next < jobs.size() && static_cast<int>(running.size()) < parallel) {
      running.push_back(spawn(jobs[next], next, timeout_s));
      ++next;
    }
    std::vector<pollfd> fds;
    for (const Child& c : running) fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), poll_timeout(running)) < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    const auto now = Clock::now();
    const bool watch = now - watched >= std::chrono::milliseconds(kWatchMs);
    if (watch) watched = now;
    for (std::size_t i = running.size(); i-- > 0;) {
      Child& c = running[i];
      bool done = false;
      if (fds[i].revents != 0) {
        const ssize_t n = ::read(c.fd, buf, sizeof buf);
        if (n > 0) {
          c.data.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          out[c.job] = reap(c, timeout_s);
          done = true;
        }
      }
      if (!done && now >= c.deadline) {
        out[c.job] = kill_timed_out(c, timeout_s);
        done = true;
      }
      if (!done && watch) {
        if (!is_stopped(c.pid)) {
          c.stopped_since = Clock::time_point::max();
        } else if (c.stopped_since == Clock::time_point::max()) {
          c.stopped_since = now;
        } else if (now - c.stopped_since >= kStoppedGrace) {
          out[c.job] = kill_hung(c, "replay process was stopped (SIGSTOP) for " +
                                        std::to_string(kStoppedGrace.count()) + " s (killed)");
          done = true;
        }
      }
      if (done) running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  return out;
}

}  // namespace strata::sim
