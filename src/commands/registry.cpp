#include "commands/command.h"

namespace consulecs::commands {

const std::vector<Command>& all() {
  static const std::vector<Command> commands = {
      {"control-plane", "Registers the task in the Consul mesh and syncs its health", run_control_plane},
      {"mesh-init", "Registers the task in the Consul mesh and writes the dataplane's config (v0.10 layout)",
       run_mesh_init},
      {"health-sync", "Syncs the task's health into Consul and deregisters it on stop (v0.10 layout)",
       run_health_sync},
      {"controller", "Keeps the mesh's Consul ACL objects and cleans up after stopped tasks", run_controller},
      {"app-entrypoint", "Runs an application and delays its SIGTERM for graceful shutdown", run_app_entrypoint},
      {"envoy-entrypoint", "Runs the proxy and keeps it up until the application containers stop", run_envoy_entrypoint},
      {"net-dial", "Exits 0 when a TCP connection to host:port succeeds", run_net_dial},
      {"version", "Prints the version", run_version},
  };
  return commands;
}

}  // namespace consulecs::commands
