#pragma once
// Consul HTTP API client: the calls consul-ecs makes, with fail-over across
// the addresses `consulServers.hosts` resolves to.
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "consul/endpoints.h"
#include "consul/errors.h"
#include "consul/request.h"
#include "http/client.h"

namespace consulecs::consul {

struct ServerConfig {
  std::string hosts;   // IP, DNS name or exec=<command>
  int port = 8500;
  bool https = false;
  http::TlsOptions tls;

  // Per HTTP attempt (one server). The control-plane's calls are small:
  // a Consul that answers at all answers them in milliseconds, and one that
  // does not (no leader yet, a half-dead server, a black-holed connection)
  // must not hold back the next attempt, so a health change lands at most
  // ~1 s after Consul answers again (docs/architecture.md, "Timeouts").
  // Connect (TCP + TLS) within 1 s; the controller raises `request` for its
  // large listings.
  std::chrono::milliseconds connect_timeout{http::Request::kDefaultConnectTimeout};
  std::chrono::milliseconds request_timeout{1000};
  // POST /v1/acl/login: Consul verifies the bearer token by calling AWS STS
  // (and IAM with includeEntity) before answering.
  std::chrono::milliseconds login_timeout{10000};
};

class Client {
 public:
  explicit Client(ServerConfig config);

  // ACL token sent with requests that do not name their own (X-Consul-Token);
  // empty = none.
  void set_token(std::string token);

  // Sends `request` to the first server that answers (see the fail-over
  // rule in client.cpp). Returns the parsed answer, null for an empty body.
  // Throws ApiError (non-2xx), UnavailableError, CancelledError.
  nlohmann::json send(const Request& request);
  // `send` as a consul::Call, for code that takes one. The client must
  // outlive it.
  Call as_call();

  // send() of a request with the client's token and no cancellation.
  nlohmann::json call(const std::string& method, const std::string& path, const nlohmann::json* body = nullptr);

  AclToken login(const LoginRequest& request);
  void logout();  // destroys the current token
  nlohmann::json token_self();

  void catalog_register(const nlohmann::json& registration);
  void catalog_deregister(const std::string& node, const std::string& service_id,
                          const std::string& ns = {}, const std::string& partition = {});

  // Address currently used (for the dataplane config and logs).
  std::string current_address();

 private:
  http::Response send_with_failover(http::Request request, const std::string& path, const std::string& token);
  std::string base_url(const std::string& address) const;

  ServerConfig config_;
  std::string token_;
  std::mutex mutex_;  // guards token_, addresses_, next_ and http_
  std::vector<std::string> addresses_;
  size_t next_ = 0;
  http::Client http_;
};

}  // namespace consulecs::consul
