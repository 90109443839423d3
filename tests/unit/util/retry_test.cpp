#include "util/retry.h"

#include <gtest/gtest.h>

using consulecs::util::FailureLog;

namespace {
int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}
}  // namespace

TEST(FailureLog, RepeatsAreLoggedOnPowersOfTwoAndNewCausesAlways) {
  testing::internal::CaptureStderr();
  FailureLog failures("consul login");
  for (int i = 0; i < 5; ++i) failures.failed("connection refused");  // logged on attempts 1, 2, 4
  failures.failed("HTTP 500: not trusted");                           // new cause: logged
  failures.succeeded();
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(out, "connection refused"), 3) << out;
  EXPECT_NE(out.find("(attempt 1)"), std::string::npos);
  EXPECT_NE(out.find("(attempt 2)"), std::string::npos);
  EXPECT_EQ(out.find("(attempt 3)"), std::string::npos);
  EXPECT_NE(out.find("(attempt 4)"), std::string::npos);
  EXPECT_EQ(count(out, "not trusted"), 1);
  EXPECT_NE(out.find("consul login succeeded after 6 failed attempts"), std::string::npos) << out;
  EXPECT_EQ(failures.attempts(), 0);
}

TEST(FailureLog, SuccessWithoutFailureIsSilent) {
  testing::internal::CaptureStderr();
  FailureLog failures("registering");
  failures.succeeded();
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}
