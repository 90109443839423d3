#pragma once
// Runs one child process and relays signals to it: the shared core of
// app-entrypoint and envoy-entrypoint.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace consulecs::process {

// Signals relayed to the child. SIGTERM is in the set but handed to the
// policy instead of being forwarded directly.
const std::vector<int>& relayed_signals();

class Child {
 public:
  // Starts `argv` in its own process group with the default signal mask.
  // Throws std::runtime_error when it cannot be started (fork or exec fails,
  // e.g. the program is not found), so callers can tell that from an exit.
  explicit Child(const std::vector<std::string>& argv);

  pid_t pid() const { return pid_; }
  // Both return 0, or the errno of kill(2) (ESRCH once the child is gone).
  int signal(int sig) const;
  // Signals the child's whole process group (it leads one).
  int signal_group(int sig) const;
  // Non-blocking; returns true once the child has exited and sets exit_code().
  bool poll_exit();
  // Exit code as a shell reports it: the code, or 128+signal.
  int exit_code() const { return exit_code_; }
  // The signal that killed the child, 0 when it exited by itself.
  int term_signal() const { return term_signal_; }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  int term_signal_ = 0;
};

// Supervises `child`: forwards relayed signals except SIGTERM to the child
// (a failure logs the reference's WARN "forwarding signal"), and calls
// `on_sigterm` once on SIGTERM. Each loop tick (~100 ms) calls `tick`, which
// may return true to have the child's process group sent SIGTERM; when that
// cannot be sent, `terminate_failed` is logged as a WARN with the error.
// Returns the child's exit code.
int supervise(Child& child, const std::function<void()>& on_sigterm, const std::function<bool()>& tick,
              std::string_view terminate_failed);

// Parses Go duration strings: "10s", "1m30s", "500ms", "0". Throws
// std::invalid_argument naming the value.
std::chrono::milliseconds parse_duration(const std::string& text);

// Go's time.Duration String() of a millisecond duration, as the reference
// logs the shutdown delay: "0s", "500ms", "1.5s", "1m30s", "1h0m0s".
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace consulecs::process
