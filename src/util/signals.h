#pragma once
// Signal handling for the long-running commands: signals are blocked in every
// thread and consumed synchronously by a dedicated waiter (sigtimedwait), so
// no work happens in async-signal context.
#include <atomic>
#include <chrono>
#include <csignal>
#include <initializer_list>

namespace consulecs::signals {

// Blocks `signals` in the calling thread; call before starting other threads
// so they inherit the mask.
void block(std::initializer_list<int> signals);

// Waits up to `timeout` for one of the blocked signals; returns it or 0.
int wait_for(std::initializer_list<int> signals, std::chrono::milliseconds timeout);

// A flag set once a shutdown signal arrived; threads poll it and sleep on it.
class StopFlag {
 public:
  void request() noexcept;
  bool requested() const noexcept { return stop_.load(); }
  // Sleeps up to `duration`; returns true when a stop was requested.
  bool sleep_for(std::chrono::milliseconds duration) const;

 private:
  std::atomic<bool> stop_{false};
};

}  // namespace consulecs::signals
