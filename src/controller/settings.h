#pragma once
// What the controller manages and how it reaches Consul: its settings (from
// the config and its own task metadata) and the names of what it creates,
// as the reference consul-ecs v0.7.3 `controller` names them.
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "ecs/task_metadata.h"

namespace consulecs::controller {

// --- ECS task tags read by the controller ---
inline constexpr std::string_view kMeshTag = "consul.hashicorp.com/mesh";
inline constexpr std::string_view kPartitionTag = "consul.hashicorp.com/partition";
inline constexpr std::string_view kNamespaceTag = "consul.hashicorp.com/namespace";

// --- Login meta the control-plane sets (consul::login_meta), found again in
// the description of each login token ---
inline constexpr std::string_view kTaskIdMeta = "consul.hashicorp.com/task-id";
inline constexpr std::string_view kClusterMeta = "consul.hashicorp.com/cluster";
inline constexpr std::string_view kLoginDescriptionPrefix = "token created via login:";

// --- Service meta the control-plane sets (mesh::build_registrations) ---
inline constexpr std::string_view kSourceMeta = "source";
inline constexpr std::string_view kSourceValue = "consul-ecs";
inline constexpr std::string_view kTaskIdServiceMeta = "task-id";
inline constexpr std::string_view kSyntheticNodeMeta = "synthetic-node";

// --- IAM role tags the auth method exposes to binding rules ('/' is not
// allowed there, hence the dots) ---
inline constexpr std::string_view kIamServiceNameTag = "consul.hashicorp.com.service-name";
inline constexpr std::string_view kIamNamespaceTag = "consul.hashicorp.com.namespace";
inline constexpr std::string_view kIamGatewayKindTag = "consul.hashicorp.com.gateway-kind";

// --- ACL objects ---
inline constexpr std::string_view kAuthMethodType = "aws-iam";
inline constexpr std::string_view kAuthMethodDescription = "AWS IAM auth method for ECS service tokens";
inline constexpr std::string_view kServiceRuleDescription = "Bind a service identity from IAM role tag for ECS";
inline constexpr std::string_view kMeshGatewayRuleDescription =
    "Bind a Consul role from IAM role tag for ECS based mesh gateways";
inline constexpr std::string_view kMeshGatewayRoleName = "consul-ecs-mesh-gateway-role";
inline constexpr std::string_view kMeshGatewayRoleDescription = "Mesh Gateway Role for ECS";
inline constexpr std::string_view kMeshGatewayPolicyName = "consul-ecs-mesh-gateway-policy";
inline constexpr std::string_view kMeshGatewayPolicyDescription = "Mesh Gateway token Policy";
// v0.10 gateway kinds: an API gateway gets a role with its read policy; a
// terminating gateway a role without policy, to which users attach the
// policies of the services it fronts (the official modules do, via Terraform).
inline constexpr std::string_view kApiGatewayRuleDescription =
    "Bind a Consul role from IAM role tag for ECS based API gateways";
inline constexpr std::string_view kApiGatewayRoleName = "consul-ecs-api-gateway-role";
inline constexpr std::string_view kApiGatewayRoleDescription = "API Gateway Role for ECS";
inline constexpr std::string_view kApiGatewayPolicyName = "consul-ecs-api-gateway-policy";
inline constexpr std::string_view kApiGatewayPolicyDescription = "API Gateway token Policy";
inline constexpr std::string_view kTerminatingGatewayRuleDescription =
    "Bind a Consul role from IAM role tag for ECS based Terminating gateways";
inline constexpr std::string_view kTerminatingGatewayRoleName = "consul-ecs-terminating-gateway-role";
inline constexpr std::string_view kTerminatingGatewayRoleDescription = "Terminating Gateway Role for ECS";
inline constexpr std::string_view kAnonymousTokenId = "00000000-0000-0000-0000-000000000002";
inline constexpr std::string_view kAnonymousPolicyName = "anonymous-token-policy";
inline constexpr std::string_view kAnonymousPolicyDescription = "Anonymous token Policy";
inline constexpr std::string_view kCrossNamespacePolicyName = "cross-namespace-read";
inline constexpr std::string_view kCrossNamespacePolicyDescription =
    "Allow service and node reads across namespaces within the partition";
using config::kDefaultPartition;
inline constexpr std::string_view kDefaultNamespace = "default";

// The reference polls every 10 s.
inline constexpr std::chrono::milliseconds kDefaultPollingInterval{10000};

struct Settings {
  std::string cluster_arn;          // the synthetic node's name
  std::string node_address;         // address of the synthetic node when the controller creates it
  std::string account_id;           // of the controller's task
  std::string aws_partition = "aws";  // "aws", "aws-cn", ... (of the task ARN)
  std::string auth_method = std::string(config::kDefaultAuthMethod);
  std::string iam_role_path = std::string(config::kDefaultIamRolePath);
  bool partitions_enabled = false;
  std::string partition;            // admin partition; "" unless partitions_enabled
};

// Settings from the config and the controller's own task metadata.
// Throws config::ConfigError when controller.partition is set without
// controller.partitionsEnabled (the reference refuses that too).
Settings make_settings(const config::Config& cfg, const ecs::TaskMetadata& task);

// How the controller talks to Consul: consul::Client::call, or a fake in
// tests. `path` starts with /v1/ and carries its query string. Throws
// consul::ApiError / consul::UnavailableError.
using ConsulCall =
    std::function<nlohmann::json(const std::string& method, const std::string& path, const nlohmann::json* body)>;

// `path` plus the non-empty parameters as a query string (values URL-encoded).
std::string with_query(std::string path, const std::vector<std::pair<std::string, std::string>>& params);

// A path segment with everything but RFC 3986 unreserved characters and
// ':' '/' '@' percent-encoded (node names are cluster ARNs).
std::string path_escape(std::string_view segment);

// True when a Consul error means "no such ACL object / resource": HTTP 404,
// or 403 "ACL not found" (older servers).
bool is_not_found(const std::exception& error);

}  // namespace consulecs::controller
