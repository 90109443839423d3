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

TEST(HealthMapping, StoppedIsCriticalWhateverItsLastHealth) {
  auto task = task_with({{"app", "HEALTHY"}, {"consul-dataplane", "HEALTHY"}});
  task.containers[1].known_status = "STOPPED";
  EXPECT_EQ(mesh::consul_status_for(task, "app"), "passing");
  EXPECT_EQ(mesh::consul_status_for(task, "consul-dataplane"), "critical");
  EXPECT_NE(mesh::status_output(task, "consul-dataplane").find("STOPPED"), std::string::npos);

  auto sync = make_sync();
  auto up = sync.plan(task_with({{"app", "HEALTHY"}, {"consul-dataplane", "HEALTHY"}}));
  ASSERT_TRUE(up.has_value());
  sync.commit(*up);
  // The dataplane crashes: ECS keeps its last Health, KnownStatus turns STOPPED.
  auto down = sync.plan(task);
  ASSERT_TRUE(down.has_value());
  ASSERT_EQ(down->next.size(), 1u);
  EXPECT_EQ(down->next.at("svc-1-consul-dataplane"), "critical");
}

TEST(HealthSync, CurrentStatesFollowEcsOrAreCriticalAfterShutdown) {
  auto sync = make_sync();
  const auto task = task_with({{"app", "HEALTHY"}, {"consul-dataplane", "UNHEALTHY"}});
  auto states = sync.current(task);
  EXPECT_EQ(states.at("svc-1-app").status, "passing");
  EXPECT_EQ(states.at("svc-1-consul-dataplane").status, "critical");
  sync.assume(states);
  EXPECT_EQ(sync.statuses().at("svc-1-app"), "passing");
  EXPECT_FALSE(sync.plan(task).has_value()) << "assumed statuses need no write";
  sync.shutdown();
  for (const auto& [id, state] : sync.current(task)) EXPECT_EQ(state.status, "critical") << id;
}

TEST(HealthSync, InvalidatedCheckIsWrittenAgainEvenWithoutChange) {
  auto sync = make_sync();
  const auto task = task_with({{"app", "UNHEALTHY"}, {"consul-dataplane", "UNHEALTHY"}});
  EXPECT_FALSE(sync.plan(task).has_value());
  sync.invalidate("svc-1-app");
  auto update = sync.plan(task);
  ASSERT_TRUE(update.has_value());
  ASSERT_EQ(update->next.size(), 1u);
  EXPECT_EQ(update->next.at("svc-1-app"), "critical");
  sync.commit(*update);
  EXPECT_FALSE(sync.plan(task).has_value());
  // After shutdown an unknown status is rewritten critical too.
  sync.invalidate_all();
  sync.shutdown();
  auto all = sync.plan_all_critical();
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->next.size(), 2u);
}
