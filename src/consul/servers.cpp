#include "consul/servers.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "net/resolver.h"

namespace consulecs::consul {
namespace {

std::vector<std::string> run_exec(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw ServerResolveError("consulServers.hosts: cannot run exec command: " + command);
  std::string output;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  if (status != 0) {
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    throw ServerResolveError("consulServers.hosts: exec command `" + command + "` exited with status " +
                             std::to_string(code));
  }
  auto addresses = parse_address_list(output);
  if (addresses.empty()) {
    throw ServerResolveError("consulServers.hosts: exec command `" + command + "` printed no addresses");
  }
  return addresses;
}

std::vector<std::string> resolve_dns(const std::string& host) {
  std::vector<std::string> addresses;
  try {
    for (auto& address : net::resolve(host)) addresses.push_back(std::move(address.text));
  } catch (const net::ResolveError& e) {
    throw ServerResolveError(std::string("consulServers.hosts: ") + e.what());
  }
  return addresses;
}

}  // namespace

std::vector<std::string> parse_address_list(const std::string& output) {
  std::vector<std::string> addresses;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) addresses.push_back(current);
    current.clear();
  };
  for (char c : output) {
    if (c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      flush();
    } else {
      current.push_back(c);
    }
  }
  flush();
  return addresses;
}

std::vector<std::string> resolve_servers(const std::string& hosts) {
  if (hosts.empty()) throw ServerResolveError("consulServers.hosts: must not be empty");
  if (hosts.rfind("exec=", 0) == 0) return run_exec(hosts.substr(5));
  return resolve_dns(hosts);
}

}  // namespace consulecs::consul
