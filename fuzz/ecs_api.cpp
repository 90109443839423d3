// libFuzzer target: ECS API answers as the controller reads them. The input
// is one response body, served for every request through a fake transport:
// with HTTP 400 when it looks like an AWS error ("__type"), else 200. Runs
// ListTasks, DescribeTasks (with its field-dropping parse), the paging loop
// of list_cluster_tasks, and the error-body parser at 400 and 503.
// ecs::ApiError is the expected answer to bad input; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "ecs/api_client.h"
#include "util/json_parse.h"

namespace {

using namespace consulecs;

const std::string kCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/fuzz";

ecs::ApiClient make_client(const std::string& body) {
  ecs::ApiClient::Options options;
  options.region = "us-east-1";
  options.endpoint = "http://127.0.0.1:9";
  options.env = [](const std::string&) { return std::optional<std::string>(); };
  options.credentials = [] {
    aws::Credentials c;
    c.access_key_id = "AKIDEXAMPLE";
    c.secret_access_key = "secret";
    return c;
  };
  options.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)); };
  options.retry.max_attempts = 1;
  options.sleep = [](std::chrono::milliseconds) { return false; };
  options.random = [] { return 0.5; };
  const long status = body.find("\"__type\"") != std::string::npos ? 400 : 200;
  options.transport = [body, status](const http::Request&) {
    http::Response response;
    response.status = status;
    response.headers = {{"Content-Type", "application/x-amz-json-1.1"}};
    response.body = body;
    return response;
  };
  return ecs::ApiClient(std::move(options));
}

template <typename F>
void expect_api_errors_only(F&& f) {
  try {
    f();
  } catch (const ecs::ApiError& e) {
    (void)e.retryable();
  } catch (const util::JsonParseError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  ecs::ApiClient client = make_client(body);
  expect_api_errors_only([&] {
    const auto page = client.list_tasks(kCluster, "");
    (void)page.task_arns.size();
  });
  expect_api_errors_only([&] {
    const auto result = client.describe_tasks(kCluster, {kCluster + "/0123", "arn:aws:ecs:us-east-1:1:task/x/y"});
    for (const auto& task : result.tasks) {
      (void)task.tag("consul.hashicorp.com/mesh");
      (void)task.task_id();
    }
  });
  expect_api_errors_only([&] {
    const auto all = ecs::list_cluster_tasks(client, kCluster);
    (void)all.tasks.size();
  });
  for (const long status : {400L, 503L}) {
    http::Response response;
    response.status = status;
    response.body = body;
    expect_api_errors_only([&] { (void)ecs::parse_error("ListTasks", response); });
  }
  return 0;
}
