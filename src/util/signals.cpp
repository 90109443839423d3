#include "util/signals.h"

#include <pthread.h>

#include <thread>

#include "util/log.h"

namespace consulecs::signals {
namespace {
sigset_t make_set(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) sigaddset(&set, sig);
  return set;
}
}  // namespace

void block(std::initializer_list<int> signals) {
  sigset_t set = make_set(signals);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void StopFlag::request() {
  {
    std::lock_guard lock(mutex_);
    const bool first = !stop_.exchange(true);
    if (first) {
      for (const auto& [id, wake] : wake_hooks_) wake();
    }
  }
  changed_.notify_all();
}

StopFlag::WakeHook::WakeHook(const StopFlag& flag, std::function<void()> wake) : flag_(flag) {
  std::lock_guard lock(flag_.mutex_);
  id_ = flag_.next_hook_id_++;
  flag_.wake_hooks_.emplace(id_, std::move(wake));
}

StopFlag::WakeHook::~WakeHook() {
  std::lock_guard lock(flag_.mutex_);
  flag_.wake_hooks_.erase(id_);
}

bool StopFlag::sleep_for(std::chrono::milliseconds duration) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, duration, [this] { return stop_.load(); });
}

namespace {
// Sent by the destructor to wake the signal thread; blocked like the others.
constexpr int kWakeSignal = SIGUSR2;
}  // namespace

ShutdownSignals::ShutdownSignals(StopFlag& stop, std::function<void()> on_first_signal) {
  block({SIGTERM, SIGINT, kWakeSignal});
  thread_ = std::thread([&stop, on_first_signal = std::move(on_first_signal)] {
    sigset_t set = make_set({SIGTERM, SIGINT, kWakeSignal});
    bool first = true;
    while (true) {
      const int sig = sigwaitinfo(&set, nullptr);
      if (sig == kWakeSignal) return;
      if (sig == SIGTERM || sig == SIGINT) {
        log::info("received {}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        // The flag first: whoever sees a request cancelled by the hook
        // also sees the stop, and starts no new request but shutdown ones.
        stop.request();
        if (first && on_first_signal) on_first_signal();
        first = false;
      }
    }
  });
}

ShutdownSignals::~ShutdownSignals() {
  pthread_kill(thread_.native_handle(), kWakeSignal);
  thread_.join();
}

}  // namespace consulecs::signals
