// app-entrypoint: ECS sends SIGTERM to every container of a task at once. The
// app keeps serving for `-shutdown-delay` after SIGTERM so the proxy and
// Consul can drain traffic away from it first.
#include <chrono>
#include <cstdio>
#include <optional>

#include "commands/command.h"
#include "commands/common.h"
#include "process/child.h"
#include "util/log.h"

namespace consulecs::commands {

int run_app_entrypoint(const Args& raw_args) {
  cli::FlagSet flags{
      "Usage: consul-ecs app-entrypoint [options] <command> [args...]\n"
      "  Runs the command; on SIGTERM keeps it running for -shutdown-delay, then\n"
      "  sends it SIGTERM. Other signals are forwarded at once. The flags end at the\n"
      "  first non-flag argument or at --; what follows is the command, as given."};
  std::chrono::milliseconds delay{0};
  flags.add_duration("shutdown-delay", &delay,
                     "Keep the application running this long after SIGTERM (Go duration, e.g. \"10s\")");
  auto started = start_wrapped_command(flags, raw_args, "");
  if (const int* code = std::get_if<int>(&started)) return *code;
  process::Child& child = std::get<process::Child>(started);
  std::optional<std::chrono::steady_clock::time_point> terminate_at;
  const int code = process::supervise(
      child,
      [&] {
        // The reference's words; it says nothing when there is no delay.
        if (delay.count() > 0) {
          log::info("received sigterm. waiting {} before terminating application.", process::format_duration(delay));
        }
        terminate_at = std::chrono::steady_clock::now() + delay;
      },
      [&] { return terminate_at && std::chrono::steady_clock::now() >= *terminate_at; },
      "error sending sigterm to application");
  // Go's ProcessState.ExitCode() is -1 for a signal, so the reference exits 255.
  return child.term_signal() != 0 ? kExitKilledBySignal : code;
}

}  // namespace consulecs::commands
