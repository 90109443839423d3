#include "controller/reconciler.h"

#include <fmt/format.h>

#include <set>

#include "consul/client.h"
#include "util/log.h"

namespace consulecs::controller {
namespace {

using nlohmann::json;

}  // namespace

bool ReconcileReport::changed() const {
  return !acl_changes.empty() || node_registered || !namespace_changes.empty() || services_deregistered > 0 ||
         tokens_deleted > 0;
}

bool ReconcileReport::ok() const {
  return acl_ok && consul_ok && ecs_ok && node_error.empty() && namespace_errors.empty() && cleanup_errors.empty();
}

Reconciler::Reconciler(Settings settings, ConsulCall consul, TaskLister list_tasks, const signals::StopFlag* stop,
                       TaskDescriber describe_tasks)
    : settings_(std::move(settings)),
      consul_(std::move(consul)),
      list_tasks_(std::move(list_tasks)),
      stop_(stop),
      describe_tasks_(std::move(describe_tasks)),
      acl_(settings_, consul_) {}

ReconcileReport Reconciler::reconcile() {
  ReconcileReport report;

  // 1. ACL objects. Their failure does not block the clean-up.
  try {
    report.acl_changes = acl_.run().changes;
    report.acl_ok = true;
  } catch (const EnterpriseRequiredError&) {
    throw;
  } catch (const std::exception& e) {
    report.acl_error = e.what();
  }
  for (const auto& change : report.acl_changes) log::info("{}", change);

  // 2. Consul first, then ECS (see the header).
  const ConsulState consul = read_consul(report);
  if (report.consul_ok && !consul.node_exists) register_node(report);

  // 4. ECS.
  EcsState running;
  try {
    const ecs::ClusterTasks listing = list_tasks_();
    running = ecs_state(listing, settings_);
    report.ecs_ok = true;
    report.listed_tasks = running.running.size();
    report.mesh_tasks = running.mesh_tasks.size();
    report.ecs_warnings = running.warnings;
    for (const auto& failure : listing.failures) {
      if (failure.reason != "MISSING") {
        report.ecs_warnings.push_back(fmt::format("DescribeTasks failure for {}: {} {}", failure.arn, failure.reason,
                                                  failure.detail));
      }
    }
  } catch (const std::exception& e) {
    report.ecs_error = e.what();
  }

  // 5. Namespaces of the mesh tasks (Enterprise).
  if (report.ecs_ok && settings_.partitions_enabled) {
    std::set<std::string> wanted;
    for (const auto& task : running.mesh_tasks) wanted.insert(task.ns);
    try {
      auto result = acl_.ensure_namespaces(wanted);
      report.namespace_changes = std::move(result.changes);
      report.namespace_errors = std::move(result.errors);
    } catch (const std::exception& e) {
      report.namespace_errors.push_back(e.what());
    }
    for (const auto& change : report.namespace_changes) log::info("{}", change);
  }

  // 6. Clean-up, only on complete information from both sides.
  if (report.consul_ok && report.ecs_ok) {
    report.cleanup_skipped = false;
    auto plan = plan_cleanup(consul, running.running);
    if (spare_stopping_tasks(plan, report)) {
      report.stale_tasks = plan.size();
      clean_up(plan, report);
    } else {
      report.cleanup_skipped = true;
    }
  }
  return report;
}

ConsulState Reconciler::read_consul(ReconcileReport& report) {
  const bool ent = settings_.partitions_enabled;
  const std::string services_path =
      with_query("/v1/catalog/node-services/" + path_escape(settings_.cluster_arn),
                 {{"partition", ent ? settings_.partition : ""}, {"ns", ent ? "*" : ""}});
  const std::string tokens_path = with_query("/v1/acl/tokens", {{"authmethod", settings_.auth_method},
                                                                 {"partition", ent ? settings_.partition : ""},
                                                                 {"ns", ent ? "*" : ""},
                                                                 {"authmethod-ns", ent ? "default" : ""}});
  try {
    json services;
    try {
      services = consul_("GET", services_path, nullptr);
    } catch (const consul::ApiError& e) {
      // Older servers answer 404 for an unknown node; that is "no node".
      if (e.status() != 404) throw;
    }
    const json tokens = consul_("GET", tokens_path, nullptr);
    ConsulState state = consul_state(services, tokens, settings_);
    report.consul_ok = true;
    report.consul_services = state.service_count;
    report.consul_tokens = state.token_count;
    report.consul_tasks = state.tasks.size();
    return state;
  } catch (const std::exception& e) {
    report.consul_error = fmt::format("reading service instances and login tokens from Consul: {}", e.what());
    return {};
  }
}

void Reconciler::register_node(ReconcileReport& report) {
  // Services of every task of the cluster are registered on this node; the
  // control-plane's login token cannot create it (no node:write).
  json body = {{"Node", settings_.cluster_arn},
               {"Address", settings_.node_address},
               {"NodeMeta", {{kSyntheticNodeMeta, "true"}}}};
  if (settings_.partitions_enabled) body["Partition"] = settings_.partition;
  try {
    consul_("PUT", "/v1/catalog/register", &body);
    report.node_registered = true;
    log::info("registered the cluster's synthetic node {} in Consul", settings_.cluster_arn);
  } catch (const std::exception& e) {
    report.node_error = fmt::format("registering node {}: {}", settings_.cluster_arn, e.what());
  }
}

bool Reconciler::spare_stopping_tasks(std::vector<Cleanup>& plan, ReconcileReport& report) {
  if (plan.empty() || !describe_tasks_) return true;
  std::vector<std::string> ids;
  ids.reserve(plan.size());
  for (const auto& task : plan) ids.push_back(task.task_id);
  std::set<std::string> stopping;
  try {
    for (const auto& task : describe_tasks_(ids).tasks) {
      if (task.last_status != "STOPPED") stopping.insert(task.task_id());
    }
  } catch (const std::exception& e) {
    report.ecs_ok = false;
    report.ecs_error = fmt::format("describing tasks missing from the listing: {}", e.what());
    return false;
  }
  std::erase_if(plan, [&](const Cleanup& task) {
    if (!stopping.count(task.task_id)) return false;
    log::debug("task {} is still stopping; its control-plane cleans up after itself", task.task_id);
    return true;
  });
  report.stopping_tasks = stopping.size();
  return true;
}

void Reconciler::clean_up(const std::vector<Cleanup>& plan, ReconcileReport& report) {
  for (const auto& task : plan) {
    if (stop_ != nullptr && stop_->requested()) {
      log::info("stopping: clean-up interrupted, the rest is left for the next run");
      return;
    }
    int failures = 0;
    for (const auto& svc : task.resources.services) {
      const json body = consul::deregistration_body(settings_.cluster_arn, svc.id, svc.ns, svc.partition);
      try {
        consul_("PUT", "/v1/catalog/deregister", &body);
        ++report.services_deregistered;
        log::info("task {} is not running: deregistered service instance {}", task.task_id, svc.id);
      } catch (const std::exception& e) {
        ++failures;
        report.cleanup_errors.push_back(
            fmt::format("task {}: deregistering service instance {}: {}", task.task_id, svc.id, e.what()));
        log::error("{}", report.cleanup_errors.back());
      }
    }
    for (const auto& token : task.resources.tokens) {
      const std::string path =
          with_query("/v1/acl/token/" + path_escape(token.accessor_id), {{"ns", token.ns}, {"partition", token.partition}});
      try {
        consul_("DELETE", path, nullptr);
        ++report.tokens_deleted;
        log::info("task {} is not running: deleted its ACL token {}", task.task_id, token.accessor_id);
      } catch (const std::exception& e) {
        if (is_not_found(e)) continue;  // gone already (e.g. the task logged out)
        ++failures;
        report.cleanup_errors.push_back(
            fmt::format("task {}: deleting ACL token {}: {}", task.task_id, token.accessor_id, e.what()));
        log::error("{}", report.cleanup_errors.back());
      }
    }
    if (failures > 0) log::warn("clean-up of task {} incomplete; it is retried next time", task.task_id);
  }
}

std::string summarize(const ReconcileReport& r) {
  std::string text = fmt::format("ecs: {}", r.ecs_ok ? fmt::format("{} task(s), {} in the mesh", r.listed_tasks,
                                                                   r.mesh_tasks)
                                                      : std::string("unavailable"));
  text += fmt::format("; consul: {}", r.consul_ok ? fmt::format("{} task(s) with {} service instance(s) and {} "
                                                                "login token(s)",
                                                                r.consul_tasks, r.consul_services, r.consul_tokens)
                                                  : std::string("unavailable"));
  if (r.cleanup_skipped) {
    text += "; clean-up skipped";
  } else {
    text += fmt::format("; stopped tasks cleaned: {} ({} instance(s) deregistered, {} token(s) deleted)", r.stale_tasks,
                        r.services_deregistered, r.tokens_deleted);
  }
  if (!r.acl_changes.empty()) text += fmt::format("; {} ACL change(s)", r.acl_changes.size());
  return text;
}

}  // namespace consulecs::controller
