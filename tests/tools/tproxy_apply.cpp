// Test-only entry point to the transparent proxy's applier: applies the rules
// mesh-init would apply for CONSUL_ECS_CONFIG_JSON (v0.10.0 schema) in the
// current network namespace, and with Consul DNS rewrites a resolv.conf.
// Used by tests/e2e/test_transparent_proxy.py inside namespaces it creates;
// not shipped.
//
//   tproxy_apply [--proxy-port N] [--resolv-conf PATH] [--print]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "config/config.h"
#include "tproxy/apply.h"
#include "tproxy/resolv_conf.h"
#include "tproxy/rules.h"

using namespace consulecs;

int main(int argc, char** argv) {
  tproxy::ProxyFacts proxy;
  proxy.port = config::kDefaultPublicListenerPort;
  std::string resolv_conf(tproxy::kResolvConfPath);
  bool print = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--proxy-port" && i + 1 < argc) {
      proxy.port = std::atoi(argv[++i]);
    } else if (arg == "--resolv-conf" && i + 1 < argc) {
      resolv_conf = argv[++i];
    } else if (arg == "--print") {
      print = true;
    } else {
      std::fprintf(stderr, "usage: tproxy_apply [--proxy-port N] [--resolv-conf PATH] [--print]\n");
      return 2;
    }
  }
  try {
    const config::Config cfg = config::load_config_from_env_or_file("", config::SchemaVersion::k0_10_0);
    if (!config::transparent_proxy_enabled(cfg)) {
      std::fprintf(stderr, "transparent proxy is disabled\n");
      return 0;
    }
    const auto rules = tproxy::build_rules(tproxy::settings_for(cfg, proxy));
    const std::string applied = tproxy::apply_rules(rules);
    if (print) std::fputs(applied.c_str(), stdout);
    if (config::consul_dns_enabled(cfg)) tproxy::configure_consul_dns(resolv_conf);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tproxy_apply: %s\n", e.what());
    return 1;
  }
  return 0;
}
