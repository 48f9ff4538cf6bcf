#include "strata/sim/isolated.hpp"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <system_error>

namespace strata::sim {
namespace {

struct Child {
  pid_t pid = -1;
  int fd = -1;
  std::size_t job = 0;
  std::string data;
};

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

// The first byte of what a child writes says how it ended: 'O' payload or 'E' error text.
Child spawn(const std::function<std::string()>& job, std::size_t index) {
  // A child must not inherit unwritten output: it would be written twice.
  std::fflush(nullptr);
  int fds[2];
  if (::pipe(fds) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    ::close(fds[0]);
    int status = 0;
    try {
      const std::string payload = job();
      write_all(fds[1], "O");
      write_all(fds[1], payload);
    } catch (const std::exception& e) {
      write_all(fds[1], "E");
      write_all(fds[1], e.what());
      status = 3;
    } catch (...) {
      write_all(fds[1], "Eunknown exception");
      status = 3;
    }
    ::close(fds[1]);
    ::_exit(status);
  }
  ::close(fds[1]);
  return Child{pid, fds[0], index, {}};
}

IsolatedResult reap(Child& c) {
  int status = 0;
  while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(c.fd);
  IsolatedResult r;
  if (!c.data.empty() && c.data[0] == 'O' && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    r.ok = true;
    r.payload = c.data.substr(1);
  } else if (!c.data.empty() && c.data[0] == 'E') {
    r.error = c.data.substr(1);
  } else if (WIFSIGNALED(status)) {
    r.error = std::string("replay process killed by signal ") + std::to_string(WTERMSIG(status)) +
              " (" + ::strsignal(WTERMSIG(status)) + ")";
  } else {
    r.error = "replay process exited with status " + std::to_string(WEXITSTATUS(status));
  }
  return r;
}

}  // namespace

std::vector<IsolatedResult> run_isolated(const std::vector<std::function<std::string()>>& jobs,
                                         int parallel) {
  parallel = std::max(1, parallel);
  std::vector<IsolatedResult> out(jobs.size());
  std::vector<Child> running;
  std::size_t next = 0;
  char buf[1 << 16];
  while (next < jobs.size() || !running.empty()) {
    while (next < jobs.size() && static_cast<int>(running.size()) < parallel) {
      running.push_back(spawn(jobs[next], next));
      ++next;
    }
    std::vector<pollfd> fds;
    for (const Child& c : running) fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    for (std::size_t i = running.size(); i-- > 0;) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = ::read(running[i].fd, buf, sizeof buf);
      if (n > 0) {
        running[i].data.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      out[running[i].job] = reap(running[i]);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  return out;
}

}  // namespace strata::sim
