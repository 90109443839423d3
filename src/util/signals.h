#pragma once
// Signal handling for the long-running commands: signals are blocked in every
// thread and consumed synchronously by a dedicated waiter (sigtimedwait), so
// no work happens in async-signal context.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <thread>

namespace consulecs::signals {

// Blocks `signals` in the calling thread; call before starting other threads
// so they inherit the mask.
void block(std::initializer_list<int> signals);

// A flag set once a shutdown signal arrived; threads check it and sleep on
// it, waking at once when it is set (no polling: idle sidecars stay idle).
// It is also what cancels a request: an http::Request carrying the flag
// fails as soon as it is set (see http/client.h), through a wake-up hook.
class StopFlag {
 public:
  void request();
  bool requested() const noexcept { return stop_.load(); }
  // Sleeps up to `duration`; returns true when a stop was requested.
  bool sleep_for(std::chrono::milliseconds duration) const;

  // Runs `wake` (on the thread that calls request(), under the flag's lock:
  // keep it short and non-blocking) when a stop is requested while the hook
  // is alive. A hook added after the request is not run: check requested()
  // after adding it.
  class WakeHook {
   public:
    WakeHook(const StopFlag& flag, std::function<void()> wake);
    ~WakeHook();
    WakeHook(const WakeHook&) = delete;
    WakeHook& operator=(const WakeHook&) = delete;

   private:
    const StopFlag& flag_;
    std::uint64_t id_;
  };

 private:
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  mutable std::map<std::uint64_t, std::function<void()>> wake_hooks_;  // guarded by mutex_
  mutable std::uint64_t next_hook_id_ = 0;                             // guarded by mutex_
};

// Turns SIGTERM/SIGINT into StopFlag::request() on a dedicated thread that
// blocks in sigwaitinfo (no timeout, no wake-ups). Blocks the signals in the
// constructing thread first, so create it before any other thread.
// `on_first_signal` runs on that thread right after the first request()
// (later signals do not run it again), e.g. http::cancel_in_flight to cut
// requests that were hanging when the shutdown began.
class ShutdownSignals {
 public:
  explicit ShutdownSignals(StopFlag& stop, std::function<void()> on_first_signal = {});
  ~ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

 private:
  std::thread thread_;
};

}  // namespace consulecs::signals
