#include "consul/endpoints.h"

#include <fmt/format.h>

#include "consul/errors.h"
#include "http/client.h"

namespace consulecs::consul {
namespace {

Request make(std::string method, std::string path, std::optional<nlohmann::json> body = std::nullopt) {
  Request request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.body = std::move(body);
  return request;
}

}  // namespace

Request acl_login(const LoginRequest& login) {
  nlohmann::json body = {{"AuthMethod", login.auth_method}, {"BearerToken", login.bearer_token}};
  if (!login.meta.empty()) body["Meta"] = login.meta;
  Request request = make("POST",
                         with_query("/v1/acl/login", {{"dc", login.datacenter}, {"partition", login.partition}}), body);
  request.token = "";  // login must not carry an existing token
  request.timeout = Request::Timeout::login;
  return request;
}

AclToken parse_login_answer(const nlohmann::json& answer) {
  AclToken token;
  if (answer.is_object()) {
    token.accessor_id = answer.value("AccessorID", "");
    token.secret_id = answer.value("SecretID", "");
  }
  if (token.secret_id.empty()) throw ApiError(200, "POST /v1/acl/login: response has no SecretID");
  return token;
}

Request acl_logout() { return make("POST", "/v1/acl/logout"); }

Request acl_token_self() { return make("GET", "/v1/acl/token/self"); }

Request catalog_register(nlohmann::json registration) {
  return make("PUT", "/v1/catalog/register", std::move(registration));
}

nlohmann::json deregistration_body(const std::string& node, const std::string& service_id, const std::string& ns,
                                   const std::string& partition) {
  nlohmann::json body = {{"Node", node}, {"ServiceID", service_id}};
  if (!ns.empty()) body["Namespace"] = ns;
  if (!partition.empty()) body["Partition"] = partition;
  return body;
}

Request catalog_deregister(const std::string& node, const std::string& service_id, const std::string& ns,
                           const std::string& partition) {
  return make("PUT", "/v1/catalog/deregister", deregistration_body(node, service_id, ns, partition));
}

Request node_checks_of(const std::string& node, const std::vector<std::string>& service_ids, const std::string& ns,
                       const std::string& partition) {
  std::string filter;
  for (const auto& id : service_ids) {
    if (!filter.empty()) filter += " or ";
    filter += "ServiceID == \"" + id + "\"";
  }
  return make("GET", with_query("/v1/health/node/" + path_segment(node),
                                {{"filter", filter}, {"ns", ns}, {"partition", partition}}));
}

Request node_service_merged(const std::string& node, const std::string& service_id, const std::string& ns,
                            const std::string& partition) {
  const std::string filter = "ID == \"" + service_id + "\"";
  return make("GET", with_query("/v1/catalog/node-services/" + path_segment(node) + "?merge-central-config",
                                {{"filter", filter}, {"ns", ns}, {"partition", partition}}));
}

Request config_entry(const std::string& kind, const std::string& name, const std::string& ns,
                     const std::string& partition) {
  return make("GET", with_query("/v1/config/" + http::url_encode(kind) + "/" + http::url_encode(name),
                                {{"ns", ns}, {"partition", partition}}));
}

Request put_config_entry_cas(nlohmann::json entry, std::uint64_t cas_index, const std::string& ns,
                             const std::string& partition) {
  return make("PUT", with_query(fmt::format("/v1/config?cas={}", cas_index), {{"ns", ns}, {"partition", partition}}),
              std::move(entry));
}

}  // namespace consulecs::consul
