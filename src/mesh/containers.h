#pragma once
// Which containers of a mesh task are consul-ecs's own and which are the
// application's, as the reference defines them.
#include <string_view>

#include "ecs/task_metadata.h"

namespace consulecs::mesh {

inline constexpr std::string_view kDataplaneContainer = "consul-dataplane";
inline constexpr std::string_view kControlPlaneContainer = "consul-ecs-control-plane";

// True for the sidecars consul-ecs and its Terraform modules add to a task
// (current and earlier names), false for application containers.
bool is_mesh_container(std::string_view name);

// An application container counts as stopped when both its desired and its
// known status are STOPPED.
bool all_app_containers_stopped(const ecs::TaskMetadata& task);

}  // namespace consulecs::mesh
