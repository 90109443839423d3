#pragma once
// Resolves `consulServers.hosts` to concrete server addresses.
#include <stdexcept>
#include <string>
#include <vector>

namespace consulecs::consul {

class ServerResolveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `hosts` is an IP address, a DNS name (every A/AAAA record is used) or
// `exec=<command>` (run through /bin/sh; its stdout lists addresses separated
// by whitespace or commas). Throws ServerResolveError naming the cause.
std::vector<std::string> resolve_servers(const std::string& hosts);

// Splits the output of an exec= command into addresses.
std::vector<std::string> parse_address_list(const std::string& output);

}  // namespace consulecs::consul
