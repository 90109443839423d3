#include "commands/common.h"

#include <cstdio>

#include "util/log.h"

namespace consulecs::commands {

std::optional<int> parse_flags(CLI::App& app, const Args& args) {
  const Args normalized = normalize_go_flags(args);
  try {
    // CLI11 consumes a vector from the back.
    std::vector<std::string> reversed(normalized.rbegin(), normalized.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 1;
  }
  return std::nullopt;
}

std::optional<config::Config> load_config_or_report(const std::string& config_file) {
  try {
    config::Config cfg = config::load_config_from_env_or_file(config_file);
    log::set_level(log::parse_level(config::log_level(cfg)));
    return cfg;
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "invalid config:\n");
    for (const auto& error : e.errors()) std::fprintf(stderr, "  %s\n", error.c_str());
    return std::nullopt;
  }
}

}  // namespace consulecs::commands
