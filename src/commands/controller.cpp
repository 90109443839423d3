// controller: one per ECS cluster. Keeps the ACL objects the mesh tasks need
// in Consul (auth method, binding rules, policies, roles, anonymous token
// policy, namespaces with partitions) and removes the Consul state of ECS
// tasks that stopped without cleaning up (service instances, login tokens).
// Reconciles at start and then every -polling-interval until SIGTERM/SIGINT.

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "aws/credentials.h"
#include "commands/command.h"
#include "commands/common.h"
#include "config/config.h"
#include "consul/client.h"
#include "consul/server_config.h"
#include "controller/reconciler.h"
#include "controller/settings.h"
#include "ecs/api_client.h"
#include "ecs/task_metadata.h"
#include "http/client.h"
#include "util/json_parse.h"
#include "util/log.h"
#include "util/retry.h"
#include "util/signals.h"

namespace consulecs::commands {
namespace {

using namespace std::chrono_literals;

// The bootstrap token: $CONSUL_HTTP_TOKEN (the Terraform module injects the
// secret there), else the file named by $CONSUL_HTTP_TOKEN_FILE.
std::string bootstrap_token() {
  if (const char* token = std::getenv("CONSUL_HTTP_TOKEN"); token != nullptr && *token != '\0') return token;
  if (const char* file = std::getenv("CONSUL_HTTP_TOKEN_FILE"); file != nullptr && *file != '\0') {
    std::ifstream in(file);
    if (!in) throw std::runtime_error(std::string("cannot read CONSUL_HTTP_TOKEN_FILE ") + file);
    std::stringstream content;
    content << in.rdbuf();
    std::string token = content.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
    return token;
  }
  return {};
}

class Controller {
 public:
  Controller(config::Config cfg, std::chrono::milliseconds interval, signals::StopFlag& stop)
      : cfg_(std::move(cfg)), interval_(interval), stop_(stop) {}

  int run();

 private:
  void log_report(const controller::ReconcileReport& report, bool first);

  config::Config cfg_;
  std::chrono::milliseconds interval_;
  signals::StopFlag& stop_;
  util::FailureLog acl_failures_{"provisioning the Consul ACL objects"};
  util::FailureLog consul_failures_{"reading Consul state (stale-task clean-up skipped until it works)"};
  util::FailureLog ecs_failures_{"listing the cluster's ECS tasks (stale-task clean-up skipped until it works)"};
  util::FailureLog node_failures_{"registering the cluster's synthetic node"};
  util::FailureLog namespace_failures_{"reconciling namespaces"};
};

int Controller::run() {
  std::optional<ecs::MetadataClient> metadata;
  try {
    metadata.emplace();
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }
  ecs::TaskMetadata task;
  {
    util::FailureLog failures("reading task metadata");
    while (true) {
      try {
        task = metadata->fetch_task();
        failures.succeeded();
        break;
      } catch (const util::JsonParseError& e) {
        // Well-formed but absurdly deep: no ECS agent answers that, and
        // asking again will not change it.
        if (e.too_deep()) {
          log::error("{}", e.what());
          return 1;
        }
        failures.failed(e.what());
      } catch (const std::exception& e) {
        failures.failed(e.what());
      }
      if (stop_.sleep_for(1s)) return 0;
    }
  }

  controller::Settings settings;
  std::string region;
  try {
    settings = controller::make_settings(cfg_, task);
    region = aws::resolve_region(std::nullopt, task.task_arn);
  } catch (const config::ConfigError& e) {
    log_config_errors(e, "", config::SchemaVersion::k0_10_0);
    return 1;
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }

  consul::ServerConfig consul_config = consul::http_server_config(cfg_);
  // Listings of every login token and of the cluster node's services grow
  // with the fleet (MBs at thousands of tasks): not the control-plane's 1 s.
  consul_config.request_timeout = std::chrono::seconds(30);
  consul::Client consul(consul_config);
  try {
    const std::string token = bootstrap_token();
    if (token.empty()) {
      log::warn("no Consul token (CONSUL_HTTP_TOKEN / CONSUL_HTTP_TOKEN_FILE): requests are anonymous");
    } else {
      consul.set_token(token);
    }
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }

  aws::CredentialsProvider credentials;
  std::optional<ecs::ApiClient> ecs_api;
  try {
    ecs::ApiClient::Options options;
    options.region = region;
    options.credentials = [&credentials] { return credentials.get(); };
    options.sleep = [this](std::chrono::milliseconds delay) { return !stop_.sleep_for(delay); };
    ecs_api.emplace(std::move(options));
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }

  controller::Reconciler reconciler(
      settings,
      [&consul](const std::string& method, const std::string& path, const nlohmann::json* body) {
        return consul.call(method, path, body);
      },
      [&] { return ecs::list_cluster_tasks(*ecs_api, settings.cluster_arn); }, &stop_,
      [&](const std::vector<std::string>& ids) {
        ecs::DescribeTasksResult all;
        for (size_t i = 0; i < ids.size(); i += ecs::kDescribeBatchSize) {
          const std::vector<std::string> batch(ids.begin() + i,
                                               ids.begin() + std::min(ids.size(), i + ecs::kDescribeBatchSize));
          auto result = ecs_api->describe_tasks(settings.cluster_arn, batch);
          all.tasks.insert(all.tasks.end(), result.tasks.begin(), result.tasks.end());
          all.failures.insert(all.failures.end(), result.failures.begin(), result.failures.end());
        }
        return all;
      });

  log::info("controller for cluster {} (region {}, ECS endpoint {}, AWS credentials from {}); auth method {} for IAM "
            "roles {}; partitions {}; reconciling every {} ms",
            settings.cluster_arn, region, ecs_api->endpoint(), credentials.source(), settings.auth_method,
            controller::bound_arn_pattern(settings),
            settings.partitions_enabled ? "enabled (partition " + settings.partition + ")" : std::string("disabled"),
            interval_.count());

  bool first = true;
  while (!stop_.requested()) {
    const auto started = std::chrono::steady_clock::now();
    try {
      const auto report = reconciler.reconcile();
      log_report(report, first);
    } catch (const controller::EnterpriseRequiredError& e) {
      log::error("{}", e.what());
      return 1;
    }
    first = false;
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    log::debug("reconcile took {} ms ({} ECS request(s) so far)", elapsed.count(), ecs_api->requests_sent());
    stop_.sleep_for(interval_);
  }
  log::info("controller stopped");
  return 0;
}

void Controller::log_report(const controller::ReconcileReport& r, bool first) {
  auto track = [](util::FailureLog& failures, const std::string& error) {
    if (error.empty()) {
      failures.succeeded();
    } else {
      failures.failed(error);
    }
  };
  track(acl_failures_, r.acl_error);
  track(consul_failures_, r.consul_error);
  track(ecs_failures_, r.ecs_error);
  track(node_failures_, r.node_error);
  std::string namespace_errors;
  for (const auto& e : r.namespace_errors) namespace_errors += (namespace_errors.empty() ? "" : "; ") + e;
  track(namespace_failures_, namespace_errors);
  for (const auto& warning : r.ecs_warnings) log::warn("{}", warning);
  if (first || r.changed() || !r.cleanup_errors.empty()) {
    log::info("reconcile: {}", controller::summarize(r));
  } else {
    log::debug("reconcile: {}", controller::summarize(r));
  }
}

}  // namespace

int run_controller(const Args& raw_args) {
  cli::FlagSet flags{"Usage: consul-ecs controller [options]\n"
                     "  Keeps the Consul ACL objects of the ECS mesh and removes the Consul state of stopped tasks.\n"
                     "  Config comes from CONSUL_ECS_CONFIG_JSON or -config-file; the Consul token from CONSUL_HTTP_TOKEN."};
  std::string config_file;
  std::chrono::milliseconds interval{std::chrono::seconds(10)};
  flags.add_string("config-file", &config_file, "Path to the JSON config (default: $CONSUL_ECS_CONFIG_JSON)");
  flags.add_duration("polling-interval", &interval, "Time between reconciles (Go duration)");
  if (auto code = parse_flags(flags, raw_args)) return *code;
  if (auto code = reject_positional(flags)) return *code;
  if (interval.count() <= 0) {
    std::fprintf(stderr, "controller: -polling-interval must be positive\n");
    return 1;
  }

  // The controller of both generations is the same; it accepts the current (v0.10.0) schema.
  auto cfg = load_config_or_report(config_file, config::SchemaVersion::k0_10_0);
  if (!cfg) return 1;

  signals::StopFlag stop;
  // Nothing to ask Consul or ECS once stopping: the reconcile in progress
  // fails fast instead of waiting out each request.
  signals::ShutdownSignals shutdown_signals(stop, http::cancel_all);
  Controller controller(std::move(*cfg), interval, stop);
  return controller.run();
}

}  // namespace consulecs::commands
