#include "mesh/containers.h"

#include <gtest/gtest.h>

using namespace consulecs;

namespace {
ecs::Container container(std::string name, std::string desired, std::string known) {
  ecs::Container c;
  c.name = std::move(name);
  c.desired_status = std::move(desired);
  c.known_status = std::move(known);
  return c;
}
}  // namespace

TEST(MeshContainers, SidecarsAreNotApplications) {
  EXPECT_TRUE(mesh::is_mesh_container("consul-dataplane"));
  EXPECT_TRUE(mesh::is_mesh_container("consul-ecs-control-plane"));
  EXPECT_FALSE(mesh::is_mesh_container("app"));
}

TEST(MeshContainers, AppStoppedOnlyWhenDesiredAndKnownStopped) {
  ecs::TaskMetadata task;
  task.containers = {container("app", "STOPPED", "RUNNING"), container("consul-dataplane", "RUNNING", "RUNNING")};
  EXPECT_FALSE(mesh::all_app_containers_stopped(task));
  task.containers[0].known_status = "STOPPED";
  EXPECT_TRUE(mesh::all_app_containers_stopped(task));
  task.containers.push_back(container("worker", "RUNNING", "RUNNING"));
  EXPECT_FALSE(mesh::all_app_containers_stopped(task));
}
