#include "controller/acl.h"

#include <fmt/format.h>

#include <algorithm>

#include "consul/client.h"
#include "util/json_fields.h"
#include "util/log.h"

namespace consulecs::controller {
namespace {

using nlohmann::json;

std::string trim_slashes(std::string_view text) {
  while (!text.empty() && text.front() == '/') text.remove_prefix(1);
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  return std::string(text);
}

std::vector<std::string> string_list(const json& value) {
  std::vector<std::string> out;
  if (!value.is_array()) return out;
  for (const auto& item : value) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

using util::string_field;

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Adds the missing values of `ours` to `field` of `object` (sorted, unique,
// as the reference merges them). Returns true when something was added.
bool union_into(json& object, const char* field, const std::vector<std::string>& ours) {
  auto current = string_list(object.value(field, json::array()));
  bool missing = false;
  for (const auto& value : ours) missing = missing || !contains(current, value);
  if (!missing) return false;
  current.insert(current.end(), ours.begin(), ours.end());
  std::sort(current.begin(), current.end());
  current.erase(std::unique(current.begin(), current.end()), current.end());
  object[field] = current;
  return true;
}

// What Consul returns minus the bookkeeping fields it sets itself.
json writable(json object) {
  for (const char* key : {"CreateIndex", "ModifyIndex", "Hash", "CreateTime"}) object.erase(key);
  return object;
}

bool has_link(const json& links, std::string_view name) {
  if (!links.is_array()) return false;
  return std::any_of(links.begin(), links.end(), [&](const json& link) { return string_field(link, "Name") == name; });
}

}  // namespace

std::string bound_arn_pattern(const Settings& settings) {
  std::string path = trim_slashes(settings.iam_role_path);
  if (!path.empty()) path += "/";
  return fmt::format("arn:{}:iam::{}:role/{}*", settings.aws_partition.empty() ? "aws" : settings.aws_partition,
                     settings.account_id, path);
}

json desired_auth_method(const Settings& settings) {
  json method = {
      {"Name", settings.auth_method},
      {"Type", kAuthMethodType},
      {"Description", kAuthMethodDescription},
      {"Config",
       {
           // Trust any role under the path; the role's tags name the service.
           {"BoundIAMPrincipalARNs", json::array({bound_arn_pattern(settings)})},
           // Needed for wildcards and entity tags.
           {"EnableIAMEntityDetails", true},
           {"IAMEntityTags", json::array({kIamGatewayKindTag, kIamNamespaceTag, kIamServiceNameTag})},
       }},
  };
  if (settings.partitions_enabled) {
    method["NamespaceRules"] = json::array({{
        {"Selector", fmt::format(R"(entity_tags["{}"] != "")", kIamNamespaceTag)},
        {"BindNamespace", fmt::format("${{entity_tags.{}}}", kIamNamespaceTag)},
    }});
  }
  return method;
}

std::vector<json> desired_binding_rules(const Settings& settings) {
  return {
      {{"AuthMethod", settings.auth_method},
       {"Description", kServiceRuleDescription},
       {"BindType", "service"},
       {"BindName", fmt::format("${{entity_tags.{}}}", kIamServiceNameTag)},
       {"Selector", ""}},
      {{"AuthMethod", settings.auth_method},
       {"Description", kApiGatewayRuleDescription},
       {"BindType", "role"},
       {"BindName", kApiGatewayRoleName},
       {"Selector", fmt::format(R"(entity_tags["{}"] == "api-gateway")", kIamGatewayKindTag)}},
      {{"AuthMethod", settings.auth_method},
       {"Description", kTerminatingGatewayRuleDescription},
       {"BindType", "role"},
       {"BindName", kTerminatingGatewayRoleName},
       {"Selector", fmt::format(R"(entity_tags["{}"] == "terminating-gateway")", kIamGatewayKindTag)}},
      {{"AuthMethod", settings.auth_method},
       {"Description", kMeshGatewayRuleDescription},
       {"BindType", "role"},
       {"BindName", kMeshGatewayRoleName},
       {"Selector", fmt::format(R"(entity_tags["{}"] == "mesh-gateway")", kIamGatewayKindTag)}},
  };
}

std::string mesh_gateway_policy_rules(const Settings& settings) {
  std::string rules = "mesh = \"write\"\npeering = \"read\"";
  // In the default partition the gateway also serves peering for every partition.
  if (settings.partitions_enabled && settings.partition == kDefaultPartition) {
    rules += "\npartition_prefix \"\" {\n\tpeering = \"read\"\n}";
  }
  return rules;
}

// Reads what an API gateway routes to: the mesh config, every node and
// service (in every namespace with partitions).
std::string api_gateway_policy_rules(const Settings& settings) {
  const std::string inner =
      "\tnode_prefix \"\" {\n"
      "\t\tpolicy = \"read\"\n"
      "\t}\n"
      "\tservice_prefix \"\" {\n"
      "\t\tpolicy = \"read\"\n"
      "\t}";
  if (!settings.partitions_enabled) return "mesh = \"read\"\n" + inner;
  return "mesh = \"read\"\nnamespace_prefix \"\" {\n" + inner + "\n}";
}

std::string anonymous_policy_rules(bool enterprise) {
  const std::string inner =
      "    node_prefix \"\" {\n"
      "      policy = \"read\"\n"
      "    }\n"
      "    service_prefix \"\" {\n"
      "      policy = \"read\"\n"
      "    }";
  if (!enterprise) return "\n" + inner;
  return "\npartition_prefix \"\" {\n  namespace_prefix \"\" {\n" + inner + "\n  }\n}";
}

std::string cross_namespace_policy_rules(std::string_view partition) {
  return fmt::format(
      "partition \"{}\" {{\n"
      "  namespace_prefix \"\" {{\n"
      "    service_prefix \"\" {{\n"
      "      policy = \"read\"\n"
      "    }}\n"
      "    node_prefix \"\" {{\n"
      "      policy = \"read\"\n"
      "    }}\n"
      "  }}\n"
      "}}",
      partition);
}

Plan plan_auth_method(const json* existing, const json& desired) {
  if (existing == nullptr || existing->is_null()) return {Action::Create, {}, desired};
  const std::string type = string_field(*existing, "Type");
  if (type != kAuthMethodType) {
    throw std::runtime_error(fmt::format("ACL auth method {} exists with type \"{}\", not \"{}\"; not changing it",
                                         string_field(desired, "Name"), type, kAuthMethodType));
  }
  json merged = writable(*existing);
  bool changed = false;
  if (!merged["Config"].is_object()) merged["Config"] = json::object();
  json& config = merged["Config"];
  const json& ours = desired["Config"];
  changed |= union_into(config, "BoundIAMPrincipalARNs", string_list(ours["BoundIAMPrincipalARNs"]));
  changed |= union_into(config, "IAMEntityTags", string_list(ours["IAMEntityTags"]));
  if (config.value("EnableIAMEntityDetails", false) != true) {
    config["EnableIAMEntityDetails"] = true;
    changed = true;
  }
  if (desired.contains("NamespaceRules")) {
    if (!merged["NamespaceRules"].is_array()) merged["NamespaceRules"] = json::array();
    for (const auto& rule : desired["NamespaceRules"]) {
      const bool present = std::any_of(merged["NamespaceRules"].begin(), merged["NamespaceRules"].end(),
                                       [&](const json& r) {
                                         return string_field(r, "Selector") == string_field(rule, "Selector") &&
                                                string_field(r, "BindNamespace") == string_field(rule, "BindNamespace");
                                       });
      if (!present) {
        merged["NamespaceRules"].push_back(rule);
        changed = true;
      }
    }
  }
  if (!changed) return {};
  return {Action::Update, string_field(*existing, "Name"), merged};
}

std::vector<Plan> plan_binding_rules(const json& existing, const std::vector<json>& desired) {
  std::vector<Plan> plans;
  const json rules = existing.is_array() ? existing : json::array();
  for (const auto& want : desired) {
    const auto same = [&](const json& rule, const char* key) { return string_field(rule, key) == string_field(want, key); };
    const bool satisfied = std::any_of(rules.begin(), rules.end(), [&](const json& rule) {
      return same(rule, "BindType") && same(rule, "BindName") && same(rule, "Selector");
    });
    if (satisfied) {
      plans.push_back({});
      continue;
    }
    const auto ours = std::find_if(rules.begin(), rules.end(), [&](const json& rule) {
      return same(rule, "BindName") && same(rule, "Description");
    });
    if (ours != rules.end()) {
      json body = want;
      body["ID"] = string_field(*ours, "ID");
      plans.push_back({Action::Update, string_field(*ours, "ID"), body});
    } else {
      plans.push_back({Action::Create, {}, want});
    }
  }
  return plans;
}

Plan plan_policy(const json* existing, std::string_view name, std::string_view description, const std::string& rules,
                 bool update_rules) {
  if (existing == nullptr || existing->is_null()) {
    return {Action::Create, {}, {{"Name", name}, {"Description", description}, {"Rules", rules}}};
  }
  if (!update_rules) return {};
  if (string_field(*existing, "Rules") == rules && string_field(*existing, "Description") == description) return {};
  json body = writable(*existing);
  body["Rules"] = rules;
  body["Description"] = description;
  return {Action::Update, string_field(*existing, "ID"), body};
}

Plan plan_role(const json* existing, std::string_view name, std::string_view description,
               std::string_view policy_name) {
  if (existing == nullptr || existing->is_null()) {
    json body = {{"Name", name}, {"Description", description}};
    if (!policy_name.empty()) body["Policies"] = json::array({{{"Name", policy_name}}});
    return {Action::Create, {}, body};
  }
  if (policy_name.empty() || has_link(existing->value("Policies", json()), policy_name)) return {};
  json body = writable(*existing);
  if (!body["Policies"].is_array()) body["Policies"] = json::array();
  body["Policies"].push_back({{"Name", policy_name}});
  return {Action::Update, string_field(*existing, "ID"), body};
}

Plan plan_token_policy(const json& token, std::string_view policy_name) {
  if (has_link(token.value("Policies", json()), policy_name)) return {};
  json body = writable(token);
  if (!body["Policies"].is_array()) body["Policies"] = json::array();
  body["Policies"].push_back({{"Name", policy_name}});
  return {Action::Update, string_field(token, "AccessorID"), body};
}

Plan plan_namespace_policy_default(const json& ns, std::string_view policy_name) {
  const json acls = ns.value("ACLs", json::object());
  if (acls.is_object() && has_link(acls.value("PolicyDefaults", json()), policy_name)) return {};
  json body = writable(ns);
  if (!body["ACLs"].is_object()) body["ACLs"] = json::object();
  if (!body["ACLs"]["PolicyDefaults"].is_array()) body["ACLs"]["PolicyDefaults"] = json::array();
  body["ACLs"]["PolicyDefaults"].push_back({{"Name", policy_name}});
  return {Action::Update, string_field(ns, "Name"), body};
}

// ---------------------------------------------------------------- executor

AclProvisioner::AclProvisioner(Settings settings, ConsulCall consul)
    : settings_(std::move(settings)), consul_(std::move(consul)) {}

std::string AclProvisioner::scoped(std::string path) const {
  return settings_.partitions_enabled ? with_query(std::move(path), {{"partition", settings_.partition}}) : path;
}

std::optional<json> AclProvisioner::get_optional(const std::string& path) {
  try {
    json value = consul_("GET", path, nullptr);
    if (value.is_null()) return std::nullopt;
    return value;
  } catch (const consul::ApiError& e) {
    if (is_not_found(e)) return std::nullopt;
    throw;
  }
}

ProvisionResult AclProvisioner::run() {
  ProvisionResult result;
  if (settings_.partitions_enabled) ensure_partition(result);
  ensure_policy(result, kApiGatewayPolicyName, kApiGatewayPolicyDescription, api_gateway_policy_rules(settings_),
                /*update_rules=*/true, settings_.partition);
  ensure_role(result, kApiGatewayRoleName, kApiGatewayRoleDescription, kApiGatewayPolicyName);
  ensure_policy(result, kMeshGatewayPolicyName, kMeshGatewayPolicyDescription, mesh_gateway_policy_rules(settings_),
                /*update_rules=*/true, settings_.partition);
  ensure_role(result, kMeshGatewayRoleName, kMeshGatewayRoleDescription, kMeshGatewayPolicyName);
  ensure_role(result, kTerminatingGatewayRoleName, kTerminatingGatewayRoleDescription, "");
  ensure_auth_method(result);
  ensure_binding_rules(result);
  ensure_anonymous_token_policy(result);
  return result;
}

void AclProvisioner::ensure_partition(ProvisionResult& result) {
  json partitions;
  try {
    partitions = consul_("GET", "/v1/partitions", nullptr);
  } catch (const consul::ApiError& e) {
    const std::string_view what = e.what();
    if (e.status() == 404 || what.find("Enterprise") != std::string_view::npos) {
      throw EnterpriseRequiredError(fmt::format(
          "controller.partitionsEnabled is true, but this Consul server does not support admin partitions (a "
          "Consul Enterprise feature): {}",
          what));
    }
    throw std::runtime_error(fmt::format("listing partitions: {}", what));
  }
  if (partitions.is_array()) {
    for (const auto& p : partitions) {
      if (string_field(p, "Name") == settings_.partition) return;
    }
  }
  const json body = {{"Name", settings_.partition}};
  try {
    consul_("PUT", "/v1/partition", &body);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("creating partition {}: {}", settings_.partition, e.what()));
  }
  result.changes.push_back("created partition " + settings_.partition);
}

void AclProvisioner::ensure_policy(ProvisionResult& result, std::string_view name, std::string_view description,
                                   const std::string& rules, bool update_rules, const std::string& partition,
                                   const std::string& ns) {
  const std::vector<std::pair<std::string, std::string>> query = {{"partition", partition}, {"ns", ns}};
  try {
    const auto existing = get_optional(with_query("/v1/acl/policy/name/" + path_escape(name), query));
    const Plan plan = plan_policy(existing ? &*existing : nullptr, name, description, rules, update_rules);
    if (plan.action == Action::Create) {
      consul_("PUT", with_query("/v1/acl/policy", query), &plan.body);
      result.changes.push_back(fmt::format("created ACL policy {}", name));
    } else if (plan.action == Action::Update) {
      consul_("PUT", with_query("/v1/acl/policy/" + path_escape(plan.id), query), &plan.body);
      result.changes.push_back(fmt::format("updated the rules of ACL policy {}", name));
    }
  } catch (const consul::ApiError& e) {
    throw std::runtime_error(fmt::format("ACL policy {}: {}", name, e.what()));
  }
}

void AclProvisioner::ensure_role(ProvisionResult& result, std::string_view name, std::string_view description,
                                 std::string_view policy_name) {
  try {
    const auto existing = get_optional(scoped("/v1/acl/role/name/" + path_escape(name)));
    const Plan plan = plan_role(existing ? &*existing : nullptr, name, description, policy_name);
    if (plan.action == Action::Create) {
      consul_("PUT", scoped("/v1/acl/role"), &plan.body);
      result.changes.push_back(fmt::format("created ACL role {}", name));
    } else if (plan.action == Action::Update) {
      consul_("PUT", scoped("/v1/acl/role/" + path_escape(plan.id)), &plan.body);
      result.changes.push_back(fmt::format("linked policy {} to ACL role {}", policy_name, name));
    }
  } catch (const consul::ApiError& e) {
    throw std::runtime_error(fmt::format("ACL role {}: {}", name, e.what()));
  }
}

void AclProvisioner::ensure_auth_method(ProvisionResult& result) {
  const json desired = desired_auth_method(settings_);
  try {
    const auto existing = get_optional(scoped("/v1/acl/auth-method/" + path_escape(settings_.auth_method)));
    const Plan plan = plan_auth_method(existing ? &*existing : nullptr, desired);
    if (plan.action == Action::Create) {
      consul_("PUT", scoped("/v1/acl/auth-method"), &plan.body);
      result.changes.push_back(fmt::format("created ACL auth method {} (BoundIAMPrincipalARNs {})",
                                           settings_.auth_method, bound_arn_pattern(settings_)));
    } else if (plan.action == Action::Update) {
      consul_("PUT", scoped("/v1/acl/auth-method/" + path_escape(settings_.auth_method)), &plan.body);
      result.changes.push_back(fmt::format("updated ACL auth method {}: BoundIAMPrincipalARNs {}, IAMEntityTags {}",
                                           settings_.auth_method,
                                           plan.body["Config"].value("BoundIAMPrincipalARNs", json::array()).dump(),
                                           plan.body["Config"].value("IAMEntityTags", json::array()).dump()));
    }
  } catch (const consul::ApiError& e) {
    throw std::runtime_error(fmt::format("ACL auth method {}: {}", settings_.auth_method, e.what()));
  }
}

void AclProvisioner::ensure_binding_rules(ProvisionResult& result) {
  const auto desired = desired_binding_rules(settings_);
  try {
    const json existing =
        consul_("GET", scoped(with_query("/v1/acl/binding-rules", {{"authmethod", settings_.auth_method}})), nullptr);
    const auto plans = plan_binding_rules(existing, desired);
    for (std::size_t i = 0; i < plans.size(); ++i) {
      const auto& plan = plans[i];
      const std::string bind = desired[i].value("BindName", "");
      if (plan.action == Action::Create) {
        consul_("PUT", scoped("/v1/acl/binding-rule"), &plan.body);
        result.changes.push_back(fmt::format("created ACL binding rule for {} -> {}", settings_.auth_method, bind));
      } else if (plan.action == Action::Update) {
        consul_("PUT", scoped("/v1/acl/binding-rule/" + path_escape(plan.id)), &plan.body);
        result.changes.push_back(fmt::format("updated ACL binding rule {} -> {}", plan.id, bind));
      }
    }
  } catch (const consul::ApiError& e) {
    throw std::runtime_error(fmt::format("ACL binding rules of {}: {}", settings_.auth_method, e.what()));
  }
}

void AclProvisioner::ensure_anonymous_token_policy(ProvisionResult& result) {
  if (!datacenters_) {
    json self;
    try {
      self = consul_("GET", "/v1/agent/self", nullptr);
    } catch (const consul::ApiError& e) {
      throw std::runtime_error(fmt::format("reading the Consul server's agent config: {}", e.what()));
    }
    const std::string dc = string_field(self.value("Config", json::object()), "Datacenter");
    std::string primary = string_field(self.value("Config", json::object()), "PrimaryDatacenter");
    if (primary.empty()) primary = string_field(self.value("DebugConfig", json::object()), "PrimaryDatacenter");
    if (dc.empty() || primary.empty()) {
      throw std::runtime_error("the Consul agent config has no Datacenter / PrimaryDatacenter");
    }
    datacenters_ = {dc, primary};
  }
  // The anonymous token is global: it is replicated from the primary
  // datacenter, so only a controller there changes it.
  if (datacenters_->first != datacenters_->second) return;

  // The token and its policy live in the default partition and namespace.
  const std::string partition = settings_.partitions_enabled ? std::string(kDefaultPartition) : std::string();
  const std::string token_path =
      with_query("/v1/acl/token/" + std::string(kAnonymousTokenId), {{"partition", partition}});
  try {
    const json token = consul_("GET", token_path, nullptr);
    const Plan plan = plan_token_policy(token, kAnonymousPolicyName);
    if (plan.action == Action::None) return;
    // Created if missing, never rewritten: consul-k8s manages a policy of the
    // same name and description.
    ensure_policy(result, kAnonymousPolicyName, kAnonymousPolicyDescription,
                  anonymous_policy_rules(settings_.partitions_enabled), /*update_rules=*/false, partition);
    consul_("PUT", token_path, &plan.body);
    result.changes.push_back(fmt::format("attached ACL policy {} to the anonymous token", kAnonymousPolicyName));
  } catch (const consul::ApiError& e) {
    throw std::runtime_error(fmt::format("anonymous token: {}", e.what()));
  }
}

AclProvisioner::NamespaceResult AclProvisioner::ensure_namespaces(const std::set<std::string>& wanted) {
  NamespaceResult result;
  if (!settings_.partitions_enabled) return result;
  ProvisionResult policy_changes;
  ensure_policy(policy_changes, kCrossNamespacePolicyName, kCrossNamespacePolicyDescription,
                cross_namespace_policy_rules(settings_.partition), /*update_rules=*/false, settings_.partition,
                std::string(kDefaultNamespace));
  result.changes = std::move(policy_changes.changes);

  // Tokens of the default namespace get the cross-namespace policy too.
  try {
    const json ns = consul_("GET", scoped("/v1/namespace/" + std::string(kDefaultNamespace)), nullptr);
    const Plan plan = plan_namespace_policy_default(ns, kCrossNamespacePolicyName);
    if (plan.action == Action::Update) {
      consul_("PUT", scoped("/v1/namespace/" + std::string(kDefaultNamespace)), &plan.body);
      result.changes.push_back(
          fmt::format("added policy {} to the defaults of namespace default", kCrossNamespacePolicyName));
    }
  } catch (const consul::ApiError& e) {
    throw std::runtime_error(fmt::format("default namespace: {}", e.what()));
  }

  json existing;
  try {
    existing = consul_("GET", scoped("/v1/namespaces"), nullptr);
  } catch (const consul::ApiError& e) {
    throw std::runtime_error(fmt::format("listing namespaces: {}", e.what()));
  }
  std::set<std::string> missing = wanted;
  missing.erase("");
  if (existing.is_array()) {
    for (const auto& ns : existing) missing.erase(string_field(ns, "Name"));
  }
  for (const auto& name : missing) {
    const json body = {{"Name", name},
                       {"ACLs", {{"PolicyDefaults", json::array({{{"Name", kCrossNamespacePolicyName}}})}}}};
    try {
      consul_("PUT", scoped("/v1/namespace"), &body);
      result.changes.push_back("created namespace " + name);
    } catch (const std::exception& e) {
      result.errors.push_back(fmt::format("creating namespace {}: {}", name, e.what()));
    }
  }
  return result;
}

}  // namespace consulecs::controller
