// The mesh task's agent behind control-plane, mesh-init and health-sync
// (task_agent.h). Start-up: config, task metadata, Consul login, service +
// proxy registration, files for the dataplane. Steady state: container
// health -> Consul checks every second, and anti-entropy: a registration or
// token Consul lost is noticed (a check write refused, or one verification
// read per interval) and restored with the current check statuses.
// SIGTERM: checks critical until that lands, wait for the dataplane to stop,
// deregister, log out, retrying within the shutdown budget
// (docs/architecture.md, "Failure behaviour").

#include "commands/task_agent.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

#include "aws/credentials.h"
#include "consul/client.h"
#include "consul/config_entries.h"
#include "consul/login.h"
#include "consul/server_config.h"
#include "ecs/task_metadata.h"
#include "http/client.h"
#include "http/health_server.h"
#include "mesh/anti_entropy.h"
#include "mesh/containers.h"
#include "mesh/health_sync.h"
#include "mesh/registration.h"
#include "process/child.h"
#include "tproxy/apply.h"
#include "tproxy/resolv_conf.h"
#include "tproxy/rules.h"
#include "util/files.h"
#include "util/json_parse.h"
#include "util/log.h"
#include "util/retry.h"

namespace consulecs::commands {

using json = nlohmann::json;

// ------------------------------------------------------------ pure pieces

std::string first_unhealthy_app(const config::Config& cfg, const ecs::TaskMetadata& task) {
  for (const auto& container : cfg.health_sync_containers) {
    if (container == mesh::kDataplaneContainer) continue;
    if (mesh::consul_status_for(task, container) != mesh::kStatusPassing) return container;
  }
  return "";
}

ecs::TaskMetadata with_app_gated_dataplane(const config::Config& cfg, const ecs::TaskMetadata& task) {
  if (first_unhealthy_app(cfg, task).empty()) return task;
  ecs::TaskMetadata gated = task;
  for (auto& container : gated.containers) {
    if (container.name != mesh::kDataplaneContainer || !container.health) continue;
    container.health->status = "UNHEALTHY";
  }
  return gated;
}

void explain_app_gate(json& registration, const std::vector<mesh::SyncedCheck>& checks,
                      const std::string& unhealthy_app) {
  if (unhealthy_app.empty() || !registration.contains("Checks")) return;
  for (auto& check : registration["Checks"]) {
    const std::string id = check.value("CheckID", "");
    const auto synced = std::find_if(checks.begin(), checks.end(), [&](const auto& c) { return c.check_id == id; });
    if (synced == checks.end() || synced->container != mesh::kDataplaneContainer) continue;
    if (check.value("Status", "") != mesh::kStatusCritical) continue;
    check["Output"] = fmt::format("application container \"{}\" is not healthy, so neither is the proxy",
                                  unhealthy_app);
  }
}

std::map<std::string, mesh::HealthSync::State> held_check_states(const json& node_checks,
                                                                 const std::vector<mesh::SyncedCheck>& checks) {
  std::map<std::string, mesh::HealthSync::State> held;
  for (auto& entry : mesh::held_checks(node_checks)) {
    const std::string& id = entry.first;  // not a structured binding: clang 14 cannot capture one
    if (entry.second.status.empty()) continue;  // no status to start from
    const bool ours = std::any_of(checks.begin(), checks.end(), [&](const auto& c) { return c.check_id == id; });
    if (ours) held.emplace(id, std::move(entry.second));
  }
  return held;
}

consul::Request proxy_service_read(const mesh::TaskRegistrations& regs) {
  return consul::node_service_merged(regs.node, regs.proxy.service_id, regs.ns, regs.partition);
}

tproxy::ProxyFacts proxy_facts(const json& node_services, const std::string& proxy_id) {
  const json* found = nullptr;
  if (node_services.is_object() && node_services.contains("Services") && node_services["Services"].is_array()) {
    for (const auto& service : node_services["Services"]) {
      if (service.is_object() && service.value("ID", "") == proxy_id) found = &service;
    }
  }
  if (found == nullptr) throw std::runtime_error("proxy service " + proxy_id + " not found in Consul's catalog");
  const auto& svc = *found;
  const auto proxy = svc.find("Proxy");
  if (proxy == svc.end() || !proxy->is_object()) throw std::runtime_error("service " + proxy_id + " is not a proxy");
  tproxy::ProxyFacts facts;
  if (svc.contains("Port") && svc["Port"].is_number_integer()) facts.port = svc["Port"].get<int>();
  if (proxy->contains("Config") && (*proxy)["Config"].is_object()) facts.config = (*proxy)["Config"];
  if (const auto tp = proxy->find("TransparentProxy"); tp != proxy->end() && tp->is_object()) {
    if (const auto port = tp->find("OutboundListenerPort"); port != tp->end() && port->is_number_integer()) {
      facts.outbound_listener_port = port->get<int>();
    }
  }
  if (const auto expose = proxy->find("Expose"); expose != proxy->end() && expose->is_object()) {
    if (const auto paths = expose->find("Paths"); paths != expose->end() && paths->is_array()) {
      for (const auto& p : *paths) {
        if (p.is_object() && p.contains("ListenerPort") && p["ListenerPort"].is_number_integer()) {
          facts.expose_listener_ports.push_back(p["ListenerPort"].get<int>());
        }
      }
    }
  }
  return facts;
}

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kRetryInterval = 1s;
constexpr auto kSyncInterval = 1s;
// While waiting for the dataplane to stop, poll faster: deregistration
// latency after the proxy exits is what callers of the service feel.
constexpr auto kShutdownPollInterval = 100ms;
// Pause between two Consul attempts of the shutdown after a failure.
constexpr auto kShutdownRetryInterval = 250ms;
constexpr auto kShutdownProgressInterval = 5s;
// One verification read per interval. 10 s: the controller's reconcile
// period and the usual ECS health-check interval, so a lost registration is
// back within about the time a task's health change takes to show; at
// 2,000 tasks it is 200 small reads/s spread over the servers, 0 writes.
constexpr auto kDefaultVerifyInterval = 10s;
// From SIGTERM. ECS SIGKILLs after the task's stopTimeout (30 s default,
// 120 s at most), which a container cannot read: retry until then, and give
// up (exit 1, saying what is left) only shortly before the largest one.
constexpr auto kDefaultShutdownBudget = 110s;
// mesh-init is an init container the rest of the task waits on: an error
// that does not heal (no such auth method, no permission) must end it with
// a message rather than leave the task PENDING for ever. 2 min covers a
// controller still creating the auth method at cluster start.
constexpr auto kDefaultInitTimeout = 120s;
// mesh-init's logout of its own token before exiting.
constexpr int kLogoutAttempts = 5;

constexpr const char* kVerifyIntervalEnv = "CONSUL_ECS_VERIFY_INTERVAL";    // test-only
constexpr const char* kShutdownBudgetEnv = "CONSUL_ECS_SHUTDOWN_BUDGET";
constexpr const char* kInitTimeoutEnv = "CONSUL_ECS_INIT_TIMEOUT";
constexpr const char* kResolvConfEnv = "CONSUL_ECS_RESOLV_CONF";            // test-only

std::chrono::milliseconds env_duration(const char* name, std::chrono::milliseconds fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  try {
    const auto parsed = process::parse_duration(value);
    if (parsed.count() > 0) return parsed;
  } catch (const std::exception&) {
  }
  log::warn("ignoring {}={}: not a positive duration (e.g. 10s, 500ms)", name, value);
  return fallback;
}

// The token is gone: the controller deleted the login token of a task ECS
// reports stopped, an operator deleted it, or Consul lost its data.
bool token_deleted(const consul::ApiError& error) { return error.acl_not_found(); }

// The service instance is not in the catalog: a check write answers
// "Unknown service ID", a deregistration "Unknown service" / "Unknown node".
bool registration_unknown(const consul::ApiError& error) { return error.unknown_service() || error.unknown_node(); }

class Stopped : public std::exception {
 public:
  const char* what() const noexcept override { return "stopped by signal during start-up"; }
};

const char* mode_name(AgentMode mode) {
  switch (mode) {
    case AgentMode::control_plane: return "control-plane";
    case AgentMode::mesh_init: return "mesh-init";
    case AgentMode::health_sync: return "health-sync";
  }
  return "agent";
}

// What we know of one registration in Consul's catalog.
enum class Presence { absent, present, unknown };

class TaskAgent {
 public:
  TaskAgent(config::Config cfg, AgentMode mode, signals::StopFlag& stop)
      : cfg_(std::move(cfg)),
        mode_(mode),
        stop_(stop),
        verify_interval_(env_duration(kVerifyIntervalEnv, kDefaultVerifyInterval)),
        shutdown_budget_(env_duration(kShutdownBudgetEnv, kDefaultShutdownBudget)),
        init_timeout_(env_duration(kInitTimeoutEnv, kDefaultInitTimeout)) {}

  int run();

 private:
  enum class WriteResult { ok, failed, lost_registration, lost_token };

  // Runs `attempt` until it succeeds, retrying every second; throws Stopped
  // when a shutdown signal arrives first. mesh-init gives up (throws) once
  // its start-up deadline passed.
  template <typename F>
  auto retry(const std::string& what, F&& attempt) -> decltype(attempt());

  bool start_common();  // metadata, Consul client, login, registrations
  int run_control_plane();
  int run_mesh_init();
  int run_health_sync();

  void login();
  void login_once();
  void register_attempt(mesh::Registration& reg, Presence& presence, json body);
  void register_task();
  void find_registrations();
  void upsert_service_defaults();
  void write_bootstrap_files();
  void write_token_files();
  void write_dataplane_config(bool write_ca);
  mesh::DataplaneLogin dataplane_login();
  void configure_dns();
  std::vector<tproxy::Rule> redirection_rules();
  void apply_rules(const std::vector<tproxy::Rule>& rules);
  int fail_init(const std::string& cause);
  void logout_before_exit();

  ecs::TaskMetadata health_view(const ecs::TaskMetadata& task) const;
  bool registered() const;
  void update_readiness();
  void sync_health_loop();
  void sync_step();
  bool relogin();
  bool reregister();
  void verify();
  WriteResult write_checks(const mesh::HealthSync::Update& update, bool quiet = false);

  int shutdown();
  bool critical_done() const;
  void try_mark_critical();
  void try_deregister();
  void try_logout();
  std::string left_over() const;
  // During the shutdown: false once the budget ran out (no new request).
  bool may_call() const { return Clock::now() < call_deadline_; }

  config::Config cfg_;
  AgentMode mode_;
  signals::StopFlag& stop_;
  std::chrono::milliseconds verify_interval_;
  std::chrono::milliseconds shutdown_budget_;
  std::chrono::milliseconds init_timeout_;
  Clock::time_point init_deadline_ = Clock::time_point::max();
  std::optional<http::HealthServer> health_server_;
  std::optional<ecs::MetadataClient> metadata_;
  ecs::TaskMetadata task_;
  std::optional<consul::Client> consul_;
  std::optional<aws::CredentialsProvider> credentials_;
  std::string token_;
  std::string accessor_id_;
  bool logged_in_ = false;   // we hold a login token to log out
  bool token_lost_ = false;  // Consul answered "ACL not found" for it
  mesh::TaskRegistrations regs_;
  Presence service_ = Presence::absent;
  Presence proxy_ = Presence::absent;
  bool ready_reached_ = false;  // the dataplane may run: wait for it at shutdown
  std::optional<mesh::HealthSync> sync_;
  Clock::time_point next_verify_{};
  Clock::time_point call_deadline_ = Clock::time_point::max();
  util::FailureLog relogin_failures_{"logging in to Consul again"};
  util::FailureLog reregister_failures_{"re-registering the task in Consul"};
  util::FailureLog verify_failures_{"verifying the registration in Consul"};
  util::FailureLog check_failures_{"updating checks in Consul"};
};

template <typename F>
auto TaskAgent::retry(const std::string& what, F&& attempt) -> decltype(attempt()) {
  util::FailureLog failures(what);
  while (true) {
    if (stop_.requested()) throw Stopped();
    std::string cause;
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
    } catch (const util::JsonParseError& e) {
      // A document nested past the limit will not get better by retrying.
      if (e.too_deep()) throw;
      cause = e.what();
    } catch (const std::exception& e) {
      cause = e.what();
    }
    failures.failed(cause);
    if (Clock::now() >= init_deadline_) {
      throw std::runtime_error(fmt::format("{} failed for {} s ({}): {}", what,
                                           std::chrono::duration_cast<std::chrono::seconds>(init_timeout_).count(),
                                           kInitTimeoutEnv, cause));
    }
    if (stop_.sleep_for(kRetryInterval)) throw Stopped();
  }
}

int TaskAgent::run() {
  switch (mode_) {
    case AgentMode::control_plane: return run_control_plane();
    case AgentMode::mesh_init: return run_mesh_init();
    case AgentMode::health_sync: return run_health_sync();
  }
  return 1;
}

bool TaskAgent::start_common() {
  try {
    metadata_.emplace();
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return false;
  }
  task_ = retry("reading task metadata", [&] { return metadata_->fetch_task(); });
  log::info("task {} of family {} in cluster {}", task_.task_id(), task_.family, task_.cluster_arn());
  consul_.emplace(consul::http_server_config(cfg_));
  login();
  regs_ = mesh::build_registrations(cfg_, task_);
  // As the reference: Locality only where the ECS agent set AWS_REGION
  // (it always does on ECS), so a bed without it makes no rejected write
  // on a Consul before 1.17.
  if (const char* region = std::getenv("AWS_REGION"); region == nullptr || *region == '\0') {
    if (regs_.service) mesh::strip_locality(regs_.service->body);
    mesh::strip_locality(regs_.proxy.body);
  }
  sync_.emplace(regs_.node, regs_.node_address, regs_.partition, regs_.all_checks());
  return true;
}

int TaskAgent::run_control_plane() {
  try {
    health_server_.emplace(http::health_listen_address());
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }
  try {
    if (!start_common()) return 1;
    register_task();
    write_bootstrap_files();
  } catch (const Stopped&) {
    log::info("stopped during start-up; removing what was registered");
    return shutdown();
  } catch (const std::exception& e) {
    log::error("start-up failed: {}", e.what());
    shutdown();
    return 1;
  }
  ready_reached_ = true;
  update_readiness();
  log::info("control-plane ready; syncing health of {} check(s) every second", regs_.all_checks().size());
  sync_health_loop();
  return shutdown();
}

int TaskAgent::run_mesh_init() {
  init_deadline_ = Clock::now() + init_timeout_;
  const bool tproxy = config::transparent_proxy_enabled(cfg_);
  // Before anything is registered: a task without NET_ADMIN (Fargate, or a
  // task definition that forgot it) can never finish, so say so at once.
  if (tproxy && !tproxy::has_net_admin()) {
    log::error("mesh-init failed: {}", tproxy::missing_net_admin_message());
    return 1;
  }
  std::vector<tproxy::Rule> rules;
  try {
    if (!start_common()) return 1;
    register_task();
    if (regs_.service && config::network_resilience_enabled(cfg_)) upsert_service_defaults();
    write_bootstrap_files();
    if (config::consul_dns_enabled(cfg_)) configure_dns();
    if (tproxy) rules = redirection_rules();
  } catch (const Stopped&) {
    log::info("stopped before the task was initialized; removing what was registered");
    shutdown();
    return 1;
  } catch (const std::exception& e) {
    return fail_init(e.what());
  }
  // Log out before the redirection: mesh-init runs as root, whose traffic
  // the rules send to the proxy's outbound listener, and no proxy runs yet.
  logout_before_exit();
  if (tproxy) {
    try {
      apply_rules(rules);
    } catch (const std::exception& e) {
      // One iptables-restore transaction: nothing was applied, Consul is
      // still reachable. Log in again to remove what was registered.
      if (config::login_enabled(cfg_)) {
        try {
          retry("logging in again to remove the registration", [&] { login_once(); });
        } catch (const std::exception& login_error) {
          log::warn("{}", login_error.what());
        }
      }
      return fail_init(e.what());
    }
  }
  log::info("the task is initialized for the mesh");
  return 0;
}

int TaskAgent::fail_init(const std::string& cause) {
  log::error("mesh-init failed: {}", cause);
  // Nothing half-registered: a task whose init failed never starts its
  // dataplane, so the checks would stay critical in Consul for ever.
  shutdown();
  return 1;
}

int TaskAgent::run_health_sync() {
  // mesh-init registered the task and the dataplane may already run: from
  // here on a shutdown waits for it before deregistering.
  ready_reached_ = true;
  try {
    if (!start_common()) return 1;
    find_registrations();
  } catch (const Stopped&) {
    log::info("stopped during start-up");
    return shutdown();
  } catch (const std::exception& e) {
    // Only what does not heal by retrying ends up here (a document nested
    // past the limit). The checks are as mesh-init left them, critical, so
    // the instance takes no traffic; the controller removes it when the task
    // stops. Waiting out a dataplane whose metadata cannot be read is no use.
    log::error("start-up failed: {}", e.what());
    logout_before_exit();
    return 1;
  }
  log::info("health-sync ready; syncing health of {} check(s) every second", regs_.all_checks().size());
  sync_health_loop();
  return shutdown();
}

void TaskAgent::login() {
  if (!config::login_enabled(cfg_)) {
    if (const char* env = std::getenv("CONSUL_HTTP_TOKEN"); env != nullptr && *env != '\0') {
      token_ = env;
      consul_->set_token(token_);
    }
    return;
  }
  credentials_.emplace();
  retry("consul login with auth method " + config::login_method(cfg_), [&] { login_once(); });
  // Only control-plane hands its token to the dataplane through a file;
  // mesh-init gives the dataplane login credentials of its own, and
  // health-sync's token is its own.
  if (mode_ == AgentMode::control_plane) write_token_files();
}

void TaskAgent::login_once() {
  const auto token = consul_->login(consul::iam_login_request(cfg_, task_, *credentials_));
  token_ = token.secret_id;
  accessor_id_ = token.accessor_id;
  logged_in_ = true;
  token_lost_ = false;
  consul_->set_token(token_);
  log::info("logged in to Consul with auth method {} (token accessor {})", config::login_method(cfg_),
            token.accessor_id);
}

void TaskAgent::write_token_files() {
  const std::string path = files::join(cfg_.bootstrap_dir, "service-token");
  files::write_atomic(path, token_, 0600);
  log::info("wrote ACL token to {}", path);
}

void TaskAgent::register_attempt(mesh::Registration& reg, Presence& presence, json body) {
  const Presence before = presence;
  // A request whose answer is lost may still have landed.
  if (presence == Presence::absent) presence = Presence::unknown;
  try {
    try {
      consul_->catalog_register(body);
    } catch (const consul::ApiError& e) {
      // Service locality arrived in Consul 1.17; older servers reject the
      // unknown field. Register without it rather than not at all.
      if (e.status() != 400 || !mesh::strip_locality(body)) throw;
      log::info("Consul server does not support service locality (1.17+); registering {} without it", reg.service_id);
      if (regs_.service) mesh::strip_locality(regs_.service->body);
      mesh::strip_locality(regs_.proxy.body);
      consul_->catalog_register(body);
    }
  } catch (const consul::ApiError&) {
    presence = before;  // Consul answered: nothing changed
    throw;
  }
  presence = Presence::present;
}

void TaskAgent::register_task() {
  if (regs_.service) {
    retry("registering " + regs_.service->service_id,
          [&] { register_attempt(*regs_.service, service_, regs_.service->body); });
    log::info("registered {} (service {})", regs_.service->service_id, regs_.service->service_name);
  }
  retry("registering " + regs_.proxy.service_id, [&] { register_attempt(regs_.proxy, proxy_, regs_.proxy.body); });
  log::info("registered {} (service {})", regs_.proxy.service_id, regs_.proxy.service_name);
}

void TaskAgent::find_registrations() {
  // Until the read answers, what mesh-init left is unknown: a shutdown then
  // still deregisters, and every check counts as possibly passing.
  if (regs_.service) service_ = Presence::unknown;
  proxy_ = Presence::unknown;
  sync_->invalidate_all();
  const auto held = retry("reading the checks mesh-init registered", [&] {
    return held_check_states(consul_->send(mesh::verification_read(regs_)), sync_->checks());
  });
  sync_->assume(held);
  auto presence_of = [&](const std::string& service_id) {
    bool all = true;
    for (const auto& check : sync_->checks()) {
      if (check.service_id == service_id && held.count(check.check_id) == 0) all = false;
    }
    return all ? Presence::present : Presence::unknown;
  };
  if (regs_.service) service_ = presence_of(regs_.service->service_id);
  proxy_ = presence_of(regs_.proxy.service_id);
  if (!registered()) {
    // Anti-entropy, as for a registration Consul lost later: put it back.
    log::warn("the task's registration is not (fully) in Consul ({} of {} check(s) found); registering it again",
              held.size(), sync_->checks().size());
  } else {
    log::info("found the {} check(s) of {}", held.size(), regs_.proxy.service_id);
  }
}

void TaskAgent::upsert_service_defaults() {
  const std::string& name = regs_.service->service_name;
  const bool written = retry("writing the service-defaults config entry of " + name,
                             [&] { return consul::upsert_service_defaults(consul_->as_call(), name, cfg_); });
  if (written) {
    log::info("wrote the service-defaults config entry of {} (passive health check)", name);
  } else {
    log::info("the service-defaults config entry of {} is up to date", name);
  }
}

void TaskAgent::write_bootstrap_files() {
  const std::string& dir = cfg_.bootstrap_dir;
  const std::string binary = files::join(dir, "consul-ecs");
  files::copy_atomic(files::self_executable(), binary, 0755);
  log::info("copied binary to {}", binary);
  write_dataplane_config(/*write_ca=*/true);
}

mesh::DataplaneLogin TaskAgent::dataplane_login() {
  // A bearer token of its own for the dataplane (valid 15 minutes from
  // now), rather than the one mesh-init just used.
  auto request = consul::iam_login_request(cfg_, task_, *credentials_);
  mesh::DataplaneLogin out;
  out.auth_method = std::move(request.auth_method);
  out.partition = std::move(request.partition);
  out.datacenter = std::move(request.datacenter);
  out.bearer_token = std::move(request.bearer_token);
  out.meta = std::move(request.meta);
  return out;
}

void TaskAgent::write_dataplane_config(bool write_ca) {
  const std::string& dir = cfg_.bootstrap_dir;
  mesh::DataplaneInputs inputs;
  if (mode_ == AgentMode::mesh_init && config::login_enabled(cfg_)) {
    inputs.login = retry("building the dataplane's login credentials", [&] { return dataplane_login(); });
  } else {
    inputs.token = token_;
  }
  if (config::consul_dns_enabled(cfg_)) {
    inputs.dns_server = std::make_pair(std::string(tproxy::kConsulDnsIp), tproxy::kConsulDnsPort);
  }
  const auto grpc_tls = config::grpc_tls(cfg_);
  if (grpc_tls.enabled) {
    inputs.ca_cert_file = grpc_tls.ca_cert_file;
    if (const char* pem = std::getenv("CONSUL_GRPC_CACERT_PEM"); pem != nullptr && *pem != '\0') {
      inputs.ca_cert_file = files::join(dir, "consul-grpc-ca-cert.pem");
      if (write_ca) {
        files::write_atomic(inputs.ca_cert_file, pem, 0444);
        log::info("wrote gRPC CA certificate to {}", inputs.ca_cert_file);
      }
    }
  }
  const std::string dataplane = files::join(dir, "consul-dataplane.json");
  // Holds the ACL token or login credentials, but the consul-dataplane image
  // runs as another user than this container, so it must be world-readable
  // (as the reference writes it); the volume is private to the task.
  files::write_atomic(dataplane, mesh::dataplane_config(cfg_, regs_, inputs).dump(), 0444);
  log::info("wrote dataplane config to {}", dataplane);
}

void TaskAgent::configure_dns() {
  const char* env = std::getenv(kResolvConfEnv);
  const std::string path = env != nullptr && *env != '\0' ? env : std::string(tproxy::kResolvConfPath);
  tproxy::configure_consul_dns(path);
  log::info("configured Consul DNS: {} resolves through consul-dataplane at {}:{}", path, tproxy::kConsulDnsIp,
            tproxy::kConsulDnsPort);
}

std::vector<tproxy::Rule> TaskAgent::redirection_rules() {
  // The rules follow the proxy as Consul holds it, central config merged in
  // (a proxy-defaults bind_port or outbound listener port counts).
  const auto facts = retry("reading the proxy service from Consul", [&] {
    return proxy_facts(consul_->send(proxy_service_read(regs_)), regs_.proxy.service_id);
  });
  return tproxy::build_rules(tproxy::settings_for(cfg_, facts));
}

void TaskAgent::apply_rules(const std::vector<tproxy::Rule>& rules) {
  try {
    tproxy::apply_rules(rules);
  } catch (const tproxy::ApplyError& e) {
    throw std::runtime_error(fmt::format("applying the transparent proxy's iptables rules: {}", e.what()));
  }
  log::info("applied {} traffic redirection rule(s)", rules.size());
}

void TaskAgent::logout_before_exit() {
  // A token has no use once its process exits (the dataplane and
  // health-sync log in by themselves; the reference's server watcher logs
  // out at exit too). A few quick tries: the exit must not wait on Consul.
  if (!logged_in_) return;
  for (int attempt = 1; attempt <= kLogoutAttempts; ++attempt) {
    try_logout();
    if (!logged_in_) return;
    if (attempt < kLogoutAttempts) std::this_thread::sleep_for(kShutdownRetryInterval);
  }
  log::warn("could not log out of Consul; login token {} stays until the controller removes it after the task stops",
            accessor_id_);
}

ecs::TaskMetadata TaskAgent::health_view(const ecs::TaskMetadata& task) const {
  if (mode_ != AgentMode::health_sync) return task;
  return with_app_gated_dataplane(cfg_, task);
}

bool TaskAgent::registered() const {
  return (!regs_.service || service_ == Presence::present) && proxy_ == Presence::present;
}

void TaskAgent::update_readiness() {
  if (!health_server_) return;
  health_server_->set_ready(ready_reached_ && registered() && !token_lost_);
}

TaskAgent::WriteResult TaskAgent::write_checks(const mesh::HealthSync::Update& update, bool quiet) {
  try {
    consul_->catalog_register(update.registration);
    sync_->commit(update);
    if (!quiet) check_failures_.succeeded();
    for (const auto& [id, status] : update.next) log::info("check {} is now {}", id, status);
    return WriteResult::ok;
  } catch (const consul::ApiError& e) {
    if (token_deleted(e)) {
      if (!token_lost_) log::warn("cannot update checks: the ACL token was deleted (token already deleted)");
      token_lost_ = true;
      return WriteResult::lost_token;
    }
    if (registration_unknown(e)) {
      if (!quiet) log::warn("cannot update checks: the registration is gone from Consul ({})", e.what());
      if (regs_.service) service_ = Presence::unknown;
      proxy_ = Presence::unknown;
      return WriteResult::lost_registration;
    }
    if (!quiet) check_failures_.failed(e.what());
    return WriteResult::failed;
  } catch (const std::exception& e) {
    // Not answered: it may have landed. Forget what Consul holds for these
    // checks, so the next cycle writes them again whatever ECS says then.
    for (const auto& [id, status] : update.next) sync_->invalidate(id);
    if (!quiet) check_failures_.failed(e.what());
    return WriteResult::failed;
  }
}

void TaskAgent::sync_health_loop() {
  util::FailureLog metadata_failures("reading task metadata");
  next_verify_ = Clock::now() + verify_interval_;
  while (!stop_.requested()) {
    bool have_metadata = false;
    try {
      task_ = metadata_->fetch_task();
      metadata_failures.succeeded();
      have_metadata = true;
    } catch (const std::exception& e) {
      metadata_failures.failed(e.what());
    }
    if (have_metadata) sync_step();
    update_readiness();
    stop_.sleep_for(kSyncInterval);
  }
}

void TaskAgent::sync_step() {
  // ECS sets the task's desired status to STOPPED as it sends SIGTERM: a
  // stopping task is never put back into Consul.
  const bool stopping = task_.desired_status == "STOPPED";
  if (token_lost_ && (stopping || !relogin())) return;
  if (!registered() && (stopping || !reregister())) return;
  const auto view = health_view(task_);
  if (auto update = sync_->plan(view)) {
    if (mode_ == AgentMode::health_sync) {
      explain_app_gate(update->registration, sync_->checks(), first_unhealthy_app(cfg_, task_));
    }
    const auto result = write_checks(*update);
    if (result == WriteResult::lost_registration || result == WriteResult::lost_token) return;
  }
  if (Clock::now() >= next_verify_) verify();
}

bool TaskAgent::relogin() {
  if (!config::login_enabled(cfg_)) {
    // A static CONSUL_HTTP_TOKEN: nothing to log in with. Keep trying to
    // register with it (an operator may recreate the same secret).
    log::error("the ACL token from CONSUL_HTTP_TOKEN was not found in Consul; the task stays unregistered until it is");
    token_lost_ = false;
    if (regs_.service) service_ = Presence::unknown;
    proxy_ = Presence::unknown;
    return false;
  }
  try {
    login_once();
    relogin_failures_.succeeded();
    if (mode_ == AgentMode::control_plane) {
      write_token_files();
      // The dataplane config carries the token for a dataplane (re)started
      // from now on; a running dataplane keeps the one it read at start.
      write_dataplane_config(/*write_ca=*/false);
    }
  } catch (const std::exception& e) {
    relogin_failures_.failed(e.what());
    return false;
  }
  // Consul losing the token usually means it lost the registrations too.
  if (regs_.service) service_ = Presence::unknown;
  proxy_ = Presence::unknown;
  return true;
}

bool TaskAgent::reregister() {
  const auto states = sync_->current(health_view(task_));
  try {
    if (regs_.service && service_ != Presence::present) {
      register_attempt(*regs_.service, service_, mesh::with_check_states(*regs_.service, states));
      log::info("re-registered {} with the current check statuses", regs_.service->service_id);
    }
    if (proxy_ != Presence::present) {
      register_attempt(regs_.proxy, proxy_, mesh::with_check_states(regs_.proxy, states));
      log::info("re-registered {} with the current check statuses", regs_.proxy.service_id);
    }
  } catch (const consul::ApiError& e) {
    if (token_deleted(e)) token_lost_ = true;
    reregister_failures_.failed(e.what());
    return false;
  } catch (const std::exception& e) {
    reregister_failures_.failed(e.what());
    return false;
  }
  reregister_failures_.succeeded();
  sync_->assume(states);
  next_verify_ = Clock::now() + verify_interval_;
  return true;
}

void TaskAgent::verify() {
  next_verify_ = Clock::now() + verify_interval_;
  try {
    const auto answer = consul_->send(mesh::verification_read(regs_));
    const auto result = mesh::verify_checks(answer, sync_->checks(), sync_->statuses());
    verify_failures_.succeeded();
    for (const auto& id : result.drifted) {
      log::warn("check {} has another status in Consul than last written; writing it again", id);
      sync_->invalidate(id);
    }
    if (result.intact()) return;
    for (const auto& check : sync_->checks()) {
      if (std::find(result.missing.begin(), result.missing.end(), check.check_id) == result.missing.end()) continue;
      if (regs_.service && check.service_id == regs_.service->service_id) service_ = Presence::absent;
      if (check.service_id == regs_.proxy.service_id) proxy_ = Presence::absent;
    }
    log::warn("the task's registration is gone from Consul ({} check(s) missing); registering it again",
              result.missing.size());
    update_readiness();
    reregister();
  } catch (const consul::ApiError& e) {
    if (token_deleted(e)) {
      log::warn("the ACL token was deleted from Consul; logging in again");
      token_lost_ = true;
      update_readiness();
      return;
    }
    verify_failures_.failed(e.what());
  } catch (const std::exception& e) {
    verify_failures_.failed(e.what());
  }
}

// ----------------------------------------------------------------- shutdown

bool TaskAgent::critical_done() const {
  if (!sync_) return true;
  if (service_ == Presence::absent && proxy_ == Presence::absent) return true;
  return !sync_->plan_all_critical().has_value();
}

void TaskAgent::try_mark_critical() {
  auto update = sync_->plan_all_critical();
  if (!update || !may_call()) return;
  switch (write_checks(*update, /*quiet=*/true)) {
    case WriteResult::ok:
      log::info("all checks are critical");
      return;
    case WriteResult::lost_token:
      return;
    case WriteResult::failed:
      return;
    case WriteResult::lost_registration:
      break;
  }
  // One of the two registrations is gone; the other may still pass. Write
  // each registration's checks on its own: one that is gone has nothing
  // passing, so it counts as done.
  std::map<std::string, nlohmann::json> by_service;
  for (const auto& check : update->registration["Checks"]) {
    by_service[check.value("ServiceID", "")].push_back(check);
  }
  for (auto& [service_id, checks] : by_service) {
    if (!may_call()) return;
    mesh::HealthSync::Update part;
    part.registration = update->registration;
    part.registration["Checks"] = checks;
    for (const auto& check : checks) part.next[check.value("CheckID", "")] = std::string(mesh::kStatusCritical);
    const auto result = write_checks(part, /*quiet=*/true);
    if (result == WriteResult::ok) {
      if (regs_.service && service_id == regs_.service->service_id) service_ = Presence::present;
      if (service_id == regs_.proxy.service_id) proxy_ = Presence::present;
    }
    if (result == WriteResult::lost_registration) {
      sync_->commit(part);  // nothing of it in Consul: nothing passing
      if (regs_.service && service_id == regs_.service->service_id) service_ = Presence::absent;
      if (service_id == regs_.proxy.service_id) proxy_ = Presence::absent;
      log::info("{} is not in Consul: nothing of it can pass", service_id);
    }
  }
}

void TaskAgent::try_deregister() {
  auto one = [&](Presence& presence, const mesh::Registration& reg) {
    if (presence == Presence::absent || !may_call()) return;
    try {
      consul_->catalog_deregister(regs_.node, reg.service_id, regs_.ns, regs_.partition);
      log::info("deregistered {}", reg.service_id);
      presence = Presence::absent;
    } catch (const consul::ApiError& e) {
      if (token_deleted(e)) {
        if (!token_lost_) log::info("token already deleted; logging in again to remove {}", reg.service_id);
        token_lost_ = true;
      } else if (registration_unknown(e)) {
        log::info("{} is already gone from Consul", reg.service_id);
        presence = Presence::absent;
      } else {
        log::warn("deregistering {} failed: {}", reg.service_id, e.what());
      }
    } catch (const std::exception& e) {
      log::warn("deregistering {} failed: {}", reg.service_id, e.what());
    }
  };
  one(proxy_, regs_.proxy);
  if (regs_.service) one(service_, *regs_.service);
}

void TaskAgent::try_logout() {
  if (!logged_in_ || !may_call()) return;
  try {
    consul_->logout();
    logged_in_ = false;
    log::info("logged out of Consul");
  } catch (const consul::ApiError& e) {
    if (token_deleted(e)) {
      logged_in_ = false;
      token_lost_ = false;
      log::info("token already deleted; nothing to log out");
      return;
    }
    log::warn("logout failed: {}", e.what());
  } catch (const std::exception& e) {
    log::warn("logout failed: {}", e.what());
  }
}

std::string TaskAgent::left_over() const {
  std::vector<std::string> left;
  const bool critical = critical_done();
  auto describe = [&](Presence presence, const std::string& id) {
    if (presence == Presence::absent) return;
    left.push_back(fmt::format("{} {} (checks {})", presence == Presence::present ? "service" : "possibly service", id,
                               critical ? "critical" : "possibly passing"));
  };
  if (regs_.service) describe(service_, regs_.service->service_id);
  describe(proxy_, regs_.proxy.service_id);
  if (logged_in_ && !token_lost_) left.push_back(fmt::format("login token {}", accessor_id_));
  if (token_lost_ && !left.empty()) left.push_back("(the ACL token was deleted and logging in again failed)");
  std::string out;
  for (const auto& item : left) out += (out.empty() ? "" : ", ") + item;
  return out;
}

int TaskAgent::shutdown() {
  if (sync_) sync_->shutdown();
  if (!consul_) return 0;  // never got as far as Consul
  const auto start = Clock::now();
  const auto deadline = start + shutdown_budget_;
  call_deadline_ = deadline;
  bool wait_dataplane = ready_reached_;  // before readiness, no dataplane started
  bool final_round = false;
  auto next_progress = start + kShutdownProgressInterval;
  auto next_relogin = start;
  util::FailureLog metadata_failures("reading task metadata");
  if (wait_dataplane) log::info("shutting down: marking all checks critical");
  while (true) {
    const bool consul_pending =
        !critical_done() || (!wait_dataplane && (service_ != Presence::absent || proxy_ != Presence::absent));
    if (token_lost_ && consul_pending) {
      // Nothing can be removed without a token: log in again (the
      // controller may have deleted it, an operator, or a Consul rebuild).
      // With a static CONSUL_HTTP_TOKEN there is nothing to log in with.
      if (config::login_enabled(cfg_) && Clock::now() >= next_relogin && may_call()) {
        next_relogin = Clock::now() + kRetryInterval;
        try {
          login_once();
          relogin_failures_.succeeded();
        } catch (const std::exception& e) {
          relogin_failures_.failed(e.what());
        }
      }
    } else if (token_lost_) {
      logged_in_ = false;  // nothing left to remove, nothing to log out
    }
    const bool can_call = !token_lost_;
    if (can_call && !critical_done()) try_mark_critical();
    if (wait_dataplane) {
      try {
        task_ = metadata_->fetch_task();
        metadata_failures.succeeded();
        const auto* dataplane = task_.find_container(mesh::kDataplaneContainer);
        if (dataplane == nullptr || dataplane->stopped()) {
          log::info("{} stopped; deregistering", mesh::kDataplaneContainer);
          wait_dataplane = false;
        }
      } catch (const std::exception& e) {
        metadata_failures.failed(e.what());
      }
    }
    if (!wait_dataplane && !token_lost_) {
      try_deregister();
      if (service_ == Presence::absent && proxy_ == Presence::absent && !token_lost_) try_logout();
    }
    const bool done = !wait_dataplane && service_ == Presence::absent && proxy_ == Presence::absent &&
                      (!logged_in_ || token_lost_);
    if (done) {
      if (token_lost_) log::info("token already deleted; nothing to log out");
      return 0;
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      if (wait_dataplane && !final_round) {
        // About to be SIGKILLed: take the task out of Consul now rather
        // than leave it to the controller (one last round of requests).
        log::warn("shutdown budget of {} ms ran out while {} still runs; deregistering now", shutdown_budget_.count(),
                  mesh::kDataplaneContainer);
        wait_dataplane = false;
        final_round = true;
        call_deadline_ = Clock::time_point::max();
        continue;
      }
      log::error("shutdown budget of {} ms ran out; left in Consul: {}", shutdown_budget_.count(), left_over());
      return 1;
    }
    if (now >= next_progress) {
      next_progress = now + kShutdownProgressInterval;
      const std::string left = left_over();
      log::info("shutting down for {} s: waiting for {}{}",
                std::chrono::duration_cast<std::chrono::seconds>(now - start).count(),
                wait_dataplane ? std::string(mesh::kDataplaneContainer) + " to stop" : "Consul",
                left.empty() ? "" : "; still in Consul: " + left);
    }
    const bool consul_waiting = !critical_done() || !wait_dataplane || token_lost_;
    std::this_thread::sleep_for(consul_waiting ? kShutdownRetryInterval : kShutdownPollInterval);
  }
}

}  // namespace

int run_task_agent(config::Config cfg, AgentMode mode, signals::StopFlag& stop) {
  TaskAgent agent(std::move(cfg), mode, stop);
  const int code = agent.run();
  log::debug("{} exits with {}", mode_name(mode), code);
  return code;
}

}  // namespace consulecs::commands
