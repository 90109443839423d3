#include "mesh/registration.h"

#include <gtest/gtest.h>

#include "util/files.h"

using namespace consulecs;
using nlohmann::json;

namespace {

ecs::TaskMetadata fargate_task() {
  return ecs::parse_task_metadata(files::read_file(std::string(CONSUL_ECS_TESTDATA_DIR) + "/ecs/task-fargate.json"));
}

config::Config service_config() {
  return config::load_config(R"({
    "bootstrapDir": "/consul",
    "consulServers": {"hosts": "consul.example", "grpc": {"port": 8502, "tls": false}},
    "service": {"name": "web", "port": 8080, "tags": ["a", "b"], "meta": {"team": "x", "source": "spoofed"},
                "weights": {"passing": 3, "warning": 1}, "enableTagOverride": true},
    "proxy": {"upstreams": [{"destinationName": "db", "localBindPort": 5432, "datacenter": "dc2",
                             "meshGateway": {"mode": "local"}}],
              "config": {"protocol": "http"}, "publicListenerPort": 21000, "healthCheckPort": 23000},
    "healthSyncContainers": ["app", "worker"],
    "logLevel": "DEBUG"
  })");
}

}  // namespace

TEST(Registration, ServiceAndSidecarFollowTheReferenceShape) {
  const auto task = fargate_task();
  const auto regs = mesh::build_registrations(service_config(), task);
  const std::string id = "web-e9028f8d5d8e4f258373e7b93ce9a3c3";
  ASSERT_TRUE(regs.service.has_value());
  const json& body = regs.service->body;
  EXPECT_EQ(body["Node"], "arn:aws:ecs:us-west-2:111122223333:cluster/default");
  EXPECT_EQ(body["NodeMeta"], json({{"synthetic-node", "true"}}));
  EXPECT_EQ(body["Address"], "192.0.2.3");
  EXPECT_EQ(body["SkipNodeUpdate"], true);
  const json& svc = body["Service"];
  EXPECT_EQ(svc["ID"], id);
  EXPECT_EQ(svc["Service"], "web");
  EXPECT_EQ(svc["Port"], 8080);
  EXPECT_EQ(svc["Tags"], json({"a", "b"}));
  EXPECT_EQ(svc["Meta"]["task-id"], "e9028f8d5d8e4f258373e7b93ce9a3c3");
  EXPECT_EQ(svc["Meta"]["task-arn"], task.task_arn);
  EXPECT_EQ(svc["Meta"]["source"], "consul-ecs") << "user meta must not override consul-ecs keys";
  EXPECT_EQ(svc["Meta"]["team"], "x");
  EXPECT_EQ(svc["Weights"], json({{"Passing", 3}, {"Warning", 1}}));
  EXPECT_EQ(svc["EnableTagOverride"], true);
  EXPECT_EQ(svc["Locality"], json({{"Region", "us-west-2"}, {"Zone", "us-west-2a"}}));

  std::vector<std::string> check_ids;
  for (const auto& check : body["Checks"]) {
    check_ids.push_back(check["CheckID"]);
    EXPECT_EQ(check["Status"], "critical");
    EXPECT_EQ(check["Type"], "consul-ecs-health-check");
    EXPECT_EQ(check["ServiceID"], id);
  }
  EXPECT_EQ(check_ids, (std::vector<std::string>{id + "-app", id + "-worker", id + "-consul-dataplane"}));

  const json& proxy = regs.proxy.body["Service"];
  EXPECT_EQ(proxy["ID"], id + "-sidecar-proxy");
  EXPECT_EQ(proxy["Service"], "web-sidecar-proxy");
  EXPECT_EQ(proxy["Kind"], "connect-proxy");
  EXPECT_EQ(proxy["Port"], 21000);
  EXPECT_EQ(proxy["Meta"], svc["Meta"]);
  EXPECT_EQ(proxy["Proxy"]["DestinationServiceID"], id);
  EXPECT_EQ(proxy["Proxy"]["DestinationServiceName"], "web");
  EXPECT_EQ(proxy["Proxy"]["LocalServicePort"], 8080);
  EXPECT_EQ(proxy["Proxy"]["Config"], json({{"protocol", "http"}}));
  EXPECT_EQ(proxy["Proxy"]["Upstreams"],
            json::parse(R"([{"DestinationName":"db","LocalBindPort":5432,"Datacenter":"dc2","MeshGateway":{"Mode":"local"}}])"));
  ASSERT_EQ(regs.proxy.body["Checks"].size(), 1u);
  EXPECT_EQ(regs.proxy.body["Checks"][0]["CheckID"], id + "-sidecar-proxy-consul-dataplane");
  EXPECT_EQ(regs.all_checks().size(), 4u);
}

TEST(Registration, ServiceNameDefaultsToLowerCasedFamily) {
  auto cfg = config::load_config(R"({"bootstrapDir": "/c", "consulServers": {"hosts": "h"}, "service": {"port": 1}})");
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  EXPECT_EQ(regs.service->service_name, "web-app");
  EXPECT_EQ(regs.service->service_id, "web-app-e9028f8d5d8e4f258373e7b93ce9a3c3");
  EXPECT_EQ(regs.proxy.body["Service"]["Port"], 20000);
}

TEST(Registration, MeshGatewayWithLanAndWanAddresses) {
  auto cfg = config::load_config(R"({
    "bootstrapDir": "/c", "consulServers": {"hosts": "h"},
    "gateway": {"kind": "mesh-gateway", "name": "gw", "lanAddress": {"address": "10.0.0.1", "port": 9443},
                "wanAddress": {"address": "203.0.113.9"}, "proxy": {"config": {"x": 1}}}
  })");
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  EXPECT_FALSE(regs.service.has_value());
  const json& gw = regs.proxy.body["Service"];
  EXPECT_EQ(gw["Kind"], "mesh-gateway");
  EXPECT_EQ(gw["ID"], "gw-e9028f8d5d8e4f258373e7b93ce9a3c3");
  EXPECT_EQ(gw["Port"], 9443);
  EXPECT_EQ(gw["Address"], "10.0.0.1");
  EXPECT_EQ(gw["TaggedAddresses"]["lan"], json({{"Address", "10.0.0.1"}, {"Port", 9443}}));
  EXPECT_EQ(gw["TaggedAddresses"]["wan"], json({{"Address", "203.0.113.9"}, {"Port", 9443}}));
  EXPECT_EQ(gw["Proxy"]["Config"], json({{"x", 1}}));
  ASSERT_EQ(regs.proxy.checks.size(), 1u);
  EXPECT_EQ(regs.proxy.checks[0].container, "consul-dataplane");
}

TEST(Registration, GatewayPortDefaults) {
  auto cfg = config::load_config(R"({"bootstrapDir": "/c", "consulServers": {"hosts": "h"}, "gateway": {"kind": "mesh-gateway"}})");
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  EXPECT_EQ(regs.proxy.body["Service"]["Port"], 8443);
  EXPECT_EQ(regs.proxy.body["Service"]["Address"], "192.0.2.3");
  EXPECT_FALSE(regs.proxy.body["Service"].contains("TaggedAddresses"));
}

TEST(DataplaneConfig, HasEveryReferenceField) {
  const auto cfg = service_config();
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  const json doc = mesh::dataplane_config(cfg, regs, {"secret-token", ""});
  EXPECT_EQ(doc["consul"]["addresses"], "consul.example");
  EXPECT_EQ(doc["consul"]["grpcPort"], 8502);
  EXPECT_EQ(doc["consul"]["serverWatchDisabled"], false);
  EXPECT_EQ(doc["consul"]["tls"], json({{"disabled", true}}));
  EXPECT_EQ(doc["consul"]["credentials"], json({{"type", "static"}, {"static", {{"token", "secret-token"}}}}));
  EXPECT_EQ(doc["proxy"]["nodeName"], "arn:aws:ecs:us-west-2:111122223333:cluster/default");
  EXPECT_EQ(doc["proxy"]["id"], "web-e9028f8d5d8e4f258373e7b93ce9a3c3-sidecar-proxy");
  EXPECT_EQ(doc["proxy"]["namespace"], "");
  EXPECT_EQ(doc["proxy"]["partition"], "");
  EXPECT_EQ(doc["xdsServer"]["bindAddress"], "127.0.0.1");
  EXPECT_EQ(doc["envoy"], json({{"readyBindAddress", "127.0.0.1"}, {"readyBindPort", 23000}}));
  EXPECT_EQ(doc["logging"]["logLevel"], "DEBUG");
}

TEST(DataplaneConfig, TlsAndNoTokenWithoutLogin) {
  auto cfg = config::load_config(R"({"bootstrapDir": "/c", "consulServers": {"hosts": "exec=x",
      "defaults": {"tlsServerName": "server.dc1.consul", "caCertFile": "/ca.pem"}, "skipServerWatch": true},
      "service": {"port": 1}})");
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  const json doc = mesh::dataplane_config(cfg, regs, {"", "/consul/consul-grpc-ca-cert.pem"});
  EXPECT_EQ(doc["consul"]["tls"], json({{"disabled", false}, {"caCertsPath", "/consul/consul-grpc-ca-cert.pem"},
                                        {"tlsServerName", "server.dc1.consul"}}));
  EXPECT_FALSE(doc["consul"].contains("credentials"));
  EXPECT_EQ(doc["consul"]["serverWatchDisabled"], true);
  EXPECT_EQ(doc["consul"]["grpcPort"], 8503);
  EXPECT_EQ(doc["envoy"]["readyBindPort"], 22000);
}

TEST(Registration, StripLocalityForOlderConsul) {
  auto regs = mesh::build_registrations(service_config(), fargate_task());
  EXPECT_TRUE(mesh::strip_locality(regs.service->body));
  EXPECT_FALSE(regs.service->body["Service"].contains("Locality"));
  EXPECT_FALSE(mesh::strip_locality(regs.service->body)) << "nothing left to strip";
  EXPECT_EQ(regs.service->body["Service"]["ID"], "web-e9028f8d5d8e4f258373e7b93ce9a3c3");
}

// ---- v0.10 (mesh-init) ----

namespace {

config::Config config_0100(const std::string& body) {
  return config::load_config(R"({"bootstrapDir": "/c", "consulServers": {"hosts": "h"}, )" + body + "}",
                             config::SchemaVersion::k0_10_0);
}

mesh::DataplaneLogin sample_login() {
  mesh::DataplaneLogin login;
  login.auth_method = "iam-ecs-service-token";
  login.datacenter = "dc1";
  login.bearer_token = "bearer-xyz";
  login.meta = {{"consul.hashicorp.com/task-id", "t1"}, {"consul.hashicorp.com/cluster", "arn:c"}};
  return login;
}

}  // namespace

TEST(DataplaneConfig, LoginCredentialsOmitEmptyNamespaceAndPartition) {
  const auto cfg = service_config();
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  mesh::DataplaneInputs inputs;
  inputs.login = sample_login();
  const json doc = mesh::dataplane_config(cfg, regs, inputs);
  EXPECT_EQ(doc["consul"]["credentials"],
            json::parse(R"({"type": "login", "login": {"authMethod": "iam-ecs-service-token", "datacenter": "dc1",
                "bearerToken": "bearer-xyz", "meta": {"consul.hashicorp.com/task-id": "t1",
                "consul.hashicorp.com/cluster": "arn:c"}}})"));
  EXPECT_FALSE(doc.contains("dnsServer"));
}

TEST(DataplaneConfig, LoginCredentialsWithScopeAndEmptyFieldsKept) {
  const auto cfg = service_config();
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  mesh::DataplaneInputs inputs;
  inputs.token = "ignored-when-login-is-set";
  mesh::DataplaneLogin login;
  login.auth_method = "m";
  login.ns = "team";
  login.partition = "part1";
  inputs.login = login;
  const json creds = mesh::dataplane_config(cfg, regs, inputs)["consul"]["credentials"];
  // datacenter, bearerToken and meta are always written (no omitempty in the reference).
  EXPECT_EQ(creds, json::parse(R"({"type": "login", "login": {"authMethod": "m", "namespace": "team",
      "partition": "part1", "datacenter": "", "bearerToken": "", "meta": {}}})"));
}

TEST(DataplaneConfig, DnsServerWhenConsulDnsIsEnabled) {
  const auto cfg = service_config();
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  mesh::DataplaneInputs inputs;
  inputs.dns_server = std::make_pair(std::string("127.0.0.1"), 8600);
  const json doc = mesh::dataplane_config(cfg, regs, inputs);
  EXPECT_EQ(doc["dnsServer"], json({{"bindAddress", "127.0.0.1"}, {"bindPort", 8600}}));
  EXPECT_FALSE(doc["consul"].contains("credentials"));
}

TEST(DataplaneConfig, StaticTokenDocumentIsUnchanged) {
  // The control-plane's document, byte for byte (sorted keys, compact).
  const auto cfg = service_config();
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  EXPECT_EQ(mesh::dataplane_config(cfg, regs, {"tok", ""}).dump(),
            R"({"consul":{"addresses":"consul.example","credentials":{"static":{"token":"tok"},"type":"static"},)"
            R"("grpcPort":8502,"serverWatchDisabled":false,"tls":{"disabled":true}},"envoy":{"readyBindAddress":)"
            R"("127.0.0.1","readyBindPort":23000},"logging":{"logLevel":"DEBUG"},"proxy":{"id":)"
            R"("web-e9028f8d5d8e4f258373e7b93ce9a3c3-sidecar-proxy","namespace":"","nodeName":)"
            R"("arn:aws:ecs:us-west-2:111122223333:cluster/default","partition":""},"xdsServer":{"bindAddress":"127.0.0.1"}})");
}

class OtherGatewayKinds : public ::testing::TestWithParam<std::string> {};

TEST_P(OtherGatewayKinds, RegisterOnTheTaskAddressWithoutTaggedAddresses) {
  const std::string kind = GetParam();
  // lanAddress/wanAddress only mean something for a mesh gateway: the
  // reference ignores them for the other kinds.
  const auto cfg = config_0100(R"("gateway": {"kind": ")" + kind + R"(", "name": "gw", "tags": ["t"],
      "meta": {"team": "x"}, "lanAddress": {"address": "10.0.0.1", "port": 9443},
      "wanAddress": {"address": "203.0.113.9", "port": 443}, "healthCheckPort": 21001,
      "proxy": {"config": {"envoy_prometheus_bind_addr": "0.0.0.0:9102"}}})");
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  EXPECT_FALSE(regs.service.has_value());
  const json& body = regs.proxy.body;
  const json& gw = body["Service"];
  EXPECT_EQ(gw["Kind"], kind);
  EXPECT_EQ(gw["ID"], "gw-e9028f8d5d8e4f258373e7b93ce9a3c3");
  EXPECT_EQ(gw["Service"], "gw");
  EXPECT_EQ(gw["Port"], 8443);
  EXPECT_EQ(gw["Address"], "192.0.2.3");
  EXPECT_FALSE(gw.contains("TaggedAddresses"));
  EXPECT_EQ(gw["Tags"], json({"t"}));
  EXPECT_EQ(gw["Meta"]["team"], "x");
  EXPECT_EQ(gw["Meta"]["source"], "consul-ecs");
  EXPECT_EQ(gw["Proxy"], json({{"Config", {{"envoy_prometheus_bind_addr", "0.0.0.0:9102"}}}}));
  EXPECT_FALSE(gw["Proxy"].contains("Mode")) << "a gateway never runs in transparent mode";
  EXPECT_EQ(body["Address"], "192.0.2.3");
  ASSERT_EQ(body["Checks"].size(), 1u);
  EXPECT_EQ(body["Checks"][0]["CheckID"], "gw-e9028f8d5d8e4f258373e7b93ce9a3c3-consul-dataplane");
  EXPECT_EQ(body["Checks"][0]["Name"], "Consul dataplane readiness");
  const json doc = mesh::dataplane_config(cfg, regs, {});
  EXPECT_EQ(doc["envoy"]["readyBindPort"], 21001);
  EXPECT_EQ(doc["proxy"]["id"], "gw-e9028f8d5d8e4f258373e7b93ce9a3c3");
}

INSTANTIATE_TEST_SUITE_P(Kinds, OtherGatewayKinds, ::testing::Values("terminating-gateway", "api-gateway"));

TEST(Registration, MeshGatewayUnderTheNewSchemaStillPublishesLanAndWan) {
  const auto cfg = config_0100(R"("gateway": {"kind": "mesh-gateway", "lanAddress": {"address": "10.0.0.1"},
      "wanAddress": {"address": "203.0.113.9"}})");
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  const json& gw = regs.proxy.body["Service"];
  EXPECT_EQ(gw["Port"], 8443);
  EXPECT_EQ(gw["Address"], "10.0.0.1");
  EXPECT_EQ(gw["TaggedAddresses"], json::parse(R"({"lan": {"Address": "10.0.0.1", "Port": 8443},
      "wan": {"Address": "203.0.113.9", "Port": 8443}})"));
}

TEST(Registration, TransparentProxyTagsTheVirtualAddress) {
  // transparentProxy absent = enabled in the 0.10 schema.
  const auto cfg = config_0100(R"("service": {"name": "web", "port": 8080})");
  const auto regs = mesh::build_registrations(cfg, fargate_task());
  const json virtual_address = {{"virtual", {{"Address", "192.0.2.3"}, {"Port", 8080}}}};
  EXPECT_EQ(regs.service->body["Service"]["TaggedAddresses"], virtual_address);
  EXPECT_EQ(regs.proxy.body["Service"]["TaggedAddresses"], virtual_address);
  EXPECT_EQ(regs.proxy.body["Service"]["Proxy"]["Mode"], "transparent");
}

TEST(Registration, NoTransparentProxyFieldsWhenDisabledOrUnderTheOldSchema) {
  const auto off = config_0100(R"("service": {"name": "web", "port": 8080}, "transparentProxy": {"enabled": false})");
  for (const auto& cfg : {off, service_config()}) {
    const auto regs = mesh::build_registrations(cfg, fargate_task());
    EXPECT_FALSE(regs.service->body["Service"].contains("TaggedAddresses"));
    EXPECT_FALSE(regs.proxy.body["Service"].contains("TaggedAddresses"));
    EXPECT_FALSE(regs.proxy.body["Service"]["Proxy"].contains("Mode"));
  }
}
