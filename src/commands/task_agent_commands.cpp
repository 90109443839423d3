// The three commands that run the task agent (commands/task_agent.h): the
// same start-up, health sync and shutdown, in the layout of each generation.
//   control-plane  v0.7.3: one long-running process for all of it
//   mesh-init      v0.10: registers, writes the dataplane's files, sets up
//                  Consul DNS and the transparent proxy, and exits 0
//   health-sync    v0.10: health sync, anti-entropy, and on SIGTERM all
//                  critical, wait for consul-dataplane, deregister, log out

#include "commands/command.h"
#include "commands/common.h"
#include "commands/task_agent.h"
#include "http/client.h"
#include "util/signals.h"

namespace consulecs::commands {
namespace {

struct AgentCommand {
  const char* usage;
  AgentMode mode;
  config::SchemaVersion schema;
  bool config_file_flag;  // -config-file (ours; the reference reads CONSUL_ECS_CONFIG_JSON only)
};

int run_agent_command(const AgentCommand& command, const Args& raw_args) {
  cli::FlagSet flags{command.usage};
  std::string config_file;
  if (command.config_file_flag) {
    flags.add_string("config-file", &config_file, "Path to the JSON config (default: $CONSUL_ECS_CONFIG_JSON)");
  }
  if (auto code = parse_flags(flags, raw_args)) return *code;
  if (auto code = reject_positional(flags)) return *code;

  auto cfg = load_config_or_report(config_file, command.schema);
  if (!cfg) return 1;

  signals::StopFlag stop;
  // The first SIGTERM also cuts every request in flight (to a Consul that
  // accepts and never answers, say); the shutdown's own requests start after.
  signals::ShutdownSignals shutdown_signals(stop, http::cancel_in_flight);
  return run_task_agent(std::move(*cfg), command.mode, stop);
}

}  // namespace

int run_control_plane(const Args& args) {
  return run_agent_command({"Usage: consul-ecs control-plane [options]\n"
                            "  Registers this ECS task in the Consul service mesh and syncs its health.\n"
                            "  Config comes from CONSUL_ECS_CONFIG_JSON or -config-file.",
                            AgentMode::control_plane, config::SchemaVersion::k0_7_3, true},
                           args);
}

int run_mesh_init(const Args& args) {
  return run_agent_command({"Usage: consul-ecs mesh-init [options]\n"
                            "  Registers this ECS task in the Consul service mesh, writes the files\n"
                            "  consul-dataplane needs to the bootstrap directory, and exits.\n"
                            "  Config comes from CONSUL_ECS_CONFIG_JSON or -config-file (the v0.10.0 schema).",
                            AgentMode::mesh_init, config::SchemaVersion::k0_10_0, true},
                           args);
}

int run_health_sync(const Args& args) {
  return run_agent_command({"Usage: consul-ecs health-sync [options]\n"
                            "  Syncs the ECS health of this task's containers into the Consul checks\n"
                            "  mesh-init registered, and deregisters the task when it stops.\n"
                            "  Config comes from CONSUL_ECS_CONFIG_JSON or -config-file (the v0.10.0 schema).",
                            AgentMode::health_sync, config::SchemaVersion::k0_10_0, true},
                           args);
}

}  // namespace consulecs::commands
