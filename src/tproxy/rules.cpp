#include "tproxy/rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>
#include <stdexcept>

namespace consulecs::tproxy {
namespace {

using nlohmann::json;

const std::vector<std::string_view>& our_chains() {
  static const std::vector<std::string_view> chains{kInboundChain, kInboundRedirectChain, kOutputChain,
                                                    kOutputRedirectChain, kDnsChain};
  return chains;
}

bool is_our_chain(std::string_view name) {
  const auto& chains = our_chains();
  return std::find(chains.begin(), chains.end(), name) != chains.end();
}

std::optional<long long> parse_number(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// mapstructure's weak decoding of bind_port: a number, a numeric string, or
// a boolean; anything else is an error. 0 and absent mean "not set".
int weak_port(const json& value, std::string_view field) {
  std::optional<long long> n;
  if (value.is_number_integer()) n = value.get<long long>();
  if (value.is_number_float() &&
      value.get<double>() == static_cast<double>(static_cast<long long>(value.get<double>()))) {
    n = static_cast<long long>(value.get<double>());
  }
  if (value.is_string()) n = value.get<std::string>().empty() ? 0 : parse_number(value.get<std::string>());
  if (value.is_boolean()) n = value.get<bool>() ? 1 : 0;
  if (value.is_null()) n = 0;
  if (!n || *n < 0 || *n > 65535) {
    throw std::invalid_argument(fmt::format("proxy config {}: not a port number: {}", field, value.dump()));
  }
  return static_cast<int>(*n);
}

// The port of a "host:port" bind address, as net.SplitHostPort splits it.
int bind_addr_port(const json& value, std::string_view field) {
  if (!value.is_string()) {
    throw std::invalid_argument(
        fmt::format("proxy config {}: must be a host:port string, got {}", field, value.dump()));
  }
  const std::string addr = value.get<std::string>();
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos) {
    throw std::invalid_argument(fmt::format("proxy config {}: missing port in address \"{}\"", field, addr));
  }
  if (addr.front() == '[' && addr[colon - 1] != ']') {
    throw std::invalid_argument(fmt::format("proxy config {}: malformed address \"{}\"", field, addr));
  }
  const auto port = parse_number(std::string_view(addr).substr(colon + 1));
  if (!port || *port < 0 || *port > 65535) {
    throw std::invalid_argument(fmt::format("proxy config {}: not a port number in address \"{}\"", field, addr));
  }
  return static_cast<int>(*port);
}

void check_port(int port, std::string_view what, bool zero_ok) {
  if (port < (zero_ok ? 0 : 1) || port > 65535) {
    throw std::invalid_argument(fmt::format("{}: not a port number: {}", what, port));
  }
}

// a.b.c.d or a.b.c.d/n, IPv4 only (the reference applies IPv4 rules only).
bool valid_ipv4_cidr(std::string_view text) {
  const auto slash = text.find('/');
  const std::string_view addr = text.substr(0, slash);
  if (slash != std::string_view::npos) {
    const auto bits = parse_number(text.substr(slash + 1));
    if (!bits || *bits < 0 || *bits > 32) return false;
  }
  int parts = 0;
  std::size_t start = 0;
  while (start <= addr.size()) {
    const auto dot = addr.find('.', start);
    const std::string_view part = addr.substr(start, dot == std::string_view::npos ? addr.npos : dot - start);
    const auto n = parse_number(part);
    if (!n || *n < 0 || *n > 255 || part.size() > 3) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

// --uid-owner takes a user ID or an inclusive range "a-b" (names need NSS,
// which the static binary does not have, and the reference passes numbers).
bool valid_uid(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return parse_number(text).has_value() && *parse_number(text) >= 0;
  const auto lo = parse_number(text.substr(0, dash));
  const auto hi = parse_number(text.substr(dash + 1));
  return lo && hi && *lo >= 0 && *lo <= *hi;
}

Rule nat(std::initializer_list<std::string> args) {
  Rule rule{"-t", "nat"};
  rule.insert(rule.end(), args);
  return rule;
}

// Splits an iptables-save line into words (its output quotes only comments,
// which we keep as they are: a quoted word is passed through unchanged).
std::vector<std::string> words(std::string_view line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i >= line.size()) break;
    std::size_t j = i;
    if (line[i] == '"') {
      j = line.find('"', i + 1);
      j = j == std::string_view::npos ? line.size() : j + 1;
    } else {
      while (j < line.size() && line[j] != ' ') ++j;
    }
    out.emplace_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

RedirectSettings settings_for(const config::Config& cfg, const ProxyFacts& proxy) {
  RedirectSettings s;
  s.inbound_port = proxy.port;
  const json no_config = json::object();
  const json& pc = proxy.config && proxy.config->is_object() ? *proxy.config : no_config;
  if (const auto it = pc.find("bind_port"); it != pc.end()) {
    if (const int bind_port = weak_port(*it, "bind_port"); bind_port != 0) s.inbound_port = bind_port;
  }
  if (proxy.outbound_listener_port != 0) s.outbound_port = proxy.outbound_listener_port;

  if (cfg.transparent_proxy) s.exclude_inbound_ports = cfg.transparent_proxy->exclude_inbound_ports;
  s.exclude_inbound_ports.push_back(config::proxy_health_check_port(cfg));
  for (const char* field : {"envoy_prometheus_bind_addr", "envoy_stats_bind_addr"}) {
    if (const auto it = pc.find(field); it != pc.end() && !(it->is_string() && it->get<std::string>().empty())) {
      s.exclude_inbound_ports.push_back(bind_addr_port(*it, field));
    }
  }
  for (int port : proxy.expose_listener_ports) {
    if (port != 0) s.exclude_inbound_ports.push_back(port);
  }

  if (cfg.transparent_proxy) {
    s.exclude_outbound_ports = cfg.transparent_proxy->exclude_outbound_ports;
    s.exclude_outbound_cidrs = cfg.transparent_proxy->exclude_outbound_cidrs;
    s.exclude_uids = cfg.transparent_proxy->exclude_uids;
  }
  s.exclude_uids.emplace_back(kHealthSyncUid);
  if (config::consul_dns_enabled(cfg)) s.consul_dns = DnsTarget{};
  return s;
}

std::vector<Rule> build_rules(const RedirectSettings& s) {
  if (s.proxy_uid.empty()) throw std::invalid_argument("the proxy's user ID is required for traffic redirection");
  if (!valid_uid(s.proxy_uid))
    throw std::invalid_argument(fmt::format("proxy user ID: not a user ID: \"{}\"", s.proxy_uid));
  if (s.inbound_port == 0) throw std::invalid_argument("the proxy's inbound port is required for traffic redirection");
  check_port(s.inbound_port, "proxy inbound port", false);
  check_port(s.outbound_port, "proxy outbound port", true);
  for (int p : s.exclude_inbound_ports) check_port(p, "excludeInboundPorts", true);
  for (int p : s.exclude_outbound_ports) check_port(p, "excludeOutboundPorts", true);
  for (const auto& cidr : s.exclude_outbound_cidrs) {
    if (!valid_ipv4_cidr(cidr)) {
      throw std::invalid_argument(fmt::format("excludeOutboundCIDRs: not an IPv4 address or CIDR: \"{}\"", cidr));
    }
  }
  for (const auto& uid : s.exclude_uids) {
    if (!valid_uid(uid)) throw std::invalid_argument(fmt::format("excludeUIDs: not a user ID or range: \"{}\"", uid));
  }
  const int outbound = s.outbound_port == 0 ? kDefaultOutboundPort : s.outbound_port;

  std::vector<Rule> rules;
  for (auto chain : our_chains()) rules.push_back(nat({"-N", std::string(chain)}));

  const std::string output(kOutputChain);
  // Outbound.
  rules.push_back(nat(
      {"-A", std::string(kOutputRedirectChain), "-p", "tcp", "-j", "REDIRECT", "--to-port", std::to_string(outbound)}));
  if (s.consul_dns) {
    // Before the catch-all TCP jump, so DNS over TCP to 127.0.0.1:53 is DNATed first.
    const std::string ip = s.consul_dns->ip.empty() ? std::string(kConsulDnsIp) : s.consul_dns->ip;
    const std::string to = fmt::format("{}:{}", ip, s.consul_dns->port);
    const std::string dns(kDnsChain);
    for (const char* proto : {"udp", "tcp"}) {
      rules.push_back(nat({"-A", dns, "-p", proto, "-d", ip, "--dport", "53", "-j", "DNAT", "--to-destination", to}));
    }
    for (const char* proto : {"udp", "tcp"}) {
      rules.push_back(nat({"-A", "OUTPUT", "-p", proto, "-d", ip, "--dport", "53", "-j", dns}));
    }
  }
  rules.push_back(nat({"-A", "OUTPUT", "-p", "tcp", "-j", output}));
  rules.push_back(nat({"-A", output, "-m", "owner", "--uid-owner", s.proxy_uid, "-j", "RETURN"}));
  rules.push_back(nat({"-A", output, "-d", "127.0.0.1/32", "-j", "RETURN"}));
  rules.push_back(nat({"-A", output, "-j", std::string(kOutputRedirectChain)}));
  for (int port : s.exclude_outbound_ports) {
    rules.push_back(nat({"-I", output, "-p", "tcp", "--dport", std::to_string(port), "-j", "RETURN"}));
  }
  for (const auto& cidr : s.exclude_outbound_cidrs) rules.push_back(nat({"-I", output, "-d", cidr, "-j", "RETURN"}));
  for (const auto& uid : s.exclude_uids) {
    rules.push_back(nat({"-I", output, "-m", "owner", "--uid-owner", uid, "-j", "RETURN"}));
  }

  // Inbound.
  const std::string inbound(kInboundChain);
  rules.push_back(nat({"-A", std::string(kInboundRedirectChain), "-p", "tcp", "-j", "REDIRECT", "--to-port",
                       std::to_string(s.inbound_port)}));
  rules.push_back(nat({"-A", "PREROUTING", "-p", "tcp", "-j", inbound}));
  rules.push_back(nat({"-A", inbound, "-p", "tcp", "-j", std::string(kInboundRedirectChain)}));
  for (int port : s.exclude_inbound_ports) {
    rules.push_back(nat({"-I", inbound, "-p", "tcp", "--dport", std::to_string(port), "-j", "RETURN"}));
  }

  // The reference's one extra rule (internal/redirecttraffic).
  rules.push_back(nat({"--policy", "POSTROUTING", "ACCEPT"}));
  return rules;
}

std::vector<std::string> command_lines(const std::vector<Rule>& rules) {
  std::vector<std::string> out;
  for (const auto& rule : rules) {
    std::string line = "iptables";
    for (const auto& arg : rule) line += " " + arg;
    out.push_back(std::move(line));
  }
  return out;
}

std::string render_restore(const std::vector<Rule>& rules, std::string_view current_nat) {
  std::string out = "*nat\n";
  std::vector<std::string> body;
  std::set<std::string> declared;
  for (const auto& rule : rules) {
    if (rule.size() < 3 || rule[0] != "-t" || rule[1] != "nat") {
      throw std::invalid_argument("render_restore: only nat table rules are supported");
    }
    const std::vector<std::string> args(rule.begin() + 2, rule.end());
    if (args.size() == 2 && args[0] == "-N") {
      // A declaration creates the chain, or flushes it when it exists (--noflush).
      if (declared.insert(args[1]).second) out += fmt::format(":{} - [0:0]\n", args[1]);
    } else if (args.size() == 3 && (args[0] == "--policy" || args[0] == "-P")) {
      out += fmt::format(":{} {} [0:0]\n", args[1], args[2]);
    } else {
      std::string line;
      for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
      body.push_back(std::move(line));
    }
  }
  // Jumps to our chains left in built-in (or others') chains by an earlier run.
  std::istringstream lines{std::string(current_nat)};
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto w = words(line);
    if (w.size() < 2 || w[0] != "-A" || is_our_chain(w[1])) continue;
    const auto jump = std::find(w.begin(), w.end(), "-j");
    const auto go = std::find(w.begin(), w.end(), "-g");
    const bool to_ours = (jump != w.end() && jump + 1 != w.end() && is_our_chain(*(jump + 1))) ||
                         (go != w.end() && go + 1 != w.end() && is_our_chain(*(go + 1)));
    if (to_ours) out += "-D" + line.substr(2) + "\n";
  }
  for (const auto& line : body) out += line + "\n";
  out += "COMMIT\n";
  return out;
}

}  // namespace consulecs::tproxy
