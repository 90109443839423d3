// consul-ecs: puts AWS ECS tasks on a Consul service mesh.
#include <cstdio>
#include <string>

#include "commands/command.h"

namespace {

void print_usage(std::FILE* out) {
  std::fprintf(out, "Usage: consul-ecs <command> [flags]\n\nAvailable commands:\n");
  for (const auto& command : consulecs::commands::all()) {
    std::fprintf(out, "    %-18s %s\n", command.name.c_str(), command.synopsis.c_str());
  }
  std::fprintf(out, "\nRun `consul-ecs <command> -help` for the flags of a command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 1;
  }
  const std::string name = argv[1];
  if (name == "-h" || name == "-help" || name == "--help" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "-v" || name == "-version" || name == "--version") {
    return consulecs::commands::run_version({});
  }
  for (const auto& command : consulecs::commands::all()) {
    if (command.name == name) return command.run(consulecs::commands::Args(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "consul-ecs: unknown command \"%s\"\n\n", name.c_str());
  print_usage(stderr);
  return 1;
}
