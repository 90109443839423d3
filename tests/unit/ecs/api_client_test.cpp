#include "ecs/api_client.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>

namespace consulecs::ecs {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::chrono::system_clock::time_point kNow = std::chrono::sys_days{std::chrono::year{2024} / 1 / 2} + 3h + 4min;

aws::Credentials test_credentials(std::string session_token = {}) {
  aws::Credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  c.session_token = std::move(session_token);
  return c;
}

http::Response response(long status, const json& body, http::Headers headers = {}) {
  http::Response r;
  r.status = status;
  r.body = body.dump();
  r.headers = std::move(headers);
  return r;
}

// A scripted ECS endpoint: records every request and answers from a queue
// (or a handler when the queue is empty).
struct FakeEcs {
  std::vector<http::Request> requests;
  std::deque<std::function<http::Response(const http::Request&)>> script;
  std::function<http::Response(const http::Request&)> handler;
  std::vector<std::chrono::milliseconds> sleeps;

  ApiClient client(RetryPolicy retry = {}, std::string session_token = {}) {
    ApiClient::Options options;
    options.region = "us-east-1";
    options.endpoint = "https://ecs.test.local";
    options.credentials = [session_token] { return test_credentials(session_token); };
    options.clock = [] { return kNow; };
    options.retry = retry;
    options.random = [] { return 0.5; };
    options.sleep = [this](std::chrono::milliseconds d) {
      sleeps.push_back(d);
      return true;
    };
    options.transport = [this](const http::Request& request) {
      requests.push_back(request);
      if (!script.empty()) {
        auto next = std::move(script.front());
        script.pop_front();
        return next(request);
      }
      if (handler) return handler(request);
      ADD_FAILURE() << "unexpected request";
      return http::Response{};
    };
    return ApiClient(std::move(options));
  }
};

std::optional<std::string> header(const http::Request& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return v;
    }
  }
  return std::nullopt;
}

std::string target(const http::Request& r) { return header(r, "X-Amz-Target").value_or(""); }

std::string arn(int i) { return "arn:aws:ecs:us-east-1:123456789012:task/c1/" + std::to_string(100000 + i); }

// A cluster of `n` tasks served as real ECS does: ListTasks pages of 100
// with nextToken, DescribeTasks of at most 100.
void serve_cluster(FakeEcs& fake, int n) {
  fake.handler = [n](const http::Request& r) {
    const json body = json::parse(r.body);
    if (target(r).ends_with(".ListTasks")) {
      const int start = body.contains("nextToken") ? std::stoi(body["nextToken"].get<std::string>()) : 0;
      const int page = body.value("maxResults", 100);
      json out = {{"taskArns", json::array()}};
      for (int i = start; i < std::min(n, start + page); ++i) out["taskArns"].push_back(arn(i));
      if (start + page < n) out["nextToken"] = std::to_string(start + page);
      return response(200, out);
    }
    json tasks = json::array();
    for (const auto& a : body["tasks"]) {
      tasks.push_back({{"taskArn", a},
                       {"clusterArn", "arn:aws:ecs:us-east-1:123456789012:cluster/c1"},
                       {"lastStatus", "RUNNING"},
                       {"desiredStatus", "RUNNING"},
                       {"tags", json::array({{{"key", "consul.hashicorp.com/mesh"}, {"value", "true"}}})}});
    }
    return response(200, {{"tasks", tasks}, {"failures", json::array()}});
  };
}

TEST(EcsApiClient, ListTasksRequestIsAwsJson11SignedForEcs) {
  FakeEcs fake;
  fake.script.push_back([](const http::Request&) {
    return response(200, {{"taskArns", {arn(1), arn(2)}}, {"nextToken", "tok-2"}});
  });
  auto client = fake.client();
  const ListTasksPage page = client.list_tasks("arn:aws:ecs:us-east-1:123456789012:cluster/c1", "tok-1");
  EXPECT_EQ(page.task_arns, (std::vector<std::string>{arn(1), arn(2)}));
  EXPECT_EQ(page.next_token, "tok-2");

  ASSERT_EQ(fake.requests.size(), 1u);
  const auto& r = fake.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://ecs.test.local/");
  EXPECT_EQ(target(r), "AmazonEC2ContainerServiceV20141113.ListTasks");
  EXPECT_EQ(header(r, "Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(header(r, "X-Amz-Date"), "20240102T030400Z");
  EXPECT_FALSE(header(r, "X-Amz-Security-Token").has_value());
  const json body = json::parse(r.body);
  EXPECT_EQ(body, json({{"cluster", "arn:aws:ecs:us-east-1:123456789012:cluster/c1"},
                        {"maxResults", 100},
                        {"nextToken", "tok-1"},
                        {"desiredStatus", "RUNNING"}}));

  // The Authorization header is exactly what the shared signer computes,
  // with the target and content type covered by the signature.
  const auto authorization = header(r, "Authorization").value_or("");
  EXPECT_NE(authorization.find("Credential=AKIDEXAMPLE/20240102/us-east-1/ecs/aws4_request"), std::string::npos)
      << authorization;
  EXPECT_NE(authorization.find("SignedHeaders=content-type;host;x-amz-date;x-amz-target"), std::string::npos)
      << authorization;
  aws::SigningRequest again{"POST", r.url, {{"Content-Type", "application/x-amz-json-1.1"},
                                            {"X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListTasks"}},
                            r.body};
  EXPECT_EQ(aws::sign(again, test_credentials(), "us-east-1", "ecs", kNow).authorization, authorization);
}

TEST(EcsApiClient, SessionTokenIsSent) {
  FakeEcs fake;
  fake.script.push_back([](const http::Request&) { return response(200, json::object()); });
  auto client = fake.client({}, "session-token-value");
  const auto page = client.list_tasks("c1", "");
  EXPECT_TRUE(page.task_arns.empty());
  EXPECT_TRUE(page.next_token.empty());
  EXPECT_EQ(header(fake.requests[0], "X-Amz-Security-Token"), "session-token-value");
  EXPECT_FALSE(json::parse(fake.requests[0].body).contains("nextToken"));
}

TEST(EcsApiClient, DescribeTasksAsksForTagsAndParsesTasksAndFailures) {
  FakeEcs fake;
  fake.script.push_back([](const http::Request&) {
    return response(200, {{"tasks",
                           {{{"taskArn", arn(1)},
                             {"clusterArn", "arn:aws:ecs:us-east-1:123456789012:cluster/c1"},
                             {"taskDefinitionArn", "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3"},
                             {"lastStatus", "RUNNING"},
                             {"desiredStatus", "RUNNING"},
                             {"group", "service:web"},
                             // Not read by the controller (dropped while parsing).
                             {"containers", {{{"name", "app"}, {"taskArn", "not-this"}, {"lastStatus", "RUNNING"}}}},
                             {"attachments", json::array()},
                             {"overrides", {{"containerOverrides", json::array()}}},
                             {"tags",
                              {{{"key", "consul.hashicorp.com/mesh"}, {"value", "true"}},
                               {{"key", "consul.hashicorp.com/namespace"}, {"value", "ns1"}}}}}}},
                          {"failures", {{{"arn", arn(2)}, {"reason", "MISSING"}}}}});
  });
  auto client = fake.client();
  const auto result = client.describe_tasks("c1", {arn(1), arn(2)});
  const json body = json::parse(fake.requests[0].body);
  EXPECT_EQ(target(fake.requests[0]), "AmazonEC2ContainerServiceV20141113.DescribeTasks");
  EXPECT_EQ(body["include"], json::array({"TAGS"}));
  EXPECT_EQ(body["tasks"], json::array({arn(1), arn(2)}));
  EXPECT_EQ(body["cluster"], "c1");
  ASSERT_EQ(result.tasks.size(), 1u);
  const auto& task = result.tasks[0];
  EXPECT_EQ(task.task_id(), "100001");
  EXPECT_EQ(task.tag("consul.hashicorp.com/mesh"), "true");
  EXPECT_EQ(task.tag("consul.hashicorp.com/namespace"), "ns1");
  EXPECT_EQ(task.tag("absent"), "");
  EXPECT_EQ(task.group, "service:web");
  EXPECT_EQ(task.task_definition_arn, "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3");
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_EQ(result.failures[0].reason, "MISSING");
  EXPECT_THROW(client.describe_tasks("c1", std::vector<std::string>(101, arn(1))), std::invalid_argument);
}

TEST(EcsApiClient, TaskIdFromBothArnFormats) {
  EXPECT_EQ(Task::task_id_from_arn("arn:aws:ecs:us-east-1:1:task/cluster/abc123"), "abc123");
  EXPECT_EQ(Task::task_id_from_arn("arn:aws:ecs:us-east-1:1:task/abc123"), "abc123");
}

TEST(EcsApiClient, EndpointResolution) {
  std::map<std::string, std::string> vars;
  aws::EnvLookup env = [&](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional(it->second);
  };
  EXPECT_EQ(resolve_endpoint("eu-west-1", env), "https://ecs.eu-west-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint("cn-north-1", env), "https://ecs.cn-north-1.amazonaws.com.cn");
  vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:5000/";
  EXPECT_EQ(resolve_endpoint("eu-west-1", env), "http://127.0.0.1:5000");
  vars["AWS_ENDPOINT_URL_ECS"] = "ecs.internal.example";
  EXPECT_EQ(resolve_endpoint("eu-west-1", env), "https://ecs.internal.example");
}

TEST(EcsApiClient, ErrorBodyBecomesAClearErrorWithoutRetry) {
  FakeEcs fake;
  fake.script.push_back([](const http::Request&) {
    return response(400, {{"__type", "ClusterNotFoundException"}, {"message", "Cluster not found."}});
  });
  auto client = fake.client();
  try {
    client.list_tasks("nope", "");
    FAIL() << "expected ApiError";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), "ClusterNotFoundException");
    EXPECT_EQ(e.aws_message(), "Cluster not found.");
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.operation(), "ListTasks");
    EXPECT_FALSE(e.retryable());
    EXPECT_STREQ(e.what(), "ECS ListTasks failed: ClusterNotFoundException: Cluster not found. (HTTP 400)");
  }
  EXPECT_EQ(fake.requests.size(), 1u);
  EXPECT_TRUE(fake.sleeps.empty());
}

TEST(EcsApiClient, ErrorCodeForms) {
  http::Response r;
  r.status = 400;
  r.body = R"({"__type":"com.amazonaws.ecs#AccessDeniedException","Message":"not allowed"})";
  auto e = parse_error("ListTasks", r);
  EXPECT_EQ(e.code(), "AccessDeniedException");
  EXPECT_EQ(e.aws_message(), "not allowed");

  r.body = "<html>gateway says no</html>";
  r.status = 502;
  r.headers = {{"x-amzn-ErrorType", "ServiceUnavailableException:http://internal.amazon.com/coral/"}};
  e = parse_error("DescribeTasks", r);
  EXPECT_EQ(e.code(), "ServiceUnavailableException");
  EXPECT_EQ(e.aws_message(), "<html>gateway says no</html>");
  EXPECT_TRUE(e.retryable());

  EXPECT_TRUE(is_retryable(400, "ThrottlingException"));
  EXPECT_TRUE(is_retryable(429, ""));
  EXPECT_TRUE(is_retryable(503, ""));
  EXPECT_FALSE(is_retryable(400, "ClusterNotFoundException"));
  EXPECT_FALSE(is_retryable(403, "AccessDeniedException"));
}

TEST(EcsApiClient, ThrottlingIsRetriedWithGrowingJitteredBackoff) {
  FakeEcs fake;
  for (int i = 0; i < 2; ++i) {
    fake.script.push_back([](const http::Request&) {
      return response(400, {{"__type", "ThrottlingException"}, {"message", "Rate exceeded"}});
    });
  }
  fake.script.push_back([](const http::Request&) { return response(429, json::object()); });
  fake.script.push_back([](const http::Request&) { return response(200, {{"taskArns", {arn(7)}}}); });
  auto client = fake.client(RetryPolicy{5, 100ms, 1000ms});
  const auto page = client.list_tasks("c1", "");
  EXPECT_EQ(page.task_arns, std::vector<std::string>{arn(7)});
  EXPECT_EQ(fake.requests.size(), 4u);
  EXPECT_EQ(client.requests_sent(), 4u);
  // random() = 0.5: half fixed + a quarter of the ceiling (100, 200, 400 ms).
  EXPECT_EQ(fake.sleeps, (std::vector<std::chrono::milliseconds>{75ms, 150ms, 300ms}));
  // Every attempt is signed afresh with the same body.
  for (const auto& r : fake.requests) EXPECT_EQ(r.body, fake.requests[0].body);
}

TEST(EcsApiClient, ServerErrorsGiveUpAfterMaxAttempts) {
  FakeEcs fake;
  fake.handler = [](const http::Request&) { return response(500, {{"__type", "ServerException"}, {"message", "oops"}}); };
  auto client = fake.client(RetryPolicy{3, 10ms, 50ms});
  try {
    client.describe_tasks("c1", {arn(1)});
    FAIL() << "expected ApiError";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), "ServerException");
    EXPECT_TRUE(e.retryable());
  }
  EXPECT_EQ(fake.requests.size(), 3u);
  EXPECT_EQ(fake.sleeps.size(), 2u);
}

TEST(EcsApiClient, TransportErrorsAreRetried) {
  FakeEcs fake;
  fake.script.push_back([](const http::Request&) -> http::Response { throw http::TransportError("connection refused"); });
  fake.script.push_back([](const http::Request&) { return response(200, {{"taskArns", json::array()}}); });
  auto client = fake.client();
  EXPECT_NO_THROW(client.list_tasks("c1", ""));
  EXPECT_EQ(fake.requests.size(), 2u);

  FakeEcs down;
  down.handler = [](const http::Request&) -> http::Response { throw http::TransportError("connection refused"); };
  auto down_client = down.client(RetryPolicy{2, 1ms, 1ms});
  try {
    down_client.list_tasks("c1", "");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 0);
    EXPECT_NE(std::string(e.what()).find("connection refused"), std::string::npos);
  }
}

TEST(EcsApiClient, SleepReturningFalseAbandonsRetries) {
  FakeEcs fake;
  fake.handler = [](const http::Request&) { return response(503, json::object()); };
  ApiClient::Options options;
  options.region = "us-east-1";
  options.endpoint = "https://ecs.test.local";
  options.credentials = [] { return test_credentials(); };
  options.transport = [&](const http::Request& r) { return fake.handler(r); };
  int sleeps = 0;
  options.sleep = [&](std::chrono::milliseconds) {
    ++sleeps;
    return false;  // shutting down
  };
  ApiClient client(std::move(options));
  EXPECT_THROW(client.list_tasks("c1", ""), ApiError);
  EXPECT_EQ(sleeps, 1);
  EXPECT_EQ(client.requests_sent(), 1u);
}

TEST(EcsApiClient, MalformedSuccessBodyIsAnError) {
  FakeEcs fake;
  fake.script.push_back([](const http::Request&) {
    http::Response r;
    r.status = 200;
    r.body = "not json";
    return r;
  });
  fake.script.push_back([](const http::Request&) { return response(200, {{"taskArns", "not-a-list"}}); });
  auto client = fake.client();
  EXPECT_THROW(client.list_tasks("c1", ""), ApiError);
  EXPECT_THROW(client.list_tasks("c1", ""), ApiError);
  EXPECT_EQ(fake.requests.size(), 2u);  // not retried
}

TEST(EcsApiClient, BackoffIsCappedAndJittered) {
  const RetryPolicy policy{10, 200ms, 5000ms};
  EXPECT_EQ(backoff_delay(policy, 0, 0.0), 100ms);
  EXPECT_EQ(backoff_delay(policy, 0, 1.0), 200ms);
  EXPECT_EQ(backoff_delay(policy, 3, 0.0), 800ms);
  EXPECT_EQ(backoff_delay(policy, 20, 1.0), 5000ms);
  EXPECT_EQ(backoff_delay(policy, 20, 0.0), 2500ms);
}

TEST(EcsApiClient, ClusterListingFollowsPagesAndDescribesInBatchesOf100) {
  FakeEcs fake;
  serve_cluster(fake, 250);
  auto client = fake.client();
  const auto listing = list_cluster_tasks(client, "c1");
  EXPECT_EQ(listing.task_arns.size(), 250u);
  EXPECT_EQ(listing.tasks.size(), 250u);
  EXPECT_EQ(listing.list_requests, 3);
  EXPECT_EQ(listing.describe_requests, 3);
  std::vector<std::string> tokens;
  std::vector<std::size_t> batches;
  for (const auto& r : fake.requests) {
    const json body = json::parse(r.body);
    if (target(r).ends_with(".ListTasks")) tokens.push_back(body.value("nextToken", ""));
    if (target(r).ends_with(".DescribeTasks")) batches.push_back(body["tasks"].size());
  }
  EXPECT_EQ(tokens, (std::vector<std::string>{"", "100", "200"}));
  EXPECT_EQ(batches, (std::vector<std::size_t>{100, 100, 50}));
}

TEST(EcsApiClient, ClusterListingOf2000TasksTakes40Requests) {
  FakeEcs fake;
  serve_cluster(fake, 2000);
  auto client = fake.client();
  const auto listing = list_cluster_tasks(client, "c1");
  EXPECT_EQ(listing.tasks.size(), 2000u);
  EXPECT_EQ(listing.list_requests, 20);
  EXPECT_EQ(listing.describe_requests, 20);
  EXPECT_EQ(client.requests_sent(), 40u);
}

TEST(EcsApiClient, EmptyClusterNeedsNoDescribe) {
  FakeEcs fake;
  serve_cluster(fake, 0);
  auto client = fake.client();
  const auto listing = list_cluster_tasks(client, "c1");
  EXPECT_TRUE(listing.task_arns.empty());
  EXPECT_EQ(client.requests_sent(), 1u);
}

TEST(EcsApiClient, AFailedPageFailsTheWholeListing) {
  FakeEcs fake;
  serve_cluster(fake, 250);
  auto inner = fake.handler;
  fake.handler = [inner](const http::Request& r) {
    const json body = json::parse(r.body);
    if (target(r).ends_with(".ListTasks") && body.value("nextToken", "") == "200") {
      return response(400, {{"__type", "AccessDeniedException"}, {"message", "no"}});
    }
    return inner(r);
  };
  auto client = fake.client();
  EXPECT_THROW(list_cluster_tasks(client, "c1"), ApiError);

  FakeEcs describe_fails;
  serve_cluster(describe_fails, 250);
  auto inner2 = describe_fails.handler;
  int describes = 0;
  describe_fails.handler = [inner2, &describes](const http::Request& r) {
    if (target(r).ends_with(".DescribeTasks") && ++describes == 2) {
      return response(400, {{"__type", "InvalidParameterException"}, {"message", "bad"}});
    }
    return inner2(r);
  };
  auto client2 = describe_fails.client();
  EXPECT_THROW(list_cluster_tasks(client2, "c1"), ApiError);
}

TEST(EcsApiClient, NonAdvancingNextTokenIsAnError) {
  FakeEcs fake;
  fake.handler = [](const http::Request&) { return response(200, {{"taskArns", {arn(1)}}, {"nextToken", "same"}}); };
  auto client = fake.client();
  EXPECT_THROW(list_cluster_tasks(client, "c1"), ApiError);
  EXPECT_EQ(fake.requests.size(), 2u);
}

TEST(EcsApiClient, CyclingNextTokensAreAnError) {
  FakeEcs fake;
  int page = 0;
  fake.handler = [&](const http::Request&) {
    return response(200, {{"taskArns", {arn(page)}}, {"nextToken", page++ % 2 == 0 ? "a" : "b"}});
  };
  auto client = fake.client();
  EXPECT_THROW(list_cluster_tasks(client, "c1"), ApiError);
  EXPECT_EQ(fake.requests.size(), 3u);  // a, b, then a again
}

}  // namespace
}  // namespace consulecs::ecs
