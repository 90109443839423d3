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
  cli::FlagSet flags{"Usage: consul-ecs envoy-entrypoint [options] <proxy command> [args...]\n"
                     "  Runs the proxy; on SIGTERM keeps it running until all application containers\n"
                     "  of the task have stopped, then terminates it. The flags end at the first\n"
                     "  non-flag argument or at --; what follows is the proxy command, as given."};
  auto started = start_wrapped_command(flags, raw_args, "envoy-entrypoint");
  if (const int* code = std::get_if<int>(&started)) return *code;
  process::Child& child = std::get<process::Child>(started);

  std::optional<ecs::MetadataClient> metadata;
  bool waiting = false;
  auto next_poll = std::chrono::steady_clock::now();
  const int code = process::supervise(
      child,
      [&] {
        waiting = true;
        try {
          metadata.emplace();
          log::info("received SIGTERM, waiting for application container(s) to stop");
        } catch (const std::exception& e) {
          // Without metadata we cannot know when the app stops: do not hold
          // the proxy hostage, terminate it now.
          log::error("cannot read task metadata ({}); terminating the proxy now", e.what());
          metadata.reset();
        }
      },
      [&] {
        if (!waiting) return false;
        if (!metadata) return true;
        const auto now = std::chrono::steady_clock::now();
        if (now < next_poll) return false;
        next_poll = now + std::chrono::seconds(1);
        try {
          if (mesh::all_app_containers_stopped(metadata->fetch_task())) {
            log::info("application container(s) stopped, terminating the proxy");
            return true;
          }
        } catch (const std::exception& e) {
          log::error("fetching task metadata: {}", e.what());
        }
        return false;
      });
  if (const int sig = child.term_signal(); sig != 0) {
    log::info("proxy killed by signal {}", sig);
    return kExitKilledBySignal;
  }
  log::info("proxy exited with code {}", code);
  return code;
}

}  // namespace consulecs::commands
