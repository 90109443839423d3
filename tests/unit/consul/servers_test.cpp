#include "consul/servers.h"

#include <gtest/gtest.h>

using namespace consulecs::consul;

TEST(ConsulServers, ParsesExecOutput) {
  EXPECT_EQ(parse_address_list("10.0.0.1\n10.0.0.2, 10.0.0.3\t\n"),
            (std::vector<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
  EXPECT_TRUE(parse_address_list("  \n").empty());
}

TEST(ConsulServers, ResolvesIpLiteralAndExec) {
  EXPECT_EQ(resolve_servers("127.0.0.1"), std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(resolve_servers("exec=echo 10.1.1.1 10.1.1.2"), (std::vector<std::string>{"10.1.1.1", "10.1.1.2"}));
}

TEST(ConsulServers, ResolvesDnsNames) {
  auto addresses = resolve_servers("localhost");
  ASSERT_FALSE(addresses.empty());
  EXPECT_TRUE(std::find(addresses.begin(), addresses.end(), "127.0.0.1") != addresses.end() ||
              std::find(addresses.begin(), addresses.end(), "::1") != addresses.end());
}

TEST(ConsulServers, ErrorsNameTheCause) {
  try {
    resolve_servers("exec=exit 3");
    FAIL() << "expected an error";
  } catch (const ServerResolveError& e) {
    EXPECT_NE(std::string(e.what()).find("exited with status 3"), std::string::npos);
  }
  try {
    resolve_servers("exec=true");
    FAIL() << "expected an error";
  } catch (const ServerResolveError& e) {
    EXPECT_NE(std::string(e.what()).find("printed no addresses"), std::string::npos);
  }
  EXPECT_THROW(resolve_servers("no-such-host.invalid"), ServerResolveError);
  EXPECT_THROW(resolve_servers(""), ServerResolveError);
}
