#include "mesh/registration.h"

#include <fmt/format.h>

namespace consulecs::mesh {
namespace {

using nlohmann::json;

void set_if(json& object, const char* key, const std::optional<std::string>& value) {
  if (value && !value->empty()) object[key] = *value;
}

json node_meta() { return {{"synthetic-node", "true"}}; }

json merged_meta(const ecs::TaskMetadata& task, const config::StringMap& user_meta) {
  json meta = json::object();
  for (const auto& [key, value] : user_meta) meta[key] = value;
  // consul-ecs's own keys win: the controller relies on them.
  meta["task-id"] = task.task_id();
  meta["task-arn"] = task.task_arn;
  meta["source"] = "consul-ecs";
  return meta;
}

json locality(const ecs::TaskMetadata& task) {
  json loc = {{"Region", task.region()}};
  if (!task.availability_zone.empty()) loc["Zone"] = task.availability_zone;
  return loc;
}

json upstream_payload(const config::Upstream& upstream) {
  json out = {{"DestinationName", upstream.destination_name}, {"LocalBindPort", upstream.local_bind_port}};
  set_if(out, "DestinationType", upstream.destination_type);
  set_if(out, "DestinationNamespace", upstream.destination_namespace);
  set_if(out, "DestinationPartition", upstream.destination_partition);
  set_if(out, "DestinationPeer", upstream.destination_peer);
  set_if(out, "Datacenter", upstream.datacenter);
  set_if(out, "LocalBindAddress", upstream.local_bind_address);
  if (upstream.config && !upstream.config->is_null()) out["Config"] = *upstream.config;
  if (upstream.mesh_gateway) out["MeshGateway"] = {{"Mode", upstream.mesh_gateway->mode}};
  return out;
}

SyncedCheck make_check(const std::string& svc_id, const std::string& svc_name, const std::string& container,
                       const std::string& ns, bool dataplane) {
  SyncedCheck check;
  check.check_id = check_id(svc_id, container);
  check.name = std::string(dataplane ? kDataplaneCheckName : kSyncedCheckName);
  check.service_id = svc_id;
  check.service_name = svc_name;
  check.container = container;
  check.ns = ns;
  check.notes = dataplane ? "consul-ecs created and updates this check to indicate consul-dataplane container's readiness"
                          : fmt::format("consul-ecs created and updates this check because the {} container has an "
                                        "ECS health check.",
                                        container);
  return check;
}

json checks_payload(const std::vector<SyncedCheck>& checks) {
  json out = json::array();
  for (const auto& check : checks) {
    out.push_back(check_payload(check, kStatusCritical, fmt::format("Service {} is not ready", check.service_name)));
  }
  return out;
}

json registration_body(const TaskRegistrations& regs, json service, const std::vector<SyncedCheck>& checks) {
  json body = {{"Node", regs.node},       {"NodeMeta", node_meta()},         {"Address", regs.node_address},
               {"Service", std::move(service)}, {"Checks", checks_payload(checks)}, {"SkipNodeUpdate", true}};
  if (!regs.partition.empty()) body["Partition"] = regs.partition;
  return body;
}

json gateway_address(const config::GatewayAddress& address, int default_port) {
  const int port = address.port.value_or(0) > 0 ? *address.port : default_port;
  return {{"Address", address.address.value_or("")}, {"Port", port}};
}

}  // namespace

std::string service_id(const std::string& service_name, const std::string& task_id) {
  return service_name + "-" + task_id;
}

std::string check_id(const std::string& svc_id, const std::string& container) { return svc_id + "-" + container; }

std::vector<SyncedCheck> TaskRegistrations::all_checks() const {
  std::vector<SyncedCheck> all;
  if (service) all.insert(all.end(), service->checks.begin(), service->checks.end());
  all.insert(all.end(), proxy.checks.begin(), proxy.checks.end());
  return all;
}

TaskRegistrations build_registrations(const config::Config& cfg, const ecs::TaskMetadata& task) {
  TaskRegistrations regs;
  regs.node = task.cluster_arn();
  regs.node_address = task.node_ip();
  regs.ns = config::registration_namespace(cfg);
  regs.partition = config::registration_partition(cfg);
  const std::string dataplane(kDataplaneContainer);

  if (config::is_gateway(cfg)) {
    const auto& gw = *cfg.gateway;
    Registration& reg = regs.proxy;
    reg.service_name = config::gateway_name(cfg, task.family);
    reg.service_id = service_id(reg.service_name, task.task_id());
    json service = {{"ID", reg.service_id},
                    {"Service", reg.service_name},
                    {"Kind", gw.kind},
                    {"Address", regs.node_address},
                    {"Port", config::kDefaultGatewayPort},
                    {"Meta", merged_meta(task, gw.meta)},
                    {"Tags", gw.tags},
                    {"Locality", locality(task)}};
    // Only a mesh gateway publishes LAN/WAN addresses (other kinds are
    // reached through their service address and the default port, as the
    // reference registers them; lanAddress/wanAddress are ignored there).
    json tagged = json::object();
    const bool mesh_gateway = gw.kind == "mesh-gateway";
    if (mesh_gateway && gw.lan_address) {
      json lan = gateway_address(*gw.lan_address, config::kDefaultGatewayPort);
      if (gw.lan_address->port.value_or(0) > 0) service["Port"] = lan["Port"];
      if (!lan["Address"].get<std::string>().empty()) {
        service["Address"] = lan["Address"];
        tagged["lan"] = lan;
      }
    }
    if (mesh_gateway && gw.wan_address && gw.wan_address->address.value_or("") != "") {
      tagged["wan"] = gateway_address(*gw.wan_address, service["Port"].get<int>());
    }
    if (!tagged.empty()) service["TaggedAddresses"] = tagged;
    if (gw.proxy && gw.proxy->config && !gw.proxy->config->is_null()) service["Proxy"] = {{"Config", *gw.proxy->config}};
    if (!regs.ns.empty()) service["Namespace"] = regs.ns;
    if (!regs.partition.empty()) service["Partition"] = regs.partition;
    reg.checks = {make_check(reg.service_id, reg.service_name, dataplane, regs.ns, true)};
    reg.body = registration_body(regs, std::move(service), reg.checks);
    return regs;
  }

  const config::Service empty_service;
  const auto& svc = cfg.service ? *cfg.service : empty_service;
  Registration service_reg;
  service_reg.service_name = config::service_name(cfg, task.family);
  service_reg.service_id = service_id(service_reg.service_name, task.task_id());
  json service = {{"ID", service_reg.service_id},
                  {"Service", service_reg.service_name},
                  {"Address", regs.node_address},
                  {"Port", svc.port},
                  {"Meta", merged_meta(task, svc.meta)},
                  {"Tags", svc.tags},
                  {"Locality", locality(task)}};
  if (svc.enable_tag_override) service["EnableTagOverride"] = *svc.enable_tag_override;
  if (svc.weights) service["Weights"] = {{"Passing", svc.weights->passing}, {"Warning", svc.weights->warning}};
  if (!regs.ns.empty()) service["Namespace"] = regs.ns;
  if (!regs.partition.empty()) service["Partition"] = regs.partition;
  // v0.10 transparent proxy: the service's own address is its virtual
  // address (the proxy carries the same tag and runs in transparent mode).
  const bool tproxy = config::transparent_proxy_enabled(cfg);
  if (tproxy) service["TaggedAddresses"] = {{"virtual", {{"Address", regs.node_address}, {"Port", svc.port}}}};
  for (const auto& container : cfg.health_sync_containers) {
    service_reg.checks.push_back(make_check(service_reg.service_id, service_reg.service_name, container, regs.ns, false));
  }
  service_reg.checks.push_back(make_check(service_reg.service_id, service_reg.service_name, dataplane, regs.ns, true));

  Registration& proxy_reg = regs.proxy;
  proxy_reg.service_id = service_reg.service_id + "-sidecar-proxy";
  proxy_reg.service_name = service_reg.service_name + "-sidecar-proxy";
  const config::Proxy empty_proxy;
  const auto& px = cfg.proxy ? *cfg.proxy : empty_proxy;
  json proxy = {{"DestinationServiceName", service_reg.service_name},
                {"DestinationServiceID", service_reg.service_id},
                {"LocalServicePort", svc.port}};
  set_if(proxy, "LocalServiceAddress", px.local_service_address);
  if (px.config && !px.config->is_null()) proxy["Config"] = *px.config;
  if (!px.upstreams.empty()) {
    json upstreams = json::array();
    for (const auto& upstream : px.upstreams) upstreams.push_back(upstream_payload(upstream));
    proxy["Upstreams"] = std::move(upstreams);
  }
  if (px.mesh_gateway) proxy["MeshGateway"] = {{"Mode", px.mesh_gateway->mode}};
  if (px.expose) {
    json paths = json::array();
    for (const auto& path : px.expose->paths) {
      json p = {{"ListenerPort", path.listener_port}, {"Path", path.path}, {"LocalPathPort", path.local_path_port}};
      if (!path.protocol.empty()) p["Protocol"] = path.protocol;
      paths.push_back(std::move(p));
    }
    proxy["Expose"] = {{"Checks", px.expose->checks}, {"Paths", std::move(paths)}};
  }
  if (tproxy) proxy["Mode"] = "transparent";
  json proxy_service = {{"ID", proxy_reg.service_id},
                        {"Service", proxy_reg.service_name},
                        {"Kind", "connect-proxy"},
                        {"Address", regs.node_address},
                        {"Port", config::public_listener_port(cfg)},
                        {"Meta", service["Meta"]},
                        {"Tags", service["Tags"]},
                        {"Proxy", std::move(proxy)},
                        {"Locality", service["Locality"]}};
  for (const char* key : {"Weights", "EnableTagOverride", "Namespace", "Partition", "TaggedAddresses"}) {
    if (service.contains(key)) proxy_service[key] = service[key];
  }
  proxy_reg.checks = {make_check(proxy_reg.service_id, proxy_reg.service_name, dataplane, regs.ns, true)};

  service_reg.body = registration_body(regs, std::move(service), service_reg.checks);
  proxy_reg.body = registration_body(regs, std::move(proxy_service), proxy_reg.checks);
  regs.service = std::move(service_reg);
  return regs;
}

bool strip_locality(json& registration_body) {
  auto service = registration_body.find("Service");
  if (service == registration_body.end() || !service->is_object()) return false;
  return service->erase("Locality") > 0;
}

json dataplane_config(const config::Config& cfg, const TaskRegistrations& regs, const DataplaneInputs& inputs) {
  const auto grpc_tls = config::grpc_tls(cfg);
  json tls = {{"disabled", !grpc_tls.enabled}};
  if (grpc_tls.enabled) {
    if (!inputs.ca_cert_file.empty()) tls["caCertsPath"] = inputs.ca_cert_file;
    if (!grpc_tls.server_name.empty()) tls["tlsServerName"] = grpc_tls.server_name;
  }
  json consul = {{"addresses", cfg.consul_servers.hosts},
                 {"grpcPort", config::grpc_port(cfg)},
                 {"serverWatchDisabled", config::skip_server_watch(cfg)},
                 {"tls", std::move(tls)}};
  if (inputs.login) {
    const auto& login = *inputs.login;
    json body = {{"authMethod", login.auth_method},
                 {"datacenter", login.datacenter},
                 {"bearerToken", login.bearer_token},
                 {"meta", json(login.meta)}};
    if (!login.ns.empty()) body["namespace"] = login.ns;
    if (!login.partition.empty()) body["partition"] = login.partition;
    consul["credentials"] = {{"type", "login"}, {"login", std::move(body)}};
  } else if (!inputs.token.empty()) {
    consul["credentials"] = {{"type", "static"}, {"static", {{"token", inputs.token}}}};
  }
  const int ready_port =
      config::is_gateway(cfg) ? config::gateway_health_check_port(cfg) : config::proxy_health_check_port(cfg);
  json doc = {{"consul", std::move(consul)},
              {"proxy", {{"nodeName", regs.node}, {"id", regs.proxy.service_id}, {"namespace", regs.ns}, {"partition", regs.partition}}},
              {"xdsServer", {{"bindAddress", "127.0.0.1"}}},
              {"envoy", {{"readyBindAddress", "127.0.0.1"}, {"readyBindPort", ready_port}}},
              {"logging", {{"logLevel", config::log_level(cfg)}}}};
  if (inputs.dns_server) {
    doc["dnsServer"] = {{"bindAddress", inputs.dns_server->first}, {"bindPort", inputs.dns_server->second}};
  }
  return doc;
}

}  // namespace consulecs::mesh
