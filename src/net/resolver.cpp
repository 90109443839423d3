#include "net/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>

#include <strings.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <mutex>
#include <optional>
#include <string_view>

namespace consulecs::net {
namespace {

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (const int rc = ::ares_library_init(ARES_LIB_INIT_ALL); rc != ARES_SUCCESS) {
      throw ResolveError(std::string("cannot initialise the resolver: ") + ::ares_strerror(rc));
    }
  });
}

std::optional<Address> numeric(const std::string& host) {
  std::array<unsigned char, sizeof(in6_addr)> buffer{};
  if (::inet_pton(AF_INET, host.c_str(), buffer.data()) == 1) return Address{AF_INET, host};
  if (::inet_pton(AF_INET6, host.c_str(), buffer.data()) == 1) return Address{AF_INET6, host};
  return std::nullopt;
}

bool is_localhost(const std::string& host) {
  constexpr std::string_view kName = "localhost";
  std::string name = host;
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.size() < kName.size()) return false;
  const std::string tail = name.substr(name.size() - kName.size());
  if (::strcasecmp(tail.c_str(), kName.data()) != 0) return false;
  return name.size() == kName.size() || name[name.size() - kName.size() - 1] == '.';
}

struct Lookup {
  bool done = false;
  int status = ARES_SUCCESS;
  std::vector<Address> addresses;
};

void on_result(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  auto* lookup = static_cast<Lookup*>(arg);
  lookup->done = true;
  lookup->status = status;
  if (result == nullptr) return;
  for (const ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
    char text[INET6_ADDRSTRLEN] = {0};
    const void* raw = node->ai_family == AF_INET
                          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(node->ai_addr)->sin_addr)
                          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(node->ai_addr)->sin6_addr);
    if (::inet_ntop(node->ai_family, raw, text, sizeof text) == nullptr) continue;
    Address address{node->ai_family, text};
    const bool seen = std::any_of(lookup->addresses.begin(), lookup->addresses.end(),
                                  [&](const Address& a) { return a.text == address.text; });
    if (!seen) lookup->addresses.push_back(std::move(address));
  }
  ::ares_freeaddrinfo(result);
}

// Runs the channel until the lookup completes or the deadline passes.
void drive(ares_channel channel, const Lookup& lookup, std::chrono::steady_clock::time_point deadline) {
  while (!lookup.done) {
    ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
    const int mask = ::ares_getsock(channel, sockets, ARES_GETSOCK_MAXNUM);
    std::vector<pollfd> fds;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(mask, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(mask, i)) events |= POLLOUT;
      if (events != 0) fds.push_back(pollfd{sockets[i], events, 0});
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return;
    timeval max{};
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
    max.tv_sec = static_cast<time_t>(left.count() / 1000000);
    max.tv_usec = static_cast<suseconds_t>(left.count() % 1000000);
    timeval wait{};
    const timeval* next = ::ares_timeout(channel, &max, &wait);
    const int timeout_ms = static_cast<int>(next->tv_sec * 1000 + next->tv_usec / 1000) + 1;
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0 && errno != EINTR) return;
    if (ready <= 0) {
      ::ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // let c-ares handle its timeouts
      continue;
    }
    for (const auto& fd : fds) {
      const ares_socket_t readable = (fd.revents & (POLLIN | POLLERR | POLLHUP)) ? fd.fd : ARES_SOCKET_BAD;
      const ares_socket_t writable = (fd.revents & POLLOUT) ? fd.fd : ARES_SOCKET_BAD;
      if (readable != ARES_SOCKET_BAD || writable != ARES_SOCKET_BAD) ::ares_process_fd(channel, readable, writable);
    }
  }
}

}  // namespace

std::vector<Address> resolve(const std::string& host, std::chrono::milliseconds timeout) {
  if (host.empty()) throw ResolveError("cannot resolve an empty host name");
  if (auto address = numeric(host)) return {*address};
  if (is_localhost(host)) return {{AF_INET, "127.0.0.1"}, {AF_INET6, "::1"}};

  init_library();
  ares_channel channel = nullptr;
  if (const int rc = ::ares_init(&channel); rc != ARES_SUCCESS) {
    throw ResolveError("cannot resolve " + host +
                       ": resolver set-up failed (/etc/resolv.conf): " + ::ares_strerror(rc));
  }
  Lookup lookup;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  ::ares_getaddrinfo(channel, host.c_str(), nullptr, &hints, on_result, &lookup);
  drive(channel, lookup, std::chrono::steady_clock::now() + timeout);
  ::ares_destroy(channel);  // completes a pending lookup with ARES_EDESTRUCTION
  if (!lookup.done || lookup.status == ARES_EDESTRUCTION) {
    throw ResolveError("cannot resolve " + host + ": timed out after " + std::to_string(timeout.count()) + " ms");
  }
  if (lookup.status != ARES_SUCCESS) {
    throw ResolveError("cannot resolve " + host + ": " + ::ares_strerror(lookup.status));
  }
  if (lookup.addresses.empty()) throw ResolveError("cannot resolve " + host + ": no address");
  return lookup.addresses;
}

}  // namespace consulecs::net
