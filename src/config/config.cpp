#include "config/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "config/json_path.h"
#include "config/schema_validator.h"
#include "util/json_parse.h"

namespace consulecs::config {

extern const std::string_view kSchema073;   // generated from schema/schema-0.7.3.json
extern const std::string_view kSchema0100;  // generated from schema/schema-0.10.0.json

namespace {

using nlohmann::json;

const SchemaValidator& schema073() {
  static const SchemaValidator validator(json::parse(kSchema073));
  return validator;
}

const SchemaValidator& schema0100() {
  static const SchemaValidator validator(json::parse(kSchema0100));
  return validator;
}

const SchemaValidator& schema_validator(SchemaVersion v) {
  return v == SchemaVersion::k0_10_0 ? schema0100() : schema073();
}

// Converts validated JSON into the typed structs. The reference unmarshals
// with Go's encoding/json after schema validation, which adds checks of its
// own: fields the schema leaves untyped (healthCheckPort, the whole `expose`
// block) must still fit their Go type, and an integer field rejects 1.0 or
// 1e3 even though the schema calls them integers. Absent and null both leave
// the zero value, as in Go. Problems are collected, not thrown.
class Reader {
 public:
  struct Member {
    const json* value = nullptr;  // nullptr when absent, null or of the wrong type
    std::string path;
    explicit operator bool() const { return value != nullptr; }
    const json& operator*() const { return *value; }
  };

  std::vector<ValidationError> errors;

  // Like Go's decoder, falls back to a case-insensitive key match when the
  // exact key is absent (ASCII folding only). This only matters in objects
  // the schema leaves open, such as proxy or consulServers.http.
  static Member member(const json& obj, std::string_view key, const std::string& path) {
    auto it = obj.find(std::string(key));
    for (auto i = obj.begin(); it == obj.end() && i != obj.end(); ++i) {
      if (std::equal(key.begin(), key.end(), i.key().begin(), i.key().end(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          })) {
        it = i;
      }
    }
    if (it == obj.end() || it->is_null()) return {};
    return {&*it, path_key(path, it.key())};
  }

  Member object(const json& obj, std::string_view key, const std::string& path) {
    return typed(obj, key, path, json::value_t::object, "object");
  }

  Member array(const json& obj, std::string_view key, const std::string& path) {
    return typed(obj, key, path, json::value_t::array, "array");
  }

  std::optional<std::string> string(const json& obj, std::string_view key, const std::string& path) {
    const Member m = typed(obj, key, path, json::value_t::string, "string");
    return m ? std::optional((*m).get<std::string>()) : std::nullopt;
  }

  std::optional<bool> boolean(const json& obj, std::string_view key, const std::string& path) {
    const Member m = typed(obj, key, path, json::value_t::boolean, "boolean");
    return m ? std::optional((*m).get<bool>()) : std::nullopt;
  }

  std::optional<std::int64_t> integer(const json& obj, std::string_view key, const std::string& path) {
    return integer(member(obj, key, path));
  }

  std::optional<int> port(const json& obj, std::string_view key, const std::string& path) {
    const Member m = member(obj, key, path);
    const auto value = integer(m);
    if (value && (*value < 0 || *value > 65535)) {
      fail(m.path, fmt::format("must be a port number between 0 and 65535, got {}", *value));
      return std::nullopt;
    }
    return value ? std::optional(static_cast<int>(*value)) : std::nullopt;
  }

  // Go's uint32: anything outside 0..4294967295 does not unmarshal.
  std::optional<std::uint32_t> uint32(const json& obj, std::string_view key, const std::string& path) {
    const Member m = member(obj, key, path);
    const auto value = integer(m);
    if (value && (*value < 0 || *value > std::numeric_limits<std::uint32_t>::max())) {
      fail(m.path, fmt::format("must be between 0 and {}, got {}", std::numeric_limits<std::uint32_t>::max(), *value));
      return std::nullopt;
    }
    return value ? std::optional(static_cast<std::uint32_t>(*value)) : std::nullopt;
  }

  // A list of port numbers (transparentProxy.exclude*Ports). Go takes any
  // int; we also require 0..65535, as for every other port field.
  std::vector<int> ports(const json& obj, std::string_view key, const std::string& path) {
    std::vector<int> out;
    if (const Member list = array(obj, key, path)) {
      for (std::size_t i = 0; i < (*list).size(); ++i) {
        const Member item{&(*list)[i], path_index(list.path, i)};
        const auto value = integer(item);
        if (value && (*value < 0 || *value > 65535)) {
          fail(item.path, fmt::format("must be a port number between 0 and 65535, got {}", *value));
        } else if (value) {
          out.push_back(static_cast<int>(*value));
        }
      }
    }
    return out;
  }

  std::vector<std::string> strings(const json& obj, std::string_view key, const std::string& path) {
    std::vector<std::string> out;
    if (const Member list = array(obj, key, path)) {
      for (std::size_t i = 0; i < (*list).size(); ++i) {
        if (const json& item = (*list)[i]; item.is_string()) {
          out.push_back(item.get<std::string>());
        } else {
          fail(path_index(list.path, i), fmt::format("must be string, got {}", json_type_name(item)));
        }
      }
    }
    return out;
  }

  StringMap string_map(const json& obj, std::string_view key, const std::string& path) {
    StringMap out;
    if (const Member map = object(obj, key, path)) {
      for (const auto& [k, v] : (*map).items()) {
        if (v.is_string()) {
          out.emplace(k, v.get<std::string>());
        } else {
          fail(path_key(map.path, k), fmt::format("must be string, got {}", json_type_name(v)));
        }
      }
    }
    return out;
  }

  std::optional<json> opaque(const json& obj, std::string_view key, const std::string& path) {
    const Member m = object(obj, key, path);
    return m ? std::optional(*m) : std::nullopt;
  }

  void fail(std::string path, std::string message) { errors.push_back({std::move(path), std::move(message)}); }

 private:
  Member typed(const json& obj, std::string_view key, const std::string& path, json::value_t type,
               std::string_view type_name) {
    Member m = member(obj, key, path);
    if (m && (*m).type() != type) {
      fail(m.path, fmt::format("must be {}, got {}", type_name, json_type_name(*m)));
      return {};
    }
    return m;
  }

  std::optional<std::int64_t> integer(const Member& m) {
    if (!m) return std::nullopt;
    const json& v = *m;
    if (v.is_number_unsigned()) {
      if (v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return static_cast<std::int64_t>(v.get<std::uint64_t>());
      }
      fail(m.path, fmt::format("is too large, got {}", v.dump()));
    } else if (v.is_number_integer()) {
      return v.get<std::int64_t>();
    } else if (v.is_number_float()) {
      fail(m.path, fmt::format("must be an integer written without fraction or exponent, got {}", v.dump()));
    } else {
      fail(m.path, fmt::format("must be integer, got {}", json_type_name(v)));
    }
    return std::nullopt;
  }
};

ConsulLogin read_login(Reader& r, const json& j, const std::string& p) {
  ConsulLogin out;
  out.enabled = r.boolean(j, "enabled", p);
  out.method = r.string(j, "method", p);
  out.datacenter = r.string(j, "datacenter", p);
  out.include_entity = r.boolean(j, "includeEntity", p);
  out.meta = r.string_map(j, "meta", p);
  out.region = r.string(j, "region", p);
  out.sts_endpoint = r.string(j, "stsEndpoint", p);
  out.server_id_header_value = r.string(j, "serverIdHeaderValue", p);
  return out;
}

Controller read_controller(Reader& r, const json& j, const std::string& p) {
  return Controller{r.string(j, "iamRolePath", p), r.boolean(j, "partitionsEnabled", p), r.string(j, "partition", p)};
}

ConsulServers read_servers(Reader& r, const json& j, const std::string& p) {
  ConsulServers out;
  out.hosts = r.string(j, "hosts", p).value_or("");
  out.skip_server_watch = r.boolean(j, "skipServerWatch", p);
  if (const auto d = r.object(j, "defaults", p)) {
    out.defaults = TlsDefaults{r.string(*d, "caCertFile", d.path), r.boolean(*d, "tls", d.path),
                               r.string(*d, "tlsServerName", d.path)};
  }
  if (const auto h = r.object(j, "http", p)) {
    out.http = HttpSettings{r.string(*h, "caCertFile", h.path), r.boolean(*h, "https", h.path),
                            r.port(*h, "port", h.path), r.boolean(*h, "tls", h.path),
                            r.string(*h, "tlsServerName", h.path)};
  }
  if (const auto g = r.object(j, "grpc", p)) {
    out.grpc = GrpcSettings{r.string(*g, "caCertFile", g.path), r.port(*g, "port", g.path),
                            r.boolean(*g, "tls", g.path), r.string(*g, "tlsServerName", g.path)};
  }
  return out;
}

Service read_service(Reader& r, const json& j, const std::string& p) {
  Service out;
  out.name = r.string(j, "name", p);
  out.tags = r.strings(j, "tags", p);
  out.port = r.port(j, "port", p).value_or(0);
  out.enable_tag_override = r.boolean(j, "enableTagOverride", p);
  out.meta = r.string_map(j, "meta", p);
  if (const auto w = r.object(j, "weights", p)) {
    out.weights = Weights{r.integer(*w, "passing", w.path).value_or(0), r.integer(*w, "warning", w.path).value_or(0)};
  }
  out.namespace_ = r.string(j, "namespace", p);
  out.partition = r.string(j, "partition", p);
  if (const auto n = r.object(j, "networkResilienceConfig", p)) {
    NetworkResilience nr;
    nr.enabled = r.boolean(*n, "enabled", n.path).value_or(false);
    if (const auto o = r.object(*n, "outlierDetection", n.path)) {
      OutlierDetection od;
      od.interval_ns = r.integer(*o, "interval", o.path);
      od.max_failures = r.uint32(*o, "maxFailures", o.path);
      od.enforcing_consecutive_5xx = r.uint32(*o, "enforcingConsecutive5xx", o.path);
      od.consecutive_5xx = r.uint32(*o, "consecutive5xx", o.path);
      od.enforcing_consecutive_gateway_failure = r.uint32(*o, "enforcingConsecutiveGatewayFailure", o.path);
      od.consecutive_gateway_failure = r.uint32(*o, "consecutiveGatewayFailure", o.path);
      od.max_ejection_percent = r.uint32(*o, "maxEjectionPercent", o.path);
      nr.outlier_detection = od;
    }
    out.network_resilience = nr;
  }
  return out;
}

TransparentProxy read_transparent_proxy(Reader& r, const json& j, const std::string& p) {
  TransparentProxy out;
  out.enabled = r.boolean(j, "enabled", p);
  out.exclude_inbound_ports = r.ports(j, "excludeInboundPorts", p);
  out.exclude_outbound_ports = r.ports(j, "excludeOutboundPorts", p);
  out.exclude_outbound_cidrs = r.strings(j, "excludeOutboundCIDRs", p);
  out.exclude_uids = r.strings(j, "excludeUIDs", p);
  if (const auto d = r.object(j, "consulDNS", p)) out.consul_dns = ConsulDns{r.boolean(*d, "enabled", d.path)};
  return out;
}

std::optional<MeshGateway> read_mesh_gateway(Reader& r, const json& j, const std::string& p) {
  const auto m = r.object(j, "meshGateway", p);
  if (!m) return std::nullopt;
  return MeshGateway{r.string(*m, "mode", m.path).value_or("")};
}

Upstream read_upstream(Reader& r, const json& j, const std::string& p) {
  Upstream out;
  out.destination_type = r.string(j, "destinationType", p);
  out.destination_namespace = r.string(j, "destinationNamespace", p);
  out.destination_partition = r.string(j, "destinationPartition", p);
  out.destination_name = r.string(j, "destinationName", p).value_or("");
  out.destination_peer = r.string(j, "destinationPeer", p);
  out.datacenter = r.string(j, "datacenter", p);
  out.local_bind_address = r.string(j, "localBindAddress", p);
  out.local_bind_port = r.port(j, "localBindPort", p).value_or(0);
  out.config = r.opaque(j, "config", p);
  out.mesh_gateway = read_mesh_gateway(r, j, p);
  return out;
}

// `expose` is not described by the schema (its definition sits beside
// proxy.properties), so every type check here is ours, mirroring Go's.
Expose read_expose(Reader& r, const json& j, const std::string& p) {
  Expose out;
  out.checks = r.boolean(j, "checks", p).value_or(false);
  if (const auto paths = r.array(j, "paths", p)) {
    for (std::size_t i = 0; i < (*paths).size(); ++i) {
      const json& item = (*paths)[i];
      const std::string ip = path_index(paths.path, i);
      if (item.is_null()) {
        out.paths.emplace_back();
      } else if (!item.is_object()) {
        r.fail(ip, fmt::format("must be object, got {}", json_type_name(item)));
      } else {
        out.paths.push_back(
            ExposePath{r.port(item, "listenerPort", ip).value_or(0), r.string(item, "path", ip).value_or(""),
                       r.port(item, "localPathPort", ip).value_or(0), r.string(item, "protocol", ip).value_or("")});
      }
    }
  }
  return out;
}

Proxy read_proxy(Reader& r, const json& j, const std::string& p) {
  Proxy out;
  out.config = r.opaque(j, "config", p);
  out.local_service_address = r.string(j, "localServiceAddress", p);
  if (out.local_service_address && out.local_service_address->empty()) out.local_service_address.reset();
  out.public_listener_port = r.port(j, "publicListenerPort", p);
  out.health_check_port = r.port(j, "healthCheckPort", p);
  if (const auto ups = r.array(j, "upstreams", p)) {
    for (std::size_t i = 0; i < (*ups).size(); ++i) {
      if (const json& item = (*ups)[i]; item.is_object()) {
        out.upstreams.push_back(read_upstream(r, item, path_index(ups.path, i)));
      } else {
        r.fail(path_index(ups.path, i), fmt::format("must be object, got {}", json_type_name(item)));
      }
    }
  }
  out.mesh_gateway = read_mesh_gateway(r, j, p);
  if (const auto e = r.object(j, "expose", p)) out.expose = read_expose(r, *e, e.path);
  return out;
}

std::optional<GatewayAddress> read_gateway_address(Reader& r, const json& j, std::string_view key,
                                                   const std::string& p) {
  const auto a = r.object(j, key, p);
  if (!a) return std::nullopt;
  return GatewayAddress{r.string(*a, "address", a.path), r.port(*a, "port", a.path)};
}

Gateway read_gateway(Reader& r, const json& j, const std::string& p) {
  Gateway out;
  out.kind = r.string(j, "kind", p).value_or("");
  out.lan_address = read_gateway_address(r, j, "lanAddress", p);
  out.wan_address = read_gateway_address(r, j, "wanAddress", p);
  out.name = r.string(j, "name", p);
  out.tags = r.strings(j, "tags", p);
  out.meta = r.string_map(j, "meta", p);
  out.namespace_ = r.string(j, "namespace", p);
  out.partition = r.string(j, "partition", p);
  out.health_check_port = r.port(j, "healthCheckPort", p);
  if (const auto gp = r.object(j, "proxy", p)) out.proxy = GatewayProxy{r.opaque(*gp, "config", gp.path)};
  return out;
}

Config read_config(Reader& r, const json& j) {
  Config out;
  out.log_level = r.string(j, "logLevel", "");
  out.bootstrap_dir = r.string(j, "bootstrapDir", "").value_or("");
  if (const auto v = r.object(j, "consulLogin", "")) out.consul_login = read_login(r, *v, v.path);
  if (const auto v = r.object(j, "controller", "")) out.controller = read_controller(r, *v, v.path);
  if (const auto v = r.object(j, "consulServers", "")) out.consul_servers = read_servers(r, *v, v.path);
  out.health_sync_containers = r.strings(j, "healthSyncContainers", "");
  if (const auto v = r.object(j, "service", "")) out.service = read_service(r, *v, v.path);
  if (const auto v = r.object(j, "proxy", "")) out.proxy = read_proxy(r, *v, v.path);
  if (const auto v = r.object(j, "gateway", "")) out.gateway = read_gateway(r, *v, v.path);
  if (const auto v = r.object(j, "transparentProxy", "")) out.transparent_proxy = read_transparent_proxy(r, *v, v.path);
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string non_empty_or(const std::optional<std::string>& value, std::string_view fallback) {
  return value && !value->empty() ? *value : std::string(fallback);
}

TlsSettings resolve_tls(const ConsulServers& s, const std::optional<bool>& tls,
                        const std::optional<std::string>& ca_cert_file, const std::optional<std::string>& server_name) {
  const TlsDefaults defaults = s.defaults.value_or(TlsDefaults{});
  return TlsSettings{tls.value_or(defaults.tls.value_or(true)),
                     non_empty_or(ca_cert_file, defaults.ca_cert_file.value_or("")),
                     non_empty_or(server_name, defaults.tls_server_name.value_or(""))};
}

int port_or(const std::optional<int>& port, int fallback) { return port && *port != 0 ? *port : fallback; }

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> errors)
    : std::runtime_error(join_lines(errors)), errors_(std::move(errors)) {}

std::string_view schema_version_name(SchemaVersion v) { return v == SchemaVersion::k0_10_0 ? "0.10.0" : "0.7.3"; }

Config load_config(std::string_view json_text, SchemaVersion schema) {
  json doc;
  try {
    doc = util::parse_json(json_text, "config");
  } catch (const util::JsonParseError& e) {
    throw ConfigError({e.detail()});
  }

  std::vector<ValidationError> errors = schema_validator(schema).validate(doc);
  Reader reader;
  Config cfg = doc.is_object() ? read_config(reader, doc) : Config{};
  cfg.schema = schema;
  for (auto& e : reader.errors) {
    const bool known = std::any_of(errors.begin(), errors.end(),
                                   [&](const ValidationError& s) { return path_within(e.path, s.path); });
    if (!known) errors.push_back(std::move(e));
  }
  if (!errors.empty()) {
    // Sorted by path so related problems sit together, whichever pass found them.
    std::stable_sort(errors.begin(), errors.end(),
                     [](const ValidationError& a, const ValidationError& b) { return a.path < b.path; });
    std::vector<std::string> messages;
    for (const auto& e : errors) messages.push_back(e.to_string());
    throw ConfigError(std::move(messages));
  }
  return cfg;
}

Config load_config_from_env_or_file(const std::string& file_path, SchemaVersion schema) {
  if (!file_path.empty()) {
    if (std::error_code ec; std::filesystem::is_directory(file_path, ec)) {
      throw ConfigError({fmt::format("cannot read config file {}: is a directory", file_path)});
    }
    std::ifstream in(file_path, std::ios::binary);
    if (!in) throw ConfigError({fmt::format("cannot read config file {}: {}", file_path, std::strerror(errno))});
    std::ostringstream text;
    text << in.rdbuf();
    return load_config(text.str(), schema);
  }
  const char* env = std::getenv(std::string(kConfigEnvVar).c_str());
  if (env == nullptr || *env == '\0') {
    throw ConfigError(
        {fmt::format("no configuration: set the {} environment variable or pass -config-file", kConfigEnvVar)});
  }
  return load_config(env, schema);
}

std::string log_level(const Config& cfg) { return non_empty_or(cfg.log_level, kDefaultLogLevel); }

bool login_enabled(const Config& cfg) { return cfg.consul_login && cfg.consul_login->enabled.value_or(false); }

std::string login_method(const Config& cfg) {
  return non_empty_or(cfg.consul_login ? cfg.consul_login->method : std::nullopt, kDefaultAuthMethod);
}

bool login_include_entity(const Config& cfg) {
  return !cfg.consul_login || cfg.consul_login->include_entity.value_or(true);
}

std::string iam_role_path(const Config& cfg) {
  return non_empty_or(cfg.controller ? cfg.controller->iam_role_path : std::nullopt, kDefaultIamRolePath);
}

bool partitions_enabled(const Config& cfg) {
  return cfg.controller && cfg.controller->partitions_enabled.value_or(false);
}

std::string controller_partition(const Config& cfg) {
  return non_empty_or(cfg.controller ? cfg.controller->partition : std::nullopt, kDefaultPartition);
}

TlsSettings http_tls(const Config& cfg) {
  const auto& s = cfg.consul_servers;
  const HttpSettings h = s.http.value_or(HttpSettings{});
  return resolve_tls(s, h.tls, h.ca_cert_file, h.tls_server_name);
}

TlsSettings grpc_tls(const Config& cfg) {
  const auto& s = cfg.consul_servers;
  const GrpcSettings g = s.grpc.value_or(GrpcSettings{});
  return resolve_tls(s, g.tls, g.ca_cert_file, g.tls_server_name);
}

bool https(const Config& cfg) {
  const auto& h = cfg.consul_servers.http;
  return !h || h->https.value_or(true);
}

// An explicit 0 is kept, as the reference does for these two ports.
int http_port(const Config& cfg) {
  const auto& h = cfg.consul_servers.http;
  return h && h->port ? *h->port : kDefaultHttpPort;
}

int grpc_port(const Config& cfg) {
  const auto& g = cfg.consul_servers.grpc;
  return g && g->port ? *g->port : kDefaultGrpcPort;
}

bool skip_server_watch(const Config& cfg) { return cfg.consul_servers.skip_server_watch.value_or(false); }

bool is_gateway(const Config& cfg) { return cfg.gateway && !cfg.gateway->kind.empty(); }

std::string service_name(const Config& cfg, std::string_view task_family) {
  return non_empty_or(cfg.service ? cfg.service->name : std::nullopt, lower(task_family));
}

std::string gateway_name(const Config& cfg, std::string_view task_family) {
  return non_empty_or(cfg.gateway ? cfg.gateway->name : std::nullopt, lower(task_family));
}

std::string registration_namespace(const Config& cfg) {
  if (is_gateway(cfg)) return cfg.gateway->namespace_.value_or("");
  return cfg.service ? cfg.service->namespace_.value_or("") : "";
}

std::string registration_partition(const Config& cfg) {
  if (is_gateway(cfg)) return cfg.gateway->partition.value_or("");
  return cfg.service ? cfg.service->partition.value_or("") : "";
}

int public_listener_port(const Config& cfg) {
  return port_or(cfg.proxy ? cfg.proxy->public_listener_port : std::nullopt, kDefaultPublicListenerPort);
}

int proxy_health_check_port(const Config& cfg) {
  return port_or(cfg.proxy ? cfg.proxy->health_check_port : std::nullopt, kDefaultHealthCheckPort);
}

int gateway_health_check_port(const Config& cfg) {
  return port_or(cfg.gateway ? cfg.gateway->health_check_port : std::nullopt, kDefaultHealthCheckPort);
}

bool transparent_proxy_enabled(const Config& cfg) {
  if (cfg.schema != SchemaVersion::k0_10_0 || is_gateway(cfg)) return false;
  return !cfg.transparent_proxy || cfg.transparent_proxy->enabled.value_or(true);
}

bool consul_dns_enabled(const Config& cfg) {
  return transparent_proxy_enabled(cfg) && cfg.transparent_proxy && cfg.transparent_proxy->consul_dns &&
         cfg.transparent_proxy->consul_dns->enabled.value_or(false);
}

bool network_resilience_enabled(const Config& cfg) {
  return cfg.schema == SchemaVersion::k0_10_0 && cfg.service && cfg.service->network_resilience &&
         cfg.service->network_resilience->enabled;
}

OutlierDetection outlier_detection(const Config& cfg) {
  const std::optional<OutlierDetection>& given = cfg.service && cfg.service->network_resilience
                                                     ? cfg.service->network_resilience->outlier_detection
                                                     : std::nullopt;
  if (!given) {
    OutlierDetection out;
    out.interval_ns = kDefaultOutlierIntervalNs;
    out.max_failures = kDefaultOutlierMaxFailures;
    out.enforcing_consecutive_gateway_failure = kDefaultOutlierEnforcingGatewayFailure;
    out.max_ejection_percent = kDefaultOutlierMaxEjectionPercent;
    return out;
  }
  OutlierDetection out = *given;
  if (!out.enforcing_consecutive_gateway_failure) {
    out.enforcing_consecutive_gateway_failure = kDefaultOutlierEnforcingGatewayFailure;
  }
  if (!out.max_ejection_percent) out.max_ejection_percent = kDefaultOutlierMaxEjectionPercent;
  return out;
}

}  // namespace consulecs::config
