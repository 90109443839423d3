#include "util/signals.h"

#include <pthread.h>

#include <thread>

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

int wait_for(std::initializer_list<int> signals, std::chrono::milliseconds timeout) {
  sigset_t set = make_set(signals);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  ts.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1000000);
  const int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

void StopFlag::request() noexcept { stop_.store(true); }

bool StopFlag::sleep_for(std::chrono::milliseconds duration) const {
  // Short slices keep shutdown latency low without a condition variable
  // shared with the signal thread.
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (!stop_.load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(20)));
  }
  return true;
}

}  // namespace consulecs::signals
