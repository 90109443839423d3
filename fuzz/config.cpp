// libFuzzer target: the config parser and validator (both schema
// generations), then what the commands derive from an accepted config.
// A ConfigError is the expected answer to bad input; any other exception,
// crash, leak or sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"
#include "controller/settings.h"
#include "ecs/task_metadata.h"
#include "mesh/registration.h"

namespace {

using namespace consulecs;

const ecs::TaskMetadata& fixed_task() {
  static const ecs::TaskMetadata task = ecs::parse_task_metadata(R"({
    "Cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/fuzz",
    "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/fuzz/0123456789abcdef",
    "Family": "web", "Revision": "3", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
    "Containers": [
      {"Name": "app", "KnownStatus": "RUNNING", "Health": {"status": "HEALTHY"},
       "Networks": [{"IPv4Addresses": ["10.0.0.7"]}]},
      {"Name": "consul-dataplane", "KnownStatus": "RUNNING"}]})");
  return task;
}

void use(const config::Config& cfg) {
  (void)config::log_level(cfg);
  (void)config::login_enabled(cfg);
  (void)config::login_method(cfg);
  (void)config::login_include_entity(cfg);
  (void)config::iam_role_path(cfg);
  try {
    const mesh::TaskRegistrations regs = mesh::build_registrations(cfg, fixed_task());
    (void)mesh::dataplane_config(cfg, regs, mesh::DataplaneInputs{"token", "/consul/ca.pem"}).dump();
  } catch (const config::ConfigError&) {
  }
  try {
    (void)controller::make_settings(cfg, fixed_task());
  } catch (const config::ConfigError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto version : {config::SchemaVersion::k0_7_3, config::SchemaVersion::k0_10_0}) {
    try {
      use(config::load_config(text, version));
    } catch (const config::ConfigError& e) {
      (void)e.errors();
    }
  }
  return 0;
}
