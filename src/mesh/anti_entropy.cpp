#include "mesh/anti_entropy.h"

#include <set>
#include <stdexcept>

#include "consul/endpoints.h"
#include "util/json_fields.h"

namespace consulecs::mesh {

consul::Request verification_read(const TaskRegistrations& regs) {
  std::set<std::string> service_ids;
  for (const auto& check : regs.all_checks()) service_ids.insert(check.service_id);
  return consul::node_checks_of(regs.node, {service_ids.begin(), service_ids.end()}, regs.ns, regs.partition);
}

std::map<std::string, HealthSync::State> held_checks(const nlohmann::json& node_checks) {
  if (!node_checks.is_array()) throw std::runtime_error("verification read: expected a JSON array of checks");
  std::map<std::string, HealthSync::State> held;
  for (const auto& check : node_checks) {
    const std::string id = util::string_field(check, "CheckID");
    if (id.empty()) continue;
    held[id] = {util::string_field(check, "Status"), util::string_field(check, "Output")};
  }
  return held;
}

Verification verify_checks(const nlohmann::json& node_checks, const std::vector<SyncedCheck>& expected,
                           const std::map<std::string, std::string>& written) {
  const auto held = held_checks(node_checks);
  Verification result;
  for (const auto& check : expected) {
    const auto found = held.find(check.check_id);
    if (found == held.end()) {
      result.missing.push_back(check.check_id);
      continue;
    }
    const auto last = written.find(check.check_id);
    if (last != written.end() && !last->second.empty() && last->second != found->second.status) {
      result.drifted.push_back(check.check_id);
    }
  }
  return result;
}

nlohmann::json with_check_states(const Registration& reg, const std::map<std::string, HealthSync::State>& states) {
  nlohmann::json body = reg.body;
  auto checks = body.find("Checks");
  if (checks == body.end() || !checks->is_array()) return body;
  for (auto& check : *checks) {
    const auto id = check.find("CheckID");
    if (id == check.end() || !id->is_string()) continue;
    const auto state = states.find(id->get<std::string>());
    if (state == states.end()) continue;
    check["Status"] = state->second.status;
    check["Output"] = state->second.output;
  }
  return body;
}

}  // namespace consulecs::mesh
