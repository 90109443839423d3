#include <algorithm>
#include <cstdio>
#include <string>

#include "build_info.h"
#include "commands/command.h"
#include "commands/common.h"

namespace consulecs::commands {

int run_version(const Args& args) {
  // As the reference, arguments are ignored, except -h/-help and our -json.
  if (help_requested(args)) {
    std::fprintf(stderr,
                 "Usage: consul-ecs version [-json]\n"
                 "  Prints \"consul-ecs v<version>\" then the git commit and build, or one JSON object.\n");
    return 0;
  }
  const bool json = std::find_if(args.begin(), args.end(),
                                 [](const std::string& a) { return a == "-json" || a == "--json"; }) != args.end();
  if (json) {
    std::printf("{\"version\":\"%s\",\"revision\":\"%s\",\"buildType\":\"%s\",\"compiler\":\"%s\"}\n",
                CONSUL_ECS_VERSION, CONSUL_ECS_GIT_COMMIT, CONSUL_ECS_BUILD_TYPE, CONSUL_ECS_COMPILER);
    return 0;
  }
  // The first line is exactly the reference's; scripts read it.
  std::printf("consul-ecs v%s\nrevision: %s\nbuild: %s, %s%s%s\n", CONSUL_ECS_VERSION, CONSUL_ECS_GIT_COMMIT,
              CONSUL_ECS_BUILD_TYPE, CONSUL_ECS_COMPILER, CONSUL_ECS_CXX_FLAGS[0] ? ", flags: " : "",
              CONSUL_ECS_CXX_FLAGS);
  return 0;
}

}  // namespace consulecs::commands
