#include <cstdio>

#include "build_info.h"
#include "commands/command.h"

namespace consulecs::commands {

int run_version(const Args& args) {
  if (!args.empty() && args[0] != "-json" && args[0] != "--json") {
    std::fprintf(stderr, "version: unexpected argument %s\n", args[0].c_str());
    return 1;
  }
  if (!args.empty()) {
    std::printf("{\"version\":\"%s\",\"revision\":\"%s\",\"buildType\":\"%s\",\"compiler\":\"%s\"}\n",
                CONSUL_ECS_VERSION, CONSUL_ECS_GIT_COMMIT, CONSUL_ECS_BUILD_TYPE, CONSUL_ECS_COMPILER);
    return 0;
  }
  std::printf("consul-ecs v%s (%s)\nbuild: %s, %s%s%s\n", CONSUL_ECS_VERSION, CONSUL_ECS_GIT_COMMIT,
              CONSUL_ECS_BUILD_TYPE, CONSUL_ECS_COMPILER, CONSUL_ECS_CXX_FLAGS[0] ? ", flags: " : "",
              CONSUL_ECS_CXX_FLAGS);
  return 0;
}

}  // namespace consulecs::commands
