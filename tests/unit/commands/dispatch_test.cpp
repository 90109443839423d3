#include "commands/dispatch.h"

#include <gtest/gtest.h>

using consulecs::commands::Args;
using consulecs::commands::parse_top_level;

TEST(TopLevel, CommandAndItsArgumentsUntouched) {
  const auto top = parse_top_level({"app-entrypoint", "-shutdown-delay", "2s", "app", "-h", "--version"});
  EXPECT_EQ(top.command, "app-entrypoint");
  EXPECT_EQ(top.command_args, (Args{"-shutdown-delay", "2s", "app", "-h", "--version"}));
  EXPECT_FALSE(top.help);
  EXPECT_FALSE(top.version);
  EXPECT_TRUE(top.unknown_flags.empty());
}

TEST(TopLevel, HelpAndVersionFlagsBeforeTheCommand) {
  for (const std::string h : {"-h", "-help", "--help"}) {
    EXPECT_TRUE(parse_top_level({h}).help) << h;
    const auto top = parse_top_level({h, "net-dial", "x"});
    EXPECT_TRUE(top.help) << h;
    EXPECT_EQ(top.command, "net-dial");
  }
  for (const std::string v : {"-v", "-version", "--version"}) {
    EXPECT_TRUE(parse_top_level({v}).version) << v;
    EXPECT_TRUE(parse_top_level({v, "control-plane"}).version) << v;
  }
}

TEST(TopLevel, OtherFlagsBeforeTheCommandAreRecorded) {
  const auto top = parse_top_level({"-x", "--y=1", "version"});
  EXPECT_EQ(top.unknown_flags, (Args{"-x", "--y=1"}));
  EXPECT_EQ(top.command, "version");
}

TEST(TopLevel, NoCommand) {
  EXPECT_EQ(parse_top_level({}).command, "");
  EXPECT_EQ(parse_top_level({"", "-x"}).command, "") << "an empty argument is skipped";
  const auto top = parse_top_level({"--", "version"});
  EXPECT_EQ(top.command, "") << "nothing after -- is looked at";
}
