#include "commands/dispatch.h"

#include <cstdio>

#include "build_info.h"

namespace consulecs::commands {
namespace {

constexpr int kExitNoCommand = 127;  // as the reference (mitchellh/cli)

void print_usage() {
  std::fprintf(stderr, "Usage: consul-ecs [-version] [-help] <command> [args...]\n\nAvailable commands:\n");
  for (const auto& command : all()) {
    std::fprintf(stderr, "    %-18s %s\n", command.name.c_str(), command.synopsis.c_str());
  }
  std::fprintf(stderr, "\nRun `consul-ecs <command> -help` for the flags of a command.\n");
}

const Command* find_command(const std::string& name) {
  for (const auto& command : all()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

}  // namespace

TopLevel parse_top_level(const Args& args) {
  TopLevel top;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;
    if (arg == "-h" || arg == "-help" || arg == "--help") {
      top.help = true;
    } else if (arg == "-v" || arg == "-version" || arg == "--version") {
      top.version = true;
    } else if (!arg.empty() && arg[0] == '-') {
      top.unknown_flags.push_back(arg);
    } else if (!arg.empty()) {
      top.command = arg;
      top.command_args.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
  }
  return top;
}

int dispatch(const Args& args) {
  const TopLevel top = parse_top_level(args);
  if (top.version) {
    std::fprintf(stderr, "v%s\n", CONSUL_ECS_VERSION);
    return 0;
  }
  if (top.help && top.command.empty()) {
    print_usage();
    return 0;
  }
  const Command* command = find_command(top.command);
  if (command == nullptr) {
    if (!top.command.empty()) std::fprintf(stderr, "consul-ecs: unknown command \"%s\"\n\n", top.command.c_str());
    print_usage();
    return kExitNoCommand;
  }
  if (top.help) {
    command->run({"-h"});
    return 0;
  }
  if (!top.unknown_flags.empty()) {
    std::fprintf(stderr, "Invalid flag %s before the command; flags of a command go after its name.\n\n",
                 top.unknown_flags.front().c_str());
    command->run({"-h"});
    return 1;
  }
  return command->run(top.command_args);
}

}  // namespace consulecs::commands
