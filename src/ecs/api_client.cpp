#include "ecs/api_client.h"

#include <algorithm>
#include <array>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "aws/sts.h"
#include "util/json_fields.h"
#include "util/json_parse.h"
#include "util/log.h"

namespace consulecs::ecs {
namespace {

using nlohmann::json;

using util::string_field;

// "com.amazonaws.ecs#ThrottlingException" and
// "ThrottlingException:http://internal.amazon.com/coral/..." both become
// "ThrottlingException".
std::string normalize_code(std::string code) {
  if (const auto colon = code.find(':'); colon != std::string::npos) code.resize(colon);
  if (const auto hash = code.rfind('#'); hash != std::string::npos) code.erase(0, hash + 1);
  while (!code.empty() && code.back() == ' ') code.pop_back();
  return code;
}

std::string truncate(std::string text, std::size_t max) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() > max) text = text.substr(0, max) + "...";
  return text;
}

// Parses a success body. DescribeTasks answers carry containers,
// attachments, overrides... per task; only the fields parse_describe_tasks
// reads are kept (about halves the controller's CPU per reconcile at 2,000
// tasks: less to allocate and free).
json parse_body(std::string_view operation, const std::string& body) {
  const std::string document = "ECS " + std::string(operation) + " response";
  if (operation != "DescribeTasks") return util::parse_json_or_discarded(body, document);
  static const std::array<std::string_view, 10> kKept = {"taskArn",       "clusterArn", "taskDefinitionArn",
                                                         "lastStatus",    "desiredStatus", "group",
                                                         "tags",          "arn",           "reason",
                                                         "detail"};
  const json::parser_callback_t keep = [](int depth, json::parse_event_t event, json& parsed) {
    // depth 3: the members of each element of "tasks" / "failures".
    if (event != json::parse_event_t::key || depth != 3 || !parsed.is_string()) return true;
    const auto& key = parsed.get_ref<const std::string&>();
    return std::find(kKept.begin(), kKept.end(), key) != kKept.end();
  };
  return util::parse_json_or_discarded(body, document, keep);
}

}  // namespace

ApiError::ApiError(std::string operation, long status, std::string code, std::string message, bool retryable)
    : std::runtime_error([&] {
        std::string what = "ECS " + operation + " failed: ";
        what += code.empty() ? std::string("error") : code;
        if (!message.empty()) what += ": " + message;
        if (status != 0) what += " (HTTP " + std::to_string(status) + ")";
        return what;
      }()),
      operation_(std::move(operation)),
      status_(status),
      code_(std::move(code)),
      message_(std::move(message)),
      retryable_(retryable) {}

std::string Task::tag(std::string_view key) const {
  const auto it = tags.find(std::string(key));
  return it == tags.end() ? std::string() : it->second;
}

std::string Task::task_id_from_arn(std::string_view arn) {
  const auto slash = arn.rfind('/');
  return std::string(slash == std::string_view::npos ? arn : arn.substr(slash + 1));
}

std::string resolve_endpoint(std::string_view region, const aws::EnvLookup& env) {
  for (const char* name : {"AWS_ENDPOINT_URL_ECS", "AWS_ENDPOINT_URL"}) {
    if (auto value = env(name)) return aws::normalize_endpoint(*value);
  }
  const std::string suffix = region.starts_with("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return "https://ecs." + std::string(region) + "." + suffix;
}

bool is_retryable(long status, std::string_view code) {
  static constexpr std::array<std::string_view, 14> kRetryableCodes = {
      "ThrottlingException",      "Throttling",           "ThrottledException",
      "RequestThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
      "RequestThrottled",         "SlowDown",             "PriorRequestNotComplete",
      "ServerException",          "ServiceUnavailable",   "ServiceUnavailableException",
      "InternalFailure",          "RequestTimeoutException"};
  if (status == 429 || status >= 500) return true;
  return std::find(kRetryableCodes.begin(), kRetryableCodes.end(), code) != kRetryableCodes.end();
}

ApiError parse_error(std::string_view operation, const http::Response& response) {
  std::string code;
  std::string message;
  const auto body = util::parse_json_or_discarded(response.body, "ECS " + std::string(operation) + " error response");
  if (body.is_object()) {
    code = string_field(body, "__type");
    if (code.empty()) code = string_field(body, "code");
    message = string_field(body, "message");
    if (message.empty()) message = string_field(body, "Message");
  }
  if (code.empty()) {
    if (auto header = response.header("X-Amzn-ErrorType")) code = *header;
  }
  code = normalize_code(code);
  if (message.empty() && !body.is_object()) message = truncate(response.body, 200);
  return ApiError(std::string(operation), response.status, code, truncate(message, 500),
                  is_retryable(response.status, code));
}

ListTasksPage parse_list_tasks(const json& response) {
  if (!response.is_object()) throw ApiError("ListTasks", 200, "InvalidResponse", "response is not a JSON object", false);
  ListTasksPage page;
  if (const auto it = response.find("taskArns"); it != response.end() && !it->is_null()) {
    if (!it->is_array()) throw ApiError("ListTasks", 200, "InvalidResponse", "taskArns is not an array", false);
    for (const auto& arn : *it) {
      if (!arn.is_string()) throw ApiError("ListTasks", 200, "InvalidResponse", "taskArns holds a non-string", false);
      page.task_arns.push_back(arn.get<std::string>());
    }
  }
  page.next_token = string_field(response, "nextToken");
  return page;
}

DescribeTasksResult parse_describe_tasks(const json& response) {
  if (!response.is_object()) {
    throw ApiError("DescribeTasks", 200, "InvalidResponse", "response is not a JSON object", false);
  }
  DescribeTasksResult result;
  if (const auto it = response.find("tasks"); it != response.end() && !it->is_null()) {
    if (!it->is_array()) throw ApiError("DescribeTasks", 200, "InvalidResponse", "tasks is not an array", false);
    for (const auto& item : *it) {
      if (!item.is_object()) continue;
      Task task;
      task.task_arn = string_field(item, "taskArn");
      task.cluster_arn = string_field(item, "clusterArn");
      task.task_definition_arn = string_field(item, "taskDefinitionArn");
      task.last_status = string_field(item, "lastStatus");
      task.desired_status = string_field(item, "desiredStatus");
      task.group = string_field(item, "group");
      if (const auto tags = item.find("tags"); tags != item.end() && tags->is_array()) {
        for (const auto& tag : *tags) {
          if (tag.is_object()) task.tags[string_field(tag, "key")] = string_field(tag, "value");
        }
      }
      if (task.task_arn.empty()) {
        throw ApiError("DescribeTasks", 200, "InvalidResponse", "a task has no taskArn", false);
      }
      result.tasks.push_back(std::move(task));
    }
  }
  if (const auto it = response.find("failures"); it != response.end() && it->is_array()) {
    for (const auto& item : *it) {
      if (item.is_object()) {
        result.failures.push_back({string_field(item, "arn"), string_field(item, "reason"), string_field(item, "detail")});
      }
    }
  }
  return result;
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, double random) {
  const auto base = std::max<std::int64_t>(policy.base_delay.count(), 1);
  const auto cap = std::max<std::int64_t>(policy.max_delay.count(), base);
  std::int64_t ceiling = base;
  for (int i = 0; i < retry && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  random = std::clamp(random, 0.0, 1.0);
  return std::chrono::milliseconds(ceiling / 2 + static_cast<std::int64_t>(static_cast<double>(ceiling / 2) * random));
}

ApiClient::ApiClient(Options options) : options_(std::move(options)) {
  if (options_.region.empty()) throw std::invalid_argument("ECS client: no region");
  if (!options_.credentials) throw std::invalid_argument("ECS client: no credentials source");
  if (!options_.env) options_.env = aws::process_env();
  if (!options_.clock) options_.clock = [] { return std::chrono::system_clock::now(); };
  if (!options_.transport) {
    // One client for all calls: the controller calls ECS from one thread, and
    // reusing the connection saves a TLS handshake per page.
    auto client = std::make_shared<http::Client>();
    options_.transport = [client](const http::Request& request) { return client->send(request); };
  }
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds delay) {
      std::this_thread::sleep_for(delay);
      return true;
    };
  }
  if (!options_.random) {
    auto engine = std::make_shared<std::minstd_rand>(std::random_device{}());
    options_.random = [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
  }
  endpoint_ = options_.endpoint.empty() ? resolve_endpoint(options_.region, options_.env)
                                        : aws::normalize_endpoint(options_.endpoint);
}

http::Response ApiClient::send_once(std::string_view operation, const std::string& body) {
  aws::SigningRequest signing;
  signing.method = "POST";
  signing.url = endpoint_ + "/";
  signing.body = body;
  signing.headers = {{"Content-Type", std::string(kJsonContentType)},
                     {"X-Amz-Target", std::string(kTargetPrefix) + std::string(operation)}};
  aws::sign(signing, options_.credentials(), options_.region, kSigningService, options_.clock());

  http::Request request;
  request.method = signing.method;
  request.url = signing.url;
  request.headers = std::move(signing.headers);
  request.body = std::move(signing.body);
  request.timeout = options_.timeout;
  ++requests_sent_;
  return options_.transport(request);
}

json ApiClient::call(std::string_view operation, const json& request) {
  const std::string body = request.dump();
  const int attempts = std::max(options_.retry.max_attempts, 1);
  for (int attempt = 1;; ++attempt) {
    std::optional<ApiError> error;
    try {
      http::Response response = send_once(operation, body);
      if (response.status >= 200 && response.status < 300) {
        auto parsed = parse_body(operation, response.body);
        if (parsed.is_discarded()) {
          throw ApiError(std::string(operation), response.status, "InvalidResponse",
                         "response body is not JSON: " + truncate(response.body, 200), false);
        }
        return parsed;
      }
      error = parse_error(operation, response);
    } catch (const http::CancelledError& e) {
      throw ApiError(std::string(operation), 0, "RequestCancelled", e.what(), false);  // shutting down
    } catch (const http::TransportError& e) {
      error = ApiError(std::string(operation), 0, "RequestError", e.what(), true);
    }
    // Credentials errors (aws::CredentialsError) and non-retryable API errors
    // leave here; the caller decides what a failed listing means.
    if (!error->retryable() || attempt >= attempts) throw *error;
    const auto delay = backoff_delay(options_.retry, attempt - 1, options_.random());
    log::debug("{}; retrying in {} ms (attempt {} of {})", error->what(), delay.count(), attempt + 1, attempts);
    if (!options_.sleep(delay)) throw *error;
  }
}

ListTasksPage ApiClient::list_tasks(const std::string& cluster, const std::string& next_token,
                                    const std::string& desired_status) {
  json request = {{"cluster", cluster}, {"maxResults", kListPageSize}};
  if (!next_token.empty()) request["nextToken"] = next_token;
  if (!desired_status.empty()) request["desiredStatus"] = desired_status;
  return parse_list_tasks(call("ListTasks", request));
}

DescribeTasksResult ApiClient::describe_tasks(const std::string& cluster, const std::vector<std::string>& task_arns) {
  if (task_arns.size() > kDescribeBatchSize) {
    throw std::invalid_argument("DescribeTasks takes at most " + std::to_string(kDescribeBatchSize) + " tasks");
  }
  const json request = {{"cluster", cluster}, {"tasks", task_arns}, {"include", json::array({"TAGS"})}};
  return parse_describe_tasks(call("DescribeTasks", request));
}

ClusterTasks list_cluster_tasks(ApiClient& client, const std::string& cluster) {
  ClusterTasks out;
  std::string token;
  // Every token seen: a cycle (A, B, A, ...) would page forever, not only
  // a token repeated at once.
  std::set<std::string> seen;
  do {
    ListTasksPage page = client.list_tasks(cluster, token);
    ++out.list_requests;
    out.task_arns.insert(out.task_arns.end(), std::make_move_iterator(page.task_arns.begin()),
                         std::make_move_iterator(page.task_arns.end()));
    if (!page.next_token.empty() && !seen.insert(page.next_token).second) {
      throw ApiError("ListTasks", 200, "InvalidResponse", "nextToken did not advance", false);
    }
    token = std::move(page.next_token);
  } while (!token.empty());

  for (std::size_t start = 0; start < out.task_arns.size(); start += kDescribeBatchSize) {
    const auto end = std::min(out.task_arns.size(), start + kDescribeBatchSize);
    std::vector<std::string> batch(out.task_arns.begin() + static_cast<std::ptrdiff_t>(start),
                                   out.task_arns.begin() + static_cast<std::ptrdiff_t>(end));
    DescribeTasksResult result = client.describe_tasks(cluster, batch);
    ++out.describe_requests;
    out.tasks.insert(out.tasks.end(), std::make_move_iterator(result.tasks.begin()),
                     std::make_move_iterator(result.tasks.end()));
    out.failures.insert(out.failures.end(), result.failures.begin(), result.failures.end());
  }
  return out;
}

}  // namespace consulecs::ecs
