#include "controller/task_state.h"

#include <gtest/gtest.h>

namespace consulecs::controller {
namespace {

using nlohmann::json;

const std::string kCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/c1";
const std::string kOtherCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/c2";

Settings settings() {
  Settings s;
  s.cluster_arn = kCluster;
  s.account_id = "123456789012";
  return s;
}

json ours(const std::string& task_id) { return {{"source", "consul-ecs"}, {"task-id", task_id}, {"task-arn", "x"}}; }

json service(const std::string& id, const json& meta, const std::string& kind = "") {
  json s = {{"ID", id}, {"Service", "web"}, {"Meta", meta}};
  if (!kind.empty()) s["Kind"] = kind;
  return s;
}

std::string login_description(const std::string& task_id, const std::string& cluster) {
  return "token created via login: " +
         json({{"consul.hashicorp.com/cluster", cluster}, {"consul.hashicorp.com/task-id", task_id}}).dump();
}

json token(const std::string& accessor, const std::string& description,
           const std::string& method = "iam-ecs-service-token") {
  json t = {{"AccessorID", accessor}, {"Description", description}};
  if (!method.empty()) t["AuthMethod"] = method;
  return t;
}

ecs::Task ecs_task(const std::string& id, std::map<std::string, std::string> tags = {{"consul.hashicorp.com/mesh", "true"}}) {
  ecs::Task t;
  t.task_arn = "arn:aws:ecs:us-east-1:123456789012:task/c1/" + id;
  t.cluster_arn = kCluster;
  t.tags = std::move(tags);
  return t;
}

TEST(ControllerTaskState, LoginDescription) {
  auto meta = parse_login_description(login_description("t1", kCluster));
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->task_id, "t1");
  EXPECT_EQ(meta->cluster, kCluster);
  // Extra meta (consulLogin.meta) is fine.
  meta = parse_login_description(
      R"(token created via login: {"consul.hashicorp.com/cluster":"c","consul.hashicorp.com/task-id":"t","team":"x"})");
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->cluster, "c");
  for (const char* bad :
       {"", "token created via login", "token created via login: ", "token created via login: not json",
        R"(token created via login: {"consul.hashicorp.com/cluster":"c"})",
        R"(token created via login: {"consul.hashicorp.com/task-id":"t"})",
        R"(token created via login: {"consul.hashicorp.com/task-id":"","consul.hashicorp.com/cluster":"c"})",
        R"(my token: {"consul.hashicorp.com/task-id":"t","consul.hashicorp.com/cluster":"c"})",
        R"(token created via login: ["consul.hashicorp.com/task-id"])"}) {
    EXPECT_FALSE(parse_login_description(bad)) << bad;
  }
}

TEST(ControllerTaskState, ConsulStateKeepsOnlyOursOfThisCluster) {
  const json node_services = {
      {"Node", {{"Node", kCluster}}},
      {"Services",
       {service("web-t1", ours("t1")), service("web-t1-sidecar-proxy", ours("t1"), "connect-proxy"),
        service("manual", {{"team", "x"}}),                                    // no source
        service("other-tool", {{"source", "nomad"}, {"task-id", "t9"}}),       // another source
        service("no-task", {{"source", "consul-ecs"}}),                        // no task-id
        service("no-meta", nullptr)}}};
  const json tokens = {token("a1", login_description("t1", kCluster)),
                       token("a2", login_description("t2", kCluster)),
                       token("a3", login_description("t3", kOtherCluster)),
                       token("a4", "token created via login: {}"),
                       token("a5", "bootstrap token", ""),
                       token("a6", login_description("t4", kCluster), "some-other-method")};
  const ConsulState state = consul_state(node_services, tokens, settings());
  EXPECT_TRUE(state.node_exists);
  EXPECT_EQ(state.service_count, 2u);
  EXPECT_EQ(state.token_count, 2u);
  EXPECT_EQ(state.foreign_services, 4u);
  EXPECT_EQ(state.foreign_tokens, 4u);
  ASSERT_EQ(state.tasks.size(), 2u);
  EXPECT_EQ(state.tasks.at("t1").services.size(), 2u);
  EXPECT_EQ(state.tasks.at("t1").tokens.size(), 1u);
  EXPECT_EQ(state.tasks.at("t1").tokens[0].accessor_id, "a1");
  EXPECT_TRUE(state.tasks.at("t2").services.empty());
  EXPECT_EQ(state.tasks.at("t2").tokens[0].accessor_id, "a2");
}

TEST(ControllerTaskState, UnknownNodeOrEmptyAnswers) {
  EXPECT_FALSE(consul_state(json{{"Node", nullptr}, {"Services", nullptr}}, json::array(), settings()).node_exists);
  EXPECT_FALSE(consul_state(json(), json(), settings()).node_exists);
  EXPECT_TRUE(consul_state(json(), json(), settings()).tasks.empty());
}

TEST(ControllerTaskState, EcsStateProtectsEveryListedTaskAndPicksMeshTasks) {
  ecs::ClusterTasks listing;
  listing.task_arns = {"arn:aws:ecs:us-east-1:123456789012:task/c1/t1", "arn:aws:ecs:us-east-1:123456789012:task/c1/t2",
                       "arn:aws:ecs:us-east-1:123456789012:task/c1/t3"};
  listing.tasks = {ecs_task("t1"), ecs_task("t2", {}), ecs_task("t3", {{"consul.hashicorp.com/mesh", "false"}})};
  const EcsState state = ecs_state(listing, settings());
  EXPECT_EQ(state.running, (std::set<std::string>{"t1", "t2", "t3"}));
  ASSERT_EQ(state.mesh_tasks.size(), 1u);
  EXPECT_EQ(state.mesh_tasks[0].task_id, "t1");
  EXPECT_EQ(state.mesh_tasks[0].partition, "");
}

TEST(ControllerTaskState, EcsStateWithPartitions) {
  Settings s = settings();
  s.partitions_enabled = true;
  s.partition = "p1";
  ecs::ClusterTasks listing;
  listing.tasks = {
      ecs_task("t1", {{"consul.hashicorp.com/mesh", "true"},
                      {"consul.hashicorp.com/partition", "p1"},
                      {"consul.hashicorp.com/namespace", "team-a"}}),
      ecs_task("t2", {{"consul.hashicorp.com/mesh", "true"},
                      {"consul.hashicorp.com/partition", "p2"},
                      {"consul.hashicorp.com/namespace", "team-b"}}),
      ecs_task("t3", {{"consul.hashicorp.com/mesh", "true"}, {"consul.hashicorp.com/namespace", "team-c"}}),
      ecs_task("t4", {{"consul.hashicorp.com/mesh", "true"}}),
  };
  for (const auto& t : listing.tasks) listing.task_arns.push_back(t.task_arn);
  const EcsState state = ecs_state(listing, s);
  EXPECT_EQ(state.running.size(), 4u);
  ASSERT_EQ(state.mesh_tasks.size(), 1u);  // t2: other partition; t3: bad tags; t4: default/default != p1
  EXPECT_EQ(state.mesh_tasks[0].ns, "team-a");
  ASSERT_EQ(state.warnings.size(), 1u);
  EXPECT_NE(state.warnings[0].find("t3"), std::string::npos);

  s.partition = "default";
  const EcsState in_default = ecs_state(listing, s);
  ASSERT_EQ(in_default.mesh_tasks.size(), 1u);
  EXPECT_EQ(in_default.mesh_tasks[0].task_id, "t4");
  EXPECT_EQ(in_default.mesh_tasks[0].ns, "default");
}

TEST(ControllerTaskState, CleanupOnlyForTasksNotRunning) {
  const json node_services = {
      {"Node", {{"Node", kCluster}}},
      {"Services",
       {service("web-running", ours("running")), service("web-stopped", ours("stopped")),
        service("web-stopped-sidecar-proxy", ours("stopped"), "connect-proxy"), service("manual", {{"x", "y"}})}}};
  const json tokens = {token("tok-running", login_description("running", kCluster)),
                       token("tok-stopped", login_description("stopped", kCluster)),
                       token("tok-token-only", login_description("gone", kCluster)),
                       token("tok-other-cluster", login_description("stopped", kOtherCluster))};
  const ConsulState state = consul_state(node_services, tokens, settings());
  const auto plan = plan_cleanup(state, {"running", "unrelated"});
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].task_id, "gone");
  EXPECT_TRUE(plan[0].resources.services.empty());
  ASSERT_EQ(plan[0].resources.tokens.size(), 1u);
  EXPECT_EQ(plan[0].resources.tokens[0].accessor_id, "tok-token-only");
  EXPECT_EQ(plan[1].task_id, "stopped");
  ASSERT_EQ(plan[1].resources.services.size(), 2u);
  EXPECT_EQ(plan[1].resources.services[0].id, "web-stopped-sidecar-proxy");  // proxy first
  EXPECT_EQ(plan[1].resources.services[1].id, "web-stopped");
  ASSERT_EQ(plan[1].resources.tokens.size(), 1u);
  EXPECT_EQ(plan[1].resources.tokens[0].accessor_id, "tok-stopped");

  EXPECT_TRUE(plan_cleanup(state, {"running", "stopped", "gone"}).empty());
}

}  // namespace
}  // namespace consulecs::controller
