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
#include "commands/common.h"

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
