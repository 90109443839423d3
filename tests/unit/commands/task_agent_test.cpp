#include "commands/task_agent.h"

#include <gtest/gtest.h>

#include "config/config.h"

using namespace consulecs;
using nlohmann::json;

namespace {

ecs::TaskMetadata task_with(std::vector<std::pair<std::string, std::string>> health) {
  ecs::TaskMetadata task;
  task.cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/c";
  task.task_arn = "arn:aws:ecs:us-east-1:123456789012:task/c/abcdef";
  task.family = "web";
  for (auto& [name, status] : health) {
    ecs::Container c;
    c.name = name;
    c.known_status = "RUNNING";
    if (!status.empty()) c.health = ecs::ContainerHealth{status};
    task.containers.push_back(c);
  }
  return task;
}

config::Config cfg_v10(const std::string& extra = "") {
  return config::load_config(R"({"bootstrapDir": "/consul", "consulServers": {"hosts": "localhost"},
    "service": {"name": "web", "port": 8080}, "healthSyncContainers": ["app", "worker"])" + extra + "}",
                             config::SchemaVersion::k0_10_0);
}

const std::string* dataplane_health(const ecs::TaskMetadata& task) {
  const auto* c = task.find_container("consul-dataplane");
  return c && c->health ? &c->health->status : nullptr;
}

}  // namespace

TEST(HealthSyncDataplaneGate, PassesOnlyWhenEveryAppContainerIsHealthy) {
  const auto cfg = cfg_v10();
  const auto healthy = task_with({{"app", "HEALTHY"}, {"worker", "HEALTHY"}, {"consul-dataplane", "HEALTHY"}});
  EXPECT_EQ(commands::first_unhealthy_app(cfg, healthy), "");
  EXPECT_EQ(*dataplane_health(commands::with_app_gated_dataplane(cfg, healthy)), "HEALTHY");

  const auto sick = task_with({{"app", "HEALTHY"}, {"worker", "UNHEALTHY"}, {"consul-dataplane", "HEALTHY"}});
  EXPECT_EQ(commands::first_unhealthy_app(cfg, sick), "worker");
  const auto gated = commands::with_app_gated_dataplane(cfg, sick);
  EXPECT_EQ(*dataplane_health(gated), "UNHEALTHY");
  EXPECT_EQ(mesh::consul_status_for(gated, "consul-dataplane"), "critical");
  // The application containers themselves are judged as ECS reports them.
  EXPECT_EQ(mesh::consul_status_for(gated, "app"), "passing");
}

TEST(HealthSyncDataplaneGate, AMissingAppContainerHoldsTheDataplaneCritical) {
  const auto cfg = cfg_v10();
  const auto starting = task_with({{"app", "HEALTHY"}, {"consul-dataplane", "HEALTHY"}});  // no worker yet
  EXPECT_EQ(commands::first_unhealthy_app(cfg, starting), "worker");
  EXPECT_EQ(mesh::consul_status_for(commands::with_app_gated_dataplane(cfg, starting), "consul-dataplane"),
            "critical");
}

TEST(HealthSyncDataplaneGate, ExplainsWhyTheDataplaneCheckIsCritical) {
  std::vector<mesh::SyncedCheck> checks(2);
  checks[0].check_id = "web-1-app";
  checks[0].container = "app";
  checks[1].check_id = "web-1-consul-dataplane";
  checks[1].container = "consul-dataplane";
  json reg = {{"Checks",
               {{{"CheckID", "web-1-app"}, {"Status", "critical"}, {"Output", "ECS says UNHEALTHY"}},
                {{"CheckID", "web-1-consul-dataplane"}, {"Status", "critical"}, {"Output", "x"}}}}};
  commands::explain_app_gate(reg, checks, "app");
  EXPECT_EQ(reg["Checks"][0]["Output"], "ECS says UNHEALTHY");
  EXPECT_NE(reg["Checks"][1]["Output"].get<std::string>().find("\"app\" is not healthy"), std::string::npos);
  json unchanged = reg;
  commands::explain_app_gate(reg, checks, "");
  EXPECT_EQ(reg, unchanged);
}

TEST(HealthSyncDiscovery, HeldStatesAreOursOnly) {
  std::vector<mesh::SyncedCheck> checks(2);
  checks[0].check_id = "a";
  checks[1].check_id = "b";
  const json answer = json::array({{{"CheckID", "a"}, {"Status", "passing"}, {"Output", "ok"}},
                                   {{"CheckID", "other"}, {"Status", "passing"}},
                                   {{"CheckID", 7}, {"Status", "passing"}},
                                   "junk"});
  const auto held = commands::held_check_states(answer, checks);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held.at("a").status, "passing");
  EXPECT_EQ(held.at("a").output, "ok");
  EXPECT_THROW(commands::held_check_states(json::object(), checks), std::runtime_error);
}

TEST(MeshInitTransparentProxy, ProxyFactsFromTheCatalog) {
  const json answer = {{"Node", {{"Node", "n"}}},
                       {"Services",
                        {{{"ID", "web-1-sidecar-proxy"},
                          {"Port", 21000},
                          {"Proxy",
                           {{"Config", {{"bind_port", 21001}}},
                            {"TransparentProxy", {{"OutboundListenerPort", 15002}}},
                            {"Expose", {{"Paths", {{{"ListenerPort", 21500}}}}}}}}}}}};
  const auto facts = commands::proxy_facts(answer, "web-1-sidecar-proxy");
  EXPECT_EQ(facts.port, 21000);
  EXPECT_EQ((*facts.config)["bind_port"], 21001);
  EXPECT_EQ(facts.outbound_listener_port, 15002);
  EXPECT_EQ(facts.expose_listener_ports, std::vector<int>{21500});
  EXPECT_THROW(commands::proxy_facts(answer, "other"), std::runtime_error);
  EXPECT_THROW(commands::proxy_facts(json::object({{"Services", {{{"ID", "x"}}}}}), "x"), std::runtime_error);
}

TEST(MeshInitTransparentProxy, ProxyServicePathFiltersAndMergesCentralConfig) {
  const auto cfg = cfg_v10();
  const auto regs = mesh::build_registrations(cfg, task_with({}));
  const auto read = commands::proxy_service_read(regs);
  const auto& path = read.path;
  EXPECT_EQ(path.rfind("/v1/catalog/node-services/arn:aws:ecs:us-east-1:123456789012:cluster/c?", 0), 0u) << path;
  EXPECT_NE(path.find("merge-central-config"), std::string::npos);
  EXPECT_NE(path.find("filter=ID%20%3D%3D%20%22web-abcdef-sidecar-proxy%22"), std::string::npos) << path;
}
