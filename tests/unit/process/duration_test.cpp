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
