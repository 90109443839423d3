#include "controller/acl.h"

#include <gtest/gtest.h>

#include "fake_consul.h"

namespace consulecs::controller {
namespace {

using nlohmann::json;
using testing::FakeConsul;

Settings base_settings() {
  Settings s;
  s.cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/c1";
  s.node_address = "10.0.0.9";
  s.account_id = "123456789012";
  return s;
}

TEST(ControllerAcl, BoundArnPatternFromTheRolePath) {
  Settings s = base_settings();
  EXPECT_EQ(bound_arn_pattern(s), "arn:aws:iam::123456789012:role/consul-ecs/*");
  s.iam_role_path = "/path/to/roles";
  EXPECT_EQ(bound_arn_pattern(s), "arn:aws:iam::123456789012:role/path/to/roles/*");
  s.iam_role_path = "/";
  EXPECT_EQ(bound_arn_pattern(s), "arn:aws:iam::123456789012:role/*");
  s.iam_role_path = "";
  EXPECT_EQ(bound_arn_pattern(s), "arn:aws:iam::123456789012:role/*");
  s.iam_role_path = "/x/";
  s.aws_partition = "aws-cn";
  EXPECT_EQ(bound_arn_pattern(s), "arn:aws-cn:iam::123456789012:role/x/*");
}

TEST(ControllerAcl, DesiredAuthMethodMatchesTheReference) {
  Settings s = base_settings();
  const json method = desired_auth_method(s);
  EXPECT_EQ(method["Name"], "iam-ecs-service-token");
  EXPECT_EQ(method["Type"], "aws-iam");
  EXPECT_EQ(method["Description"], "AWS IAM auth method for ECS service tokens");
  EXPECT_EQ(method["Config"], json({{"BoundIAMPrincipalARNs", {"arn:aws:iam::123456789012:role/consul-ecs/*"}},
                                    {"EnableIAMEntityDetails", true},
                                    {"IAMEntityTags",
                                     {"consul.hashicorp.com.gateway-kind", "consul.hashicorp.com.namespace",
                                      "consul.hashicorp.com.service-name"}}}));
  EXPECT_FALSE(method.contains("NamespaceRules"));

  s.partitions_enabled = true;
  s.partition = "part1";
  EXPECT_EQ(desired_auth_method(s)["NamespaceRules"],
            json::array({{{"Selector", R"(entity_tags["consul.hashicorp.com.namespace"] != "")"},
                          {"BindNamespace", "${entity_tags.consul.hashicorp.com.namespace}"}}}));
}

TEST(ControllerAcl, DesiredBindingRules) {
  const auto rules = desired_binding_rules(base_settings());
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0]["BindType"], "service");
  EXPECT_EQ(rules[0]["BindName"], "${entity_tags.consul.hashicorp.com.service-name}");
  EXPECT_EQ(rules[0]["Selector"], "");
  EXPECT_EQ(rules[0]["Description"], "Bind a service identity from IAM role tag for ECS");
  // One role per gateway kind, as the reference v0.10.0 (api, terminating, mesh).
  EXPECT_EQ(rules[1]["BindType"], "role");
  EXPECT_EQ(rules[1]["BindName"], "consul-ecs-api-gateway-role");
  EXPECT_EQ(rules[1]["Selector"], R"(entity_tags["consul.hashicorp.com.gateway-kind"] == "api-gateway")");
  EXPECT_EQ(rules[1]["Description"], "Bind a Consul role from IAM role tag for ECS based API gateways");
  EXPECT_EQ(rules[2]["BindType"], "role");
  EXPECT_EQ(rules[2]["BindName"], "consul-ecs-terminating-gateway-role");
  EXPECT_EQ(rules[2]["Selector"], R"(entity_tags["consul.hashicorp.com.gateway-kind"] == "terminating-gateway")");
  EXPECT_EQ(rules[2]["Description"], "Bind a Consul role from IAM role tag for ECS based Terminating gateways");
  EXPECT_EQ(rules[3]["BindType"], "role");
  EXPECT_EQ(rules[3]["BindName"], "consul-ecs-mesh-gateway-role");
  EXPECT_EQ(rules[3]["Selector"], R"(entity_tags["consul.hashicorp.com.gateway-kind"] == "mesh-gateway")");
  for (const auto& r : rules) EXPECT_EQ(r["AuthMethod"], "iam-ecs-service-token");
}

TEST(ControllerAcl, ApiGatewayPolicyRulesAsTheReferenceRendersThem) {
  Settings s = base_settings();
  EXPECT_EQ(api_gateway_policy_rules(s),
            "mesh = \"read\"\n\tnode_prefix \"\" {\n\t\tpolicy = \"read\"\n\t}\n\tservice_prefix \"\" {\n\t\tpolicy = "
            "\"read\"\n\t}");
  s.partitions_enabled = true;
  EXPECT_EQ(api_gateway_policy_rules(s),
            "mesh = \"read\"\nnamespace_prefix \"\" {\n\tnode_prefix \"\" {\n\t\tpolicy = \"read\"\n\t}\n\tservice_prefix "
            "\"\" {\n\t\tpolicy = \"read\"\n\t}\n}");
}

TEST(ControllerAcl, PolicyRulesAsTheReferenceRendersThem) {
  Settings s = base_settings();
  EXPECT_EQ(mesh_gateway_policy_rules(s), "mesh = \"write\"\npeering = \"read\"");
  s.partitions_enabled = true;
  s.partition = "default";
  EXPECT_EQ(mesh_gateway_policy_rules(s), "mesh = \"write\"\npeering = \"read\"\npartition_prefix \"\" {\n\tpeering = \"read\"\n}");
  s.partition = "other";
  EXPECT_EQ(mesh_gateway_policy_rules(s), "mesh = \"write\"\npeering = \"read\"");

  EXPECT_EQ(anonymous_policy_rules(false),
            "\n    node_prefix \"\" {\n      policy = \"read\"\n    }\n    service_prefix \"\" {\n      policy = \"read\"\n    }");
  EXPECT_EQ(anonymous_policy_rules(true),
            "\npartition_prefix \"\" {\n  namespace_prefix \"\" {\n    node_prefix \"\" {\n      policy = \"read\"\n    }\n"
            "    service_prefix \"\" {\n      policy = \"read\"\n    }\n  }\n}");
  EXPECT_EQ(cross_namespace_policy_rules("p1"),
            "partition \"p1\" {\n  namespace_prefix \"\" {\n    service_prefix \"\" {\n      policy = \"read\"\n    }\n"
            "    node_prefix \"\" {\n      policy = \"read\"\n    }\n  }\n}");
}

TEST(ControllerAcl, PlanAuthMethodCreatesWhenMissingAndLeavesAnUpToDateOneAlone) {
  const json desired = desired_auth_method(base_settings());
  EXPECT_EQ(plan_auth_method(nullptr, desired).action, Action::Create);
  json existing = desired;
  existing["CreateIndex"] = 10;
  existing["ModifyIndex"] = 10;
  EXPECT_EQ(plan_auth_method(&existing, desired).action, Action::None);
  // Order of the lists does not matter, extra values are kept.
  existing["Config"]["IAMEntityTags"] = {"consul.hashicorp.com.service-name", "x", "consul.hashicorp.com.namespace",
                                         "consul.hashicorp.com.gateway-kind"};
  EXPECT_EQ(plan_auth_method(&existing, desired).action, Action::None);
}

TEST(ControllerAcl, PlanAuthMethodMergesAndKeepsOperatorSettings) {
  const json desired = desired_auth_method(base_settings());
  json existing = {{"Name", "iam-ecs-service-token"},
                   {"Type", "aws-iam"},
                   {"Description", "made by hand"},
                   {"Config",
                    {{"BoundIAMPrincipalARNs", {"arn:aws:iam::123456789012:role/other/*"}},
                     {"IAMEntityTags", {"consul.hashicorp.com.service-name"}},
                     {"STSEndpoint", "https://sts.example"}}},
                   {"CreateIndex", 3},
                   {"ModifyIndex", 4}};
  const Plan plan = plan_auth_method(&existing, desired);
  ASSERT_EQ(plan.action, Action::Update);
  EXPECT_EQ(plan.id, "iam-ecs-service-token");
  EXPECT_EQ(plan.body["Config"]["BoundIAMPrincipalARNs"],
            json({"arn:aws:iam::123456789012:role/consul-ecs/*", "arn:aws:iam::123456789012:role/other/*"}));
  EXPECT_EQ(plan.body["Config"]["IAMEntityTags"],
            json({"consul.hashicorp.com.gateway-kind", "consul.hashicorp.com.namespace",
                  "consul.hashicorp.com.service-name"}));
  EXPECT_EQ(plan.body["Config"]["EnableIAMEntityDetails"], true);
  EXPECT_EQ(plan.body["Config"]["STSEndpoint"], "https://sts.example");
  EXPECT_EQ(plan.body["Description"], "made by hand");
  EXPECT_FALSE(plan.body.contains("ModifyIndex"));

  json other_type = existing;
  other_type["Type"] = "jwt";
  EXPECT_THROW(plan_auth_method(&other_type, desired), std::runtime_error);
}

TEST(ControllerAcl, PlanAuthMethodAddsTheNamespaceRuleWithPartitions) {
  Settings s = base_settings();
  s.partitions_enabled = true;
  s.partition = "p1";
  const json desired = desired_auth_method(s);
  json existing = desired_auth_method(base_settings());
  const Plan plan = plan_auth_method(&existing, desired);
  ASSERT_EQ(plan.action, Action::Update);
  EXPECT_EQ(plan.body["NamespaceRules"], desired["NamespaceRules"]);
  json updated = plan.body;
  EXPECT_EQ(plan_auth_method(&updated, desired).action, Action::None);
}

TEST(ControllerAcl, PlanBindingRules) {
  const auto desired = desired_binding_rules(base_settings());
  auto plans = plan_binding_rules(json::array(), desired);
  ASSERT_EQ(plans.size(), 4u);
  for (const auto& p : plans) EXPECT_EQ(p.action, Action::Create);

  // An equivalent rule (another description, e.g. made by hand) satisfies ours.
  json existing = json::array({{{"ID", "r1"},
                                {"AuthMethod", "iam-ecs-service-token"},
                                {"Description", "service identity from the task role's tag"},
                                {"BindType", "service"},
                                {"BindName", "${entity_tags.consul.hashicorp.com.service-name}"}}});
  plans = plan_binding_rules(existing, desired);
  EXPECT_EQ(plans[0].action, Action::None);
  EXPECT_EQ(plans[1].action, Action::Create);

  // Our rule with a changed selector is put back.
  existing.push_back({{"ID", "r2"},
                      {"AuthMethod", "iam-ecs-service-token"},
                      {"Description", "Bind a Consul role from IAM role tag for ECS based mesh gateways"},
                      {"BindType", "role"},
                      {"BindName", "consul-ecs-mesh-gateway-role"},
                      {"Selector", "true"}});
  plans = plan_binding_rules(existing, desired);
  EXPECT_EQ(plans[3].action, Action::Update);
  EXPECT_EQ(plans[3].id, "r2");
  EXPECT_EQ(plans[3].body["ID"], "r2");
  EXPECT_EQ(plans[3].body["Selector"], desired[3]["Selector"]);
}

TEST(ControllerAcl, PlanPolicyRoleAndToken) {
  EXPECT_EQ(plan_policy(nullptr, "p", "d", "rules", true).action, Action::Create);
  json policy = {{"ID", "pid"}, {"Name", "p"}, {"Description", "d"}, {"Rules", "rules"}, {"ModifyIndex", 9}};
  EXPECT_EQ(plan_policy(&policy, "p", "d", "rules", true).action, Action::None);
  auto plan = plan_policy(&policy, "p", "d", "new rules", true);
  EXPECT_EQ(plan.action, Action::Update);
  EXPECT_EQ(plan.id, "pid");
  EXPECT_EQ(plan.body["Rules"], "new rules");
  EXPECT_EQ(plan_policy(&policy, "p", "d", "new rules", false).action, Action::None);

  plan = plan_role(nullptr, "r", "desc", "p");
  EXPECT_EQ(plan.action, Action::Create);
  EXPECT_EQ(plan.body["Policies"], json::array({{{"Name", "p"}}}));
  json role = {{"ID", "rid"}, {"Name", "r"}, {"Policies", {{{"ID", "x"}, {"Name", "other"}}}}};
  plan = plan_role(&role, "r", "desc", "p");
  EXPECT_EQ(plan.action, Action::Update);
  EXPECT_EQ(plan.body["Policies"].size(), 2u);
  role["Policies"].push_back({{"ID", "y"}, {"Name", "p"}});
  EXPECT_EQ(plan_role(&role, "r", "desc", "p").action, Action::None);
  // A role without a policy of ours (terminating gateways): created bare,
  // and the policies users attached later are left alone.
  plan = plan_role(nullptr, "r", "desc", "");
  EXPECT_EQ(plan.action, Action::Create);
  EXPECT_EQ(plan.body, json({{"Name", "r"}, {"Description", "desc"}}));
  EXPECT_EQ(plan_role(&role, "r", "desc", "").action, Action::None);

  json token = {{"AccessorID", "a"}, {"SecretID", "anonymous"}, {"CreateTime", "t"}, {"Hash", "h"}};
  plan = plan_token_policy(token, "anonymous-token-policy");
  EXPECT_EQ(plan.action, Action::Update);
  EXPECT_EQ(plan.id, "a");
  EXPECT_FALSE(plan.body.contains("Hash"));
  EXPECT_EQ(plan.body["Policies"], json::array({{{"Name", "anonymous-token-policy"}}}));
  token["Policies"] = plan.body["Policies"];
  EXPECT_EQ(plan_token_policy(token, "anonymous-token-policy").action, Action::None);
}

TEST(ControllerAcl, ProvisionerCreatesEverythingThenWritesNothing) {
  FakeConsul consul;
  AclProvisioner provisioner(base_settings(), consul.as_call());
  const auto first = provisioner.run();
  EXPECT_EQ(first.changes.size(), 12u) << ::testing::PrintToString(first.changes);

  const auto& method = consul.auth_methods.at("iam-ecs-service-token");
  EXPECT_EQ(method["Type"], "aws-iam");
  EXPECT_EQ(method["Config"]["BoundIAMPrincipalARNs"], json({"arn:aws:iam::123456789012:role/consul-ecs/*"}));
  EXPECT_EQ(consul.binding_rules.size(), 4u);
  EXPECT_EQ(consul.policies.at("consul-ecs-mesh-gateway-policy")["Rules"], "mesh = \"write\"\npeering = \"read\"");
  EXPECT_EQ(consul.roles.at("consul-ecs-mesh-gateway-role")["Policies"],
            json::array({{{"Name", "consul-ecs-mesh-gateway-policy"}}}));
  EXPECT_EQ(consul.policies.at("consul-ecs-api-gateway-policy")["Description"], "API Gateway token Policy");
  EXPECT_EQ(consul.roles.at("consul-ecs-api-gateway-role")["Policies"],
            json::array({{{"Name", "consul-ecs-api-gateway-policy"}}}));
  EXPECT_EQ(consul.roles.at("consul-ecs-terminating-gateway-role")["Description"], "Terminating Gateway Role for ECS");
  EXPECT_FALSE(consul.roles.at("consul-ecs-terminating-gateway-role").contains("Policies"));
  EXPECT_EQ(consul.policies.at("anonymous-token-policy")["Description"], "Anonymous token Policy");
  EXPECT_EQ(consul.anonymous_token["Policies"], json::array({{{"Name", "anonymous-token-policy"}}}));

  const auto index = consul.index();
  const auto writes = consul.writes();
  const auto requests = consul.log.size();
  const auto second = provisioner.run();
  EXPECT_TRUE(second.changes.empty()) << ::testing::PrintToString(second.changes);
  EXPECT_EQ(consul.writes(), writes);
  EXPECT_EQ(consul.index(), index);
  // A steady pass is a handful of reads: 2 policies, 3 roles, auth method, rules, anonymous token.
  EXPECT_EQ(consul.log.size() - requests, 8u);
}

TEST(ControllerAcl, ProvisionerRecreatesWhatWasDeleted) {
  FakeConsul consul;
  AclProvisioner provisioner(base_settings(), consul.as_call());
  provisioner.run();
  consul.auth_methods.clear();
  consul.binding_rules.clear();
  consul.roles.clear();
  const auto again = provisioner.run();
  EXPECT_EQ(again.changes.size(), 8u) << ::testing::PrintToString(again.changes);
  EXPECT_TRUE(consul.auth_methods.contains("iam-ecs-service-token"));
  EXPECT_EQ(consul.binding_rules.size(), 4u);
  EXPECT_TRUE(consul.roles.contains("consul-ecs-mesh-gateway-role"));
  EXPECT_TRUE(consul.roles.contains("consul-ecs-api-gateway-role"));
  EXPECT_TRUE(consul.roles.contains("consul-ecs-terminating-gateway-role"));
}

TEST(ControllerAcl, AnonymousTokenOnlyInThePrimaryDatacenter) {
  FakeConsul consul;
  consul.datacenter = "dc2";
  AclProvisioner provisioner(base_settings(), consul.as_call());
  provisioner.run();
  EXPECT_FALSE(consul.policies.contains("anonymous-token-policy"));
  EXPECT_TRUE(consul.anonymous_token["Policies"].empty());
  EXPECT_EQ(consul.count("GET", "/v1/acl/token/"), 0u);
  // agent/self is read once, not every pass.
  provisioner.run();
  EXPECT_EQ(consul.count("GET", "/v1/agent/self"), 1u);
}

TEST(ControllerAcl, ExistingAnonymousPolicyOfAnotherToolIsNotRewritten) {
  FakeConsul consul;
  consul.policies["anonymous-token-policy"] = {
      {"ID", "k8s"}, {"Name", "anonymous-token-policy"}, {"Description", "Anonymous token Policy"}, {"Rules", "x"}};
  AclProvisioner provisioner(base_settings(), consul.as_call());
  provisioner.run();
  EXPECT_EQ(consul.policies["anonymous-token-policy"]["Rules"], "x");
  EXPECT_EQ(consul.anonymous_token["Policies"], json::array({{{"Name", "anonymous-token-policy"}}}));
}

TEST(ControllerAcl, PartitionsOnConsulCeAreReportedClearly) {
  FakeConsul consul;  // answers 404 for /v1/partitions, as Consul CE does
  Settings s = base_settings();
  s.partitions_enabled = true;
  s.partition = "default";
  AclProvisioner provisioner(s, consul.as_call());
  try {
    provisioner.run();
    FAIL() << "expected EnterpriseRequiredError";
  } catch (const EnterpriseRequiredError& e) {
    EXPECT_NE(std::string(e.what()).find("does not support admin partitions"), std::string::npos) << e.what();
  }
  EXPECT_EQ(consul.writes(), 0u);
}

TEST(ControllerAcl, PartitionScopedRequests) {
  FakeConsul consul;
  std::vector<json> partitions = {{{"Name", "default"}}};
  Settings s = base_settings();
  s.partitions_enabled = true;
  s.partition = "p1";
  // Wrap the fake: partitions and namespaces endpoints answered here.
  std::vector<std::string> paths;
  json namespaces = json::array({{{"Name", "default"}, {"ACLs", json::object()}}});
  ConsulCall call = [&](const std::string& m, const std::string& p, const json* b) -> json {
    paths.push_back(m + " " + p);
    if (p == "/v1/partitions") return partitions;
    if (p == "/v1/partition" && m == "PUT") {
      partitions.push_back(*b);
      return *b;
    }
    if (p.starts_with("/v1/namespaces")) return namespaces;
    if (p.starts_with("/v1/namespace/default")) {
      if (m == "PUT") namespaces[0] = *b;
      return namespaces[0];
    }
    if (p.starts_with("/v1/namespace") && m == "PUT") {
      namespaces.push_back(*b);
      return *b;
    }
    return consul.call(m, p, b);
  };
  AclProvisioner provisioner(s, call);
  const auto result = provisioner.run();
  EXPECT_EQ(partitions.size(), 2u);
  EXPECT_EQ(result.changes.front(), "created partition p1");
  for (const auto& p : paths) {
    if (p.find("/v1/acl/auth-method") != std::string::npos || p.find("/v1/acl/role") != std::string::npos ||
        p.find("/v1/acl/binding-rule") != std::string::npos) {
      EXPECT_NE(p.find("partition=p1"), std::string::npos) << p;
    }
    // The anonymous token lives in the default partition.
    if (p.find("/v1/acl/token/") != std::string::npos) {
      EXPECT_NE(p.find("partition=default"), std::string::npos) << p;
    }
  }
  EXPECT_EQ(consul.auth_methods.at("iam-ecs-service-token")["NamespaceRules"].size(), 1u);

  const auto ns = provisioner.ensure_namespaces({"default", "team-a", "team-b"});
  EXPECT_TRUE(ns.errors.empty());
  ASSERT_EQ(namespaces.size(), 3u);
  EXPECT_EQ(namespaces[1]["ACLs"]["PolicyDefaults"], json::array({{{"Name", "cross-namespace-read"}}}));
  EXPECT_EQ(namespaces[0]["ACLs"]["PolicyDefaults"], json::array({{{"Name", "cross-namespace-read"}}}));
  EXPECT_EQ(consul.policies.at("cross-namespace-read")["Rules"], cross_namespace_policy_rules("p1"));
  // Second pass: nothing to create.
  const auto again = provisioner.ensure_namespaces({"default", "team-a", "team-b"});
  EXPECT_TRUE(again.changes.empty()) << ::testing::PrintToString(again.changes);
}

}  // namespace
}  // namespace consulecs::controller
