#include "consul/server_config.h"

#include <cstdlib>

namespace consulecs::consul {

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
  return server;
}

}  // namespace consulecs::consul
