#include "mesh/health_sync.h"

#include <fmt/format.h>

namespace consulecs::mesh {

std::string consul_status_for(const ecs::TaskMetadata& task, const std::string& container) {
  const auto* found = task.find_container(container);
  if (found == nullptr || found->stopped() || !found->health || found->health->status != "HEALTHY") {
    return std::string(kStatusCritical);
  }
  return std::string(kStatusPassing);
}

std::string status_output(const ecs::TaskMetadata& task, const std::string& container) {
  const auto* found = task.find_container(container);
  if (found == nullptr) return fmt::format("container \"{}\" is not in the task", container);
  if (found->stopped()) return fmt::format("container \"{}\" is STOPPED", container);
  return fmt::format("ECS health status is \"{}\" for container \"{}\"",
                     found->health ? found->health->status : "UNKNOWN", container);
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
    outputs[check.check_id] = status_output(task, check.container);
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

std::map<std::string, HealthSync::State> HealthSync::current(const ecs::TaskMetadata& task) const {
  std::map<std::string, State> out;
  for (const auto& check : checks_) {
    if (shutting_down_) {
      out[check.check_id] = {std::string(kStatusCritical), "ECS task stopped."};
    } else {
      out[check.check_id] = {consul_status_for(task, check.container), status_output(task, check.container)};
    }
  }
  return out;
}

void HealthSync::assume(const std::map<std::string, State>& states) {
  for (const auto& [id, state] : states) {
    if (statuses_.count(id) != 0) statuses_[id] = state.status;
  }
}

void HealthSync::invalidate(const std::string& check_id) {
  if (auto it = statuses_.find(check_id); it != statuses_.end()) it->second.clear();
}

void HealthSync::invalidate_all() {
  for (auto& [id, status] : statuses_) status.clear();
}

}  // namespace consulecs::mesh
