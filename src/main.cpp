// consul-ecs: puts AWS ECS tasks on a Consul service mesh.
#include "commands/curl_applet.h"
#include "commands/dispatch.h"

int main(int argc, char** argv) {
  consulecs::commands::Args args(argv + 1, argv + argc);
  // The image's /usr/bin/curl is this binary: the task definitions' health
  // check runs `curl -f <url>` (commands/curl_applet.h).
  if (argc > 0 && consulecs::commands::invoked_as_curl(argv[0])) return consulecs::commands::run_curl(args);
  return consulecs::commands::dispatch(args);
}
