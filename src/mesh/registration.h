#pragma once
// What consul-ecs puts in Consul's catalog for one task: the service and its
// sidecar proxy (or a gateway), their checks, and the consul-dataplane
// configuration that points the proxy at them.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "config/config.h"
#include "ecs/task_metadata.h"
#include "mesh/health_sync.h"

namespace consulecs::mesh {

inline constexpr std::string_view kSyncedCheckName = "Consul ECS health check synced";
inline constexpr std::string_view kDataplaneCheckName = "Consul dataplane readiness";

struct Registration {
  nlohmann::json body;  // for PUT /v1/catalog/register
  std::string service_id;
  std::string service_name;
  std::vector<SyncedCheck> checks;
};

struct TaskRegistrations {
  std::string node;            // synthetic node: the cluster ARN
  std::string node_address;    // task IP
  std::string ns;
  std::string partition;
  std::optional<Registration> service;  // absent for gateways
  Registration proxy;                   // sidecar proxy or gateway

  // Every synced check of both registrations, for HealthSync.
  std::vector<SyncedCheck> all_checks() const;
};

std::string service_id(const std::string& service_name, const std::string& task_id);
std::string check_id(const std::string& service_id, const std::string& container);

// Builds the registrations for `task` from `cfg` (a sidecar service + proxy,
// or a gateway when gateway.kind is set).
TaskRegistrations build_registrations(const config::Config& cfg, const ecs::TaskMetadata& task);

// Removes Service.Locality from a registration body (for Consul < 1.17,
// which rejects the field). Returns false when there was none to remove.
bool strip_locality(nlohmann::json& registration_body);

// consul.credentials of type "login": the dataplane logs in itself with
// these (v0.10 mesh-init). namespace/partition are omitted when empty,
// datacenter/meta always written, as the reference does.
struct DataplaneLogin {
  std::string auth_method;
  std::string ns;
  std::string partition;
  std::string datacenter;
  std::string bearer_token;
  std::map<std::string, std::string> meta;
};

struct DataplaneInputs {
  std::string token;         // ACL token for the dataplane ("static" credentials), "" = none
  std::string ca_cert_file;  // gRPC CA file path, "" = none
  std::optional<DataplaneLogin> login;  // set: "login" credentials (wins over token)
  std::optional<std::pair<std::string, int>> dns_server;  // set: dnsServer {bindAddress, bindPort}
};

// The consul-dataplane.json document for the proxy of `regs`.
nlohmann::json dataplane_config(const config::Config& cfg, const TaskRegistrations& regs,
                                const DataplaneInputs& inputs);

}  // namespace consulecs::mesh
