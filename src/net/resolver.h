#pragma once
// Host name resolution that needs nothing from the C library's NSS: the static
// binary runs in images that have /etc/resolv.conf (and maybe /etc/hosts) but
// no nsswitch.conf and no libnss_* modules. c-ares reads both files itself.
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace consulecs::net {

class ResolveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Address {
  int family;        // AF_INET or AF_INET6
  std::string text;  // numeric form, e.g. "10.0.0.1" or "fd00::1"
};

// Every distinct address of `host`, in resolver order. A numeric address is
// returned as is without a lookup; "localhost" and "*.localhost" are the
// loopback addresses (RFC 6761), as curl does, so they work without
// /etc/hosts. Throws ResolveError naming the host and the cause.
std::vector<Address> resolve(const std::string& host, std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace consulecs::net
