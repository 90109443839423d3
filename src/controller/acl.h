#pragma once
// The ACL objects the controller keeps in Consul (as the reference v0.7.3
// creates them) and how it converges them: every pass reads what Consul has,
// and writes only what is missing or different, so a second pass writes
// nothing and no modify index moves.
//
//   - auth method `iam-ecs-service-token` (aws-iam): BoundIAMPrincipalARNs
//     arn:<aws-partition>:iam::<account>:role/<iamRolePath>*, EnableIAMEntityDetails,
//     IAMEntityTags gateway-kind / namespace / service-name, and with
//     partitions a namespace rule from the namespace tag. An existing method
//     is merged into (ARNs and tags unioned, other settings kept).
//   - binding rules: service identity from the service-name tag; one role
//     per gateway kind, selected by the gateway-kind tag:
//     consul-ecs-api-gateway-role (api-gateway),
//     consul-ecs-terminating-gateway-role (terminating-gateway),
//     consul-ecs-mesh-gateway-role (mesh-gateway), as the reference v0.10.0.
//   - policy consul-ecs-api-gateway-policy (mesh, node and service read) and
//     role consul-ecs-api-gateway-role linking it; policy
//     consul-ecs-mesh-gateway-policy (mesh:write, peering:read) and role
//     consul-ecs-mesh-gateway-role linking it; role
//     consul-ecs-terminating-gateway-role without a policy (users attach the
//     policies of the services the gateway fronts).
//   - in the primary datacenter: policy anonymous-token-policy (node and
//     service read, for DNS and cross-DC / cross-partition reads through
//     mesh gateways) attached to the anonymous token.
//   - with partitions (Enterprise): the partition, the cross-namespace-read
//     policy, the default namespace and the namespaces of mesh tasks with
//     that policy as default.
#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "controller/settings.h"

namespace consulecs::controller {

// --- Desired state (pure) ---

// arn:aws:iam::<account>:role/<path>/* ; the path is trimmed of slashes.
std::string bound_arn_pattern(const Settings& settings);
nlohmann::json desired_auth_method(const Settings& settings);
std::vector<nlohmann::json> desired_binding_rules(const Settings& settings);
std::string mesh_gateway_policy_rules(const Settings& settings);
std::string api_gateway_policy_rules(const Settings& settings);
std::string anonymous_policy_rules(bool enterprise);
std::string cross_namespace_policy_rules(std::string_view partition);

// --- Planning: compare with what Consul returned (pure) ---

enum class Action { None, Create, Update };

struct Plan {
  Action action = Action::None;
  std::string id;        // of the object to update (binding rule, policy, role, token)
  nlohmann::json body;   // request body for Create / Update
};

// `existing` is what GET /v1/acl/auth-method/<name> returned (nullptr: none).
// Throws std::runtime_error when a method of that name has another type.
Plan plan_auth_method(const nlohmann::json* existing, const nlohmann::json& desired);
// `existing` is GET /v1/acl/binding-rules?authmethod=<name>. A desired rule
// is satisfied by any rule with the same BindType, BindName and Selector; a
// rule with our BindName and Description but other settings is updated.
std::vector<Plan> plan_binding_rules(const nlohmann::json& existing, const std::vector<nlohmann::json>& desired);
// update_rules: rewrite Rules/Description when they differ (our own
// policies); false leaves an existing policy alone (names shared with others,
// e.g. consul-k8s's anonymous-token-policy).
Plan plan_policy(const nlohmann::json* existing, std::string_view name, std::string_view description,
                 const std::string& rules, bool update_rules);
// Creates the role, or links `policy_name` to an existing role that lacks it.
// An empty `policy_name` creates the role without policies and leaves an
// existing one alone.
Plan plan_role(const nlohmann::json* existing, std::string_view name, std::string_view description,
               std::string_view policy_name);
// Adds `policy_name` to the token's policies unless it is there.
Plan plan_token_policy(const nlohmann::json& token, std::string_view policy_name);
// Adds `policy_name` to a namespace's ACLs.PolicyDefaults unless it is there.
Plan plan_namespace_policy_default(const nlohmann::json& ns, std::string_view policy_name);

// --- Execution ---

// The Consul server cannot do what the config asks (partitions on Consul CE).
// Retrying does not help; the command exits.
class EnterpriseRequiredError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ProvisionResult {
  std::vector<std::string> changes;  // one line per write, e.g. "created ACL policy x"
};

class AclProvisioner {
 public:
  AclProvisioner(Settings settings, ConsulCall consul);

  // One pass over every ACL object above (not namespaces). Throws on the
  // first failed request, with what was being done in the message;
  // EnterpriseRequiredError when partitions are enabled but unsupported.
  ProvisionResult run();

  // Partitions only: the cross-namespace policy, the default namespace's
  // policy defaults, and every namespace of `wanted` that does not exist.
  // Creation failures of single namespaces are collected in the result's
  // `errors`; reading failures throw.
  struct NamespaceResult {
    std::vector<std::string> changes;
    std::vector<std::string> errors;
  };
  NamespaceResult ensure_namespaces(const std::set<std::string>& wanted);

 private:
  void ensure_partition(ProvisionResult& result);
  void ensure_policy(ProvisionResult& result, std::string_view name, std::string_view description,
                     const std::string& rules, bool update_rules, const std::string& partition,
                     const std::string& ns = {});
  void ensure_role(ProvisionResult& result, std::string_view name, std::string_view description,
                   std::string_view policy_name);
  void ensure_auth_method(ProvisionResult& result);
  void ensure_binding_rules(ProvisionResult& result);
  void ensure_anonymous_token_policy(ProvisionResult& result);
  // GET that maps "not found" to nullopt.
  std::optional<nlohmann::json> get_optional(const std::string& path);
  std::string scoped(std::string path) const;  // adds ?partition= when enabled

  Settings settings_;
  ConsulCall consul_;
  // From /v1/agent/self, read once: (datacenter, primary datacenter).
  std::optional<std::pair<std::string, std::string>> datacenters_;
};

}  // namespace consulecs::controller
