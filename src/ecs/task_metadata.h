#pragma once
// ECS task metadata endpoint v4: the parts consul-ecs needs.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "http/client.h"

namespace consulecs::ecs {

// ECS container health as reported by the agent ("HEALTHY", "UNHEALTHY", "UNKNOWN").
struct ContainerHealth {
  std::string status;
};

struct Container {
  std::string name;
  std::string docker_id;
  std::string known_status;  // PENDING, RUNNING, STOPPED, ...
  std::string desired_status;
  std::optional<ContainerHealth> health;
  std::vector<std::string> ipv4_addresses;

  bool stopped() const { return known_status == "STOPPED"; }
};

struct TaskMetadata {
  std::string cluster;  // as reported: a name (EC2) or an ARN (Fargate)
  std::string task_arn;
  std::string family;
  std::string revision;
  std::string desired_status;
  std::string known_status;
  std::string availability_zone;
  std::string launch_type;
  std::vector<Container> containers;

  std::string task_id() const;      // last segment of the task ARN
  std::string region() const;       // from the task ARN
  std::string account_id() const;   // from the task ARN
  std::string partition() const;    // "aws", "aws-cn", ...
  std::string cluster_arn() const;  // cluster as ARN, derived when it is a name
  std::string node_ip() const;      // first IPv4 address of any container, "" if none
  const Container* find_container(std::string_view name) const;
};

class MetadataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses the JSON served at $ECS_CONTAINER_METADATA_URI_V4/task. Throws
// MetadataError, or util::JsonParseError (too_deep()) for a document nested
// deeper than util::kMaxJsonDepth.
TaskMetadata parse_task_metadata(std::string_view json_text);

// Fetches task metadata from $ECS_CONTAINER_METADATA_URI_V4/task.
class MetadataClient {
 public:
  // base_uri empty -> read ECS_CONTAINER_METADATA_URI_V4.
  explicit MetadataClient(std::string base_uri = {});
  // `cancel` set: the request fails (MetadataError) once that flag is set.
  TaskMetadata fetch_task(const signals::StopFlag* cancel = nullptr);
  const std::string& base_uri() const { return base_uri_; }

 private:
  std::string base_uri_;
  http::Client http_;
};

}  // namespace consulecs::ecs
