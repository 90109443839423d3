// libFuzzer target: Consul answers as the controller reads them. The input
// is a list of answers separated by NUL bytes (JSON never holds a raw NUL);
// Consul call i gets answer i mod n, parsed exactly as consul::Client::call
// parses a body (util::parse_json_or_discarded; text that is not JSON
// becomes a JSON string). An answer "!<status>" is an HTTP error instead
// (consul::ApiError, e.g. "!404", "!403"), "!!" no server reachable. A whole
// reconcile runs against them (ACL objects, node services, login tokens,
// synthetic node, clean-up), with and without admin partitions, and the
// login-token description parser gets every answer too.
// Errors must stay in the reconcile report; an exception out of
// reconcile() (but EnterpriseRequiredError) or a crash is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "consul/client.h"
#include "controller/acl.h"
#include "controller/reconciler.h"
#include "controller/task_state.h"
#include "util/json_parse.h"

namespace {

using namespace consulecs;
using nlohmann::json;

std::vector<std::string> split_answers(std::string_view input) {
  std::vector<std::string> answers;
  std::size_t start = 0;
  while (true) {
    const auto end = input.find('\0', start);
    answers.emplace_back(input.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos || answers.size() >= 64) break;
    start = end + 1;
  }
  return answers;
}

json answer(const std::string& raw, const std::string& method, const std::string& path) {
  if (raw == "!!") throw consul::UnavailableError("no Consul server reachable");
  if (raw.size() > 1 && raw[0] == '!') {
    long status = 0;
    for (std::size_t i = 1; i < raw.size() && i < 5 && raw[i] >= '0' && raw[i] <= '9'; ++i) {
      status = status * 10 + (raw[i] - '0');
    }
    throw consul::ApiError(status, method + " " + path + ": HTTP " + std::to_string(status) + ": " + raw.substr(1));
  }
  if (raw.empty()) return nullptr;
  json parsed = util::parse_json_or_discarded(raw, "Consul answer");
  return parsed.is_discarded() ? json(raw) : parsed;
}

void reconcile(const std::vector<std::string>& answers, bool partitions) {
  controller::Settings settings;
  settings.cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/fuzz";
  settings.node_address = "10.0.0.1";
  settings.account_id = "123456789012";
  settings.partitions_enabled = partitions;
  settings.partition = partitions ? "default" : "";
  std::size_t call = 0;
  controller::ConsulCall consul = [&](const std::string& method, const std::string& path, const json*) {
    // Bounded: a reconcile makes a few dozen calls; a loop would be a finding (timeout).
    return answer(answers[call++ % answers.size()], method, path);
  };
  controller::Reconciler::TaskLister list = [] {
    ecs::ClusterTasks tasks;
    tasks.task_arns = {"arn:aws:ecs:us-east-1:123456789012:task/fuzz/running"};
    ecs::Task task;
    task.task_arn = tasks.task_arns[0];
    task.cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/fuzz";
    task.tags = {{"consul.hashicorp.com/mesh", "true"}, {"consul.hashicorp.com/namespace", "ns1"}};
    tasks.tasks.push_back(task);
    return tasks;
  };
  controller::Reconciler::TaskDescriber describe = [](const std::vector<std::string>&) {
    return ecs::DescribeTasksResult{};
  };
  controller::Reconciler reconciler(settings, consul, list, nullptr, describe);
  try {
    const controller::ReconcileReport report = reconciler.reconcile();
    (void)report.ok();
    (void)report.changed();
  } catch (const controller::EnterpriseRequiredError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> answers = split_answers(input);
  for (const auto& raw : answers) {
    (void)controller::parse_login_description("token created via login: " + raw);
  }
  reconcile(answers, false);
  reconcile(answers, true);
  return 0;
}
