#pragma once
// The mesh task's agent, shared by three commands (docs/architecture.md,
// "One agent, three commands"):
//   control-plane  start-up + steady state + shutdown in one process (v0.7.3 layout)
//   mesh-init      start-up only: register, write the dataplane's files, exit 0
//   health-sync    steady state + shutdown for what mesh-init registered
// Start-up: task metadata, Consul login, service then proxy registration
// (all checks critical), bootstrap files. Steady state: container health ->
// Consul checks every second, writing only changes, plus anti-entropy (a
// lost token or registration is restored). Shutdown: checks critical, wait
// for the dataplane to stop, deregister proxy then service, log out.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "consul/request.h"
#include "ecs/task_metadata.h"
#include "mesh/health_sync.h"
#include "mesh/registration.h"
#include "tproxy/rules.h"
#include "util/signals.h"

namespace consulecs::commands {

enum class AgentMode { control_plane, mesh_init, health_sync };

// Runs the agent in `mode` and returns the process exit code.
int run_task_agent(config::Config cfg, AgentMode mode, signals::StopFlag& stop);

// ---- Pure pieces, exposed for the unit tests ----

// health-sync's dataplane rule (reference 0.9.0): the consul-dataplane checks
// pass only while the dataplane AND every healthSyncContainers container are
// healthy, so a proxy never takes traffic for an unhealthy app. Returns the
// first synced application container that is not passing, or "" when all are.
std::string first_unhealthy_app(const config::Config& cfg, const ecs::TaskMetadata& task);

// The task as health-sync judges it: when an application container is not
// passing, consul-dataplane's health reads UNHEALTHY (it is not passing
// either way if it is missing or stopped).
ecs::TaskMetadata with_app_gated_dataplane(const config::Config& cfg, const ecs::TaskMetadata& task);

// Rewrites the Output of the dataplane checks in a check update (a catalog
// registration body) to say which application container holds it critical.
void explain_app_gate(nlohmann::json& registration, const std::vector<mesh::SyncedCheck>& checks,
                      const std::string& unhealthy_app);

// The check statuses Consul holds for `checks` in the answer of the
// verification read (mesh::verification_read): check ID -> status/output.
// Checks Consul does not hold are absent from the result.
std::map<std::string, mesh::HealthSync::State> held_check_states(const nlohmann::json& node_checks,
                                                                 const std::vector<mesh::SyncedCheck>& checks);

// The read of the proxy service as Consul's catalog holds it, central config
// merged in (what the reference reads before building the iptables rules).
consul::Request proxy_service_read(const mesh::TaskRegistrations& regs);

// ProxyFacts from the answer of proxy_service_read (a catalog node-services
// answer). Throws std::runtime_error when the proxy is not in it.
tproxy::ProxyFacts proxy_facts(const nlohmann::json& node_services, const std::string& proxy_id);

}  // namespace consulecs::commands
