#pragma once
// Consul DNS for a task (v0.10 transparentProxy.consulDNS): /etc/resolv.conf
// gets consul-dataplane's DNS server (127.0.0.1) as its first nameserver.
#include <string>
#include <string_view>

namespace consulecs::tproxy {

inline constexpr std::string_view kResolvConfPath = "/etc/resolv.conf";

// The new resolv.conf: `nameserver 127.0.0.1` as the first nameserver line
// (where the first one was, else at the end), every other line kept as it
// was, in order (search, options, comments, the other nameservers). A
// `nameserver 127.0.0.1` already present is not repeated, so rewriting twice
// gives the same file as rewriting once.
std::string rewrite_resolv_conf(std::string_view current);

// Rewrites `path` (default /etc/resolv.conf): a temporary file beside it,
// fsynced, renamed over it. Container runtimes bind-mount /etc/resolv.conf,
// and a bind-mounted file cannot be renamed over (EBUSY); then the content is
// written in place with one write (and fsynced). A missing file is treated as
// empty. Returns the new content. Throws std::runtime_error naming the path.
std::string configure_consul_dns(const std::string& path = std::string(kResolvConfPath));

}  // namespace consulecs::tproxy
