#include "consul/client.h"

#include "consul/servers.h"
#include "util/json_parse.h"
#include "util/log.h"

namespace consulecs::consul {

Client::Client(ServerConfig config) : config_(std::move(config)) { http_.set_tls(config_.tls); }

void Client::set_token(std::string token) {
  std::lock_guard lock(mutex_);
  token_ = std::move(token);
}

std::string Client::base_url(const std::string& address) const {
  const bool ipv6 = address.find(':') != std::string::npos;
  return (config_.https ? "https://" : "http://") + (ipv6 ? "[" + address + "]" : address) + ":" +
         std::to_string(config_.port);
}

std::string Client::current_address() {
  std::lock_guard lock(mutex_);
  if (addresses_.empty()) addresses_ = resolve_servers(config_.hosts);
  return addresses_[next_ % addresses_.size()];
}

http::Response Client::send_with_failover(http::Request request, const std::string& path, bool with_token) {
  std::lock_guard lock(mutex_);
  if (with_token && !token_.empty()) request.headers.emplace_back("X-Consul-Token", token_);
  // Re-resolve once per call when the known addresses are exhausted, so a
  // replaced server fleet (new IPs behind the same DNS name) is picked up.
  // The second round only runs when resolving again gives other addresses:
  // trying the same ones again at once would double the time a silent
  // server costs and change nothing.
  std::string last_error;
  for (int round = 0; round < 2; ++round) {
    if (addresses_.empty() || round == 1) {
      try {
        auto resolved = resolve_servers(config_.hosts);
        if (round == 1 && resolved == addresses_) break;
        addresses_ = std::move(resolved);
        next_ = 0;
      } catch (const ServerResolveError& e) {
        throw UnavailableError(e.what());
      }
    }
    for (size_t attempt = 0; attempt < addresses_.size(); ++attempt) {
      const std::string& address = addresses_[next_ % addresses_.size()];
      request.url = base_url(address) + path;
      try {
        return http_.send(request);
      } catch (const http::CancelledError& e) {
        throw UnavailableError(e.what());  // shutting down: no other server either
      } catch (const http::TransportError& e) {
        last_error = e.what();
        log::debug("consul server {} unreachable: {}", address, last_error);
        next_ = (next_ + 1) % addresses_.size();
      }
    }
  }
  throw UnavailableError("no Consul server reachable: " + last_error);
}

nlohmann::json Client::call(const std::string& method, const std::string& path, const nlohmann::json* body) {
  return call(method, path, body, true, config_.request_timeout);
}

nlohmann::json Client::call(const std::string& method, const std::string& path, const nlohmann::json* body,
                            bool with_token, std::chrono::milliseconds timeout) {
  http::Request request;
  request.method = method;
  request.timeout = timeout;
  request.connect_timeout = config_.connect_timeout;
  if (body != nullptr) {
    request.body = body->dump();
    request.headers.emplace_back("Content-Type", "application/json");
  }
  http::Response response = send_with_failover(std::move(request), path, with_token);
  if (response.status < 200 || response.status >= 300) {
    std::string detail = response.body;
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
    throw ApiError(response.status, method + " " + path + ": HTTP " + std::to_string(response.status) + ": " + detail);
  }
  if (response.body.empty()) return nullptr;
  auto parsed = util::parse_json_or_discarded(response.body, "Consul answer to " + method + " " + path);
  return parsed.is_discarded() ? nlohmann::json(response.body) : parsed;
}

AclToken Client::login(const LoginRequest& request) {
  nlohmann::json body = {{"AuthMethod", request.auth_method}, {"BearerToken", request.bearer_token}};
  if (!request.meta.empty()) body["Meta"] = request.meta;
  std::string path = "/v1/acl/login";
  http::add_query_param(path, "dc", request.datacenter);
  http::add_query_param(path, "partition", request.partition);
  // Login must not carry an existing token.
  const nlohmann::json result = call("POST", path, &body, /*with_token=*/false, config_.login_timeout);
  AclToken token;
  token.accessor_id = result.value("AccessorID", "");
  token.secret_id = result.value("SecretID", "");
  if (token.secret_id.empty()) throw ApiError(200, "POST /v1/acl/login: response has no SecretID");
  return token;
}

void Client::logout() { call("POST", "/v1/acl/logout"); }

nlohmann::json Client::token_self() { return call("GET", "/v1/acl/token/self"); }

void Client::catalog_register(const nlohmann::json& registration) { call("PUT", "/v1/catalog/register", &registration); }

nlohmann::json deregistration_body(const std::string& node, const std::string& service_id, const std::string& ns,
                                   const std::string& partition) {
  nlohmann::json body = {{"Node", node}, {"ServiceID", service_id}};
  if (!ns.empty()) body["Namespace"] = ns;
  if (!partition.empty()) body["Partition"] = partition;
  return body;
}

void Client::catalog_deregister(const std::string& node, const std::string& service_id, const std::string& ns,
                                const std::string& partition) {
  const nlohmann::json body = deregistration_body(node, service_id, ns, partition);
  call("PUT", "/v1/catalog/deregister", &body);
}

}  // namespace consulecs::consul
