// net-dial runs every few seconds as a container health check, so it does
// the minimum: resolve, one non-blocking connect with a deadline, exit.
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>

#include "commands/command.h"

namespace consulecs::commands {
namespace {

constexpr int kTimeoutMs = 2000;
constexpr int kExitFailure = 2;

// Returns an empty string on success, else the reason.
std::string try_connect(const addrinfo* ai, int timeout_ms) {
  const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) return std::strerror(errno);
  std::string reason;
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
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
  if (args.size() != 1 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
    std::fprintf(stderr, "Usage: consul-ecs net-dial <host:port>\n  Exits 0 if a TCP connection succeeds within %d ms, else 2.\n",
                 kTimeoutMs);
    return args.size() == 1 ? 0 : kExitFailure;
  }
  const std::string& target = args[0];
  const auto colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == target.size()) {
    std::fprintf(stderr, "net-dial: %s: expected host:port\n", target.c_str());
    return kExitFailure;
  }
  std::string host = target.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = target.substr(colon + 1);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    std::fprintf(stderr, "net-dial: %s: cannot resolve: %s\n", target.c_str(), ::gai_strerror(rc));
    return kExitFailure;
  }
  std::string reason = "no address";
  for (const addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    reason = try_connect(ai, kTimeoutMs);
    if (reason.empty()) break;
  }
  ::freeaddrinfo(result);
  if (!reason.empty()) {
    std::fprintf(stderr, "net-dial: %s: %s\n", target.c_str(), reason.c_str());
    return kExitFailure;
  }
  return 0;
}

}  // namespace consulecs::commands
