#include "util/retry.h"

#include "util/log.h"

namespace consulecs::util {

void FailureLog::failed(const std::string& cause) {
  ++attempts_;
  const auto now = std::chrono::steady_clock::now();
  if (cause != last_cause_) {
    log::error("{} failed, will retry: {}", what_, cause);
    last_cause_ = cause;
    last_logged_ = now;
  } else if (now - last_logged_ >= std::chrono::seconds(30)) {
    log::warn("{} still failing after {} attempts: {}", what_, attempts_, cause);
    last_logged_ = now;
  }
}

void FailureLog::succeeded() {
  if (attempts_ > 0) log::info("{} succeeded after {} failed attempts", what_, attempts_);
  attempts_ = 0;
  last_cause_.clear();
}

}  // namespace consulecs::util
