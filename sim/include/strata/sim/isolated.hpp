#pragma once
// Running work in forked child processes. SimGrid keeps process-wide state and aborts on some
// errors, so each SimGrid replay of a plan search runs in a child: a crash, a hang or a kill
// costs one plan, not the search, and two children use both cores.

#include <functional>
#include <string>
#include <vector>

namespace strata::sim {

/// Outcome of one isolated job.
struct IsolatedResult {
  bool ok = false;
  bool timed_out = false;  ///< the job ran past its time limit and was killed
  std::string payload;     ///< what the job returned (ok)
  std::string error;       ///< why it failed: exception text, signal, exit status or timeout (!ok)
};

/// Runs every job in its own forked child, at most `parallel` at a time, and returns the
/// outcomes in job order. A child still running `timeout_s` seconds of wall-clock time after it
/// started (0 = no limit), stopped or not, is killed and reported as timed out. Children die with
/// the calling process. Must be called with no other threads running. Throws std::system_error
/// if fork, pipe or poll fail.
std::vector<IsolatedResult> run_isolated(const std::vector<std::function<std::string()>>& jobs,
                                         int parallel, double timeout_s = 0);

}  // namespace strata::sim
