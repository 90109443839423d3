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

// ECS `HEALTHY` on a container that has not stopped is the only passing
// state. UNHEALTHY, UNKNOWN, no health check result yet, a missing container,
// or KnownStatus STOPPED (whatever its last Health says) are all critical.
// The full table is in docs/health-mapping.md.
std::string consul_status_for(const ecs::TaskMetadata& task, const std::string& container);

// The check output explaining consul_status_for (for the Consul UI).
std::string status_output(const ecs::TaskMetadata& task, const std::string& container);

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

  // Every check's status and output as they should be in Consul now: from
  // `task`, or all critical after shutdown(). Used to re-register a lost
  // registration with the current statuses, not the start-up critical ones.
  struct State {
    std::string status;
    std::string output;
  };
  std::map<std::string, State> current(const ecs::TaskMetadata& task) const;
  // Records that Consul now holds `states` (after a full registration).
  void assume(const std::map<std::string, State>& states);
  // Forgets what Consul holds for `check_id` (drifted, or a write whose
  // outcome is unknown), so the next plan writes it again.
  void invalidate(const std::string& check_id);
  void invalidate_all();
  const std::vector<SyncedCheck>& checks() const { return checks_; }

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
  // Last status written to Consul; "" = unknown (always rewritten).
  std::map<std::string, std::string> statuses_;
  bool shutting_down_ = false;
};

}  // namespace consulecs::mesh
