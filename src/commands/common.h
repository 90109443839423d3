#pragma once
// Start-up steps every long-running command shares.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "commands/command.h"
#include "config/config.h"

namespace consulecs::commands {

// Parses Go-style flags (`-flag`, `--flag`). Returns the exit code when the
// command must end now: 0 after -help, 1 on a bad flag (as Go's flag package).
std::optional<int> parse_flags(CLI::App& app, const Args& args);

// Loads and validates the config (file path, else CONSUL_ECS_CONFIG_JSON) and
// applies its log level. On error prints every problem and returns nullopt.
std::optional<config::Config> load_config_or_report(const std::string& config_file);

}  // namespace consulecs::commands
