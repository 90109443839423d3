#include "consul/login.h"

#include <chrono>

#include "aws/sts.h"
#include "consul/iam_bearer_token.h"

namespace consulecs::consul {

std::map<std::string, std::string> login_meta(const config::Config& cfg, const ecs::TaskMetadata& task) {
  std::map<std::string, std::string> meta;
  if (cfg.consul_login) meta = cfg.consul_login->meta;
  meta["consul.hashicorp.com/task-id"] = task.task_id();
  meta["consul.hashicorp.com/cluster"] = task.cluster_arn();
  return meta;
}

LoginRequest iam_login_request(const config::Config& cfg, const ecs::TaskMetadata& task,
                               aws::CredentialsProvider& credentials, const signals::StopFlag* cancel) {
  const config::ConsulLogin empty;
  const auto& login = cfg.consul_login ? *cfg.consul_login : empty;
  IamLoginParams params;
  params.creds = credentials.get(cancel);
  params.region = aws::resolve_region(login.region, task.task_arn);
  params.sts_endpoint = login.sts_endpoint.value_or("");
  params.server_id_header_value = login.server_id_header_value.value_or("");
  params.include_entity = config::login_include_entity(cfg);
  if (params.include_entity) {
    // The embedded iam:GetRole names the caller's role. The ECS credentials
    // endpoint tells it; keys from the environment need one STS call.
    std::string arn = params.creds.role_arn;
    if (arn.empty()) {
      const aws::Transport transport = [cancel, send = aws::default_transport()](const http::Request& request) {
        http::Request cancellable = request;
        cancellable.cancel = cancel;
        return send(cancellable);
      };
      arn = aws::get_caller_identity_arn(params.creds, params.region, params.sts_endpoint, transport);
    }
    bool is_user = false;
    const std::string name = entity_name_from_arn(arn, &is_user);
    (is_user ? params.user_name : params.role_name) = name;
  }

  LoginRequest request;
  request.auth_method = config::login_method(cfg);
  request.bearer_token = build_iam_bearer_token(params, std::chrono::system_clock::now());
  request.meta = login_meta(cfg, task);
  request.datacenter = login.datacenter.value_or("");
  request.partition = config::registration_partition(cfg);
  return request;
}

}  // namespace consulecs::consul
