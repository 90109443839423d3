#include "util/log.h"

#include <gtest/gtest.h>

using consulecs::log::Level;
using consulecs::log::parse_level;

TEST(LogLevel, ParsesLikeGoHclog) {
  EXPECT_EQ(parse_level("TRACE"), Level::Trace);
  EXPECT_EQ(parse_level("debug"), Level::Debug);
  EXPECT_EQ(parse_level("Info"), Level::Info);
  EXPECT_EQ(parse_level("wArN"), Level::Warn);
  EXPECT_EQ(parse_level(" error\n"), Level::Error) << "surrounding blanks are ignored";
  EXPECT_EQ(parse_level("off"), Level::Off);
}

TEST(LogLevel, UnknownIsInfo) {
  EXPECT_EQ(parse_level(""), Level::Info);
  EXPECT_EQ(parse_level("verbose"), Level::Info);
  EXPECT_EQ(parse_level("WARNING"), Level::Info);
}

TEST(LogLevel, OffSilencesEveryLevel) {
  const Level before = consulecs::log::level();
  consulecs::log::set_level(Level::Off);
  EXPECT_FALSE(consulecs::log::enabled(Level::Error));
  consulecs::log::set_level(Level::Error);
  EXPECT_TRUE(consulecs::log::enabled(Level::Error));
  EXPECT_FALSE(consulecs::log::enabled(Level::Warn));
  consulecs::log::set_level(before);
}
