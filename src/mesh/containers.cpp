#include "mesh/containers.h"

#include <array>

namespace consulecs::mesh {

bool is_mesh_container(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kNames = {
      "consul-dataplane", "consul-ecs-control-plane", "consul-ecs-mesh-init", "consul-ecs-health-sync",
      "consul-client",    "sidecar-proxy",            "health-sync",          "mesh-init"};
  for (auto known : kNames) {
    if (known == name) return true;
  }
  return false;
}

bool all_app_containers_stopped(const ecs::TaskMetadata& task) {
  for (const auto& container : task.containers) {
    if (is_mesh_container(container.name)) continue;
    if (!(container.desired_status == "STOPPED" && container.known_status == "STOPPED")) return false;
  }
  return true;
}

}  // namespace consulecs::mesh
