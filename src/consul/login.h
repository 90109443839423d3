#pragma once
// Logs in to Consul with the aws-iam auth method, as an ECS task.
#include <map>
#include <string>

#include "aws/credentials.h"
#include "config/config.h"
#include "consul/endpoints.h"
#include "ecs/task_metadata.h"
#include "util/signals.h"

namespace consulecs::consul {

// The login meta: `consul.hashicorp.com/task-id` and
// `consul.hashicorp.com/cluster` (the cluster ARN) plus consulLogin.meta.
std::map<std::string, std::string> login_meta(const config::Config& cfg, const ecs::TaskMetadata& task);

// The aws-iam login request: a freshly signed bearer token (valid 15 min
// from now) from the current credentials, the login meta, datacenter and
// partition. Shared by our own login and the credentials mesh-init hands to
// the dataplane. Throws on any failure, with the cause in the message.
// `cancel` set: its AWS requests (credentials, STS) fail once it is set.
LoginRequest iam_login_request(const config::Config& cfg, const ecs::TaskMetadata& task,
                               aws::CredentialsProvider& credentials, const signals::StopFlag* cancel = nullptr);

}  // namespace consulecs::consul
