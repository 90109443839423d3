#include "util/retry.h"

#include "util/log.h"

namespace consulecs::util {

void FailureLog::failed(const std::string& cause) {
  ++attempts_;
  const auto now = std::chrono::steady_clock::now();
  // A new cause is always logged; a repeating one on attempts 1, 2, 4, 8, ...
  // and at least once a minute, so retries stay visible without a line per second.
  const bool power_of_two = (attempts_ & (attempts_ - 1)) == 0;
  if (cause != last_cause_ || power_of_two || now - last_logged_ >= std::chrono::minutes(1)) {
    log::error("{} failed (attempt {}), will retry: {}", what_, attempts_, cause);
    last_cause_ = cause;
    last_logged_ = now;
  }
}

void FailureLog::succeeded() {
  if (attempts_ > 0) log::info("{} succeeded after {} failed attempts", what_, attempts_);
  attempts_ = 0;
  last_cause_.clear();
}

}  // namespace consulecs::util
