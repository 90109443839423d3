#pragma once
// The top level of the command line, `consul-ecs [-version|-help] <command>
// [args...]`, with the reference's rules (its CLI layer, mitchellh/cli):
// help and version go to stderr; a missing or unknown command is exit 127.
#include <string>

#include "commands/command.h"

namespace consulecs::commands {

struct TopLevel {
  bool help = false;     // -h, -help or --help before the command
  bool version = false;  // -v, -version or --version before the command
  Args unknown_flags;    // any other -flag before the command
  std::string command;   // first argument not starting with '-'; empty if none
  Args command_args;     // everything after it, untouched
};

// Scans the arguments after the program name up to the command (or `--`).
TopLevel parse_top_level(const Args& args);

// Runs the whole command line; returns the process exit code.
int dispatch(const Args& args);

}  // namespace consulecs::commands
