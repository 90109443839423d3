#include "commands/curl_applet.h"

#include <gtest/gtest.h>

using consulecs::commands::CurlOptions;
using consulecs::commands::invoked_as_curl;
using consulecs::commands::parse_curl_args;

namespace {

CurlOptions parse_ok(const consulecs::commands::Args& args) {
  std::string error;
  auto options = parse_curl_args(args, error);
  EXPECT_TRUE(options.has_value()) << error;
  return options.value_or(CurlOptions{});
}

std::string parse_error(const consulecs::commands::Args& args) {
  std::string error;
  EXPECT_FALSE(parse_curl_args(args, error).has_value());
  return error;
}

}  // namespace

TEST(CurlApplet, InvokedAsCurlByBasename) {
  EXPECT_TRUE(invoked_as_curl("curl"));
  EXPECT_TRUE(invoked_as_curl("/usr/bin/curl"));
  EXPECT_FALSE(invoked_as_curl("/bin/consul-ecs"));
  EXPECT_FALSE(invoked_as_curl("/usr/bin/curlx"));
  EXPECT_FALSE(invoked_as_curl("/curl/consul-ecs"));
  EXPECT_FALSE(invoked_as_curl(nullptr));
}

TEST(CurlApplet, TheModulesHealthCheckForm) {
  const auto options = parse_ok({"-f", "localhost:10000/consul-ecs/health"});
  EXPECT_TRUE(options.fail);
  EXPECT_FALSE(options.silent);
  EXPECT_EQ(options.url, "localhost:10000/consul-ecs/health");
}

TEST(CurlApplet, CombinedShortAndLongFlags) {
  auto options = parse_ok({"-fsS", "-m", "2.5", "--connect-timeout", "1", "-o/tmp/out", "http://x/"});
  EXPECT_TRUE(options.fail);
  EXPECT_TRUE(options.silent);
  EXPECT_TRUE(options.show_error);
  EXPECT_EQ(options.max_time, 2.5);
  EXPECT_EQ(options.connect_timeout, 1.0);
  EXPECT_EQ(options.output, "/tmp/out");
  EXPECT_EQ(options.url, "http://x/");
  options = parse_ok({"--fail", "--silent", "--output", "f", "--max-time", "3", "--", "-odd-url"});
  EXPECT_TRUE(options.fail && options.silent);
  EXPECT_EQ(options.output, "f");
  EXPECT_EQ(options.max_time, 3.0);
  EXPECT_EQ(options.url, "-odd-url");
}

TEST(CurlApplet, VersionNeedsNoUrl) {
  EXPECT_TRUE(parse_ok({"--version"}).version);
  EXPECT_TRUE(parse_ok({"-V"}).version);
}

TEST(CurlApplet, BadCommandLinesNameTheCause) {
  EXPECT_EQ(parse_error({}), "no URL specified");
  EXPECT_EQ(parse_error({"-f"}), "no URL specified");
  EXPECT_EQ(parse_error({"-k", "http://x"}), "option -k: is unknown");
  EXPECT_EQ(parse_error({"--insecure", "http://x"}), "option --insecure: is unknown");
  EXPECT_EQ(parse_error({"-m", "soon", "http://x"}), "option -m: expected a proper numerical parameter");
  EXPECT_EQ(parse_error({"http://x", "-o"}), "option -o: requires parameter");
  EXPECT_NE(parse_error({"http://a", "http://b"}).find("only one URL"), std::string::npos);
}
