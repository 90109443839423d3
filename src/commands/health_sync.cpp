// health-sync (v0.10 layout): keeps the checks mesh-init registered in line
// with ECS container health, restores a registration or token Consul lost,
// and on SIGTERM marks everything critical, waits for consul-dataplane to
// stop, deregisters and logs out. The work is the shared task agent's
// (commands/task_agent.h).

#include "commands/command.h"
#include "commands/common.h"
#include "commands/task_agent.h"
#include "http/client.h"
#include "util/signals.h"

namespace consulecs::commands {

int run_health_sync(const Args& raw_args) {
  // As the reference: no flags; the config comes from CONSUL_ECS_CONFIG_JSON.
  cli::FlagSet flags{"Usage: consul-ecs health-sync\n"
                     "  Syncs the ECS health of this task's containers into the Consul checks\n"
                     "  mesh-init registered, and deregisters the task when it stops.\n"
                     "  Config comes from CONSUL_ECS_CONFIG_JSON (the v0.10.0 schema)."};
  if (auto code = parse_flags(flags, raw_args)) return *code;
  if (auto code = reject_positional(flags)) return *code;

  auto cfg = load_config_or_report("", config::SchemaVersion::k0_10_0);
  if (!cfg) return 1;

  signals::StopFlag stop;
  signals::ShutdownSignals shutdown_signals(stop, http::cancel_in_flight);
  return run_task_agent(std::move(*cfg), AgentMode::health_sync, stop);
}

}  // namespace consulecs::commands
