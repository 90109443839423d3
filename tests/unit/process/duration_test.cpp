#include <gtest/gtest.h>

#include "process/child.h"

using consulecs::process::parse_duration;
using std::chrono::milliseconds;

TEST(Duration, ParsesGoDurations) {
  EXPECT_EQ(parse_duration("0"), milliseconds(0));
  EXPECT_EQ(parse_duration("10s"), milliseconds(10000));
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("1m30s"), milliseconds(90000));
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_duration("2h"), milliseconds(7200000));
}

TEST(Duration, RejectsGarbage) {
  EXPECT_THROW(parse_duration(""), std::invalid_argument);
  EXPECT_THROW(parse_duration("10"), std::invalid_argument);
  EXPECT_THROW(parse_duration("ten seconds"), std::invalid_argument);
  EXPECT_THROW(parse_duration("5d"), std::invalid_argument);
}

// Go's time.Duration.String(), which the reference's shutdown-delay log line uses.
TEST(Duration, FormatsAsGoDoes) {
  using consulecs::process::format_duration;
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(1)), "1ms");
  EXPECT_EQ(format_duration(milliseconds(500)), "500ms");
  EXPECT_EQ(format_duration(milliseconds(1000)), "1s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(format_duration(milliseconds(1050)), "1.05s");
  EXPECT_EQ(format_duration(milliseconds(10000)), "10s");
  EXPECT_EQ(format_duration(milliseconds(60000)), "1m0s");
  EXPECT_EQ(format_duration(milliseconds(90000)), "1m30s");
  EXPECT_EQ(format_duration(milliseconds(3600000)), "1h0m0s");
  EXPECT_EQ(format_duration(milliseconds(3723500)), "1h2m3.5s");
  EXPECT_EQ(format_duration(milliseconds(-1500)), "-1.5s");
  for (const char* text : {"10s", "500ms", "1m30s", "1.5s", "2h0m0s"}) {
    EXPECT_EQ(format_duration(parse_duration(text)), text);
  }
}
