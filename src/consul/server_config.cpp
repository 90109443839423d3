#include "consul/server_config.h"

#include <arpa/inet.h>

#include <cstdlib>

namespace consulecs::consul {

bool is_dns_name(const std::string& hosts) {
  if (hosts.empty() || hosts.rfind("exec=", 0) == 0) return false;
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, hosts.c_str(), buffer) != 1 && ::inet_pton(AF_INET6, hosts.c_str(), buffer) != 1;
}

ServerConfig http_server_config(const config::Config& cfg) {
  ServerConfig server;
  server.hosts = cfg.consul_servers.hosts;
  server.port = config::http_port(cfg);
  const auto tls = config::http_tls(cfg);
  server.https = config::https(cfg) && tls.enabled;
  server.tls.verify = true;
  if (const char* pem = std::getenv("CONSUL_HTTPS_CACERT_PEM"); pem != nullptr && *pem != '\0') {
    server.tls.ca_pem = pem;
  } else {
    server.tls.ca_file = tls.ca_cert_file;
  }
  server.tls.server_name = tls.server_name;
  // Hosts given as a DNS name: we connect to the addresses it resolves to, so
  // verify the certificate against the name itself, as any HTTPS client does
  // (the reference verifies against the IP and fails unless tlsServerName is set).
  if (server.tls.server_name.empty() && is_dns_name(server.hosts)) server.tls.server_name = server.hosts;
  return server;
}

}  // namespace consulecs::consul
