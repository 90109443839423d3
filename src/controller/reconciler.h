#pragma once
// One reconcile of the controller:
//   1. ACL objects (AclProvisioner): created or updated only where they differ.
//   2. Consul state: one node-services read and one token list read.
//   3. The cluster's synthetic node, registered if missing.
//   4. ECS: every task of the cluster (ListTasks pages, DescribeTasks x100).
//   5. Partitions only: namespaces of the mesh tasks.
//   6. Clean-up of task IDs in Consul with no task in ECS.
// Consul is read before ECS on purpose: a task that registers between the
// two reads is then already in the ECS listing, never mistaken for stopped.
// Any failure of step 2 or 4 skips the clean-up of that reconcile: a missing
// or partial listing must never look like "every task is gone".
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "controller/acl.h"
#include "controller/settings.h"
#include "controller/task_state.h"
#include "ecs/api_client.h"
#include "util/signals.h"

namespace consulecs::controller {

struct ReconcileReport {
  // Step 1
  bool acl_ok = false;
  std::string acl_error;
  std::vector<std::string> acl_changes;
  // Steps 2-3
  bool consul_ok = false;
  std::string consul_error;
  bool node_registered = false;
  std::string node_error;
  std::size_t consul_services = 0;  // instances of ECS tasks on the node
  std::size_t consul_tokens = 0;    // login tokens of this cluster's tasks
  std::size_t consul_tasks = 0;     // distinct task IDs with state in Consul
  // Step 4
  bool ecs_ok = false;
  std::string ecs_error;
  std::size_t listed_tasks = 0;
  std::size_t mesh_tasks = 0;
  std::vector<std::string> ecs_warnings;
  // Step 5
  std::vector<std::string> namespace_changes;
  std::vector<std::string> namespace_errors;
  // Step 6
  bool cleanup_skipped = true;
  std::size_t stale_tasks = 0;
  std::size_t stopping_tasks = 0;  // missing from the listing but still stopping: spared
  std::size_t services_deregistered = 0;
  std::size_t tokens_deleted = 0;
  std::vector<std::string> cleanup_errors;

  bool changed() const;  // anything written
  bool ok() const;       // no error of any kind
};

class Reconciler {
 public:
  using TaskLister = std::function<ecs::ClusterTasks()>;
  // DescribeTasks for the given task IDs (any number; batching is the
  // callee's). Used to spare tasks that are still stopping.
  using TaskDescriber = std::function<ecs::DescribeTasksResult(const std::vector<std::string>& task_ids)>;

  // `stop` (optional) interrupts a long clean-up between tasks. Without a
  // describer, every task missing from the listing counts as stopped.
  Reconciler(Settings settings, ConsulCall consul, TaskLister list_tasks, const signals::StopFlag* stop = nullptr,
             TaskDescriber describe_tasks = nullptr);

  // Never throws for Consul or ECS failures (they are in the report), except
  // EnterpriseRequiredError, which no retry can fix.
  ReconcileReport reconcile();

  const Settings& settings() const { return settings_; }

 private:
  ConsulState read_consul(ReconcileReport& report);
  void register_node(ReconcileReport& report);
  void clean_up(const std::vector<Cleanup>& plan, ReconcileReport& report);
  // Drops from `plan` the tasks ECS still reports as stopping (desired
  // STOPPED, last status not yet STOPPED): their own control-plane is
  // deregistering them, and taking their token away would break that.
  // Returns false when ECS could not tell (then nothing is cleaned).
  bool spare_stopping_tasks(std::vector<Cleanup>& plan, ReconcileReport& report);

  Settings settings_;
  ConsulCall consul_;
  TaskLister list_tasks_;
  const signals::StopFlag* stop_;
  TaskDescriber describe_tasks_;
  AclProvisioner acl_;
};

// One line summarising a report, for the log.
std::string summarize(const ReconcileReport& report);

}  // namespace consulecs::controller
