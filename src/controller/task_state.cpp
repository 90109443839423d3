#include "controller/task_state.h"

#include <algorithm>

#include "util/json_fields.h"
#include "util/json_parse.h"

namespace consulecs::controller {
namespace {

using nlohmann::json;

using util::string_field;

}  // namespace

std::optional<LoginMeta> parse_login_description(std::string_view description) {
  if (!description.starts_with(kLoginDescriptionPrefix)) return std::nullopt;
  description.remove_prefix(kLoginDescriptionPrefix.size());
  json meta;
  try {
    meta = util::parse_json_or_discarded(description, "login token description");
  } catch (const util::JsonParseError&) {
    return std::nullopt;  // too deep: not a description Consul wrote for a login
  }
  if (!meta.is_object()) return std::nullopt;
  LoginMeta out{string_field(meta, kTaskIdMeta), string_field(meta, kClusterMeta)};
  if (out.task_id.empty() || out.cluster.empty()) return std::nullopt;
  return out;
}

ConsulState consul_state(const json& node_services, const json& tokens, const Settings& settings) {
  ConsulState state;
  if (node_services.is_object()) {
    const auto node = node_services.find("Node");
    state.node_exists = node != node_services.end() && node->is_object();
    const auto services = node_services.find("Services");
    if (services != node_services.end() && services->is_array()) {
      for (const auto& svc : *services) {
        const json meta = svc.is_object() ? svc.value("Meta", json::object()) : json::object();
        const std::string task_id = string_field(meta, kTaskIdServiceMeta);
        if (string_field(meta, kSourceMeta) != kSourceValue || task_id.empty()) {
          ++state.foreign_services;
          continue;
        }
        state.tasks[task_id].services.push_back(
            {string_field(svc, "ID"), string_field(svc, "Service"), string_field(svc, "Kind"), string_field(svc, "Namespace"), string_field(svc, "Partition"),
             task_id});
        ++state.service_count;
      }
    }
  }
  if (tokens.is_array()) {
    for (const auto& token : tokens) {
      if (!token.is_object()) continue;
      // The list is filtered by auth method already; check again rather
      // than trust the filter with deletions.
      const std::string method = string_field(token, "AuthMethod");
      const auto meta = parse_login_description(string_field(token, "Description"));
      if ((!method.empty() && method != settings.auth_method) || !meta || meta->cluster != settings.cluster_arn) {
        ++state.foreign_tokens;
        continue;
      }
      state.tasks[meta->task_id].tokens.push_back(
          {string_field(token, "AccessorID"), string_field(token, "Namespace"), string_field(token, "Partition"), meta->task_id, meta->cluster});
      ++state.token_count;
    }
  }
  return state;
}

EcsState ecs_state(const ecs::ClusterTasks& listing, const Settings& settings) {
  EcsState state;
  for (const auto& arn : listing.task_arns) state.running.insert(ecs::Task::task_id_from_arn(arn));
  for (const auto& task : listing.tasks) {
    const std::string id = task.task_id();
    state.running.insert(id);
    if (task.tag(kMeshTag) != "true") continue;
    if (!task.cluster_arn.empty() && task.cluster_arn != settings.cluster_arn) continue;
    MeshTask mesh{id, "", ""};
    if (settings.partitions_enabled) {
      mesh.partition = task.tag(kPartitionTag);
      mesh.ns = task.tag(kNamespaceTag);
      if (mesh.partition.empty() && mesh.ns.empty()) {
        mesh.partition = kDefaultPartition;
        mesh.ns = kDefaultNamespace;
      } else if (mesh.partition.empty() || mesh.ns.empty()) {
        state.warnings.push_back("task " + id + ": needs both the " + std::string(kPartitionTag) + " and " +
                                 std::string(kNamespaceTag) + " tags, or neither");
        continue;
      }
      if (mesh.partition != settings.partition) continue;
    }
    state.mesh_tasks.push_back(std::move(mesh));
  }
  return state;
}

std::vector<Cleanup> plan_cleanup(const ConsulState& consul, const std::set<std::string>& running) {
  std::vector<Cleanup> out;
  for (const auto& [task_id, resources] : consul.tasks) {
    if (running.contains(task_id)) continue;
    Cleanup cleanup{task_id, resources};
    std::stable_partition(cleanup.resources.services.begin(), cleanup.resources.services.end(),
                          [](const ServiceInstance& s) { return s.kind == "connect-proxy"; });
    out.push_back(std::move(cleanup));
  }
  return out;
}

}  // namespace consulecs::controller
