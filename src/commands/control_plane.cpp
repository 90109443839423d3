// control-plane: the mesh sidecar of an ECS task in the v0.7.3 layout, one
// long-running process for start-up, health sync and shutdown. The work is
// the shared task agent's (commands/task_agent.h).

#include "commands/command.h"
#include "commands/common.h"
#include "commands/task_agent.h"
#include "http/client.h"
#include "util/signals.h"

namespace consulecs::commands {

int run_control_plane(const Args& raw_args) {
  cli::FlagSet flags{"Usage: consul-ecs control-plane [options]\n"
                     "  Registers this ECS task in the Consul service mesh and syncs its health.\n"
                     "  Config comes from CONSUL_ECS_CONFIG_JSON or -config-file."};
  std::string config_file;
  flags.add_string("config-file", &config_file, "Path to the JSON config (default: $CONSUL_ECS_CONFIG_JSON)");
  if (auto code = parse_flags(flags, raw_args)) return *code;
  if (auto code = reject_positional(flags)) return *code;

  auto cfg = load_config_or_report(config_file);
  if (!cfg) return 1;

  signals::StopFlag stop;
  // The first SIGTERM also cuts every request in flight (to a Consul that
  // accepts and never answers, say); the shutdown's own requests start after.
  signals::ShutdownSignals shutdown_signals(stop, http::cancel_in_flight);
  return run_task_agent(std::move(*cfg), AgentMode::control_plane, stop);
}

}  // namespace consulecs::commands
