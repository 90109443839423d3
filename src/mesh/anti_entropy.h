#pragma once
// Anti-entropy for a task's registration: the one cheap read that tells
// whether Consul still holds the service, the proxy and their checks with
// the statuses last written, and the bodies that put them back.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "consul/request.h"
#include "mesh/health_sync.h"
#include "mesh/registration.h"

namespace consulecs::mesh {

// The verification read: the node's health checks filtered (server side) to
// this task's service and proxy, so the answer stays a few checks long
// however many tasks share the cluster's synthetic node. Every registration
// carries at least one check (the dataplane readiness check), so a missing
// service or proxy shows as missing checks.
consul::Request verification_read(const TaskRegistrations& regs);

// The checks in the answer of the verification read (a JSON array), by check
// ID: status and output, "" where absent or not a string. Entries without a
// string CheckID are skipped; an answer that is not an array throws.
std::map<std::string, HealthSync::State> held_checks(const nlohmann::json& node_checks);

struct Verification {
  std::vector<std::string> missing;  // expected check IDs Consul does not hold
  std::vector<std::string> drifted;  // held with another status than last written
  bool intact() const { return missing.empty(); }
};

// Compares the answer of the verification read (a JSON array of checks)
// with the checks we registered and the statuses we last wrote ("" =
// unknown: never counted as drift). A malformed answer throws.
Verification verify_checks(const nlohmann::json& node_checks, const std::vector<SyncedCheck>& expected,
                           const std::map<std::string, std::string>& written);

// `reg.body` with each check's Status and Output taken from `states`, for a
// re-registration that restores the current health rather than the
// start-up "critical".
nlohmann::json with_check_states(const Registration& reg, const std::map<std::string, HealthSync::State>& states);

}  // namespace consulecs::mesh
