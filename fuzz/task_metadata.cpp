// libFuzzer target: the ECS task metadata parser (the body of
// $ECS_CONTAINER_METADATA_URI_V4/task), then everything that reads the
// parsed task: the health mapping, the registrations, the controller's
// settings. MetadataError / util::JsonParseError are the expected answers to
// bad input; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"
#include "controller/settings.h"
#include "ecs/task_metadata.h"
#include "mesh/containers.h"
#include "mesh/health_sync.h"
#include "mesh/registration.h"
#include "util/json_parse.h"

namespace {

using namespace consulecs;

const config::Config& fixed_config() {
  static const config::Config cfg = config::load_config(R"({
    "bootstrapDir": "/consul", "consulServers": {"hosts": "consul.dc1"},
    "healthSyncContainers": ["app", "sidecar"],
    "service": {"port": 8080, "meta": {"team": "fuzz"}},
    "proxy": {"upstreams": [{"destinationName": "db", "localBindPort": 5432}]}})");
  return cfg;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ecs::TaskMetadata task;
  try {
    task = ecs::parse_task_metadata(text);
  } catch (const ecs::MetadataError&) {
    return 0;
  } catch (const util::JsonParseError&) {
    return 0;
  }
  (void)task.task_id();
  (void)task.region();
  (void)task.account_id();
  (void)task.partition();
  (void)task.cluster_arn();
  (void)task.node_ip();
  (void)mesh::all_app_containers_stopped(task);
  for (const auto& container : task.containers) {
    (void)mesh::is_mesh_container(container.name);
    (void)task.find_container(container.name);
    (void)mesh::consul_status_for(task, container.name);
    (void)mesh::status_output(task, container.name);
  }
  (void)mesh::consul_status_for(task, "missing");
  try {
    const mesh::TaskRegistrations regs = mesh::build_registrations(fixed_config(), task);
    (void)mesh::dataplane_config(fixed_config(), regs, mesh::DataplaneInputs{}).dump();
  } catch (const config::ConfigError&) {
  }
  try {
    (void)controller::make_settings(fixed_config(), task);
  } catch (const config::ConfigError&) {
  }
  return 0;
}
