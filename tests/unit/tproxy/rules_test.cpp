#include "tproxy/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"

namespace consulecs::tproxy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

config::Config v10(const std::string& extra = "") {
  return config::load_config(
      R"({"bootstrapDir": "/consul", "consulServers": {"hosts": "h"}, "service": {"port": 8080})" +
          (extra.empty() ? "" : ", " + extra) + "}",
      config::SchemaVersion::k0_10_0);
}

RedirectSettings basic() {
  RedirectSettings s;
  s.inbound_port = 20000;
  return s;
}

TEST(TproxyRulesTest, DefaultRuleSetMatchesSdkIptables) {
  EXPECT_THAT(command_lines(build_rules(basic())),
              ElementsAre("iptables -t nat -N CONSUL_PROXY_INBOUND", "iptables -t nat -N CONSUL_PROXY_IN_REDIRECT",
                          "iptables -t nat -N CONSUL_PROXY_OUTPUT", "iptables -t nat -N CONSUL_PROXY_REDIRECT",
                          "iptables -t nat -N CONSUL_DNS_REDIRECT",
                          "iptables -t nat -A CONSUL_PROXY_REDIRECT -p tcp -j REDIRECT --to-port 15001",
                          "iptables -t nat -A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT",
                          "iptables -t nat -A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5995 -j RETURN",
                          "iptables -t nat -A CONSUL_PROXY_OUTPUT -d 127.0.0.1/32 -j RETURN",
                          "iptables -t nat -A CONSUL_PROXY_OUTPUT -j CONSUL_PROXY_REDIRECT",
                          "iptables -t nat -A CONSUL_PROXY_IN_REDIRECT -p tcp -j REDIRECT --to-port 20000",
                          "iptables -t nat -A PREROUTING -p tcp -j CONSUL_PROXY_INBOUND",
                          "iptables -t nat -A CONSUL_PROXY_INBOUND -p tcp -j CONSUL_PROXY_IN_REDIRECT",
                          "iptables -t nat --policy POSTROUTING ACCEPT"));
}

TEST(TproxyRulesTest, ExclusionsAreInsertedBeforeTheDefaults) {
  RedirectSettings s = basic();
  s.outbound_port = 15002;
  s.exclude_inbound_ports = {22000, 9102};
  s.exclude_outbound_ports = {8500};
  s.exclude_outbound_cidrs = {"10.0.0.0/8", "169.254.170.2"};
  s.exclude_uids = {"1000", "5996"};
  const auto lines = command_lines(build_rules(s));
  const std::vector<std::string> tail(lines.begin() + 5, lines.end());
  EXPECT_THAT(tail, ElementsAre("iptables -t nat -A CONSUL_PROXY_REDIRECT -p tcp -j REDIRECT --to-port 15002",
                                "iptables -t nat -A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT",
                                "iptables -t nat -A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5995 -j RETURN",
                                "iptables -t nat -A CONSUL_PROXY_OUTPUT -d 127.0.0.1/32 -j RETURN",
                                "iptables -t nat -A CONSUL_PROXY_OUTPUT -j CONSUL_PROXY_REDIRECT",
                                "iptables -t nat -I CONSUL_PROXY_OUTPUT -p tcp --dport 8500 -j RETURN",
                                "iptables -t nat -I CONSUL_PROXY_OUTPUT -d 10.0.0.0/8 -j RETURN",
                                "iptables -t nat -I CONSUL_PROXY_OUTPUT -d 169.254.170.2 -j RETURN",
                                "iptables -t nat -I CONSUL_PROXY_OUTPUT -m owner --uid-owner 1000 -j RETURN",
                                "iptables -t nat -I CONSUL_PROXY_OUTPUT -m owner --uid-owner 5996 -j RETURN",
                                "iptables -t nat -A CONSUL_PROXY_IN_REDIRECT -p tcp -j REDIRECT --to-port 20000",
                                "iptables -t nat -A PREROUTING -p tcp -j CONSUL_PROXY_INBOUND",
                                "iptables -t nat -A CONSUL_PROXY_INBOUND -p tcp -j CONSUL_PROXY_IN_REDIRECT",
                                "iptables -t nat -I CONSUL_PROXY_INBOUND -p tcp --dport 22000 -j RETURN",
                                "iptables -t nat -I CONSUL_PROXY_INBOUND -p tcp --dport 9102 -j RETURN",
                                "iptables -t nat --policy POSTROUTING ACCEPT"));
}

TEST(TproxyRulesTest, ConsulDnsRulesPrecedeTheTcpCatchAll) {
  RedirectSettings s = basic();
  s.consul_dns = DnsTarget{};
  const auto lines = command_lines(build_rules(s));
  const std::vector<std::string> dns(lines.begin() + 6, lines.begin() + 11);
  EXPECT_THAT(dns, ElementsAre("iptables -t nat -A CONSUL_DNS_REDIRECT -p udp -d 127.0.0.1 --dport 53 -j DNAT "
                               "--to-destination 127.0.0.1:8600",
                               "iptables -t nat -A CONSUL_DNS_REDIRECT -p tcp -d 127.0.0.1 --dport 53 -j DNAT "
                               "--to-destination 127.0.0.1:8600",
                               "iptables -t nat -A OUTPUT -p udp -d 127.0.0.1 --dport 53 -j CONSUL_DNS_REDIRECT",
                               "iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport 53 -j CONSUL_DNS_REDIRECT",
                               "iptables -t nat -A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT"));
}

TEST(TproxyRulesTest, InvalidSettingsAreRejectedByName) {
  auto error_of = [](RedirectSettings s) {
    try {
      build_rules(s);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  RedirectSettings s = basic();
  s.inbound_port = 0;
  EXPECT_THAT(error_of(s), HasSubstr("inbound port is required"));
  s = basic();
  s.proxy_uid = "";
  EXPECT_THAT(error_of(s), HasSubstr("user ID is required"));
  s = basic();
  s.exclude_outbound_cidrs = {"10.0.0.0/33"};
  EXPECT_THAT(error_of(s), HasSubstr("excludeOutboundCIDRs: not an IPv4 address or CIDR: \"10.0.0.0/33\""));
  s.exclude_outbound_cidrs = {"10.0.0"};
  EXPECT_THAT(error_of(s), HasSubstr("excludeOutboundCIDRs"));
  s.exclude_outbound_cidrs = {"fd00::/8"};
  EXPECT_THAT(error_of(s), HasSubstr("excludeOutboundCIDRs"));
  s.exclude_outbound_cidrs = {"1.2.3.4 -j ACCEPT"};
  EXPECT_THAT(error_of(s), HasSubstr("excludeOutboundCIDRs"));
  s = basic();
  s.exclude_uids = {"nobody"};
  EXPECT_THAT(error_of(s), HasSubstr("excludeUIDs: not a user ID or range: \"nobody\""));
  s.exclude_uids = {"2000-1000"};
  EXPECT_THAT(error_of(s), HasSubstr("excludeUIDs"));
  s.exclude_uids = {"1000-2000"};
  EXPECT_THAT(error_of(s), IsEmpty());
  s = basic();
  s.inbound_port = 70000;
  EXPECT_THAT(error_of(s), HasSubstr("proxy inbound port"));
}

TEST(TproxySettingsTest, FromConfigAsMeshInit) {
  const auto cfg = v10(R"("proxy": {"healthCheckPort": 23000},
      "transparentProxy": {"excludeInboundPorts": [1234], "excludeOutboundPorts": [3456],
                           "excludeOutboundCIDRs": ["1.1.1.1/32"], "excludeUIDs": ["6678"],
                           "consulDNS": {"enabled": true}})");
  ProxyFacts proxy;
  proxy.port = 20000;
  proxy.config = nlohmann::json{{"envoy_prometheus_bind_addr", "0.0.0.0:9102"}, {"envoy_stats_bind_addr", "[::]:9103"}};
  proxy.expose_listener_ports = {21500, 0};
  const RedirectSettings s = settings_for(cfg, proxy);
  EXPECT_EQ(s.proxy_uid, "5995");
  EXPECT_EQ(s.inbound_port, 20000);
  EXPECT_EQ(s.outbound_port, 15001);
  EXPECT_THAT(s.exclude_inbound_ports, ElementsAre(1234, 23000, 9102, 9103, 21500));
  EXPECT_THAT(s.exclude_outbound_ports, ElementsAre(3456));
  EXPECT_THAT(s.exclude_outbound_cidrs, ElementsAre("1.1.1.1/32"));
  EXPECT_THAT(s.exclude_uids, ElementsAre("6678", "5996"));
  ASSERT_TRUE(s.consul_dns);
  EXPECT_EQ(s.consul_dns->ip, "127.0.0.1");
  EXPECT_EQ(s.consul_dns->port, 8600);
}

TEST(TproxySettingsTest, BindPortAndOutboundListenerOverride) {
  ProxyFacts proxy;
  proxy.port = 20000;
  proxy.config = nlohmann::json{{"bind_port", "21000"}};
  proxy.outbound_listener_port = 15555;
  const RedirectSettings s = settings_for(v10(), proxy);
  EXPECT_EQ(s.inbound_port, 21000);
  EXPECT_EQ(s.outbound_port, 15555);
  EXPECT_THAT(s.exclude_inbound_ports, ElementsAre(22000));  // the default readiness port
  EXPECT_THAT(s.exclude_uids, ElementsAre("5996"));
  EXPECT_FALSE(s.consul_dns);
}

TEST(TproxySettingsTest, BadBindAddressIsNamed) {
  ProxyFacts proxy;
  proxy.port = 20000;
  proxy.config = nlohmann::json{{"envoy_stats_bind_addr", "0.0.0.0"}};
  EXPECT_THROW(
      {
        try {
          settings_for(v10(), proxy);
        } catch (const std::invalid_argument& e) {
          EXPECT_THAT(e.what(), HasSubstr("envoy_stats_bind_addr"));
          throw;
        }
      },
      std::invalid_argument);
  proxy.config = nlohmann::json{{"bind_port", "x"}};
  EXPECT_THROW(settings_for(v10(), proxy), std::invalid_argument);
}

// ---- iptables-restore input ----

TEST(TproxyRestoreTest, FreshTable) {
  const std::string input = render_restore(build_rules(basic()), "");
  EXPECT_EQ(input,
            "*nat\n"
            ":CONSUL_PROXY_INBOUND - [0:0]\n"
            ":CONSUL_PROXY_IN_REDIRECT - [0:0]\n"
            ":CONSUL_PROXY_OUTPUT - [0:0]\n"
            ":CONSUL_PROXY_REDIRECT - [0:0]\n"
            ":CONSUL_DNS_REDIRECT - [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n"
            "-A CONSUL_PROXY_REDIRECT -p tcp -j REDIRECT --to-port 15001\n"
            "-A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT\n"
            "-A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5995 -j RETURN\n"
            "-A CONSUL_PROXY_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
            "-A CONSUL_PROXY_OUTPUT -j CONSUL_PROXY_REDIRECT\n"
            "-A CONSUL_PROXY_IN_REDIRECT -p tcp -j REDIRECT --to-port 20000\n"
            "-A PREROUTING -p tcp -j CONSUL_PROXY_INBOUND\n"
            "-A CONSUL_PROXY_INBOUND -p tcp -j CONSUL_PROXY_IN_REDIRECT\n"
            "COMMIT\n");
}

TEST(TproxyRestoreTest, EarlierJumpsAreDeletedOthersKept) {
  const std::string saved =
      "# Generated by iptables-save v1.8.9 (nf_tables)\n"
      "*nat\n"
      ":PREROUTING ACCEPT [0:0]\n"
      ":OUTPUT ACCEPT [0:0]\n"
      ":CONSUL_PROXY_OUTPUT - [0:0]\n"
      ":DOCKER - [0:0]\n"
      "-A PREROUTING -p tcp -j CONSUL_PROXY_INBOUND\n"
      "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n"
      "-A OUTPUT -p udp -d 127.0.0.1/32 --dport 53 -j CONSUL_DNS_REDIRECT\n"
      "-A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT\n"
      "-A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT\n"
      "-A CONSUL_PROXY_OUTPUT -j CONSUL_PROXY_REDIRECT\n"
      "-A DOCKER -i docker0 -j RETURN\n"
      "COMMIT\n";
  const std::string input = render_restore(build_rules(basic()), saved);
  EXPECT_THAT(input, HasSubstr(":POSTROUTING ACCEPT [0:0]\n"
                               "-D PREROUTING -p tcp -j CONSUL_PROXY_INBOUND\n"
                               "-D OUTPUT -p udp -d 127.0.0.1/32 --dport 53 -j CONSUL_DNS_REDIRECT\n"
                               "-D OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT\n"
                               "-D OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT\n"
                               "-A CONSUL_PROXY_REDIRECT"));
  EXPECT_THAT(input, ::testing::Not(HasSubstr("DOCKER")));
  EXPECT_THAT(input, ::testing::Not(HasSubstr("-D CONSUL_PROXY_OUTPUT")));  // flushed by its declaration
}

}  // namespace
}  // namespace consulecs::tproxy
