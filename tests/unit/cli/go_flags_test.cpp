#include "cli/go_flags.h"

#include <gtest/gtest.h>

using consulecs::cli::FlagSet;
using consulecs::cli::ParseResult;
using consulecs::cli::parse_go_bool;
using std::chrono::milliseconds;
using Args = std::vector<std::string>;

namespace {

// The flags of app-entrypoint plus a bool, bound to plain variables.
struct Fixture {
  FlagSet flags{"Usage: test [options] <command>"};
  milliseconds delay{0};
  std::string level = "INFO";
  bool verbose = false;
  Fixture() {
    flags.add_duration("shutdown-delay", &delay, "delay");
    flags.add_string("log-level", &level, "level");
    flags.add_bool("verbose", &verbose, "chatty");
  }
  ParseResult parse(const Args& args) { return flags.parse(args); }
};

}  // namespace

TEST(GoFlags, OfficialModuleAppEntrypointLine) {
  // mesh-task: ["/consul/consul-ecs", "app-entrypoint", "-shutdown-delay", "2s"] + the app's command, no "--".
  Fixture f;
  ASSERT_EQ(f.parse({"-shutdown-delay", "2s", "python3", "-c", "print(42)", "-log-level", "x"}).kind,
            ParseResult::Kind::Ok);
  EXPECT_EQ(f.delay, milliseconds(2000));
  EXPECT_EQ(f.flags.positional(), (Args{"python3", "-c", "print(42)", "-log-level", "x"}));
  EXPECT_EQ(f.level, "INFO") << "flags after the command belong to the command";
}

TEST(GoFlags, EqualsFormAndTwoDashes) {
  Fixture f;
  ASSERT_EQ(f.parse({"--shutdown-delay=1m30s", "--log-level", "debug", "-verbose", "app"}).kind, ParseResult::Kind::Ok);
  EXPECT_EQ(f.delay, milliseconds(90000));
  EXPECT_EQ(f.level, "debug");
  EXPECT_TRUE(f.verbose);
  EXPECT_EQ(f.flags.positional(), Args{"app"});
}

TEST(GoFlags, ValueMayLookLikeAFlagOrBeEmpty) {
  Fixture f;
  ASSERT_EQ(f.parse({"-log-level", "-shutdown-delay", "app"}).kind, ParseResult::Kind::Ok);
  EXPECT_EQ(f.level, "-shutdown-delay");
  EXPECT_EQ(f.flags.positional(), Args{"app"});

  Fixture g;
  ASSERT_EQ(g.parse({"-log-level=", "app"}).kind, ParseResult::Kind::Ok);
  EXPECT_EQ(g.level, "");
  ASSERT_EQ(g.parse({"-log-level=a=b"}).kind, ParseResult::Kind::Ok);
  EXPECT_EQ(g.level, "a=b") << "the value is everything after the first '='";
}

TEST(GoFlags, LastOccurrenceWins) {
  Fixture f;
  ASSERT_EQ(f.parse({"-log-level", "debug", "-log-level=warn"}).kind, ParseResult::Kind::Ok);
  EXPECT_EQ(f.level, "warn");
}

TEST(GoFlags, DoubleDashEndsFlagsAndIsConsumed) {
  Fixture f;
  ASSERT_EQ(f.parse({"-shutdown-delay", "1s", "--", "-verbose", "--", "x"}).kind, ParseResult::Kind::Ok);
  EXPECT_FALSE(f.verbose);
  EXPECT_EQ(f.flags.positional(), (Args{"-verbose", "--", "x"})) << "only the first -- is consumed";
}

TEST(GoFlags, LoneDashAndEmptyArgumentArePositional) {
  Fixture f;
  ASSERT_EQ(f.parse({"-", "-verbose"}).kind, ParseResult::Kind::Ok);
  EXPECT_FALSE(f.verbose);
  EXPECT_EQ(f.flags.positional(), (Args{"-", "-verbose"}));
  ASSERT_EQ(f.parse({"", "-verbose"}).kind, ParseResult::Kind::Ok);
  EXPECT_EQ(f.flags.positional(), (Args{"", "-verbose"}));
}

TEST(GoFlags, NoArgumentsKeepsDefaults) {
  Fixture f;
  ASSERT_EQ(f.parse({}).kind, ParseResult::Kind::Ok);
  EXPECT_EQ(f.level, "INFO");
  EXPECT_EQ(f.delay, milliseconds(0));
  EXPECT_TRUE(f.flags.positional().empty());
}

TEST(GoFlags, BoolNeverConsumesTheNextArgument) {
  Fixture f;
  ASSERT_EQ(f.parse({"-verbose", "false"}).kind, ParseResult::Kind::Ok);
  EXPECT_TRUE(f.verbose);
  EXPECT_EQ(f.flags.positional(), Args{"false"});
  ASSERT_EQ(f.parse({"-verbose=false"}).kind, ParseResult::Kind::Ok);
  EXPECT_FALSE(f.verbose);
  ASSERT_EQ(f.parse({"--verbose=T"}).kind, ParseResult::Kind::Ok);
  EXPECT_TRUE(f.verbose);
}

TEST(GoFlags, BadBoolValue) {
  Fixture f;
  const auto r = f.parse({"-verbose=yes"});
  EXPECT_EQ(r.kind, ParseResult::Kind::Error);
  EXPECT_EQ(r.error, "invalid boolean value \"yes\" for -verbose: parse error");
}

TEST(GoFlags, UnknownFlagIsNamed) {
  Fixture f;
  const auto r = f.parse({"-shutdown-delay", "1s", "--frobnicate", "app"});
  EXPECT_EQ(r.kind, ParseResult::Kind::Error);
  EXPECT_EQ(r.error, "flag provided but not defined: -frobnicate");
  EXPECT_EQ(f.parse({"-nope=1"}).error, "flag provided but not defined: -nope");
}

TEST(GoFlags, MissingValue) {
  Fixture f;
  const auto r = f.parse({"-shutdown-delay"});
  EXPECT_EQ(r.kind, ParseResult::Kind::Error);
  EXPECT_EQ(r.error, "flag needs an argument: -shutdown-delay");
}

TEST(GoFlags, BadDuration) {
  Fixture f;
  for (const std::string bad : {"soon", "10", ""}) {
    const auto r = f.parse({"-shutdown-delay", bad, "app"});
    EXPECT_EQ(r.kind, ParseResult::Kind::Error) << bad;
    EXPECT_EQ(r.error, "invalid value \"" + bad + "\" for flag -shutdown-delay: parse error");
  }
}

TEST(GoFlags, BadSyntax) {
  Fixture f;
  for (const std::string bad : {"---x", "-=x", "--=x"}) {
    const auto r = f.parse({bad});
    EXPECT_EQ(r.kind, ParseResult::Kind::Error) << bad;
    EXPECT_EQ(r.error, "bad flag syntax: " + bad);
  }
}

TEST(GoFlags, HelpInEveryForm) {
  for (const std::string help : {"-h", "-help", "--h", "--help", "-help=1"}) {
    Fixture f;
    EXPECT_EQ(f.parse({"-verbose", help, "app"}).kind, ParseResult::Kind::Help) << help;
  }
  Fixture f;
  EXPECT_EQ(f.parse({"app", "-h"}).kind, ParseResult::Kind::Ok) << "after the command, -h is the command's";
  EXPECT_EQ(f.flags.positional(), (Args{"app", "-h"}));
}

TEST(GoFlags, ADefinedHelpFlagIsAnOrdinaryFlag) {
  FlagSet flags{"u"};
  bool help = false;
  flags.add_bool("help", &help, "mine");
  ASSERT_EQ(flags.parse({"-help"}).kind, ParseResult::Kind::Ok);
  EXPECT_TRUE(help);
}

TEST(GoFlags, UsageListsFlagsSortedWithDefaults) {
  FlagSet flags{"Usage: x [options]"};
  std::string level = "INFO";
  milliseconds interval{std::chrono::seconds(90)};
  milliseconds zero{0};
  bool b = false;
  flags.add_string("log-level", &level, "Log level");
  flags.add_duration("polling-interval", &interval, "Interval");
  flags.add_duration("a-delay", &zero, "Delay");
  flags.add_bool("json", &b, "JSON");
  EXPECT_EQ(flags.usage(),
            "Usage: x [options]\n\nOptions:\n"
            "  -a-delay duration\n    \tDelay\n"
            "  -json\n    \tJSON\n"
            "  -log-level string\n    \tLog level (default \"INFO\")\n"
            "  -polling-interval duration\n    \tInterval (default 1m30s)\n");
}

TEST(GoFlags, RedefiningAFlagIsAProgrammingError) {
  FlagSet flags{"u"};
  std::string a, b;
  flags.add_string("x", &a, "");
  EXPECT_THROW(flags.add_string("x", &b, ""), std::logic_error);
}

TEST(GoBool, AcceptsExactlyStrconvParseBool) {
  for (const std::string t : {"1", "t", "T", "TRUE", "true", "True"}) {
    bool v = false;
    EXPECT_TRUE(parse_go_bool(t, &v)) << t;
    EXPECT_TRUE(v) << t;
  }
  for (const std::string f : {"0", "f", "F", "FALSE", "false", "False"}) {
    bool v = true;
    EXPECT_TRUE(parse_go_bool(f, &v)) << f;
    EXPECT_FALSE(v) << f;
  }
  for (const std::string bad : {"", "yes", "tRUE", "2", " true"}) {
    bool v = false;
    EXPECT_FALSE(parse_go_bool(bad, &v)) << bad;
  }
}
