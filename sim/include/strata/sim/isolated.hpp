#pragma once
// Running work in forked child processes. SimGrid keeps process-wide state and aborts on some
// errors, so each SimGrid replay of a plan search runs in a child: a crash costs one plan, not the
// search, and two children use both cores.

#include <functional>
#include <string>
#include <vector>

namespace strata::sim {

/// Outcome of one isolated job.
struct IsolatedResult {
  bool ok = false;
  std::string payload;  ///< what the job returned (ok)
  std::string error;    ///< why it failed: exception text, signal or exit status (!ok)
};

/// Runs every job in its own forked child, at most `parallel` at a time, and returns the
/// outcomes in job order. Must be called with no other threads running. Throws
/// std::system_error if fork or pipe fail.
std::vector<IsolatedResult> run_isolated(const std::vector<std::function<std::string()>>& jobs,
                                         int parallel);

}  // namespace strata::sim
