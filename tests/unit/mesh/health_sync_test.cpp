#include "mesh/health_sync.h"

#include <gtest/gtest.h>

using namespace consulecs;

namespace {

ecs::TaskMetadata task_with(std::vector<std::pair<std::string, std::string>> health) {
  ecs::TaskMetadata task;
  for (auto& [name, status] : health) {
    ecs::Container c;
    c.name = name;
    c.known_status = "RUNNING";
    if (!status.empty()) c.health = ecs::ContainerHealth{status};
    task.containers.push_back(c);
  }
  return task;
}

mesh::SyncedCheck check(std::string id, std::string container) {
  mesh::SyncedCheck c;
  c.check_id = std::move(id);
  c.name = "n";
  c.service_id = "svc-1";
  c.service_name = "svc";
  c.container = std::move(container);
  return c;
}

mesh::HealthSync make_sync() {
  return mesh::HealthSync("node-arn", "10.0.0.1", "", {check("svc-1-app", "app"), check("svc-1-consul-dataplane", "consul-dataplane")});
}

}  // namespace

TEST(HealthMapping, OnlyHealthyIsPassing) {
  auto task = task_with({{"a", "HEALTHY"}, {"b", "UNHEALTHY"}, {"c", "UNKNOWN"}, {"d", ""}});
  EXPECT_EQ(mesh::consul_status_for(task, "a"), "passing");
  EXPECT_EQ(mesh::consul_status_for(task, "b"), "critical");
  EXPECT_EQ(mesh::consul_status_for(task, "c"), "critical");
  EXPECT_EQ(mesh::consul_status_for(task, "d"), "critical");
  EXPECT_EQ(mesh::consul_status_for(task, "missing"), "critical");
}

TEST(HealthSync, WritesOnlyChangesAndAllChangesInOneRequest) {
  auto sync = make_sync();
  // Everything starts critical, so an unhealthy task needs no write.
  EXPECT_FALSE(sync.plan(task_with({{"app", "UNHEALTHY"}})).has_value());

  auto update = sync.plan(task_with({{"app", "HEALTHY"}, {"consul-dataplane", "HEALTHY"}}));
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->registration["Node"], "node-arn");
  EXPECT_EQ(update->registration["SkipNodeUpdate"], true);
  EXPECT_FALSE(update->registration.contains("Service")) << "health updates must not rewrite the service";
  ASSERT_EQ(update->registration["Checks"].size(), 2u);
  for (const auto& c : update->registration["Checks"]) EXPECT_EQ(c["Status"], "passing");
  sync.commit(*update);

  EXPECT_FALSE(sync.plan(task_with({{"app", "HEALTHY"}, {"consul-dataplane", "HEALTHY"}})).has_value());

  auto flip = sync.plan(task_with({{"app", "UNHEALTHY"}, {"consul-dataplane", "HEALTHY"}}));
  ASSERT_TRUE(flip.has_value());
  ASSERT_EQ(flip->registration["Checks"].size(), 1u);
  EXPECT_EQ(flip->registration["Checks"][0]["CheckID"], "svc-1-app");
  EXPECT_EQ(flip->registration["Checks"][0]["Status"], "critical");
}

TEST(HealthSync, UncommittedUpdateIsPlannedAgain) {
  auto sync = make_sync();
  auto healthy = task_with({{"app", "HEALTHY"}});
  ASSERT_TRUE(sync.plan(healthy).has_value());
  // The write failed (not committed): the next cycle retries it.
  EXPECT_TRUE(sync.plan(healthy).has_value());
}

TEST(HealthSync, MissingContainerIsCritical) {
  auto sync = make_sync();
  sync.commit(*sync.plan(task_with({{"app", "HEALTHY"}})));
  auto update = sync.plan(task_with({}));
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->registration["Checks"][0]["Status"], "critical");
}

TEST(HealthSync, ShutdownForcesCriticalForever) {
  auto sync = make_sync();
  auto healthy = task_with({{"app", "HEALTHY"}, {"consul-dataplane", "HEALTHY"}});
  sync.commit(*sync.plan(healthy));
  sync.shutdown();
  auto update = sync.plan(healthy);
  ASSERT_TRUE(update.has_value());
  ASSERT_EQ(update->registration["Checks"].size(), 2u);
  for (const auto& c : update->registration["Checks"]) EXPECT_EQ(c["Status"], "critical");
  sync.commit(*update);
  EXPECT_FALSE(sync.plan(healthy).has_value()) << "a later sync must never flip checks back to passing";
  EXPECT_FALSE(sync.plan_all_critical().has_value());
}
