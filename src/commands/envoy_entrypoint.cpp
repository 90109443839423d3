// envoy-entrypoint: keeps the proxy running after the task's SIGTERM until
// every application container has stopped, so in-flight requests drain
// through the mesh. ECS's SIGKILL after stopTimeout remains the outer bound.
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>

#include "commands/command.h"
#include "commands/common.h"
#include "ecs/task_metadata.h"
#include "mesh/containers.h"
#include "process/child.h"
#include "util/log.h"

namespace consulecs::commands {

int run_envoy_entrypoint(const Args& raw_args) {
  cli::FlagSet flags{
      "Usage: consul-ecs envoy-entrypoint [options] <proxy command> [args...]\n"
      "  Runs the proxy; on SIGTERM keeps it running until all application containers\n"
      "  of the task have stopped, then terminates it. The flags end at the first\n"
      "  non-flag argument or at --; what follows is the proxy command, as given."};
  auto started = start_wrapped_command(flags, raw_args, "Envoy failed to start");
  if (const int* code = std::get_if<int>(&started)) return *code;
  process::Child& child = std::get<process::Child>(started);

  // The log lines are the reference's (operators' metric filters match them).
  std::optional<ecs::MetadataClient> metadata;
  bool waiting = false;
  auto next_poll = std::chrono::steady_clock::now();
  auto terminate = [] {
    log::info("terminating Envoy with sigterm");
    return true;
  };
  const int code = process::supervise(
      child,
      [&] {
        waiting = true;
        try {
          metadata.emplace();
          log::info("waiting for application container(s) to stop");
        } catch (const std::exception& e) {
          // Without the metadata endpoint we cannot know when the app stops:
          // rather than hold the proxy until ECS's SIGKILL (the reference
          // logs this every second meanwhile), terminate it now.
          log::error("fetching task metadata", {{"err", e.what()}});
          metadata.reset();
        }
      },
      [&] {
        if (!waiting) return false;
        if (!metadata) return terminate();
        const auto now = std::chrono::steady_clock::now();
        if (now < next_poll) return false;
        next_poll = now + std::chrono::seconds(1);
        try {
          if (mesh::all_app_containers_stopped(metadata->fetch_task())) {
            log::info("application container(s) have stopped, terminating envoy");
            return terminate();
          }
        } catch (const std::exception& e) {
          log::error("fetching task metadata", {{"err", e.what()}});
        }
        return false;
      },
      "sending sigterm to Envoy");
  return child.term_signal() != 0 ? kExitKilledBySignal : code;
}

}  // namespace consulecs::commands
