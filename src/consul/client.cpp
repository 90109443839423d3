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

http::Response Client::send_with_failover(http::Request request, const std::string& path, const std::string& token) {
  std::lock_guard lock(mutex_);
  if (!token.empty()) request.headers.emplace_back("X-Consul-Token", token);
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
        throw CancelledError(e.what());  // shutting down: no other server either
      } catch (const http::TransportError& e) {
        last_error = e.what();
        log::debug("consul server {} unreachable: {}", address, last_error);
        next_ = (next_ + 1) % addresses_.size();
      }
    }
  }
  throw UnavailableError("no Consul server reachable: " + last_error);
}

nlohmann::json Client::send(const Request& request) {
  http::Request http_request;
  http_request.method = request.method;
  http_request.timeout = request.timeout == Request::Timeout::login ? config_.login_timeout : config_.request_timeout;
  http_request.connect_timeout = config_.connect_timeout;
  http_request.cancel = request.cancel;
  if (request.body) {
    http_request.body = request.body->dump();
    http_request.headers.emplace_back("Content-Type", "application/json");
  }
  std::string token;
  if (request.token) {
    token = *request.token;
  } else {
    std::lock_guard lock(mutex_);
    token = token_;
  }
  http::Response response = send_with_failover(std::move(http_request), request.path, token);
  if (response.status < 200 || response.status >= 300) {
    throw ApiError(response.status, request.method, request.path, response.body);
  }
  if (response.body.empty()) return nullptr;
  auto parsed =
      util::parse_json_or_discarded(response.body, "Consul answer to " + request.method + " " + request.path);
  return parsed.is_discarded() ? nlohmann::json(response.body) : parsed;
}

Call Client::as_call() {
  return [this](const Request& request) { return send(request); };
}

nlohmann::json Client::call(const std::string& method, const std::string& path, const nlohmann::json* body) {
  Request request;
  request.method = method;
  request.path = path;
  if (body != nullptr) request.body = *body;
  return send(request);
}

AclToken Client::login(const LoginRequest& request) { return parse_login_answer(send(acl_login(request))); }

void Client::logout() { send(acl_logout()); }

nlohmann::json Client::token_self() { return send(acl_token_self()); }

void Client::catalog_register(const nlohmann::json& registration) { send(consul::catalog_register(registration)); }

void Client::catalog_deregister(const std::string& node, const std::string& service_id, const std::string& ns,
                                const std::string& partition) {
  send(consul::catalog_deregister(node, service_id, ns, partition));
}

}  // namespace consulecs::consul
