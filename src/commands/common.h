#pragma once
// Start-up steps every long-running command shares.
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "cli/go_flags.h"
#include "commands/command.h"
#include "config/config.h"
#include "process/child.h"

namespace consulecs::commands {

// The entrypoints' exit code when the child was killed by a signal: the
// reference returns Go's ProcessState.ExitCode(), -1, which the OS makes 255.
constexpr int kExitKilledBySignal = 255;

// Parses Go-style flags (see cli/go_flags.h). Returns the exit code when the
// command must end now, as the reference's: 0 after -h/-help (usage on
// stderr), 1 on a bad flag (the error, then the usage, on stderr).
std::optional<int> parse_flags(cli::FlagSet& flags, const Args& args);

// For commands that take no positional argument (control-plane, controller):
// prints "unexpected argument: X" and returns 1 when there is one.
std::optional<int> reject_positional(const cli::FlagSet& flags);

// For commands that parse no flags (net-dial, version), the reference's CLI
// layer rule: -h, -help or --help anywhere before a `--` asks for help.
bool help_requested(const Args& args);

// The shared start of app-entrypoint and envoy-entrypoint: adds -log-level
// to `flags`, parses them, applies the level, names the logger "consul-ecs"
// (as the reference's entrypoints do), and starts the command that follows
// the flags. Returns the running child, or the exit code when the command
// must end now (help, a bad flag, no command, a command that cannot be
// started: the reference's ERROR "starting process", then `start_failed`
// unless it is empty).
std::variant<process::Child, int> start_wrapped_command(cli::FlagSet& flags, const Args& args,
                                                        std::string_view start_failed);

// Logs a config that cannot be used: one summary line
//   [ERROR] invalid config: errors=2 schema=v0.10.0 source=CONSUL_ECS_CONFIG_JSON
// then one line per problem, each with its own timestamp and level (in
// CloudWatch every line is an event of its own):
//   [ERROR] config: service.name: must be lower case ...
// `source` (the file or the environment variable) is left out when empty.
void log_config_errors(const config::ConfigError& error, std::string_view source, config::SchemaVersion schema);

// Loads and validates the config (file path, else CONSUL_ECS_CONFIG_JSON) and
// applies its log level. On error logs every problem (log_config_errors) and
// returns nullopt. control-plane accepts the v0.7.3 schema; mesh-init,
// health-sync and the controller the v0.10.0 one.
std::optional<config::Config> load_config_or_report(const std::string& config_file,
                                                    config::SchemaVersion schema = config::SchemaVersion::k0_7_3);

}  // namespace consulecs::commands
