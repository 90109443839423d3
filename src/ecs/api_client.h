#pragma once
// Amazon ECS API client for the two calls the controller makes, ListTasks and
// DescribeTasks, over the AWS JSON 1.1 protocol: `POST /` with
// `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>` and
// `Content-Type: application/x-amz-json-1.1`, SigV4-signed for service `ecs`.
//
// Endpoint: $AWS_ENDPOINT_URL_ECS, else $AWS_ENDPOINT_URL (as the AWS SDKs
// honour them), else https://ecs.<region>.amazonaws.com (".com.cn" in China).
//
// Throttling (ThrottlingException and friends, HTTP 429), server errors
// (HTTP 5xx) and transport failures are retried with jittered exponential
// backoff; anything else fails at once with an ApiError naming the operation,
// the AWS error code (`__type`) and its message.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "aws/transport.h"
#include "http/client.h"

namespace consulecs::ecs {

inline constexpr std::string_view kTargetPrefix = "AmazonEC2ContainerServiceV20141113.";
inline constexpr std::string_view kJsonContentType = "application/x-amz-json-1.1";
inline constexpr std::string_view kSigningService = "ecs";
// ListTasks returns at most 100 ARNs a page; DescribeTasks takes at most 100.
inline constexpr std::size_t kListPageSize = 100;
inline constexpr std::size_t kDescribeBatchSize = 100;

// An ECS request that failed for good (after any retries).
class ApiError : public std::runtime_error {
 public:
  ApiError(std::string operation, long status, std::string code, std::string message, bool retryable);
  const std::string& operation() const { return operation_; }
  long status() const { return status_; }  // 0 when no HTTP response was received
  const std::string& code() const { return code_; }  // e.g. "ClusterNotFoundException"; "" if unknown
  const std::string& aws_message() const { return message_; }
  bool retryable() const { return retryable_; }

 private:
  std::string operation_;
  long status_;
  std::string code_;
  std::string message_;
  bool retryable_;
};

struct Task {
  std::string task_arn;
  std::string cluster_arn;
  std::string task_definition_arn;
  std::string last_status;
  std::string desired_status;
  std::string group;
  std::map<std::string, std::string> tags;  // include=TAGS

  std::string task_id() const { return task_id_from_arn(task_arn); }
  // Value of a tag, "" when absent.
  std::string tag(std::string_view key) const;
  // Last segment of a task ARN (both the old and the cluster-qualified form).
  static std::string task_id_from_arn(std::string_view arn);
};

struct DescribeFailure {
  std::string arn;
  std::string reason;  // e.g. "MISSING"
  std::string detail;
};

struct ListTasksPage {
  std::vector<std::string> task_arns;
  std::string next_token;  // "" on the last page
};

struct DescribeTasksResult {
  std::vector<Task> tasks;
  std::vector<DescribeFailure> failures;
};

struct RetryPolicy {
  int max_attempts = 5;  // attempts per request, first one included
  std::chrono::milliseconds base_delay{200};
  std::chrono::milliseconds max_delay{5000};
};

// The endpoint for `region`, honouring AWS_ENDPOINT_URL_ECS / AWS_ENDPOINT_URL.
std::string resolve_endpoint(std::string_view region, const aws::EnvLookup& env);

// True for the AWS error codes and HTTP statuses that mean "try again later".
bool is_retryable(long status, std::string_view code);

// Parses an error response (`{"__type": ..., "message": ...}`, or the
// X-Amzn-ErrorType header) into an ApiError.
ApiError parse_error(std::string_view operation, const http::Response& response);

// Response parsing, exposed for tests. Throw ApiError on a malformed body.
ListTasksPage parse_list_tasks(const nlohmann::json& response);
DescribeTasksResult parse_describe_tasks(const nlohmann::json& response);

// Delay before retry number `retry` (0-based): exponential from base_delay,
// capped at max_delay, with "equal jitter" (half fixed, half random) so that
// many clients do not retry in lock-step. `random` is in [0, 1).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, double random);

class ApiClient {
 public:
  struct Options {
    std::string region;                              // signing region; required
    std::string endpoint;                            // "" = resolve_endpoint(region, env)
    aws::EnvLookup env;                              // default: aws::process_env()
    aws::Transport transport;                        // default: one reused http::Client
    std::function<aws::Credentials()> credentials;   // required
    aws::Clock clock;                                // default: system_clock::now
    RetryPolicy retry;
    // Waits before a retry; returns false to give up (e.g. shutdown requested).
    // Default: std::this_thread::sleep_for, always true.
    std::function<bool(std::chrono::milliseconds)> sleep;
    std::function<double()> random;                  // [0,1) for jitter; default: a PRNG
    std::chrono::milliseconds timeout{15000};        // per HTTP request
  };

  explicit ApiClient(Options options);

  // One operation (e.g. "ListTasks") with retries; returns the parsed JSON body.
  nlohmann::json call(std::string_view operation, const nlohmann::json& request);

  // One ListTasks page (maxResults 100). desired_status "" lists the API
  // default (RUNNING).
  ListTasksPage list_tasks(const std::string& cluster, const std::string& next_token,
                           const std::string& desired_status = "RUNNING");
  // At most kDescribeBatchSize ARNs; tags included.
  DescribeTasksResult describe_tasks(const std::string& cluster, const std::vector<std::string>& task_arns);

  const std::string& endpoint() const { return endpoint_; }
  // HTTP requests sent so far, retries included (for logs and benchmarks).
  std::size_t requests_sent() const { return requests_sent_; }

 private:
  http::Response send_once(std::string_view operation, const std::string& body);

  Options options_;
  std::string endpoint_;
  std::size_t requests_sent_ = 0;
};

// Every task of a cluster whose desired status is RUNNING: all ListTasks
// pages, then DescribeTasks (with tags) in batches of 100. Any failed
// request throws, so a partial listing is never returned.
struct ClusterTasks {
  std::vector<std::string> task_arns;  // every listed ARN
  std::vector<Task> tasks;             // described
  std::vector<DescribeFailure> failures;
  int list_requests = 0;
  int describe_requests = 0;
};
ClusterTasks list_cluster_tasks(ApiClient& client, const std::string& cluster);

}  // namespace consulecs::ecs
