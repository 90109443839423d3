#include "util/log.h"

#include <gtest/gtest.h>

#include <cstdint>

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

using consulecs::log::format_line;

TEST(LogLine, MessageThenFieldsAsHclogWritesThem) {
  EXPECT_EQ(format_line("", "service registered successfully", {{"name", "web"}, {"id", "web-abc123"}}),
            "service registered successfully: name=web id=web-abc123");
  EXPECT_EQ(format_line("", "no fields", {}), "no fields") << "no trailing colon without fields";
  EXPECT_EQ(format_line("consul-ecs", "forwarding signal", {{"signal", "terminated"}}),
            "consul-ecs: forwarding signal: signal=terminated");
}

TEST(LogLine, QuotesValuesOutsideHclogsNormalRange) {
  EXPECT_EQ(format_line("", "m", {{"error", "connection refused"}}), "m: error=\"connection refused\"");
  EXPECT_EQ(format_line("", "m", {{"arn", "arn:aws:ecs:us-east-1:123456789012:task/c/0a1b"}}),
            "m: arn=arn:aws:ecs:us-east-1:123456789012:task/c/0a1b")
      << "':', '/', '-' and digits are in '-'..'~': unquoted";
  EXPECT_EQ(format_line("", "m", {{"v", "a\"b,c"}}), "m: v=\"a\\\"b,c\"") << "quotes are escaped";
  EXPECT_EQ(format_line("", "m", {{"v", "tab\there"}}), "m: v=\"tab\\there\"");
  EXPECT_EQ(format_line("", "m", {{"v", ""}}), "m: v=\"\"");
  EXPECT_EQ(format_line("", "m", {{"v", "caf\xc3\xa9"}}), "m: v=\"caf\xc3\xa9\"") << "UTF-8 kept, quoted";
}

TEST(LogLine, IntegersAndBooleansPrintAsGoDoes) {
  EXPECT_EQ(format_line("", "m", {{"attempt", 3}, {"port", std::uint16_t{8500}}, {"ok", false}}),
            "m: attempt=3 port=8500 ok=false");
}

TEST(LogLine, MultiLineValueKeepsItsLinesAsHclog) {
  EXPECT_EQ(format_line("", "m", {{"k", "v"}, {"body", "line 1\nline 2"}}),
            "m: k=v\n  body=\n  | line 1\n  | line 2\n  ");
}
