#pragma once
// Logs the failures of a retry loop: every new cause, and a repeating cause
// on attempts 1, 2, 4, 8, ... (at least once a minute), so a loop retrying
// each second stays readable in CloudWatch.
#include <chrono>
#include <string>

namespace consulecs::util {

class FailureLog {
 public:
  explicit FailureLog(std::string what) : what_(std::move(what)) {}
  // Call on every failed attempt.
  void failed(const std::string& cause);
  // Call once the operation succeeded; logs recovery when it had failed.
  void succeeded();
  int attempts() const { return attempts_; }

 private:
  std::string what_;
  std::string last_cause_;
  int attempts_ = 0;
  std::chrono::steady_clock::time_point last_logged_{};
};

}  // namespace consulecs::util
