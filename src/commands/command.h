#pragma once
// Subcommand registry. Each command parses its own flags and returns the
// process exit code.
#include <functional>
#include <string>
#include <vector>

namespace consulecs::commands {

using Args = std::vector<std::string>;  // arguments after the command name

struct Command {
  std::string name;
  std::string synopsis;
  std::function<int(const Args&)> run;
};

const std::vector<Command>& all();

int run_control_plane(const Args& args);
int run_controller(const Args& args);
int run_mesh_init(const Args& args);
int run_health_sync(const Args& args);
int run_app_entrypoint(const Args& args);
int run_envoy_entrypoint(const Args& args);
int run_net_dial(const Args& args);
int run_version(const Args& args);

}  // namespace consulecs::commands
