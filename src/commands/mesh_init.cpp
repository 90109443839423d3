// mesh-init (v0.10 layout): registers the task's service and proxy with
// critical checks, writes the dataplane's files, sets up Consul DNS and the
// transparent proxy, and exits 0; health-sync takes over from there. The
// work is the shared task agent's (commands/task_agent.h).

#include "commands/command.h"
#include "commands/common.h"
#include "commands/task_agent.h"
#include "http/client.h"
#include "util/signals.h"

namespace consulecs::commands {

int run_mesh_init(const Args& raw_args) {
  // As the reference: no flags; the config comes from CONSUL_ECS_CONFIG_JSON.
  cli::FlagSet flags{"Usage: consul-ecs mesh-init\n"
                     "  Registers this ECS task in the Consul service mesh, writes the files\n"
                     "  consul-dataplane needs to the bootstrap directory, and exits.\n"
                     "  Config comes from CONSUL_ECS_CONFIG_JSON (the v0.10.0 schema)."};
  if (auto code = parse_flags(flags, raw_args)) return *code;
  if (auto code = reject_positional(flags)) return *code;

  auto cfg = load_config_or_report("", config::SchemaVersion::k0_10_0);
  if (!cfg) return 1;

  signals::StopFlag stop;
  signals::ShutdownSignals shutdown_signals(stop, http::cancel_in_flight);
  return run_task_agent(std::move(*cfg), AgentMode::mesh_init, stop);
}

}  // namespace consulecs::commands
