#include "mesh/health_sync.h"

#include <fmt/format.h>

namespace consulecs::mesh {

std::string consul_status_for(const ecs::TaskMetadata& task, const std::string& container) {
  const auto* found = task.find_container(container);
  if (found == nullptr || !found->health || found->health->status != "HEALTHY") return std::string(kStatusCritical);
  return std::string(kStatusPassing);
}

nlohmann::json check_payload(const SyncedCheck& check, std::string_view status, const std::string& output) {
  nlohmann::json payload = {
      {"CheckID", check.check_id},
      {"Name", check.name},
      {"Type", kCheckType},
      {"ServiceID", check.service_id},
      {"Status", status},
      {"Output", output},
      {"Notes", check.notes},
  };
  if (!check.ns.empty()) payload["Namespace"] = check.ns;
  return payload;
}

HealthSync::HealthSync(std::string node, std::string node_address, std::string partition,
                       std::vector<SyncedCheck> checks)
    : node_(std::move(node)),
      node_address_(std::move(node_address)),
      partition_(std::move(partition)),
      checks_(std::move(checks)) {
  for (const auto& check : checks_) statuses_[check.check_id] = std::string(kStatusCritical);
}

HealthSync::Update HealthSync::make_update(const std::vector<std::pair<const SyncedCheck*, std::string>>& changes,
                                           const std::map<std::string, std::string>& outputs) const {
  Update update;
  update.registration = {{"Node", node_}, {"Address", node_address_}, {"SkipNodeUpdate", true}};
  if (!partition_.empty()) update.registration["Partition"] = partition_;
  auto& checks = update.registration["Checks"] = nlohmann::json::array();
  for (const auto& [check, status] : changes) {
    checks.push_back(check_payload(*check, status, outputs.at(check->check_id)));
    update.next[check->check_id] = status;
  }
  return update;
}

std::optional<HealthSync::Update> HealthSync::plan(const ecs::TaskMetadata& task) const {
  if (shutting_down_) return plan_all_critical();
  std::vector<std::pair<const SyncedCheck*, std::string>> changes;
  std::map<std::string, std::string> outputs;
  for (const auto& check : checks_) {
    const std::string status = consul_status_for(task, check.container);
    if (statuses_.at(check.check_id) == status) continue;
    const auto* container = task.find_container(check.container);
    outputs[check.check_id] =
        container == nullptr
            ? fmt::format("container \"{}\" is not in the task", check.container)
            : fmt::format("ECS health status is \"{}\" for container \"{}\"",
                          container->health ? container->health->status : "UNKNOWN", check.container);
    changes.emplace_back(&check, status);
  }
  if (changes.empty()) return std::nullopt;
  return make_update(changes, outputs);
}

std::optional<HealthSync::Update> HealthSync::plan_all_critical() const {
  std::vector<std::pair<const SyncedCheck*, std::string>> changes;
  std::map<std::string, std::string> outputs;
  for (const auto& check : checks_) {
    if (statuses_.at(check.check_id) == kStatusCritical) continue;
    outputs[check.check_id] = "ECS task stopped.";
    changes.emplace_back(&check, std::string(kStatusCritical));
  }
  if (changes.empty()) return std::nullopt;
  return make_update(changes, outputs);
}

void HealthSync::commit(const Update& update) {
  for (const auto& [id, status] : update.next) statuses_[id] = status;
}

}  // namespace consulecs::mesh
