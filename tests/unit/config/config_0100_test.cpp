// The v0.10.0 schema (mesh-init, health-sync, controller): the reference's
// own example files, the fields it added, and that each command's schema
// rejects the other generation's additions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"

namespace consulecs::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const std::string kExamples = std::string(CONSUL_ECS_TESTDATA_DIR) + "/reference/config-examples-0.10.0/";
constexpr SchemaVersion kV10 = SchemaVersion::k0_10_0;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Config load_example(const std::string& name) { return load_config(read_file(kExamples + name), kV10); }

std::vector<std::string> config_errors(const std::string& text, SchemaVersion schema = kV10) {
  try {
    load_config(text, schema);
  } catch (const ConfigError& e) {
    return e.errors();
  }
  return {};
}

std::string minimal(const std::string& extra = "") {
  return R"({"bootstrapDir": "/consul", "consulServers": {"hosts": "consul.dc1"})" +
         (extra.empty() ? "" : ", " + extra) + "}";
}

// ---- Reference example files (accepted / rejected as named) ----

class Config0100ValidExampleTest : public ::testing::TestWithParam<const char*> {};

TEST_P(Config0100ValidExampleTest, IsAccepted) {
  const Config cfg = load_example(GetParam());
  EXPECT_EQ(cfg.schema, kV10);
}

INSTANTIATE_TEST_SUITE_P(ConfigReference0100, Config0100ValidExampleTest,
                         ::testing::Values("test_config.json", "test_config_empty_fields.json",
                                           "test_config_null_nested_fields.json",
                                           "test_config_null_top_level_fields.json", "test_extensive_config.json"));

TEST(Config0100ExampleTest, MissingFieldsReportsBothProblems) {
  EXPECT_THAT(
      config_errors(read_file(kExamples + "test_config_missing_fields.json")),
      UnorderedElementsAre("bootstrapDir: must be at least 1 character(s) long, got 0", "consulServers: is required"));
}

TEST(Config0100ExampleTest, UppercaseNamesReportServiceAndGateway) {
  EXPECT_THAT(config_errors(read_file(kExamples + "test_config_uppercase_service_names.json")),
              UnorderedElementsAre(HasSubstr("gateway.name: must be lower case"),
                                   HasSubstr("service.name: must be lower case")));
}

TEST(Config0100ExampleTest, UnknownServicePropertyIsTheOnlyError) {
  EXPECT_THAT(config_errors(read_file(kExamples + "test_config_additional_properties_service.json")),
              ElementsAre("service.checks: additional property not allowed"));
}

// The 0.10 examples that use transparentProxy are not 0.7.3 configs.
class Config0100ExampleUnder073Test : public ::testing::TestWithParam<const char*> {};

TEST_P(Config0100ExampleUnder073Test, TransparentProxyIsUnknownTo073) {
  EXPECT_THAT(config_errors(read_file(kExamples + GetParam()), SchemaVersion::k0_7_3),
              ElementsAre("transparentProxy: additional property not allowed"));
}

INSTANTIATE_TEST_SUITE_P(ConfigReference0100, Config0100ExampleUnder073Test,
                         ::testing::Values("test_config_empty_fields.json", "test_config_null_nested_fields.json",
                                           "test_config_null_top_level_fields.json", "test_extensive_config.json"));

TEST(Config0100ExampleTest, ExtensiveTransparentProxyFields) {
  const Config cfg = load_example("test_extensive_config.json");
  ASSERT_TRUE(cfg.transparent_proxy);
  const TransparentProxy& tp = *cfg.transparent_proxy;
  EXPECT_EQ(tp.enabled, true);
  EXPECT_THAT(tp.exclude_inbound_ports, ElementsAre(1234, 5678));
  EXPECT_THAT(tp.exclude_outbound_ports, ElementsAre(3456, 8080));
  EXPECT_THAT(tp.exclude_outbound_cidrs, ElementsAre("1.1.1.1/32"));
  EXPECT_THAT(tp.exclude_uids, ElementsAre("6678"));
  ASSERT_TRUE(tp.consul_dns);
  EXPECT_EQ(tp.consul_dns->enabled, true);
  // The example also has a mesh gateway, and a gateway task never runs the
  // transparent proxy (the reference's TransparentProxyEnabled).
  EXPECT_TRUE(is_gateway(cfg));
  EXPECT_FALSE(transparent_proxy_enabled(cfg));
  EXPECT_FALSE(consul_dns_enabled(cfg));
}

TEST(Config0100ExampleTest, NullNestedTransparentProxyFieldsAreUnset) {
  const Config cfg = load_example("test_config_null_nested_fields.json");
  ASSERT_TRUE(cfg.transparent_proxy);
  EXPECT_FALSE(cfg.transparent_proxy->enabled);
  EXPECT_THAT(cfg.transparent_proxy->exclude_inbound_ports, IsEmpty());
  EXPECT_THAT(cfg.transparent_proxy->exclude_uids, IsEmpty());
}

// ---- transparentProxy defaults ----

TEST(Config0100Test, TransparentProxyDefaultsToEnabled) {
  // Absent, null, an empty block and a null `enabled` all mean enabled.
  for (const char* extra :
       {"", R"("transparentProxy": null)", R"("transparentProxy": {})", R"("transparentProxy": {"enabled": null})"}) {
    const Config cfg = load_config(minimal(extra), kV10);
    EXPECT_TRUE(transparent_proxy_enabled(cfg)) << extra;
    EXPECT_FALSE(consul_dns_enabled(cfg)) << extra;
  }
}

TEST(Config0100Test, TransparentProxyCanBeTurnedOff) {
  const Config cfg = load_config(minimal(R"("transparentProxy": {"enabled": false, "consulDNS": {"enabled": true}})"),
                                 kV10);
  EXPECT_FALSE(transparent_proxy_enabled(cfg));
  EXPECT_FALSE(consul_dns_enabled(cfg));  // Consul DNS needs the transparent proxy
}

TEST(Config0100Test, ConsulDnsNeedsItsFlag) {
  const Config cfg = load_config(minimal(R"("transparentProxy": {"consulDNS": {"enabled": true}})"), kV10);
  EXPECT_TRUE(transparent_proxy_enabled(cfg));
  EXPECT_TRUE(consul_dns_enabled(cfg));
}

TEST(Config0100Test, A073ConfigNeverRunsTheTransparentProxy) {
  const Config cfg = load_config(minimal());
  EXPECT_EQ(cfg.schema, SchemaVersion::k0_7_3);
  EXPECT_FALSE(transparent_proxy_enabled(cfg));
  EXPECT_FALSE(network_resilience_enabled(cfg));
}

TEST(Config0100Test, ExcludeListsAreValidated) {
  EXPECT_THAT(config_errors(minimal(R"("transparentProxy": {"excludeInboundPorts": [1, 1]})")),
              ElementsAre(HasSubstr("transparentProxy.excludeInboundPorts: ")));
  EXPECT_THAT(config_errors(minimal(R"("transparentProxy": {"excludeOutboundPorts": ["80"]})")),
              ElementsAre(HasSubstr("transparentProxy.excludeOutboundPorts[0]: must be integer")));
  EXPECT_THAT(config_errors(minimal(R"("transparentProxy": {"excludeOutboundPorts": [80, 70000]})")),
              ElementsAre("transparentProxy.excludeOutboundPorts[1]: must be a port number between 0 and 65535, "
                          "got 70000"));
  EXPECT_THAT(config_errors(minimal(R"("transparentProxy": {"excludeUIDs": [5995]})")),
              ElementsAre(HasSubstr("transparentProxy.excludeUIDs[0]: must be string")));
  EXPECT_THAT(config_errors(minimal(R"("transparentProxy": {"consulDNS": null})")),
              ElementsAre(HasSubstr("transparentProxy.consulDNS: must be object")));
  EXPECT_THAT(config_errors(minimal(R"("transparentProxy": {"redirect": true})")),
              ElementsAre("transparentProxy.redirect: additional property not allowed"));
}

// ---- gateway kinds ----

class Config0100GatewayKindTest : public ::testing::TestWithParam<const char*> {};

TEST_P(Config0100GatewayKindTest, AcceptedBy0100Only) {
  const std::string text = minimal(std::string(R"("gateway": {"kind": ")") + GetParam() + R"("})");
  const Config cfg = load_config(text, kV10);
  EXPECT_EQ(cfg.gateway->kind, GetParam());
  EXPECT_TRUE(is_gateway(cfg));
  EXPECT_FALSE(transparent_proxy_enabled(cfg));
  const bool mesh = std::string(GetParam()) == "mesh-gateway";
  EXPECT_EQ(config_errors(text, SchemaVersion::k0_7_3).empty(), mesh);
}

INSTANTIATE_TEST_SUITE_P(Kinds, Config0100GatewayKindTest,
                         ::testing::Values("mesh-gateway", "terminating-gateway", "api-gateway"));

TEST(Config0100Test, UnknownGatewayKindIsRejected) {
  EXPECT_THAT(config_errors(minimal(R"("gateway": {"kind": "ingress-gateway"})")),
              ElementsAre(HasSubstr("gateway.kind: ")));
}

// ---- service.networkResilienceConfig ----

std::string with_resilience(const std::string& block) {
  return minimal(R"("service": {"port": 8080, "networkResilienceConfig": )" + block + "}");
}

TEST(Config0100Test, NetworkResilienceDefaultsWithoutOutlierBlock) {
  const Config cfg = load_config(with_resilience(R"({"enabled": true})"), kV10);
  EXPECT_TRUE(network_resilience_enabled(cfg));
  const OutlierDetection od = outlier_detection(cfg);
  EXPECT_EQ(od.interval_ns, 10'000'000'000);
  EXPECT_EQ(od.max_failures, 5u);
  EXPECT_EQ(od.enforcing_consecutive_gateway_failure, 100u);
  EXPECT_EQ(od.max_ejection_percent, 50u);
  EXPECT_FALSE(od.enforcing_consecutive_5xx);  // the reference leaves these to Consul
  EXPECT_FALSE(od.consecutive_5xx);
  EXPECT_FALSE(od.consecutive_gateway_failure);
}

TEST(Config0100Test, NetworkResilienceOutlierBlockKeepsItsValues) {
  const Config cfg = load_config(with_resilience(R"({"enabled": true, "outlierDetection": {
      "interval": 5000000000, "maxFailures": 3, "enforcingConsecutive5xx": 90, "consecutive5xx": 4,
      "consecutiveGatewayFailure": 2}})"),
                                 kV10);
  const OutlierDetection od = outlier_detection(cfg);
  EXPECT_EQ(od.interval_ns, 5'000'000'000);
  EXPECT_EQ(od.max_failures, 3u);
  EXPECT_EQ(od.enforcing_consecutive_5xx, 90u);
  EXPECT_EQ(od.consecutive_5xx, 4u);
  EXPECT_EQ(od.consecutive_gateway_failure, 2u);
  EXPECT_EQ(od.enforcing_consecutive_gateway_failure, 100u);  // filled in
  EXPECT_EQ(od.max_ejection_percent, 50u);                    // filled in
}

TEST(Config0100Test, NetworkResilienceEmptyOutlierBlockIsNotTheDefaults) {
  // As the reference: a given block keeps Go's zero interval and maxFailures.
  const Config cfg = load_config(with_resilience(R"({"enabled": true, "outlierDetection": {}})"), kV10);
  const OutlierDetection od = outlier_detection(cfg);
  EXPECT_FALSE(od.interval_ns);
  EXPECT_FALSE(od.max_failures);
  EXPECT_EQ(od.max_ejection_percent, 50u);
}

TEST(Config0100Test, NetworkResilienceDisabled) {
  EXPECT_FALSE(network_resilience_enabled(load_config(with_resilience(R"({"enabled": false})"), kV10)));
  EXPECT_FALSE(network_resilience_enabled(load_config(with_resilience("null"), kV10)));
  EXPECT_FALSE(network_resilience_enabled(load_config(with_resilience("{}"), kV10)));
}

TEST(Config0100Test, NetworkResilienceIsValidated) {
  EXPECT_THAT(config_errors(with_resilience(R"({"enabled": null})")),
              ElementsAre(HasSubstr("service.networkResilienceConfig.enabled: must be boolean")));
  EXPECT_THAT(config_errors(with_resilience(R"({"outlierDetection": {"maxFailures": 0}})")),
              ElementsAre(HasSubstr("service.networkResilienceConfig.outlierDetection.maxFailures: ")));
  EXPECT_THAT(config_errors(with_resilience(R"({"outlierDetection": {"maxEjectionPercent": 101}})")),
              ElementsAre(HasSubstr("service.networkResilienceConfig.outlierDetection.maxEjectionPercent: ")));
  EXPECT_THAT(config_errors(with_resilience(R"({"outlierDetection": {"interval": -1}})")),
              ElementsAre(HasSubstr("service.networkResilienceConfig.outlierDetection.interval: ")));
  EXPECT_THAT(config_errors(with_resilience(R"({"outlierDetection": {"consecutive5xx": 4294967296}})")),
              ElementsAre("service.networkResilienceConfig.outlierDetection.consecutive5xx: must be between 0 and "
                          "4294967295, got 4294967296"));
  EXPECT_THAT(config_errors(with_resilience(R"({"outlierDetection": {"interval": "10s"}})")),
              ElementsAre(HasSubstr("service.networkResilienceConfig.outlierDetection.interval: must be integer")));
  EXPECT_THAT(config_errors(with_resilience(R"({"retries": 3})")),
              ElementsAre("service.networkResilienceConfig.retries: additional property not allowed"));
  // Unknown to the 0.7.3 schema.
  EXPECT_THAT(config_errors(with_resilience(R"({"enabled": true})"), SchemaVersion::k0_7_3),
              ElementsAre("service.networkResilienceConfig: additional property not allowed"));
}

}  // namespace
}  // namespace consulecs::config
