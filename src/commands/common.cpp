#include "commands/common.h"

#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "util/log.h"

namespace consulecs::commands {

std::variant<process::Child, int> start_wrapped_command(cli::FlagSet& flags, const Args& args,
                                                        std::string_view start_failed) {
  std::string log_level = "INFO";
  flags.add_string("log-level", &log_level, "Log level: TRACE, DEBUG, INFO, WARN, ERROR or OFF");
  if (auto code = parse_flags(flags, args)) return *code;
  log::set_level(log::parse_level(log_level));
  log::set_name("consul-ecs");  // as the reference's entrypoints name theirs
  const Args& command = flags.positional();
  if (command.empty()) {
    std::fprintf(stderr, "command is required\n");
    return 1;
  }
  try {
    return process::Child(command);
  } catch (const std::exception& e) {
    log::error("starting process", {{"error", e.what()}});
    if (!start_failed.empty()) log::error(start_failed, {});
    return 1;
  }
}

std::optional<int> parse_flags(cli::FlagSet& flags, const Args& args) {
  const cli::ParseResult result = flags.parse(args);
  switch (result.kind) {
    case cli::ParseResult::Kind::Ok: return std::nullopt;
    case cli::ParseResult::Kind::Help: std::fputs(flags.usage().c_str(), stderr); return 0;
    case cli::ParseResult::Kind::Error:
      std::fprintf(stderr, "%s\n%s", result.error.c_str(), flags.usage().c_str());
      return 1;
  }
  return 1;
}

std::optional<int> reject_positional(const cli::FlagSet& flags) {
  if (flags.positional().empty()) return std::nullopt;
  std::fprintf(stderr, "unexpected argument: %s\n", flags.positional().front().c_str());
  return 1;
}

bool help_requested(const Args& args) {
  for (const auto& arg : args) {
    if (arg == "--") return false;
    if (arg == "-h" || arg == "-help" || arg == "--help") return true;
  }
  return false;
}

void log_config_errors(const config::ConfigError& error, std::string_view source, config::SchemaVersion schema) {
  const auto& errors = error.errors();
  const std::string schema_name = fmt::format("v{}", config::schema_version_name(schema));
  if (source.empty()) {
    log::error("invalid config", {{"errors", errors.size()}, {"schema", schema_name}});
  } else {
    log::error("invalid config", {{"errors", errors.size()}, {"schema", schema_name}, {"source", source}});
  }
  for (const auto& problem : errors) {
    // One event per line in CloudWatch: a problem never spans two.
    std::string line = problem;
    for (std::size_t at = line.find('\n'); at != std::string::npos; at = line.find('\n', at + 2)) {
      line.replace(at, 1, "\\n");
    }
    log::error("config: {}", line);
  }
}

std::optional<config::Config> load_config_or_report(const std::string& config_file, config::SchemaVersion schema) {
  try {
    config::Config cfg = config::load_config_from_env_or_file(config_file, schema);
    log::set_level(log::parse_level(config::log_level(cfg)));
    return cfg;
  } catch (const config::ConfigError& e) {
    log_config_errors(e, config_file.empty() ? config::kConfigEnvVar : std::string_view(config_file), schema);
    return std::nullopt;
  }
}

}  // namespace consulecs::commands
