#pragma once
#include "config/config.h"
#include "consul/client.h"

namespace consulecs::consul {

// HTTP(S) settings for the Consul client from consulServers: port, scheme,
// TLS verification with the CA from $CONSUL_HTTPS_CACERT_PEM or the
// configured CA file, and the TLS server name.
ServerConfig http_server_config(const config::Config& cfg);

// True for a DNS name; false for an IP address, exec= and the empty string.
bool is_dns_name(const std::string& hosts);

}  // namespace consulecs::consul
