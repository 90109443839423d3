#include "ecs/task_metadata.h"

#include <nlohmann/json.hpp>

#include <cstdlib>

#include "util/json_fields.h"
#include "util/json_parse.h"

namespace consulecs::ecs {
namespace {

using nlohmann::json;

using util::string_field;

// arn:<partition>:ecs:<region>:<account>:task/<cluster>/<id>
std::vector<std::string> arn_parts(const std::string& arn) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 5; ++i) {
    const size_t colon = arn.find(':', start);
    if (colon == std::string::npos) break;
    parts.push_back(arn.substr(start, colon - start));
    start = colon + 1;
  }
  parts.push_back(arn.substr(start));
  return parts;
}

}  // namespace

std::string TaskMetadata::task_id() const {
  const auto slash = task_arn.rfind('/');
  return slash == std::string::npos ? task_arn : task_arn.substr(slash + 1);
}

std::string TaskMetadata::partition() const {
  auto parts = arn_parts(task_arn);
  return parts.size() == 6 ? parts[1] : "aws";
}

std::string TaskMetadata::region() const {
  auto parts = arn_parts(task_arn);
  return parts.size() == 6 ? parts[3] : "";
}

std::string TaskMetadata::account_id() const {
  auto parts = arn_parts(task_arn);
  return parts.size() == 6 ? parts[4] : "";
}

std::string TaskMetadata::cluster_arn() const {
  if (cluster.rfind("arn:", 0) == 0) return cluster;
  return "arn:" + partition() + ":ecs:" + region() + ":" + account_id() + ":cluster/" + cluster;
}

std::string TaskMetadata::node_ip() const {
  for (const auto& container : containers) {
    if (!container.ipv4_addresses.empty()) return container.ipv4_addresses.front();
  }
  return {};
}

const Container* TaskMetadata::find_container(std::string_view name) const {
  for (const auto& container : containers) {
    if (container.name == name) return &container;
  }
  return nullptr;
}

TaskMetadata parse_task_metadata(std::string_view json_text) {
  json doc = util::parse_json_or_discarded(json_text, "task metadata");
  if (doc.is_discarded() || !doc.is_object()) throw MetadataError("task metadata is not a JSON object");
  TaskMetadata task;
  task.cluster = string_field(doc, "Cluster");
  task.task_arn = string_field(doc, "TaskARN");
  task.family = string_field(doc, "Family");
  task.revision = string_field(doc, "Revision");
  task.desired_status = string_field(doc, "DesiredStatus");
  task.known_status = string_field(doc, "KnownStatus");
  task.availability_zone = string_field(doc, "AvailabilityZone");
  task.launch_type = string_field(doc, "LaunchType");
  if (task.task_arn.empty()) throw MetadataError("task metadata has no TaskARN");
  if (arn_parts(task.task_arn).size() != 6)
    throw MetadataError("task metadata TaskARN is not an ARN: " + task.task_arn);
  if (task.cluster.empty()) throw MetadataError("task metadata has no Cluster");

  if (auto it = doc.find("Containers"); it != doc.end() && it->is_array()) {
    for (const auto& item : *it) {
      if (!item.is_object()) continue;
      Container container;
      container.name = string_field(item, "Name");
      container.docker_id = string_field(item, "DockerId");
      container.known_status = string_field(item, "KnownStatus");
      container.desired_status = string_field(item, "DesiredStatus");
      if (auto health = item.find("Health"); health != item.end() && health->is_object()) {
        container.health = ContainerHealth{string_field(*health, "status")};
      }
      if (auto networks = item.find("Networks"); networks != item.end() && networks->is_array()) {
        for (const auto& network : *networks) {
          auto addresses = network.find("IPv4Addresses");
          if (addresses == network.end() || !addresses->is_array()) continue;
          for (const auto& address : *addresses) {
            if (address.is_string()) container.ipv4_addresses.push_back(address.get<std::string>());
          }
        }
      }
      task.containers.push_back(std::move(container));
    }
  }
  return task;
}

MetadataClient::MetadataClient(std::string base_uri) : base_uri_(std::move(base_uri)) {
  if (base_uri_.empty()) {
    const char* env = std::getenv("ECS_CONTAINER_METADATA_URI_V4");
    if (env == nullptr || *env == '\0') {
      throw MetadataError("ECS_CONTAINER_METADATA_URI_V4 is not set: consul-ecs must run inside an ECS task");
    }
    base_uri_ = env;
  }
  while (!base_uri_.empty() && base_uri_.back() == '/') base_uri_.pop_back();
}

TaskMetadata MetadataClient::fetch_task(const signals::StopFlag* cancel) {
  http::Request request;
  request.url = base_uri_ + "/task";
  request.timeout = std::chrono::milliseconds(5000);
  request.cancel = cancel;
  http::Response response;
  try {
    response = http_.send(request);
  } catch (const http::TransportError& e) {
    throw MetadataError(std::string("task metadata request failed: ") + e.what());
  }
  if (response.status != 200) {
    throw MetadataError("task metadata request " + request.url + " returned HTTP " + std::to_string(response.status));
  }
  return parse_task_metadata(response.body);
}

}  // namespace consulecs::ecs
