#include "controller/reconciler.h"

#include <gtest/gtest.h>

#include "fake_consul.h"

namespace consulecs::controller {
namespace {

using nlohmann::json;
using testing::FakeConsul;

const std::string kCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/c1";
const std::string kOtherCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/c2";

Settings settings() {
  Settings s;
  s.cluster_arn = kCluster;
  s.node_address = "10.0.0.9";
  s.account_id = "123456789012";
  return s;
}

json meta(const std::string& task_id) { return {{"source", "consul-ecs"}, {"task-id", task_id}}; }

std::string task_arn(const std::string& id) { return "arn:aws:ecs:us-east-1:123456789012:task/c1/" + id; }

ecs::ClusterTasks listing_of(const std::vector<std::string>& ids) {
  ecs::ClusterTasks out;
  for (const auto& id : ids) {
    out.task_arns.push_back(task_arn(id));
    ecs::Task t;
    t.task_arn = task_arn(id);
    t.cluster_arn = kCluster;
    t.tags = {{"consul.hashicorp.com/mesh", "true"}};
    out.tasks.push_back(t);
  }
  return out;
}

// A task as the control-plane leaves it in Consul: service, proxy, login token.
std::string add_task(FakeConsul& consul, const std::string& id, const std::string& cluster = kCluster) {
  consul.add_service(cluster, "web-" + id, "web", meta(id));
  consul.add_service(cluster, "web-" + id + "-sidecar-proxy", "web-sidecar-proxy", meta(id), "connect-proxy");
  return consul.add_login_token(id, cluster);
}

struct World {
  FakeConsul consul;
  std::vector<std::string> running;
  std::function<ecs::ClusterTasks()> lister;
  int listings = 0;

  World() {
    consul.add_node(kCluster);
    lister = [this] {
      ++listings;
      return listing_of(running);
    };
  }
  Reconciler reconciler(const signals::StopFlag* stop = nullptr) {
    return Reconciler(settings(), consul.as_call(), [this] { return lister(); }, stop);
  }
};

TEST(ControllerReconciler, StoppedTasksAreCleanedAndEverythingElseStays) {
  World w;
  const auto running_token = add_task(w.consul, "running");
  const auto stopped_token = add_task(w.consul, "stopped");
  const auto token_only = w.consul.add_login_token("crashed-before-register", kCluster);
  w.consul.add_service(kCluster, "manual", "manual", {{"owner", "ops"}});
  w.consul.add_service(kCluster, "legacy", "legacy", {{"task-id", "stopped"}});  // no source=consul-ecs
  w.consul.add_node(kOtherCluster);
  const auto other_token = add_task(w.consul, "other", kOtherCluster);
  const auto bootstrap = w.consul.add_token("bootstrap token");
  w.running = {"running", "not-in-consul"};

  auto reconciler = w.reconciler();
  const auto report = reconciler.reconcile();
  EXPECT_TRUE(report.ok()) << summarize(report);
  EXPECT_FALSE(report.cleanup_skipped);
  EXPECT_EQ(report.stale_tasks, 2u);
  EXPECT_EQ(report.services_deregistered, 2u);
  EXPECT_EQ(report.tokens_deleted, 2u);

  EXPECT_TRUE(w.consul.has_service(kCluster, "web-running"));
  EXPECT_TRUE(w.consul.has_service(kCluster, "web-running-sidecar-proxy"));
  EXPECT_TRUE(w.consul.has_token(running_token));
  EXPECT_FALSE(w.consul.has_service(kCluster, "web-stopped"));
  EXPECT_FALSE(w.consul.has_service(kCluster, "web-stopped-sidecar-proxy"));
  EXPECT_FALSE(w.consul.has_token(stopped_token));
  EXPECT_FALSE(w.consul.has_token(token_only));
  EXPECT_TRUE(w.consul.has_service(kCluster, "manual"));
  EXPECT_TRUE(w.consul.has_service(kCluster, "legacy"));
  EXPECT_TRUE(w.consul.has_service(kOtherCluster, "web-other"));
  EXPECT_TRUE(w.consul.has_token(other_token));
  EXPECT_TRUE(w.consul.has_token(bootstrap));

  // The proxy goes before its service.
  std::vector<std::string> deregistered;
  for (const auto& r : w.consul.log) {
    if (r.path == "/v1/catalog/deregister") {
      deregistered.push_back(r.body["ServiceID"]);
      EXPECT_EQ(r.body["Node"], kCluster);
    }
  }
  EXPECT_EQ(deregistered, (std::vector<std::string>{"web-stopped-sidecar-proxy", "web-stopped"}));

  // Second reconcile: nothing left to do, nothing written.
  const auto writes = w.consul.writes();
  const auto again = reconciler.reconcile();
  EXPECT_FALSE(again.changed()) << summarize(again);
  EXPECT_EQ(w.consul.writes(), writes);
}

TEST(ControllerReconciler, TasksStillStoppingAreSpared) {
  World w;
  const auto stopping_token = add_task(w.consul, "stopping");
  const auto stopped_token = add_task(w.consul, "stopped");
  add_task(w.consul, "gone");
  std::vector<std::string> described;
  auto describer = [&](const std::vector<std::string>& ids) {
    described = ids;
    ecs::DescribeTasksResult result;
    for (const auto& [id, status] : {std::pair{"stopping", "DEACTIVATING"}, std::pair{"stopped", "STOPPED"}}) {
      ecs::Task t;
      t.task_arn = task_arn(id);
      t.desired_status = "STOPPED";
      t.last_status = status;
      result.tasks.push_back(t);
    }
    result.failures.push_back({task_arn("gone"), "MISSING", ""});
    return result;
  };
  Reconciler reconciler(settings(), w.consul.as_call(), [&] { return w.lister(); }, nullptr, describer);
  const auto report = reconciler.reconcile();
  EXPECT_TRUE(report.ok()) << summarize(report);
  EXPECT_EQ(described, (std::vector<std::string>{"gone", "stopped", "stopping"}));
  EXPECT_EQ(report.stopping_tasks, 1u);
  EXPECT_EQ(report.stale_tasks, 2u);
  EXPECT_TRUE(w.consul.has_service(kCluster, "web-stopping")) << "its own control-plane deregisters it";
  EXPECT_TRUE(w.consul.has_token(stopping_token));
  EXPECT_FALSE(w.consul.has_service(kCluster, "web-stopped"));
  EXPECT_FALSE(w.consul.has_token(stopped_token));
  EXPECT_FALSE(w.consul.has_service(kCluster, "web-gone"));
}

TEST(ControllerReconciler, DescribeFailureOfMissingTasksNeverDeletes) {
  World w;
  const auto token = add_task(w.consul, "stopped");
  Reconciler reconciler(settings(), w.consul.as_call(), [&] { return w.lister(); }, nullptr,
                        [](const std::vector<std::string>&) -> ecs::DescribeTasksResult {
                          throw std::runtime_error("ThrottlingException: slow down");
                        });
  const auto report = reconciler.reconcile();
  EXPECT_TRUE(report.cleanup_skipped);
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(w.consul.has_service(kCluster, "web-stopped"));
  EXPECT_TRUE(w.consul.has_token(token));
}

TEST(ControllerReconciler, EcsFailureNeverDeletes) {
  World w;
  const auto token = add_task(w.consul, "t1");
  w.lister = [] () -> ecs::ClusterTasks {
    throw ecs::ApiError("ListTasks", 503, "ServiceUnavailableException", "down", true);
  };
  auto reconciler = w.reconciler();
  const auto report = reconciler.reconcile();
  EXPECT_FALSE(report.ecs_ok);
  EXPECT_TRUE(report.cleanup_skipped);
  EXPECT_NE(report.ecs_error.find("ServiceUnavailableException"), std::string::npos);
  EXPECT_EQ(w.consul.count("PUT", "/v1/catalog/deregister"), 0u);
  EXPECT_EQ(w.consul.count("DELETE", "/v1/acl/token/"), 0u);
  EXPECT_TRUE(w.consul.has_token(token));
  EXPECT_TRUE(w.consul.has_service(kCluster, "web-t1"));
  EXPECT_NE(summarize(report).find("clean-up skipped"), std::string::npos);
}

TEST(ControllerReconciler, PartialEcsListingThroughTheRealClientNeverDeletes) {
  // 250 tasks in ECS, page 3 of ListTasks fails: the 50 tasks on it must not
  // be taken for stopped.
  World w;
  std::vector<std::string> tokens;
  for (int i = 0; i < 250; ++i) tokens.push_back(add_task(w.consul, std::string("t").append(std::to_string(i))));
  ecs::ApiClient::Options options;
  options.region = "us-east-1";
  options.endpoint = "https://ecs.test";
  options.credentials = [] { return aws::Credentials{"AKID", "secret", "", std::nullopt, ""}; };
  options.sleep = [](std::chrono::milliseconds) { return true; };
  options.retry.max_attempts = 2;
  options.transport = [](const http::Request& r) {
    const json body = json::parse(r.body);
    http::Response resp;
    resp.status = 200;
    if (r.body.find("\"nextToken\":\"2\"") != std::string::npos) {
      resp.status = 400;
      resp.body = R"({"__type":"AccessDeniedException","message":"User is not authorized"})";
      return resp;
    }
    json out;
    if (body.contains("maxResults")) {
      const int page = body.contains("nextToken") ? std::stoi(body["nextToken"].get<std::string>()) : 0;
      out["taskArns"] = json::array();
      for (int i = page * 100; i < std::min(250, page * 100 + 100); ++i) out["taskArns"].push_back(task_arn("t" + std::to_string(i)));
      if (page < 2) out["nextToken"] = std::to_string(page + 1);
    } else {
      out["tasks"] = json::array();
      for (const auto& a : body["tasks"]) out["tasks"].push_back({{"taskArn", a}, {"clusterArn", kCluster}});
    }
    resp.body = out.dump();
    return resp;
  };
  ecs::ApiClient client(std::move(options));
  Reconciler reconciler(settings(), w.consul.as_call(), [&] { return ecs::list_cluster_tasks(client, kCluster); });
  const auto report = reconciler.reconcile();
  EXPECT_FALSE(report.ecs_ok);
  EXPECT_NE(report.ecs_error.find("AccessDeniedException"), std::string::npos) << report.ecs_error;
  EXPECT_EQ(w.consul.count("PUT", "/v1/catalog/deregister"), 0u);
  EXPECT_EQ(w.consul.count("DELETE", "/v1/acl/token/"), 0u);
  for (const auto& t : tokens) EXPECT_TRUE(w.consul.has_token(t));
}

TEST(ControllerReconciler, ConsulReadFailureSkipsCleanupAndEcs) {
  World w;
  add_task(w.consul, "t1");
  w.consul.before = [](const FakeConsul::Request& r) {
    if (r.path.starts_with("/v1/acl/tokens")) throw consul::UnavailableError("no Consul server reachable");
  };
  auto reconciler = w.reconciler();
  const auto report = reconciler.reconcile();
  EXPECT_FALSE(report.consul_ok);
  EXPECT_TRUE(report.cleanup_skipped);
  EXPECT_NE(report.consul_error.find("no Consul server reachable"), std::string::npos);
  EXPECT_EQ(w.consul.count("PUT", "/v1/catalog/deregister"), 0u);
  EXPECT_FALSE(report.ok());
}

TEST(ControllerReconciler, ConsulIsReadBeforeEcs) {
  // A task that registers after the ECS listing must not be deleted: so the
  // Consul state must be older than the ECS listing.
  World w;
  std::size_t consul_requests_at_listing = 0;
  w.lister = [&] {
    consul_requests_at_listing = w.consul.count("GET", "/v1/acl/tokens") + w.consul.count("GET", "/v1/catalog/node-services/");
    // A task starts and registers right after ECS answered.
    add_task(w.consul, "late");
    return listing_of({});
  };
  auto reconciler = w.reconciler();
  const auto report = reconciler.reconcile();
  EXPECT_EQ(consul_requests_at_listing, 2u);
  EXPECT_EQ(report.stale_tasks, 0u);
  EXPECT_TRUE(w.consul.has_service(kCluster, "web-late"));
}

TEST(ControllerReconciler, OneFailureDoesNotStopTheOthers) {
  World w;
  add_task(w.consul, "a");
  const auto token_b = add_task(w.consul, "b");
  w.consul.before = [](const FakeConsul::Request& r) {
    if (r.path == "/v1/catalog/deregister" && r.body["ServiceID"] == "web-a") throw consul::ApiError(500, "boom");
  };
  auto reconciler = w.reconciler();
  const auto report = reconciler.reconcile();
  EXPECT_EQ(report.cleanup_errors.size(), 1u);
  EXPECT_NE(report.cleanup_errors[0].find("web-a"), std::string::npos);
  EXPECT_TRUE(w.consul.has_service(kCluster, "web-a"));
  EXPECT_FALSE(w.consul.has_service(kCluster, "web-a-sidecar-proxy"));
  EXPECT_FALSE(w.consul.has_service(kCluster, "web-b"));
  EXPECT_FALSE(w.consul.has_token(token_b));
  EXPECT_FALSE(report.ok());

  // Next time it works: the leftover goes.
  w.consul.before = nullptr;
  const auto again = reconciler.reconcile();
  EXPECT_TRUE(again.ok()) << summarize(again);
  EXPECT_FALSE(w.consul.has_service(kCluster, "web-a"));
}

TEST(ControllerReconciler, TokenAlreadyGoneIsNotAnError) {
  World w;
  add_task(w.consul, "a");
  w.consul.before = [&](const FakeConsul::Request& r) {
    if (r.method == "DELETE") w.consul.tokens.clear();  // the task logged out meanwhile
  };
  auto reconciler = w.reconciler();
  const auto report = reconciler.reconcile();
  EXPECT_TRUE(report.cleanup_errors.empty());
}

TEST(ControllerReconciler, RegistersTheSyntheticNodeOnlyWhenMissing) {
  World w;
  w.consul.nodes.clear();
  auto reconciler = w.reconciler();
  auto report = reconciler.reconcile();
  EXPECT_TRUE(report.node_registered);
  ASSERT_TRUE(w.consul.nodes.contains(kCluster));
  EXPECT_EQ(w.consul.nodes[kCluster]["Meta"], json({{"synthetic-node", "true"}}));
  EXPECT_EQ(w.consul.nodes[kCluster]["Address"], "10.0.0.9");
  report = reconciler.reconcile();
  EXPECT_FALSE(report.node_registered);
  EXPECT_EQ(w.consul.count("PUT", "/v1/catalog/register"), 1u);
}

TEST(ControllerReconciler, AclFailureDoesNotBlockCleanup) {
  World w;
  add_task(w.consul, "gone");
  w.consul.before = [](const FakeConsul::Request& r) {
    if (r.path.starts_with("/v1/acl/auth-method")) throw consul::ApiError(403, "Permission denied");
  };
  auto reconciler = w.reconciler();
  const auto report = reconciler.reconcile();
  EXPECT_FALSE(report.acl_ok);
  EXPECT_NE(report.acl_error.find("Permission denied"), std::string::npos);
  EXPECT_EQ(report.services_deregistered, 2u);
}

TEST(ControllerReconciler, StopInterruptsTheCleanup) {
  World w;
  add_task(w.consul, "a");
  add_task(w.consul, "b");
  signals::StopFlag stop;
  stop.request();
  auto reconciler = w.reconciler(&stop);
  const auto report = reconciler.reconcile();
  EXPECT_EQ(report.stale_tasks, 2u);
  EXPECT_EQ(report.services_deregistered, 0u);
}

TEST(ControllerReconciler, SteadyStateWith2000TasksIsConstantConsulRequests) {
  World w;
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) {
    ids.push_back("task" + std::to_string(i));
    add_task(w.consul, ids.back());
  }
  w.running = ids;
  auto reconciler = w.reconciler();
  reconciler.reconcile();  // creates the ACL objects
  const auto before = w.consul.log.size();
  const auto index = w.consul.index();
  const auto report = reconciler.reconcile();
  EXPECT_TRUE(report.ok()) << summarize(report);
  EXPECT_EQ(report.consul_services, 4000u);
  EXPECT_EQ(report.consul_tokens, 2000u);
  EXPECT_EQ(report.mesh_tasks, 2000u);
  EXPECT_EQ(report.stale_tasks, 0u);
  EXPECT_EQ(w.consul.index(), index);
  // ACL checks (8 reads) + node services + token list, and no write.
  EXPECT_EQ(w.consul.log.size() - before, 10u);
  EXPECT_EQ(w.consul.writes(), w.consul.count("PUT", "/v1/acl/") + w.consul.count("PUT", "/v1/catalog/register"));
}

TEST(ControllerReconciler, EnterpriseRequiredPropagates) {
  World w;
  Settings s = settings();
  s.partitions_enabled = true;
  s.partition = "default";
  Reconciler reconciler(s, w.consul.as_call(), [] { return listing_of({}); });
  EXPECT_THROW(reconciler.reconcile(), EnterpriseRequiredError);
}

TEST(ControllerReconciler, MakeSettingsRejectsPartitionWithoutPartitionsEnabled) {
  const auto cfg = config::load_config(
      R"({"bootstrapDir":"/consul","consulServers":{"hosts":"h"},"controller":{"partition":"p1"}})");
  ecs::TaskMetadata task;
  task.task_arn = "arn:aws:ecs:us-east-1:123456789012:task/c1/abc";
  task.cluster = "c1";
  EXPECT_THROW(make_settings(cfg, task), config::ConfigError);

  const auto ok = config::load_config(
      R"({"bootstrapDir":"/consul","consulServers":{"hosts":"h"},"controller":{"iamRolePath":"/x/","partitionsEnabled":true}})");
  const Settings s = make_settings(ok, task);
  EXPECT_EQ(s.cluster_arn, "arn:aws:ecs:us-east-1:123456789012:cluster/c1");
  EXPECT_EQ(s.account_id, "123456789012");
  EXPECT_EQ(s.iam_role_path, "/x/");
  EXPECT_TRUE(s.partitions_enabled);
  EXPECT_EQ(s.partition, "default");
  EXPECT_EQ(s.auth_method, "iam-ecs-service-token");
  EXPECT_EQ(s.node_address, "127.0.0.2");
}

TEST(ControllerSettings, QueryAndPathHelpers) {
  EXPECT_EQ(with_query("/v1/x", {{"a", "1"}, {"b", ""}, {"ns", "*"}}), "/v1/x?a=1&ns=%2A");
  EXPECT_EQ(with_query("/v1/x?a=1", {{"b", "2 3"}}), "/v1/x?a=1&b=2%203");
  EXPECT_EQ(path_escape("arn:aws:ecs:us-east-1:1:cluster/my cluster"), "arn:aws:ecs:us-east-1:1:cluster/my%20cluster");
  EXPECT_TRUE(is_not_found(consul::ApiError(404, "x")));
  EXPECT_TRUE(is_not_found(consul::ApiError(403, "Unexpected response code: 403 (ACL not found)")));
  EXPECT_FALSE(is_not_found(consul::ApiError(403, "Permission denied")));
  EXPECT_FALSE(is_not_found(std::runtime_error("x")));
}

}  // namespace
}  // namespace consulecs::controller
