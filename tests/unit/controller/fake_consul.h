#pragma once
// An in-memory Consul for controller tests: the ACL, catalog and agent
// endpoints the controller calls, with create/modify indexes, a request log
// and failure injection. Answers like Consul 1.15 (404 for missing ACL
// objects, node-services {"Node": null} for an unknown node).
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "consul/client.h"
#include "controller/settings.h"

namespace consulecs::controller::testing {

class FakeConsul {
 public:
  using json = nlohmann::json;

  struct Request {
    std::string method;
    std::string path;  // with query
    json body;
  };

  std::string datacenter = "dc1";
  std::string primary_datacenter = "dc1";
  std::map<std::string, json> auth_methods;  // by name
  std::vector<json> binding_rules;
  std::map<std::string, json> policies;      // by name
  std::map<std::string, json> roles;         // by name
  json anonymous_token;
  std::map<std::string, json> nodes;                   // by name
  std::map<std::string, std::vector<json>> services;   // by node
  std::vector<json> tokens;
  std::vector<Request> log;
  // Called before each request; may throw to inject a failure.
  std::function<void(const Request&)> before;

  FakeConsul();

  json call(const std::string& method, const std::string& path, const json* body);
  ConsulCall as_call() {
    return [this](const std::string& m, const std::string& p, const json* b) { return call(m, p, b); };
  }

  // --- test set-up helpers ---
  void add_node(const std::string& node);
  void add_service(const std::string& node, const std::string& id, const std::string& service, const json& meta,
                   const std::string& kind = "");
  // A token as /v1/acl/login makes it, with the login meta in its description.
  std::string add_login_token(const std::string& task_id, const std::string& cluster,
                              const std::string& auth_method = "iam-ecs-service-token");
  std::string add_token(const std::string& description, const std::string& auth_method = "");

  // --- assertions helpers ---
  std::size_t writes() const;
  std::size_t count(const std::string& method, const std::string& path_prefix) const;
  bool has_service(const std::string& node, const std::string& id) const;
  bool has_token(const std::string& accessor) const;
  std::uint64_t index() const { return index_; }

 private:
  std::string next_id();
  std::uint64_t index_ = 100;
  int ids_ = 0;
};

}  // namespace consulecs::controller::testing
