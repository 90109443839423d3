// consul-ecs: puts AWS ECS tasks on a Consul service mesh.
#include "commands/dispatch.h"

int main(int argc, char** argv) {
  return consulecs::commands::dispatch(consulecs::commands::Args(argv + 1, argv + argc));
}
