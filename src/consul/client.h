#pragma once
// Consul HTTP API client: the calls consul-ecs makes, with fail-over across
// the addresses `consulServers.hosts` resolves to.
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

// Consul answered with a non-2xx status.
class ApiError : public std::runtime_error {
 public:
  ApiError(long status, std::string what) : std::runtime_error(std::move(what)), status_(status) {}
  long status() const { return status_; }

 private:
  long status_;
};

// No server could be reached (every address failed at the transport level),
// or http::cancel_in_flight() interrupted the request (no fail-over then).
class UnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LoginRequest {
  std::string auth_method;
  std::string bearer_token;
  std::map<std::string, std::string> meta;
  std::string datacenter;  // optional
  std::string partition;   // optional (Enterprise)
};

struct AclToken {
  std::string accessor_id;
  std::string secret_id;
};

// Body of PUT /v1/catalog/deregister for one service instance (ns and
// partition omitted when empty).
nlohmann::json deregistration_body(const std::string& node, const std::string& service_id,
                                   const std::string& ns = {}, const std::string& partition = {});

class Client {
 public:
  explicit Client(ServerConfig config);

  // ACL token sent with every request (X-Consul-Token); empty = none.
  void set_token(std::string token);

  // Raw call. `path` starts with /v1/. Throws UnavailableError or ApiError.
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
  nlohmann::json call(const std::string& method, const std::string& path, const nlohmann::json* body, bool with_token,
                      std::chrono::milliseconds timeout);
  http::Response send_with_failover(http::Request request, const std::string& path, bool with_token);
  std::string base_url(const std::string& address) const;

  ServerConfig config_;
  std::string token_;
  std::mutex mutex_;  // guards addresses_, next_ and http_
  std::vector<std::string> addresses_;
  size_t next_ = 0;
  http::Client http_;
};

}  // namespace consulecs::consul
