#pragma once
// The transparent proxy's traffic redirection (v0.10 `transparentProxy`): the
// iptables nat rules Consul's sdk/iptables package builds for a task, as the
// reference's mesh-init applies them (IPv4 only, as the reference).
//
//   PREROUTING  -p tcp -> CONSUL_PROXY_INBOUND
//     CONSUL_PROXY_INBOUND: excluded inbound ports RETURN, else -> CONSUL_PROXY_IN_REDIRECT
//     CONSUL_PROXY_IN_REDIRECT: REDIRECT to the proxy's public listener (20000)
//   OUTPUT  [-d 127.0.0.1 --dport 53 -> CONSUL_DNS_REDIRECT: DNAT to 127.0.0.1:8600]
//   OUTPUT  -p tcp -> CONSUL_PROXY_OUTPUT
//     CONSUL_PROXY_OUTPUT: excluded UIDs, CIDRs, ports RETURN; the proxy's UID
//       RETURN; 127.0.0.1 RETURN; else -> CONSUL_PROXY_REDIRECT
//     CONSUL_PROXY_REDIRECT: REDIRECT to the proxy's outbound listener (15001)
//
// Everything here is pure: building the list, rendering it as an
// iptables-restore input. tproxy/apply.h runs it.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace consulecs::tproxy {

inline constexpr std::string_view kInboundChain = "CONSUL_PROXY_INBOUND";
inline constexpr std::string_view kInboundRedirectChain = "CONSUL_PROXY_IN_REDIRECT";
inline constexpr std::string_view kOutputChain = "CONSUL_PROXY_OUTPUT";
inline constexpr std::string_view kOutputRedirectChain = "CONSUL_PROXY_REDIRECT";
inline constexpr std::string_view kDnsChain = "CONSUL_DNS_REDIRECT";

// The users of the official mesh-task's containers.
inline constexpr std::string_view kProxyUid = "5995";       // consul-dataplane
inline constexpr std::string_view kHealthSyncUid = "5996";  // consul-ecs-health-sync
inline constexpr int kDefaultOutboundPort = 15001;
// consul-dataplane's DNS server when Consul DNS is on.
inline constexpr std::string_view kConsulDnsIp = "127.0.0.1";
inline constexpr int kConsulDnsPort = 8600;

struct DnsTarget {
  std::string ip{kConsulDnsIp};
  int port = kConsulDnsPort;
};

// The input of build_rules: sdk/iptables' Config, as mesh-init fills it in.
struct RedirectSettings {
  std::string proxy_uid{kProxyUid};
  int inbound_port = 0;  // the proxy's public listener (its registered port or bind_port)
  int outbound_port = kDefaultOutboundPort;
  std::vector<int> exclude_inbound_ports;
  std::vector<int> exclude_outbound_ports;
  std::vector<std::string> exclude_outbound_cidrs;
  std::vector<std::string> exclude_uids;
  std::optional<DnsTarget> consul_dns;  // set when Consul DNS is on
};

// What mesh-init knows about the registered proxy: the reference reads these
// from the catalog's proxy service (central config merged in).
struct ProxyFacts {
  int port = 0;                            // Service.Port: the public listener
  std::optional<nlohmann::json> config;    // Proxy.Config: bind_port, envoy_*_bind_addr
  int outbound_listener_port = 0;          // Proxy.TransparentProxy.OutboundListenerPort, 0: 15001
  std::vector<int> expose_listener_ports;  // Proxy.Expose.Paths[].ListenerPort
};

// The settings for a task, as the reference's mesh-init derives them:
// inbound port = Proxy.Config bind_port, else the proxy's port; excluded
// inbound: transparentProxy.excludeInboundPorts, the proxy's health check
// (readiness) port, the ports of envoy_prometheus_bind_addr and
// envoy_stats_bind_addr (metrics), the expose paths' listener ports; excluded
// UIDs: transparentProxy.excludeUIDs and health-sync's 5996; DNS to
// 127.0.0.1:8600 when Consul DNS is on. Throws std::invalid_argument naming
// the field when a bind address or bind_port cannot be parsed.
RedirectSettings settings_for(const config::Config& cfg, const ProxyFacts& proxy);

// One iptables invocation, without the program name: {"-t", "nat", "-A", ...}.
using Rule = std::vector<std::string>;

// The rules in the order sdk/iptables issues them (chain creation first, `-I`
// for the exclusions so they precede the defaults), plus the reference's
// extra `-t nat --policy POSTROUTING ACCEPT`. Throws std::invalid_argument
// naming the problem: no proxy UID, no or an out-of-range inbound / outbound
// port, a CIDR that is not IPv4 `a.b.c.d[/n]`, a UID that is not a number or
// `a-b` range.
std::vector<Rule> build_rules(const RedirectSettings& settings);

// The same rules as `iptables ...` command lines (for logs and tests).
std::vector<std::string> command_lines(const std::vector<Rule>& rules);

// An `iptables-restore --noflush` input that makes the nat table hold exactly
// `rules` for our chains, whatever a previous run left: each of our chains is
// declared (created, or flushed when it exists), and every rule of another
// chain in `current_nat` (the `iptables-save -t nat` output) that jumps to
// one of our chains is deleted before the new jumps are added. Applying it
// twice leaves the same table as applying it once. Rules and chains that are
// not ours are left alone.
std::string render_restore(const std::vector<Rule>& rules, std::string_view current_nat);

}  // namespace consulecs::tproxy
