#pragma once
// The Consul HTTP API endpoints the mesh task's agent uses, as typed request
// builders (consul/request.h): every /v1/ path of the agent side is spelled
// here and nowhere else. The controller's endpoints live beside them.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "consul/request.h"

namespace consulecs::consul {

struct LoginRequest {
  std::string auth_method;
  std::string bearer_token;
  std::map<std::string, std::string> meta;
  std::string datacenter;  // optional
  std::string partition;   // optional (Enterprise)
};

struct AclToken {
  std::string accessor_id;
  std::string secret_id;
};

// POST /v1/acl/login[?dc=&partition=]: never carries a token; the login
// timeout applies (Consul calls AWS STS before answering).
Request acl_login(const LoginRequest& login);
// The token in a login answer. Throws ApiError when it has no SecretID.
AclToken parse_login_answer(const nlohmann::json& answer);

// POST /v1/acl/logout: destroys the token the request carries.
Request acl_logout();

// GET /v1/acl/token/self: the token the request carries, as Consul holds it.
Request acl_token_self();

// PUT /v1/catalog/register with a registration body (a service with its
// checks, or checks alone).
Request catalog_register(nlohmann::json registration);

// Body of PUT /v1/catalog/deregister for one service instance (ns and
// partition omitted when empty).
nlohmann::json deregistration_body(const std::string& node, const std::string& service_id, const std::string& ns = {},
                                   const std::string& partition = {});
// PUT /v1/catalog/deregister of one service instance.
Request catalog_deregister(const std::string& node, const std::string& service_id, const std::string& ns = {},
                           const std::string& partition = {});

// GET /v1/health/node/<node>?filter=ServiceID == "a" or ServiceID == "b":
// the node's checks of these service instances only, filtered by Consul, so
// the answer stays a few checks long however many tasks share the node.
Request node_checks_of(const std::string& node, const std::vector<std::string>& service_ids, const std::string& ns = {},
                       const std::string& partition = {});

// GET /v1/catalog/node-services/<node>?merge-central-config&filter=ID == "<id>":
// one service instance as the catalog holds it, central config
// (proxy-defaults, service-defaults) merged in.
Request node_service_merged(const std::string& node, const std::string& service_id, const std::string& ns = {},
                            const std::string& partition = {});

// GET /v1/config/<kind>/<name>: one config entry (404 when absent).
Request config_entry(const std::string& kind, const std::string& name, const std::string& ns = {},
                     const std::string& partition = {});
// PUT /v1/config?cas=<index>: writes `entry` only when its ModifyIndex is
// still `cas_index` (0: only when absent). Consul answers true or false.
Request put_config_entry_cas(nlohmann::json entry, std::uint64_t cas_index, const std::string& ns = {},
                             const std::string& partition = {});

}  // namespace consulecs::consul
