#pragma once
// Maps ECS container health onto the Consul checks consul-ecs registered,
// writing to Consul only what changed since the last successful write.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ecs/task_metadata.h"
#include "mesh/containers.h"

namespace consulecs::mesh {

inline constexpr std::string_view kCheckType = "consul-ecs-health-check";
inline constexpr std::string_view kStatusPassing = "passing";
inline constexpr std::string_view kStatusCritical = "critical";

// One Consul check whose status follows one ECS container's health.
struct SyncedCheck {
  std::string check_id;
  std::string name;
  std::string service_id;
  std::string service_name;
  std::string container;  // the ECS container whose health it mirrors
  std::string notes;
  std::string ns;          // Consul namespace, "" = default
};

// ECS `HEALTHY` is the only passing state; UNHEALTHY, UNKNOWN, no health
// check result yet, or a missing container are all critical.
std::string consul_status_for(const ecs::TaskMetadata& task, const std::string& container);

// The check as it goes into a catalog registration, with status and output.
nlohmann::json check_payload(const SyncedCheck& check, std::string_view status, const std::string& output);

class HealthSync {
 public:
  // All checks start critical, as registered.
  HealthSync(std::string node, std::string node_address, std::string partition, std::vector<SyncedCheck> checks);

  struct Update {
    nlohmann::json registration;             // body for /v1/catalog/register
    std::map<std::string, std::string> next;  // check ID -> status once written
  };

  // The update that brings Consul in line with `task`, or nullopt when
  // nothing changed. After shutdown() every check is critical and stays so.
  std::optional<Update> plan(const ecs::TaskMetadata& task) const;
  // The update marking every check critical (used on SIGTERM).
  std::optional<Update> plan_all_critical() const;
  // Records a successful write.
  void commit(const Update& update);

  void shutdown() { shutting_down_ = true; }
  bool shutting_down() const { return shutting_down_; }
  const std::map<std::string, std::string>& statuses() const { return statuses_; }

 private:
  Update make_update(const std::vector<std::pair<const SyncedCheck*, std::string>>& changes,
                     const std::map<std::string, std::string>& outputs) const;

  std::string node_;
  std::string node_address_;
  std::string partition_;
  std::vector<SyncedCheck> checks_;
  std::map<std::string, std::string> statuses_;  // last status written to Consul
  bool shutting_down_ = false;
};

}  // namespace consulecs::mesh
