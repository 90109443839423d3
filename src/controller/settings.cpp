#include "controller/settings.h"

#include "consul/client.h"
#include "http/client.h"

namespace consulecs::controller {

Settings make_settings(const config::Config& cfg, const ecs::TaskMetadata& task) {
  const bool enabled = config::partitions_enabled(cfg);
  if (!enabled && cfg.controller && cfg.controller->partition && !cfg.controller->partition->empty()) {
    throw config::ConfigError({"controller.partition: set to \"" + *cfg.controller->partition +
                               "\" but controller.partitionsEnabled is not true; enable partitions (Consul "
                               "Enterprise) or remove the partition"});
  }
  Settings settings;
  settings.cluster_arn = task.cluster_arn();
  settings.node_address = task.node_ip();
  // The address of the synthetic node does not matter (nothing connects to
  // it); the reference used 127.0.0.2 when it had none.
  if (settings.node_address.empty()) settings.node_address = "127.0.0.2";
  settings.account_id = task.account_id();
  settings.aws_partition = task.partition();
  settings.auth_method = config::login_method(cfg);
  settings.iam_role_path = config::iam_role_path(cfg);
  settings.partitions_enabled = enabled;
  settings.partition = enabled ? config::controller_partition(cfg) : std::string();
  return settings;
}

std::string with_query(std::string path, const std::vector<std::pair<std::string, std::string>>& params) {
  char separator = path.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    path += separator;
    path += key + "=" + http::url_encode(value);
    separator = '&';
  }
  return path;
}

std::string path_escape(std::string_view segment) { return http::url_encode(segment, ":/@"); }

bool is_not_found(const std::exception& error) {
  const auto* api = dynamic_cast<const consul::ApiError*>(&error);
  if (api == nullptr) return false;
  if (api->status() == 404) return true;
  return api->status() == 403 && std::string_view(api->what()).find("ACL not found") != std::string_view::npos;
}

}  // namespace consulecs::controller
