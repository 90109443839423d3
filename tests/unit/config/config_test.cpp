#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace consulecs::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

const std::string kExamples = std::string(CONSUL_ECS_TESTDATA_DIR) + "/reference/config-examples-0.7.3/";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Config load_example(const std::string& name) { return load_config(read_file(kExamples + name)); }

// The messages load_config throws; empty when it accepts the text.
std::vector<std::string> config_errors(const std::string& text) {
  try {
    load_config(text);
  } catch (const ConfigError& e) {
    return e.errors();
  }
  return {};
}

// A valid minimal config with `extra` spliced into the top-level object.
std::string minimal(const std::string& extra = "") {
  return R"({"bootstrapDir": "/consul", "consulServers": {"hosts": "consul.dc1"})" +
         (extra.empty() ? "" : ", " + extra) + "}";
}

// ---- Reference example files ----

class ConfigValidExampleTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ConfigValidExampleTest, IsAccepted) { EXPECT_NO_THROW(load_example(GetParam())); }

INSTANTIATE_TEST_SUITE_P(ConfigReference, ConfigValidExampleTest,
                         ::testing::Values("test_config.json", "test_config_empty_fields.json",
                                           "test_config_null_nested_fields.json",
                                           "test_config_null_top_level_fields.json", "test_extensive_config.json"));

TEST(ConfigExampleTest, MissingFieldsReportsBothProblems) {
  EXPECT_THAT(
      config_errors(read_file(kExamples + "test_config_missing_fields.json")),
      UnorderedElementsAre("bootstrapDir: must be at least 1 character(s) long, got 0", "consulServers: is required"));
}

TEST(ConfigExampleTest, UppercaseNamesReportServiceAndGateway) {
  EXPECT_THAT(config_errors(read_file(kExamples + "test_config_uppercase_service_names.json")),
              UnorderedElementsAre(HasSubstr("gateway.name: must be lower case"),
                                   HasSubstr("service.name: must be lower case")));
}

TEST(ConfigExampleTest, UnknownServicePropertyIsTheOnlyError) {
  EXPECT_THAT(config_errors(read_file(kExamples + "test_config_additional_properties_service.json")),
              ElementsAre("service.checks: additional property not allowed"));
}

TEST(ConfigExampleTest, BasicConfigFields) {
  const Config cfg = load_example("test_config.json");
  EXPECT_EQ(cfg.bootstrap_dir, "/consul/");
  EXPECT_EQ(cfg.consul_servers.hosts, "consul.dc1");
  ASSERT_TRUE(cfg.service);
  EXPECT_EQ(cfg.service->name, "blah");
  EXPECT_THAT(cfg.service->tags, ElementsAre("tag1"));
  EXPECT_EQ(cfg.service->meta, (StringMap{{"a", "1"}}));
  EXPECT_EQ(cfg.service->port, 1234);
  ASSERT_TRUE(cfg.proxy);
  ASSERT_EQ(cfg.proxy->upstreams.size(), 1u);
  EXPECT_EQ(cfg.proxy->upstreams[0].destination_name, "asdf");
  EXPECT_EQ(cfg.proxy->upstreams[0].local_bind_port, 543);
  EXPECT_THAT(cfg.health_sync_containers, ElementsAre("container1"));
  EXPECT_FALSE(cfg.gateway);
  EXPECT_FALSE(is_gateway(cfg));
}

TEST(ConfigExampleTest, ExtensiveConfigFields) {
  const Config cfg = load_example("test_extensive_config.json");
  EXPECT_EQ(log_level(cfg), "DEBUG");
  EXPECT_TRUE(login_enabled(cfg));
  EXPECT_EQ(login_method(cfg), "my-auth-method");
  EXPECT_FALSE(login_include_entity(cfg));
  EXPECT_EQ(cfg.consul_login->meta, (StringMap{{"tag-1", "val-1"}, {"tag-2", "val-2"}}));
  EXPECT_EQ(cfg.consul_login->region, "bogus-east-2");
  EXPECT_EQ(cfg.consul_login->sts_endpoint, "https://sts.bogus-east-2.example.com");
  EXPECT_EQ(cfg.consul_login->server_id_header_value, "my.consul.example.com");
  EXPECT_EQ(iam_role_path(cfg), "/consul-iam/");
  EXPECT_TRUE(partitions_enabled(cfg));
  EXPECT_TRUE(skip_server_watch(cfg));

  const TlsSettings grpc = grpc_tls(cfg);
  EXPECT_TRUE(grpc.enabled);
  EXPECT_EQ(grpc.ca_cert_file, "/consul/ca-cert-1.pem");
  EXPECT_EQ(grpc.server_name, "consul.dc2");
  const TlsSettings http = http_tls(cfg);
  EXPECT_EQ(http.ca_cert_file, "/consul/ca-cert-2.pem");
  EXPECT_EQ(http.server_name, "consul.dc3");

  const Service& svc = *cfg.service;
  EXPECT_EQ(svc.enable_tag_override, true);
  ASSERT_TRUE(svc.weights);
  EXPECT_EQ(svc.weights->passing, 6);
  EXPECT_EQ(svc.weights->warning, 5);
  EXPECT_EQ(svc.namespace_, "test-ns");
  EXPECT_EQ(svc.partition, "test-partition");

  const Proxy& proxy = *cfg.proxy;
  EXPECT_EQ(public_listener_port(cfg), 21000);
  EXPECT_EQ(proxy_health_check_port(cfg), 22000);
  EXPECT_EQ(proxy.local_service_address, "10.10.10.10");
  EXPECT_EQ(proxy.config, (nlohmann::json{{"data", "some-config-data"}}));
  const Upstream& up = proxy.upstreams.at(0);
  EXPECT_EQ(up.destination_type, "service");
  EXPECT_EQ(up.destination_peer, "test-peer");
  EXPECT_EQ(up.local_bind_address, "localhost");
  EXPECT_EQ(up.mesh_gateway->mode, "local");
  EXPECT_EQ(proxy.mesh_gateway->mode, "local");
  ASSERT_TRUE(proxy.expose);
  EXPECT_TRUE(proxy.expose->checks);
  ASSERT_EQ(proxy.expose->paths.size(), 1u);
  EXPECT_EQ(proxy.expose->paths[0].listener_port, 20001);
  EXPECT_EQ(proxy.expose->paths[0].path, "/things");
  EXPECT_EQ(proxy.expose->paths[0].local_path_port, 8080);
  EXPECT_EQ(proxy.expose->paths[0].protocol, "http2");

  // The reference accepts a gateway next to a service; the gateway wins.
  ASSERT_TRUE(is_gateway(cfg));
  const Gateway& gw = *cfg.gateway;
  EXPECT_EQ(gw.kind, "mesh-gateway");
  EXPECT_EQ(gw.lan_address->address, "10.0.0.1");
  EXPECT_EQ(gw.lan_address->port, 8443);
  EXPECT_EQ(gw.wan_address->port, 443);
  EXPECT_EQ(gateway_name(cfg, "Family"), "ecs-mesh-gateway");
  EXPECT_EQ(registration_namespace(cfg), "ns1");
  EXPECT_EQ(registration_partition(cfg), "ptn1");
  EXPECT_EQ(gateway_health_check_port(cfg), 22000);
  EXPECT_EQ(gw.proxy->config, (nlohmann::json{{"data", "some-config-data"}}));
}

TEST(ConfigExampleTest, NullFieldsFallBackToDefaults) {
  for (const char* name : {"test_config_null_top_level_fields.json", "test_config_null_nested_fields.json"}) {
    SCOPED_TRACE(name);
    const Config cfg = load_example(name);
    EXPECT_EQ(log_level(cfg), "INFO");
    EXPECT_FALSE(login_enabled(cfg));
    EXPECT_EQ(login_method(cfg), "iam-ecs-service-token");
    EXPECT_TRUE(login_include_entity(cfg));
    EXPECT_EQ(iam_role_path(cfg), "/consul-ecs/");
    EXPECT_EQ(controller_partition(cfg), "default");
    EXPECT_TRUE(https(cfg));
    EXPECT_EQ(http_port(cfg), 8501);
    EXPECT_EQ(grpc_port(cfg), 8503);
    EXPECT_TRUE(http_tls(cfg).enabled);
    EXPECT_TRUE(grpc_tls(cfg).enabled);
    EXPECT_FALSE(skip_server_watch(cfg));
    EXPECT_EQ(public_listener_port(cfg), 20000);
    EXPECT_EQ(proxy_health_check_port(cfg), 22000);
    EXPECT_EQ(service_name(cfg, "MyFamily"), "myfamily");
    EXPECT_EQ(gateway_name(cfg, "MyFamily"), "myfamily");
  }
}

TEST(ConfigExampleTest, EmptyFieldsFallBackToDefaults) {
  const Config cfg = load_example("test_config_empty_fields.json");
  EXPECT_EQ(service_name(cfg, "Web"), "web");
  EXPECT_EQ(gateway_name(cfg, "Gw"), "gw");
  EXPECT_EQ(gateway_health_check_port(cfg), 22000);  // 0 means unset
  EXPECT_TRUE(login_include_entity(cfg));
  EXPECT_EQ(iam_role_path(cfg), "/consul-ecs/");
  EXPECT_TRUE(cfg.health_sync_containers.empty());
}

// ---- Rules beyond the schema ----

TEST(ConfigTest, BriefExampleMessages) {
  EXPECT_THAT(config_errors(minimal(R"("logLevel": "info")")),
              ElementsAre(HasSubstr("logLevel: must be one of TRACE, DEBUG, INFO, WARN, ERROR, null")));
  EXPECT_THAT(config_errors(minimal(R"("proxy": {"upstreams": [{"destinationName": "b", "localBindPort": "80"}]})")),
              ElementsAre("proxy.upstreams[0].localBindPort: must be integer, got string"));
  EXPECT_THAT(config_errors(R"({"bootstrapDir": "/consul"})"), ElementsAre("consulServers: is required"));
  EXPECT_THAT(config_errors(minimal(R"("extra": 1)")), ElementsAre("extra: additional property not allowed"));
}

TEST(ConfigTest, HealthCheckPortMustBeAnInteger) {
  // The schema leaves healthCheckPort untyped; the reference's Go decoder does not.
  EXPECT_THAT(config_errors(minimal(R"("proxy": {"healthCheckPort": "22000"})")),
              ElementsAre("proxy.healthCheckPort: must be integer, got string"));
  EXPECT_THAT(config_errors(minimal(R"("gateway": {"kind": "mesh-gateway", "healthCheckPort": 1.5})")),
              ElementsAre(HasSubstr("gateway.healthCheckPort: must be an integer")));
  EXPECT_THAT(config_errors(minimal(R"("proxy": {"healthCheckPort": true})")),
              ElementsAre("proxy.healthCheckPort: must be integer, got boolean"));
  const Config cfg = load_config(minimal(R"("proxy": {"healthCheckPort": 23000})"));
  EXPECT_EQ(proxy_health_check_port(cfg), 23000);
}

TEST(ConfigTest, IntegerFieldsRejectFractionOrExponentLiterals) {
  // Valid for the schema, but Go cannot decode 8080.0 into an int.
  EXPECT_THAT(config_errors(minimal(R"("service": {"port": 8080.0})")),
              ElementsAre("service.port: must be an integer written without fraction or exponent, got 8080.0"));
  EXPECT_THAT(config_errors(minimal(R"("service": {"port": 8080.5})")),
              ElementsAre("service.port: must be integer, got number"));
}

TEST(ConfigTest, PortsMustBeInRange) {
  EXPECT_THAT(config_errors(minimal(R"("service": {"port": 70000})")),
              ElementsAre("service.port: must be a port number between 0 and 65535, got 70000"));
  EXPECT_THAT(config_errors(minimal(R"("proxy": {"publicListenerPort": -1})")),
              ElementsAre("proxy.publicListenerPort: must be a port number between 0 and 65535, got -1"));
  EXPECT_THAT(config_errors(R"({"bootstrapDir": "/c", "consulServers": {"hosts": "h", "grpc": {"port": 65536}}})"),
              ElementsAre("consulServers.grpc.port: must be a port number between 0 and 65535, got 65536"));
  EXPECT_NO_THROW(load_config(minimal(R"("service": {"port": 65535})")));
}

TEST(ConfigTest, ExposeIsTypeCheckedLikeTheReference) {
  EXPECT_THAT(config_errors(minimal(R"("proxy": {"expose": {"checks": "yes", "paths": [{"listenerPort": "x"}]}})")),
              UnorderedElementsAre("proxy.expose.checks: must be boolean, got string",
                                   "proxy.expose.paths[0].listenerPort: must be integer, got string"));
  // Unknown members and any protocol string are accepted, as in the reference.
  const Config cfg = load_config(minimal(R"("proxy": {"expose": {"paths": [{"protocol": "tcp", "x": 1}, null]}})"));
  ASSERT_EQ(cfg.proxy->expose->paths.size(), 2u);
  EXPECT_EQ(cfg.proxy->expose->paths[0].protocol, "tcp");
}

TEST(ConfigTest, MetaValuesMustBeStrings) {
  EXPECT_THAT(config_errors(minimal(R"("service": {"port": 1, "meta": {"a": 1}})")),
              ElementsAre("service.meta.a: must be string, got integer"));
}

TEST(ConfigTest, ReportsAllErrorsAtOnce) {
  const auto errors = config_errors(R"({
    "bootstrapDir": "",
    "logLevel": "LOUD",
    "service": {"name": "Web", "port": "80", "tags": ["a", "a"]},
    "proxy": {"healthCheckPort": "x"}
  })");
  EXPECT_THAT(errors, UnorderedElementsAre("bootstrapDir: must be at least 1 character(s) long, got 0",
                                           "consulServers: is required", HasSubstr("logLevel: must be one of"),
                                           HasSubstr("service.name: must be lower case"),
                                           "service.port: must be integer, got string",
                                           "service.tags: items must be unique, but [0] and [1] are both \"a\"",
                                           "proxy.healthCheckPort: must be integer, got string"));
  try {
    load_config(R"({"bootstrapDir": ""})");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "bootstrapDir: must be at least 1 character(s) long, got 0\nconsulServers: is required");
  }
}

TEST(ConfigTest, JsonSyntaxErrorNamesThePosition) {
  EXPECT_THAT(config_errors("{\n  \"bootstrapDir\": \"/consul\",\n}"),
              ElementsAre(HasSubstr("invalid JSON: parse error at line 3, column 1")));
  EXPECT_THAT(config_errors(""), ElementsAre(HasSubstr("invalid JSON")));
  EXPECT_THAT(config_errors("[]"), ElementsAre("(root): must be object, got array"));
}

TEST(ConfigTest, OpenObjectsMatchKeysCaseInsensitivelyLikeGo) {
  // The schema does not close `proxy`, and Go's decoder folds key case.
  EXPECT_EQ(public_listener_port(load_config(minimal(R"("proxy": {"PublicListenerPort": 21000})"))), 21000);
  EXPECT_THAT(config_errors(minimal(R"("proxy": {"UPSTREAMS": "x"})")),
              ElementsAre("proxy.UPSTREAMS: must be array, got string"));
  // Closed objects still reject such keys.
  EXPECT_THAT(config_errors(minimal(R"("service": {"port": 1, "Name": "x"})")),
              ElementsAre("service.Name: additional property not allowed (did you mean \"name\"?)"));
}

TEST(ConfigTest, UnknownPropertyOneEditFromAKnownOneSuggestsIt) {
  EXPECT_THAT(config_errors(R"({"bootstrapDri": "/c", "consulServers": {"hosts": "h"}})"),
              ElementsAre("bootstrapDir: is required",
                          "bootstrapDri: additional property not allowed (did you mean \"bootstrapDir\"?)"));
  EXPECT_THAT(config_errors(minimal(R"("consulLogin": {"enable": true})")),
              ElementsAre("consulLogin.enable: additional property not allowed (did you mean \"enabled\"?)"));
  EXPECT_THAT(config_errors(minimal(R"("proxy": {"upstreams": [{"destinationName": "b", "localBindPort": 1,
                                                                 "datacentre": "dc2"}]})")),
              ElementsAre("proxy.upstreams[0].datacentre: additional property not allowed "
                          "(did you mean \"datacenter\"?)"));
  // Letter case alone, however many letters, is a typo too.
  EXPECT_THAT(config_errors(minimal(R"("HEALTHSYNCCONTAINERS": ["app"])")),
              ElementsAre("HEALTHSYNCCONTAINERS: additional property not allowed "
                          "(did you mean \"healthSyncContainers\"?)"));
  // Two edits away, or nothing alike: no guess.
  EXPECT_THAT(config_errors(minimal(R"("bootstrapDirectory": "/c")")),
              ElementsAre("bootstrapDirectory: additional property not allowed"));
  EXPECT_THAT(config_errors(minimal(R"("bogusField": 1)")), ElementsAre("bogusField: additional property not allowed"));
}

TEST(ConfigTest, EmptyLocalServiceAddressIsUnset) {
  EXPECT_FALSE(load_config(minimal(R"("proxy": {"localServiceAddress": ""})")).proxy->local_service_address);
}

// ---- Defaults and overrides ----

TEST(ConfigDefaultsTest, MinimalConfig) {
  const Config cfg = load_config(minimal());
  EXPECT_EQ(log_level(cfg), "INFO");
  EXPECT_FALSE(login_enabled(cfg));
  EXPECT_EQ(login_method(cfg), "iam-ecs-service-token");
  EXPECT_TRUE(login_include_entity(cfg));
  EXPECT_EQ(iam_role_path(cfg), "/consul-ecs/");
  EXPECT_FALSE(partitions_enabled(cfg));
  EXPECT_EQ(controller_partition(cfg), "default");
  EXPECT_TRUE(https(cfg));
  EXPECT_EQ(http_port(cfg), 8501);
  EXPECT_EQ(grpc_port(cfg), 8503);
  const TlsSettings tls = http_tls(cfg);
  EXPECT_TRUE(tls.enabled);
  EXPECT_EQ(tls.ca_cert_file, "");
  EXPECT_EQ(tls.server_name, "");
  EXPECT_FALSE(skip_server_watch(cfg));
  EXPECT_EQ(public_listener_port(cfg), 20000);
  EXPECT_EQ(proxy_health_check_port(cfg), 22000);
  EXPECT_EQ(gateway_health_check_port(cfg), 22000);
  EXPECT_EQ(service_name(cfg, "Frontend-App"), "frontend-app");
  EXPECT_EQ(registration_namespace(cfg), "");
  EXPECT_EQ(registration_partition(cfg), "");
}

TEST(ConfigDefaultsTest, HttpAndGrpcOverrideDefaults) {
  const Config cfg = load_config(R"({"bootstrapDir": "/c", "consulServers": {"hosts": "h",
      "defaults": {"tls": false, "caCertFile": "/ca.pem", "tlsServerName": "server.dc1"},
      "http": {"tls": true, "tlsServerName": "http.dc1", "https": false, "port": 8500},
      "grpc": {"caCertFile": "/grpc-ca.pem", "tlsServerName": "", "port": 0}}})");
  const TlsSettings http = http_tls(cfg);
  EXPECT_TRUE(http.enabled);
  EXPECT_EQ(http.ca_cert_file, "/ca.pem");
  EXPECT_EQ(http.server_name, "http.dc1");
  const TlsSettings grpc = grpc_tls(cfg);
  EXPECT_FALSE(grpc.enabled);
  EXPECT_EQ(grpc.ca_cert_file, "/grpc-ca.pem");
  EXPECT_EQ(grpc.server_name, "server.dc1");  // empty override falls back
  EXPECT_FALSE(https(cfg));
  EXPECT_EQ(http_port(cfg), 8500);
  EXPECT_EQ(grpc_port(cfg), 0);  // explicit 0 is kept, as the reference does
}

TEST(ConfigDefaultsTest, DefaultsBlockWithoutTlsStillEnablesTls) {
  const Config cfg = load_config(
      R"({"bootstrapDir": "/c", "consulServers": {"hosts": "h", "defaults": {"caCertFile": "/a"}}})");
  EXPECT_TRUE(http_tls(cfg).enabled);
  EXPECT_TRUE(grpc_tls(cfg).enabled);
  EXPECT_EQ(grpc_tls(cfg).ca_cert_file, "/a");
}

TEST(ConfigDefaultsTest, ServiceNameWinsOverFamily) {
  EXPECT_EQ(service_name(load_config(minimal(R"("service": {"name": "api", "port": 1})")), "Family"), "api");
  EXPECT_EQ(service_name(load_config(minimal(R"("service": {"name": "", "port": 1})")), "Family"), "family");
}

// ---- Sources ----

class ConfigSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv("CONSUL_ECS_CONFIG_JSON")) saved_ = v;
    unsetenv("CONSUL_ECS_CONFIG_JSON");
  }
  void TearDown() override {
    if (saved_) {
      setenv("CONSUL_ECS_CONFIG_JSON", saved_->c_str(), 1);
    } else {
      unsetenv("CONSUL_ECS_CONFIG_JSON");
    }
  }
  std::optional<std::string> saved_;
};

TEST_F(ConfigSourceTest, ReadsTheEnvironment) {
  setenv("CONSUL_ECS_CONFIG_JSON", minimal(R"("logLevel": "WARN")").c_str(), 1);
  EXPECT_EQ(log_level(load_config_from_env_or_file("")), "WARN");
}

TEST_F(ConfigSourceTest, FileWinsOverEnvironment) {
  setenv("CONSUL_ECS_CONFIG_JSON", minimal(R"("logLevel": "WARN")").c_str(), 1);
  const std::string path = ::testing::TempDir() + "/consul-ecs-config-test.json";
  std::ofstream(path) << minimal(R"("logLevel": "ERROR")");
  EXPECT_EQ(log_level(load_config_from_env_or_file(path)), "ERROR");
  std::remove(path.c_str());
}

TEST_F(ConfigSourceTest, MissingBothNamesBoth) {
  setenv("CONSUL_ECS_CONFIG_JSON", "", 1);  // empty counts as unset, as in the reference
  try {
    load_config_from_env_or_file("");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("CONSUL_ECS_CONFIG_JSON"));
    EXPECT_THAT(e.what(), HasSubstr("-config-file"));
  }
}

TEST_F(ConfigSourceTest, UnreadableFileIsNamed) {
  EXPECT_THAT([] { load_config_from_env_or_file("/nonexistent/consul-ecs.json"); },
              ::testing::ThrowsMessage<ConfigError>(HasSubstr("cannot read config file /nonexistent/consul-ecs.json")));
  EXPECT_THAT([] { load_config_from_env_or_file(::testing::TempDir()); },
              ::testing::ThrowsMessage<ConfigError>(HasSubstr("is a directory")));
}

}  // namespace
}  // namespace consulecs::config
