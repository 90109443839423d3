#pragma once
// One Consul HTTP API request, as data: what the typed endpoint builders
// (consul/endpoints.h) make, what consul::Client sends, and what a fake
// Consul in the tests answers. Also the one query-string builder.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/signals.h"

namespace consulecs::consul {

struct Request {
  std::string method = "GET";
  std::string path;  // starts with /v1/, query string included
  std::optional<nlohmann::json> body;
  // The ACL token (X-Consul-Token): nullopt = the client's own
  // (Client::set_token), "" = none (login must not carry one).
  std::optional<std::string> token;
  // Which of the client's timeouts applies (consul::ServerConfig):
  // `login` for POST /v1/acl/login, which waits on AWS STS.
  enum class Timeout { request, login };
  Timeout timeout = Timeout::request;
  // Set: the request fails with CancelledError once the flag is set (at
  // once when it already is), without failing over. Not owned.
  const signals::StopFlag* cancel = nullptr;
};

// How a caller talks to Consul: consul::Client::send, or a fake in tests.
// Returns the parsed answer (null for an empty body); throws ApiError,
// UnavailableError or CancelledError (consul/errors.h).
using Call = std::function<nlohmann::json(const Request&)>;

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// `path` plus "<key>=<URL-encoded value>" for each parameter with a
// non-empty value, after "?" or "&" as `path` already has a query or not
// (Consul's optional ns / partition / dc parameters are left out when empty).
std::string with_query(std::string path, const QueryParams& params);

// One path segment with everything but RFC 3986 unreserved characters and
// ':' '/' '@' percent-encoded (node names are cluster ARNs, kept readable).
std::string path_segment(std::string_view segment);

}  // namespace consulecs::consul
