// net-dial runs every few seconds as a container health check, so it does
// the minimum: resolve, one non-blocking connect with a deadline, exit.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "commands/command.h"
#include "commands/common.h"
#include "net/resolver.h"

namespace consulecs::commands {
namespace {

constexpr int kTimeoutMs = 2000;
constexpr int kExitUsage = 1;    // wrong number of arguments, as the reference
constexpr int kExitFailure = 2;  // no connection (the reference's code for any dial error)
constexpr const char* kUsage =
    "Usage: consul-ecs net-dial <host>:<port>\n"
    "  Opens a TCP connection to <host>:<port>. Exits 0 when it succeeds within 2 s,\n"
    "  2 when it does not (the reason on stderr), 1 without exactly one argument.\n";

// Returns an empty string on success, else the reason.
std::string try_connect(const net::Address& address, uint16_t port, int timeout_ms) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (address.family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    ::inet_pton(AF_INET, address.text.c_str(), &in->sin_addr);
    length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    ::inet_pton(AF_INET6, address.text.c_str(), &in6->sin6_addr);
    length = sizeof(sockaddr_in6);
  }
  const int fd = ::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  std::string reason;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
    if (errno != EINPROGRESS) {
      reason = std::strerror(errno);
    } else {
      pollfd pfd{fd, POLLOUT, 0};
      const int ready = ::poll(&pfd, 1, timeout_ms);
      if (ready == 0) {
        reason = "connection timed out";
      } else {
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (ready < 0) error = errno;
        if (error != 0) reason = std::strerror(error);
      }
    }
  }
  ::close(fd);
  return reason;
}

}  // namespace

int run_net_dial(const Args& args) {
  // No flag parsing, as the reference: the one argument is taken verbatim.
  if (help_requested(args)) {
    std::fprintf(stderr, "%s", kUsage);
    return 0;
  }
  if (args.size() != 1) {
    std::fprintf(stderr, "net-dial: expected exactly one argument, <host>:<port>; got %zu\n%s", args.size(), kUsage);
    return kExitUsage;
  }
  const std::string& target = args[0];
  const auto colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == target.size()) {
    std::fprintf(stderr, "net-dial: %s: expected host:port\n", target.c_str());
    return kExitFailure;
  }
  std::string host = target.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port_text = target.substr(colon + 1);
  char* end = nullptr;
  const unsigned long port = std::strtoul(port_text.c_str(), &end, 10);
  if (*end != '\0' || port == 0 || port > 65535) {
    std::fprintf(stderr, "net-dial: %s: port must be a number from 1 to 65535\n", target.c_str());
    return kExitFailure;
  }

  // c-ares, not getaddrinfo: the copy of this binary runs in images without NSS.
  std::vector<net::Address> addresses;
  try {
    addresses = net::resolve(host, std::chrono::milliseconds(kTimeoutMs));
  } catch (const net::ResolveError& e) {
    std::fprintf(stderr, "net-dial: %s\n", e.what());
    return kExitFailure;
  }
  std::string reason = "no address";
  for (const auto& address : addresses) {
    reason = try_connect(address, static_cast<uint16_t>(port), kTimeoutMs);
    if (reason.empty()) break;
  }
  if (!reason.empty()) {
    std::fprintf(stderr, "net-dial: %s: %s\n", target.c_str(), reason.c_str());
    return kExitFailure;
  }
  return 0;
}

}  // namespace consulecs::commands
