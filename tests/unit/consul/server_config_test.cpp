#include "consul/server_config.h"

#include <gtest/gtest.h>

#include "config/config.h"

using namespace consulecs;

namespace {

config::Config with_servers(const std::string& servers_json) {
  return config::load_config(R"({"bootstrapDir": "/consul", "consulServers": )" + servers_json + "}");
}

}  // namespace

TEST(ConsulServerConfig, RecognisesDnsNames) {
  EXPECT_TRUE(consul::is_dns_name("consul.service.dc1"));
  EXPECT_FALSE(consul::is_dns_name("10.0.0.1"));
  EXPECT_FALSE(consul::is_dns_name("fd00::1"));
  EXPECT_FALSE(consul::is_dns_name("exec=discover -q addrs provider=aws"));
  EXPECT_FALSE(consul::is_dns_name(""));
}

TEST(ConsulServerConfig, HttpsToADnsNameVerifiesTheName) {
  const auto server = consul::http_server_config(
      with_servers(R"({"hosts": "consul.example.internal", "defaults": {"tls": true}})"));
  EXPECT_TRUE(server.https);
  EXPECT_EQ(server.tls.server_name, "consul.example.internal");
}

TEST(ConsulServerConfig, ConfiguredServerNameWinsAndIpsGetNone) {
  auto server = consul::http_server_config(with_servers(
      R"({"hosts": "consul.example.internal", "defaults": {"tls": true, "tlsServerName": "server.dc1.consul"}})"));
  EXPECT_EQ(server.tls.server_name, "server.dc1.consul");
  server = consul::http_server_config(with_servers(R"({"hosts": "10.0.0.1", "defaults": {"tls": true}})"));
  EXPECT_EQ(server.tls.server_name, "");
  server = consul::http_server_config(with_servers(R"({"hosts": "exec=echo 10.0.0.1", "defaults": {"tls": true}})"));
  EXPECT_EQ(server.tls.server_name, "");
}
