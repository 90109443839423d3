// app-entrypoint: ECS sends SIGTERM to every container of a task at once. The
// app keeps serving for `-shutdown-delay` after SIGTERM so the proxy and
// Consul can drain traffic away from it first.
#include <CLI/CLI.hpp>

#include <chrono>
#include <optional>

#include "commands/command.h"
#include "commands/common.h"
#include "process/child.h"
#include "util/log.h"

namespace consulecs::commands {

int run_app_entrypoint(const Args& raw_args) {
  CLI::App app{"Runs an application; on SIGTERM waits -shutdown-delay, then terminates it.\n"
               "Usage: consul-ecs app-entrypoint [-shutdown-delay 10s] -- <command> [args...]",
               "app-entrypoint"};
  std::string delay_text = "0";
  std::vector<std::string> command;
  app.add_option("--shutdown-delay", delay_text, "Time to keep the app running after SIGTERM (Go duration)");
  app.add_option("command", command, "The application command")->required();
  app.allow_extras(false);
  if (auto code = parse_flags(app, raw_args)) return *code;
  std::chrono::milliseconds delay{0};
  try {
    delay = process::parse_duration(delay_text);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "app-entrypoint: -shutdown-delay: %s\n", e.what());
    return 1;
  }

  std::optional<process::Child> child;
  try {
    child.emplace(command);
  } catch (const std::exception& e) {
    log::error("app-entrypoint: {}", e.what());
    return 1;
  }
  std::optional<std::chrono::steady_clock::time_point> terminate_at;
  const int code = process::supervise(
      *child,
      [&] {
        log::info("received SIGTERM, waiting {} ms before terminating the application", delay.count());
        terminate_at = std::chrono::steady_clock::now() + delay;
      },
      [&] { return terminate_at && std::chrono::steady_clock::now() >= *terminate_at; });
  log::info("application exited with code {}", code);
  return code;
}

}  // namespace consulecs::commands
