#pragma once
// The consul-ecs configuration (CONSUL_ECS_CONFIG_JSON), for both official
// generations: the v0.7.3 schema (control-plane) and the v0.10.0 schema
// (mesh-init, health-sync, controller), which adds transparentProxy,
// service.networkResilienceConfig and two gateway kinds.
//
// Fields mirror the JSON schema one to one (camelCase -> snake_case). A field
// that may be absent or null is a std::optional (or an empty container); the
// effective defaults live in the resolver functions at the bottom, so callers
// never hard-code them. docs/config-reference.md describes every field.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace consulecs::config {

inline constexpr std::string_view kConfigEnvVar = "CONSUL_ECS_CONFIG_JSON";

inline constexpr std::string_view kDefaultLogLevel = "INFO";
inline constexpr std::string_view kDefaultAuthMethod = "iam-ecs-service-token";
inline constexpr std::string_view kDefaultIamRolePath = "/consul-ecs/";
inline constexpr std::string_view kDefaultPartition = "default";
inline constexpr int kDefaultHttpPort = 8501;
inline constexpr int kDefaultGrpcPort = 8503;
inline constexpr int kDefaultPublicListenerPort = 20000;
inline constexpr int kDefaultHealthCheckPort = 22000;
inline constexpr int kDefaultGatewayPort = 8443;  // lanAddress/wanAddress port when unset or 0

// Outlier detection defaults of v0.10.0 (service.networkResilienceConfig).
inline constexpr std::int64_t kDefaultOutlierIntervalNs = 10'000'000'000;  // 10 s
inline constexpr std::uint32_t kDefaultOutlierMaxFailures = 5;
inline constexpr std::uint32_t kDefaultOutlierEnforcingGatewayFailure = 100;
inline constexpr std::uint32_t kDefaultOutlierMaxEjectionPercent = 50;

// Which reference schema a command accepts. Each command accepts exactly one.
enum class SchemaVersion {
  k0_7_3,   // control-plane
  k0_10_0,  // mesh-init, health-sync, controller
};
std::string_view schema_version_name(SchemaVersion v);  // "0.7.3" / "0.10.0"

using StringMap = std::map<std::string, std::string>;

struct ConsulLogin {
  std::optional<bool> enabled;
  std::optional<std::string> method;
  std::optional<std::string> datacenter;
  std::optional<bool> include_entity;
  StringMap meta;
  std::optional<std::string> region;
  std::optional<std::string> sts_endpoint;
  std::optional<std::string> server_id_header_value;
};

struct Controller {
  std::optional<std::string> iam_role_path;
  std::optional<bool> partitions_enabled;
  std::optional<std::string> partition;
};

struct TlsDefaults {
  std::optional<std::string> ca_cert_file;
  std::optional<bool> tls;
  std::optional<std::string> tls_server_name;
};

struct HttpSettings {
  std::optional<std::string> ca_cert_file;
  std::optional<bool> https;
  std::optional<int> port;
  std::optional<bool> tls;
  std::optional<std::string> tls_server_name;
};

struct GrpcSettings {
  std::optional<std::string> ca_cert_file;
  std::optional<int> port;
  std::optional<bool> tls;
  std::optional<std::string> tls_server_name;
};

struct ConsulServers {
  std::string hosts;  // IP, DNS name or "exec=<command>"
  std::optional<TlsDefaults> defaults;
  std::optional<HttpSettings> http;
  std::optional<GrpcSettings> grpc;
  std::optional<bool> skip_server_watch;
};

struct Weights {
  std::int64_t passing = 0;
  std::int64_t warning = 0;
};

// service.networkResilienceConfig.outlierDetection (v0.10). Unset fields
// are Go's zero values; see outlier_detection() for the effective settings.
struct OutlierDetection {
  std::optional<std::int64_t> interval_ns;  // nanoseconds, as Go's time.Duration
  std::optional<std::uint32_t> max_failures;
  std::optional<std::uint32_t> enforcing_consecutive_5xx;
  std::optional<std::uint32_t> consecutive_5xx;
  std::optional<std::uint32_t> enforcing_consecutive_gateway_failure;
  std::optional<std::uint32_t> consecutive_gateway_failure;
  std::optional<std::uint32_t> max_ejection_percent;
};

struct NetworkResilience {
  bool enabled = false;
  std::optional<OutlierDetection> outlier_detection;
};

struct Service {
  std::optional<std::string> name;  // empty or unset: see service_name()
  std::vector<std::string> tags;
  int port = 0;
  std::optional<bool> enable_tag_override;
  StringMap meta;
  std::optional<Weights> weights;
  std::optional<std::string> namespace_;
  std::optional<std::string> partition;
  std::optional<NetworkResilience> network_resilience;  // v0.10: networkResilienceConfig
};

struct MeshGateway {
  std::string mode;  // "none", "local" or "remote"
};

struct Upstream {
  std::optional<std::string> destination_type;  // "service" or "prepared_query"
  std::optional<std::string> destination_namespace;
  std::optional<std::string> destination_partition;
  std::string destination_name;
  std::optional<std::string> destination_peer;
  std::optional<std::string> datacenter;
  std::optional<std::string> local_bind_address;
  int local_bind_port = 0;
  std::optional<nlohmann::json> config;  // opaque object, passed through to Consul
  std::optional<MeshGateway> mesh_gateway;
};

struct ExposePath {
  int listener_port = 0;
  std::string path;
  int local_path_port = 0;
  std::string protocol;
};

struct Expose {
  bool checks = false;
  std::vector<ExposePath> paths;
};

struct Proxy {
  std::optional<nlohmann::json> config;              // opaque object, passed through to Consul
  std::optional<std::string> local_service_address;  // never empty: "" reads as unset
  std::optional<int> public_listener_port;
  std::optional<int> health_check_port;
  std::vector<Upstream> upstreams;
  std::optional<MeshGateway> mesh_gateway;
  std::optional<Expose> expose;
};

struct GatewayAddress {
  std::optional<std::string> address;
  std::optional<int> port;
};

struct GatewayProxy {
  std::optional<nlohmann::json> config;
};

struct Gateway {
  std::string kind;  // "mesh-gateway"; v0.10 also "terminating-gateway", "api-gateway"
  std::optional<GatewayAddress> lan_address;
  std::optional<GatewayAddress> wan_address;
  std::optional<std::string> name;  // empty or unset: see gateway_name()
  std::vector<std::string> tags;
  StringMap meta;
  std::optional<std::string> namespace_;
  std::optional<std::string> partition;
  std::optional<int> health_check_port;
  std::optional<GatewayProxy> proxy;
};

struct ConsulDns {
  std::optional<bool> enabled;
};

// transparentProxy (v0.10). enabled unset or null means true.
struct TransparentProxy {
  std::optional<bool> enabled;
  std::vector<int> exclude_inbound_ports;
  std::vector<int> exclude_outbound_ports;
  std::vector<std::string> exclude_outbound_cidrs;
  std::vector<std::string> exclude_uids;
  std::optional<ConsulDns> consul_dns;
};

struct Config {
  SchemaVersion schema = SchemaVersion::k0_7_3;  // the schema it was validated against
  std::optional<std::string> log_level;
  std::string bootstrap_dir;
  std::optional<ConsulLogin> consul_login;
  std::optional<Controller> controller;
  ConsulServers consul_servers;
  std::vector<std::string> health_sync_containers;
  std::optional<Service> service;
  std::optional<Proxy> proxy;
  std::optional<Gateway> gateway;
  std::optional<TransparentProxy> transparent_proxy;  // v0.10 only
};

// A configuration that cannot be used. errors() holds one message per
// problem ("service.name: must be ..."); what() joins them one per line.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> errors);
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

// Parses, validates against the embedded schema of `schema`, and converts.
// Throws ConfigError listing every problem found.
Config load_config(std::string_view json_text, SchemaVersion schema = SchemaVersion::k0_7_3);

// Reads file_path when it is non-empty, else the CONSUL_ECS_CONFIG_JSON
// environment variable. Throws ConfigError when neither is available.
Config load_config_from_env_or_file(const std::string& file_path, SchemaVersion schema = SchemaVersion::k0_7_3);

// ---- Effective values, applying the reference's defaults ----

struct TlsSettings {
  bool enabled = true;
  std::string ca_cert_file;
  std::string server_name;
};

std::string log_level(const Config& cfg);  // "INFO" when unset

bool login_enabled(const Config& cfg);
std::string login_method(const Config& cfg);  // "iam-ecs-service-token" when unset or empty
bool login_include_entity(const Config& cfg);

std::string iam_role_path(const Config& cfg);  // "/consul-ecs/" when unset or empty
bool partitions_enabled(const Config& cfg);
std::string controller_partition(const Config& cfg);  // "default" when unset or empty

// consulServers.http / .grpc settings, falling back to consulServers.defaults.
TlsSettings http_tls(const Config& cfg);
TlsSettings grpc_tls(const Config& cfg);
bool https(const Config& cfg);  // true unless http.https is false
int http_port(const Config& cfg);
int grpc_port(const Config& cfg);
bool skip_server_watch(const Config& cfg);

// True when the task runs a gateway instead of a service + sidecar.
bool is_gateway(const Config& cfg);

// service.name / gateway.name, or the lower-cased task family when empty.
std::string service_name(const Config& cfg, std::string_view task_family);
std::string gateway_name(const Config& cfg, std::string_view task_family);

// Namespace and partition of the registration: the gateway's for a gateway
// task, else the service's. Empty when unset.
std::string registration_namespace(const Config& cfg);
std::string registration_partition(const Config& cfg);

int public_listener_port(const Config& cfg);       // 20000 when unset or 0
int proxy_health_check_port(const Config& cfg);    // 22000 when unset or 0
int gateway_health_check_port(const Config& cfg);  // 22000 when unset or 0

// ---- v0.10 (always off for a config validated against v0.7.3) ----

// transparentProxy.enabled, true when unset or null (also when the whole
// block is absent), and never for a gateway task.
bool transparent_proxy_enabled(const Config& cfg);
// transparentProxy.consulDNS.enabled; needs the transparent proxy.
bool consul_dns_enabled(const Config& cfg);
// service.networkResilienceConfig.enabled.
bool network_resilience_enabled(const Config& cfg);

// The passive health check settings mesh-init writes, with the reference's
// defaults: no outlierDetection block -> interval 10 s, maxFailures 5,
// enforcingConsecutiveGatewayFailure 100, maxEjectionPercent 50; a block ->
// its values, with only enforcingConsecutiveGatewayFailure (100) and
// maxEjectionPercent (50) filled in when unset.
OutlierDetection outlier_detection(const Config& cfg);

}  // namespace consulecs::config
