#include "fake_consul.h"

#include <fmt/format.h>

#include <algorithm>

namespace consulecs::controller::testing {
namespace {

using json = nlohmann::json;

std::map<std::string, std::string> parse_query(const std::string& query) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < query.size()) {
    auto end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string pair = query.substr(start, end - start);
    const auto eq = pair.find('=');
    out[pair.substr(0, eq)] = eq == std::string::npos ? "" : pair.substr(eq + 1);
    start = end + 1;
  }
  return out;
}

[[noreturn]] void not_found(const std::string& what) { throw consul::ApiError(404, what + ": ACL not found"); }

}  // namespace

FakeConsul::FakeConsul() {
  anonymous_token = {{"AccessorID", "00000000-0000-0000-0000-000000000002"},
                     {"SecretID", "anonymous"},
                     {"Description", "Anonymous Token"},
                     {"Policies", json::array()},
                     {"CreateIndex", 5},
                     {"ModifyIndex", 5}};
}

std::string FakeConsul::next_id() { return fmt::format("00000000-0000-4000-8000-{:012d}", ++ids_); }

void FakeConsul::add_node(const std::string& node) {
  nodes[node] = {{"Node", node}, {"Address", "10.0.0.1"}, {"Meta", {{"synthetic-node", "true"}}}};
}

void FakeConsul::add_service(const std::string& node, const std::string& id, const std::string& service,
                             const json& meta, const std::string& kind) {
  json svc = {{"ID", id}, {"Service", service}, {"Meta", meta}, {"Port", 8080}};
  if (!kind.empty()) svc["Kind"] = kind;
  services[node].push_back(svc);
}

std::string FakeConsul::add_login_token(const std::string& task_id, const std::string& cluster,
                                        const std::string& auth_method) {
  // Go marshals map keys sorted: cluster before task-id.
  const json meta = {{"consul.hashicorp.com/cluster", cluster}, {"consul.hashicorp.com/task-id", task_id}};
  return add_token("token created via login: " + meta.dump(), auth_method);
}

std::string FakeConsul::add_token(const std::string& description, const std::string& auth_method) {
  const std::string id = next_id();
  json token = {{"AccessorID", id}, {"Description", description}, {"Local", true}};
  if (!auth_method.empty()) token["AuthMethod"] = auth_method;
  tokens.push_back(token);
  return id;
}

std::size_t FakeConsul::writes() const {
  return static_cast<std::size_t>(
      std::count_if(log.begin(), log.end(), [](const Request& r) { return r.method != "GET"; }));
}

std::size_t FakeConsul::count(const std::string& method, const std::string& path_prefix) const {
  return static_cast<std::size_t>(std::count_if(log.begin(), log.end(), [&](const Request& r) {
    return r.method == method && r.path.starts_with(path_prefix);
  }));
}

bool FakeConsul::has_service(const std::string& node, const std::string& id) const {
  const auto it = services.find(node);
  if (it == services.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(), [&](const json& s) { return s["ID"] == id; });
}

bool FakeConsul::has_token(const std::string& accessor) const {
  return std::any_of(tokens.begin(), tokens.end(), [&](const json& t) { return t["AccessorID"] == accessor; });
}

json FakeConsul::call(const std::string& method, const std::string& full_path, const json* body) {
  Request request{method, full_path, body ? *body : json()};
  log.push_back(request);
  if (before) before(request);
  const auto qpos = full_path.find('?');
  const std::string path = full_path.substr(0, qpos);
  const auto query = parse_query(qpos == std::string::npos ? "" : full_path.substr(qpos + 1));
  const json in = body ? *body : json();
  auto stamp_new = [&](json object) {
    object["CreateIndex"] = ++index_;
    object["ModifyIndex"] = index_;
    return object;
  };
  auto stamp_update = [&](json object, const json& old) {
    object["CreateIndex"] = old.value("CreateIndex", 0);
    object["ModifyIndex"] = ++index_;
    return object;
  };
  auto tail = [&](const std::string& prefix) { return path.substr(prefix.size()); };

  if (method == "GET" && path == "/v1/agent/self") {
    return {{"Config", {{"Datacenter", datacenter}, {"PrimaryDatacenter", primary_datacenter}}}};
  }
  // auth methods
  if (path.starts_with("/v1/acl/auth-method/")) {
    const std::string name = tail("/v1/acl/auth-method/");
    if (method == "GET") {
      if (!auth_methods.contains(name)) not_found("Requested auth method does not exist");
      return auth_methods[name];
    }
    if (method == "PUT") return auth_methods[name] = stamp_update(in, auth_methods.at(name));
  }
  if (path == "/v1/acl/auth-method" && method == "PUT") {
    return auth_methods[in["Name"].get<std::string>()] = stamp_new(in);
  }
  // binding rules
  if (path == "/v1/acl/binding-rules" && method == "GET") {
    json out = json::array();
    for (const auto& r : binding_rules) {
      if (!query.contains("authmethod") || r["AuthMethod"] == query.at("authmethod")) out.push_back(r);
    }
    return out;
  }
  if (path == "/v1/acl/binding-rule" && method == "PUT") {
    json rule = stamp_new(in);
    rule["ID"] = next_id();
    binding_rules.push_back(rule);
    return rule;
  }
  if (path.starts_with("/v1/acl/binding-rule/") && method == "PUT") {
    const std::string id = tail("/v1/acl/binding-rule/");
    for (auto& r : binding_rules) {
      if (r["ID"] == id) return r = stamp_update(in, r);
    }
    not_found("binding rule");
  }
  // policies
  if (path.starts_with("/v1/acl/policy/name/") && method == "GET") {
    const std::string name = tail("/v1/acl/policy/name/");
    if (!policies.contains(name)) not_found("Requested policy does not exist");
    return policies[name];
  }
  if (path == "/v1/acl/policy" && method == "PUT") {
    json policy = stamp_new(in);
    policy["ID"] = next_id();
    return policies[in["Name"].get<std::string>()] = policy;
  }
  if (path.starts_with("/v1/acl/policy/") && method == "PUT") {
    const std::string id = tail("/v1/acl/policy/");
    for (auto& [name, p] : policies) {
      if (p["ID"] == id) return p = stamp_update(in, p);
    }
    not_found("policy");
  }
  // roles
  if (path.starts_with("/v1/acl/role/name/") && method == "GET") {
    const std::string name = tail("/v1/acl/role/name/");
    if (!roles.contains(name)) not_found("Requested role does not exist");
    return roles[name];
  }
  if (path == "/v1/acl/role" && method == "PUT") {
    json role = stamp_new(in);
    role["ID"] = next_id();
    return roles[in["Name"].get<std::string>()] = role;
  }
  if (path.starts_with("/v1/acl/role/") && method == "PUT") {
    const std::string id = tail("/v1/acl/role/");
    for (auto& [name, r] : roles) {
      if (r["ID"] == id) return r = stamp_update(in, r);
    }
    not_found("role");
  }
  // tokens
  if (path == "/v1/acl/tokens" && method == "GET") {
    json out = json::array();
    for (const auto& t : tokens) {
      if (!query.contains("authmethod") || t.value("AuthMethod", "") == query.at("authmethod")) out.push_back(t);
    }
    return out;
  }
  if (path.starts_with("/v1/acl/token/")) {
    const std::string id = tail("/v1/acl/token/");
    if (id == anonymous_token["AccessorID"]) {
      if (method == "GET") return anonymous_token;
      if (method == "PUT") return anonymous_token = stamp_update(in, anonymous_token);
    }
    if (method == "DELETE") {
      const auto it = std::find_if(tokens.begin(), tokens.end(), [&](const json& t) { return t["AccessorID"] == id; });
      if (it == tokens.end()) not_found("token");
      tokens.erase(it);
      ++index_;
      return true;
    }
  }
  // catalog
  if (path.starts_with("/v1/catalog/node-services/") && method == "GET") {
    const std::string node = tail("/v1/catalog/node-services/");
    if (!nodes.contains(node)) return {{"Node", nullptr}, {"Services", nullptr}};
    json svcs = json::array();
    for (const auto& s : services[node]) svcs.push_back(s);
    return {{"Node", nodes[node]}, {"Services", svcs}};
  }
  if (path == "/v1/catalog/register" && method == "PUT") {
    const std::string node = in["Node"];
    nodes[node] = {{"Node", node}, {"Address", in.value("Address", "")}, {"Meta", in.value("NodeMeta", json::object())}};
    ++index_;
    return true;
  }
  if (path == "/v1/catalog/deregister" && method == "PUT") {
    auto& list = services[in["Node"].get<std::string>()];
    list.erase(std::remove_if(list.begin(), list.end(), [&](const json& s) { return s["ID"] == in["ServiceID"]; }),
               list.end());
    ++index_;
    return true;
  }
  throw consul::ApiError(404, method + " " + full_path + ": HTTP 404: Invalid URL path: not a recognized HTTP API endpoint");
}

}  // namespace consulecs::controller::testing
