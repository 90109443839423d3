// control-plane: the mesh sidecar of an ECS task. Start-up: config, task
// metadata, Consul login, service + proxy registration, files for the
// dataplane, then readiness. Steady state: container health -> Consul checks
// every second. SIGTERM: checks critical, wait for the dataplane to stop,
// deregister, log out.

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>

#include "aws/credentials.h"
#include "commands/command.h"
#include "commands/common.h"
#include "config/config.h"
#include "consul/client.h"
#include "consul/login.h"
#include "consul/server_config.h"
#include "ecs/task_metadata.h"
#include "http/health_server.h"
#include "mesh/containers.h"
#include "mesh/health_sync.h"
#include "mesh/registration.h"
#include "util/files.h"
#include "util/log.h"
#include "util/retry.h"
#include "util/signals.h"

namespace consulecs::commands {
namespace {

using namespace std::chrono_literals;

constexpr auto kRetryInterval = 1s;
constexpr auto kSyncInterval = 1s;
// While waiting for the dataplane to stop, poll faster: deregistration
// latency after the proxy exits is what callers of the service feel.
constexpr auto kShutdownPollInterval = 100ms;

// The controller deletes the login token of a task ECS reports stopped; by
// the time this task's own clean-up runs, the token may already be gone.
bool token_deleted(const consul::ApiError& error) {
  return error.status() == 403 && std::string_view(error.what()).find("ACL not found") != std::string_view::npos;
}

class Stopped : public std::exception {
 public:
  const char* what() const noexcept override { return "stopped by signal during start-up"; }
};

class ControlPlane {
 public:
  ControlPlane(config::Config cfg, signals::StopFlag& stop) : cfg_(std::move(cfg)), stop_(stop) {}

  int run();

 private:
  // Runs `attempt` until it succeeds, retrying every second; throws Stopped
  // when a shutdown signal arrives first.
  template <typename F>
  auto retry(const std::string& what, F&& attempt) -> decltype(attempt());

  void login();
  void register_task();
  void register_one(mesh::Registration& reg, bool& registered);
  void write_bootstrap_files();
  void sync_health_loop();
  void shutdown();
  void deregister();
  void logout();
  bool write_checks(const mesh::HealthSync::Update& update);

  config::Config cfg_;
  signals::StopFlag& stop_;
  std::optional<http::HealthServer> health_server_;
  std::optional<ecs::MetadataClient> metadata_;
  ecs::TaskMetadata task_;
  std::optional<consul::Client> consul_;
  std::optional<aws::CredentialsProvider> credentials_;
  std::string token_;
  bool logged_in_ = false;
  mesh::TaskRegistrations regs_;
  bool service_registered_ = false;
  bool proxy_registered_ = false;
  std::optional<mesh::HealthSync> sync_;
};

template <typename F>
auto ControlPlane::retry(const std::string& what, F&& attempt) -> decltype(attempt()) {
  util::FailureLog failures(what);
  while (true) {
    if (stop_.requested()) throw Stopped();
    try {
      if constexpr (std::is_void_v<decltype(attempt())>) {
        attempt();
        failures.succeeded();
        return;
      } else {
        auto result = attempt();
        failures.succeeded();
        return result;
      }
    } catch (const Stopped&) {
      throw;
    } catch (const std::exception& e) {
      failures.failed(e.what());
    }
    if (stop_.sleep_for(kRetryInterval)) throw Stopped();
  }
}

int ControlPlane::run() {
  try {
    health_server_.emplace(http::health_listen_address());
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }
  try {
    metadata_.emplace();
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }
  try {
    task_ = retry("reading task metadata", [&] { return metadata_->fetch_task(); });
    log::info("task {} of family {} in cluster {}", task_.task_id(), task_.family, task_.cluster_arn());
    consul_.emplace(consul::http_server_config(cfg_));
    login();
    regs_ = mesh::build_registrations(cfg_, task_);
    sync_.emplace(regs_.node, regs_.node_address, regs_.partition, regs_.all_checks());
    register_task();
    write_bootstrap_files();
  } catch (const Stopped&) {
    log::info("stopped during start-up; removing what was registered");
    deregister();
    logout();
    return 0;
  } catch (const std::exception& e) {
    log::error("start-up failed: {}", e.what());
    deregister();
    logout();
    return 1;
  }
  health_server_->set_ready(true);
  log::info("control-plane ready; syncing health of {} check(s) every second", regs_.all_checks().size());
  sync_health_loop();
  shutdown();
  return 0;
}

void ControlPlane::login() {
  if (!config::login_enabled(cfg_)) {
    if (const char* env = std::getenv("CONSUL_HTTP_TOKEN"); env != nullptr && *env != '\0') {
      token_ = env;
      consul_->set_token(token_);
    }
    return;
  }
  credentials_.emplace();
  const auto token = retry("consul login with auth method " + config::login_method(cfg_),
                           [&] { return consul::login_with_iam(*consul_, cfg_, task_, *credentials_); });
  token_ = token.secret_id;
  logged_in_ = true;
  consul_->set_token(token_);
  log::info("logged in to Consul with auth method {} (token accessor {})", config::login_method(cfg_),
            token.accessor_id);
  const std::string path = files::join(cfg_.bootstrap_dir, "service-token");
  files::write_atomic(path, token_, 0600);
  log::info("wrote ACL token to {}", path);
}

void ControlPlane::register_one(mesh::Registration& reg, bool& registered) {
  retry("registering " + reg.service_id, [&] {
    try {
      consul_->catalog_register(reg.body);
    } catch (const consul::ApiError& e) {
      // Service locality arrived in Consul 1.17; older servers reject the
      // unknown field. Register without it rather than not at all.
      if (e.status() != 400 || !mesh::strip_locality(reg.body)) throw;
      log::info("Consul server does not support service locality (1.17+); registering {} without it", reg.service_id);
      consul_->catalog_register(reg.body);
      if (regs_.service) mesh::strip_locality(regs_.service->body);
      mesh::strip_locality(regs_.proxy.body);
    }
    registered = true;
  });
  log::info("registered {} (service {})", reg.service_id, reg.service_name);
}

void ControlPlane::register_task() {
  if (regs_.service) register_one(*regs_.service, service_registered_);
  register_one(regs_.proxy, proxy_registered_);
}

void ControlPlane::write_bootstrap_files() {
  const std::string& dir = cfg_.bootstrap_dir;
  const std::string binary = files::join(dir, "consul-ecs");
  files::copy_atomic(files::self_executable(), binary, 0755);
  log::info("copied binary to {}", binary);

  mesh::DataplaneInputs inputs;
  inputs.token = token_;
  const auto grpc_tls = config::grpc_tls(cfg_);
  if (grpc_tls.enabled) {
    inputs.ca_cert_file = grpc_tls.ca_cert_file;
    if (const char* pem = std::getenv("CONSUL_GRPC_CACERT_PEM"); pem != nullptr && *pem != '\0') {
      inputs.ca_cert_file = files::join(dir, "consul-grpc-ca-cert.pem");
      files::write_atomic(inputs.ca_cert_file, pem, 0444);
      log::info("wrote gRPC CA certificate to {}", inputs.ca_cert_file);
    }
  }
  const std::string dataplane = files::join(dir, "consul-dataplane.json");
  // Holds the ACL token, but the consul-dataplane image runs as another
  // user than this container, so it must be world-readable (as the
  // reference writes it); the volume is private to the task.
  files::write_atomic(dataplane, mesh::dataplane_config(cfg_, regs_, inputs).dump(), 0444);
  log::info("wrote dataplane config to {}", dataplane);
}

bool ControlPlane::write_checks(const mesh::HealthSync::Update& update) {
  try {
    consul_->catalog_register(update.registration);
    sync_->commit(update);
    for (const auto& [id, status] : update.next) log::info("check {} is now {}", id, status);
    return true;
  } catch (const consul::ApiError& e) {
    if (token_deleted(e)) {
      // Nothing to retry with: the controller removed this task's token
      // (and, with it, its instances and checks).
      log::warn("cannot update checks: the ACL token was deleted");
      return true;
    }
    log::warn("failed to update checks in Consul: {}", e.what());
    return false;
  } catch (const std::exception& e) {
    // Not committed: the next cycle sees the same difference and retries.
    log::warn("failed to update checks in Consul: {}", e.what());
    return false;
  }
}

void ControlPlane::sync_health_loop() {
  util::FailureLog metadata_failures("reading task metadata");
  while (!stop_.requested()) {
    try {
      task_ = metadata_->fetch_task();
      metadata_failures.succeeded();
      if (auto update = sync_->plan(task_)) write_checks(*update);
    } catch (const std::exception& e) {
      metadata_failures.failed(e.what());
    }
    stop_.sleep_for(kSyncInterval);
  }
}

void ControlPlane::shutdown() {
  log::info("shutting down: marking all checks critical");
  sync_->shutdown();
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto update = sync_->plan_all_critical();
    if (!update || write_checks(*update)) break;
    std::this_thread::sleep_for(200ms);
  }
  log::info("waiting for the {} container to stop", mesh::kDataplaneContainer);
  util::FailureLog metadata_failures("reading task metadata");
  while (true) {
    try {
      task_ = metadata_->fetch_task();
      metadata_failures.succeeded();
      const auto* dataplane = task_.find_container(mesh::kDataplaneContainer);
      if (dataplane == nullptr || dataplane->stopped()) break;
    } catch (const std::exception& e) {
      metadata_failures.failed(e.what());
    }
    std::this_thread::sleep_for(kShutdownPollInterval);
  }
  log::info("{} stopped; deregistering", mesh::kDataplaneContainer);
  deregister();
  logout();
}

void ControlPlane::deregister() {
  if (!consul_) return;
  auto deregister_one = [&](bool& registered, const mesh::Registration& reg) {
    if (!registered) return;
    for (int attempt = 0; attempt < 3; ++attempt) {
      try {
        consul_->catalog_deregister(regs_.node, reg.service_id, regs_.ns, regs_.partition);
        log::info("deregistered {}", reg.service_id);
        registered = false;
        return;
      } catch (const consul::ApiError& e) {
        if (token_deleted(e)) {
          log::info("token already deleted (the controller cleaned up this stopped task); {} is gone", reg.service_id);
          registered = false;
          return;
        }
        log::error("deregistering {} failed: {}", reg.service_id, e.what());
        std::this_thread::sleep_for(200ms);
      } catch (const std::exception& e) {
        log::error("deregistering {} failed: {}", reg.service_id, e.what());
        std::this_thread::sleep_for(200ms);
      }
    }
  };
  deregister_one(proxy_registered_, regs_.proxy);
  if (regs_.service) deregister_one(service_registered_, *regs_.service);
}

void ControlPlane::logout() {
  if (!logged_in_) return;
  try {
    consul_->logout();
    logged_in_ = false;
    log::info("logged out of Consul");
  } catch (const consul::ApiError& e) {
    if (token_deleted(e)) {
      logged_in_ = false;
      log::info("token already deleted; nothing to log out");
      return;
    }
    log::error("logout failed: {}", e.what());
  } catch (const std::exception& e) {
    log::error("logout failed: {}", e.what());
  }
}

}  // namespace

int run_control_plane(const Args& raw_args) {
  cli::FlagSet flags{"Usage: consul-ecs control-plane [options]\n"
                     "  Registers this ECS task in the Consul service mesh and syncs its health.\n"
                     "  Config comes from CONSUL_ECS_CONFIG_JSON or -config-file."};
  std::string config_file;
  flags.add_string("config-file", &config_file, "Path to the JSON config (default: $CONSUL_ECS_CONFIG_JSON)");
  if (auto code = parse_flags(flags, raw_args)) return *code;
  if (auto code = reject_positional(flags)) return *code;

  auto cfg = load_config_or_report(config_file);
  if (!cfg) return 1;

  signals::StopFlag stop;
  signals::ShutdownSignals shutdown_signals(stop);
  ControlPlane control_plane(std::move(*cfg), stop);
  const int code = control_plane.run();
  return code;
}

}  // namespace consulecs::commands
