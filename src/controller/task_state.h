#pragma once
// Which ECS tasks Consul still holds state for, and what to remove (pure).
//
// Consul side, two reads per reconcile whatever the fleet size:
//   - GET /v1/catalog/node-services/<cluster ARN>: service instances on the
//     cluster's synthetic node; ours carry meta source=consul-ecs and task-id.
//   - GET /v1/acl/tokens?authmethod=<method>: login tokens, described
//     `token created via login: {"consul.hashicorp.com/cluster":...,
//     "consul.hashicorp.com/task-id":...}`.
// ECS side: the task ARNs of the cluster (desired status RUNNING) and, from
// DescribeTasks, their tags.
//
// A task ID with state in Consul and no running task in ECS is cleaned up:
// its service instances deregistered and its login tokens deleted. Nothing
// else is ever touched: not running tasks, not other clusters' tokens, not
// instances without source=consul-ecs.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controller/settings.h"
#include "ecs/api_client.h"

namespace consulecs::controller {

struct ServiceInstance {
  std::string id;
  std::string service;
  std::string kind;       // "" for a plain service, "connect-proxy", "mesh-gateway", ...
  std::string ns;         // "" on Consul CE
  std::string partition;  // "" on Consul CE
  std::string task_id;
};

struct LoginToken {
  std::string accessor_id;
  std::string ns;
  std::string partition;
  std::string task_id;
  std::string cluster;
};

struct TaskResources {
  std::vector<ServiceInstance> services;
  std::vector<LoginToken> tokens;
};

struct ConsulState {
  bool node_exists = false;                     // the synthetic node is registered
  std::map<std::string, TaskResources> tasks;   // by task ID
  std::size_t service_count = 0;                // instances attributed to a task
  std::size_t token_count = 0;                  // tokens attributed to a task of this cluster
  std::size_t foreign_services = 0;             // on the node but not ours (kept)
  std::size_t foreign_tokens = 0;               // other clusters / not from login (kept)
};

struct LoginMeta {
  std::string task_id;
  std::string cluster;
};

// Parses a login token description; nullopt unless it is exactly
// `token created via login: {json}` with both task ID and cluster.
std::optional<LoginMeta> parse_login_description(std::string_view description);

// `node_services`: the body of GET /v1/catalog/node-services/<node> (may be
// null or have "Node": null). `tokens`: the body of GET /v1/acl/tokens.
ConsulState consul_state(const nlohmann::json& node_services, const nlohmann::json& tokens,
                         const Settings& settings);

struct MeshTask {
  std::string task_id;
  std::string partition;  // "" without partitions
  std::string ns;         // "" without partitions
};

struct EcsState {
  std::set<std::string> running;       // every listed task ID: never cleaned up
  std::vector<MeshTask> mesh_tasks;    // tagged consul.hashicorp.com/mesh=true, in our partition
  std::vector<std::string> warnings;   // tasks skipped for bad tags
};

// What a listing means for the controller. With partitions, a mesh task
// needs both the partition and namespace tags or neither (then
// default/default); tasks of other partitions are not ours to manage but
// stay protected.
EcsState ecs_state(const ecs::ClusterTasks& listing, const Settings& settings);

struct Cleanup {
  std::string task_id;
  TaskResources resources;
};

// Task IDs with state in Consul and no task in `running`, in task ID order.
// Within a task, proxies come before the services they front.
std::vector<Cleanup> plan_cleanup(const ConsulState& consul, const std::set<std::string>& running);

}  // namespace consulecs::controller
