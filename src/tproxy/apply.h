#pragma once
// Applies the transparent proxy's rules (tproxy/rules.h) in the current
// network namespace, idempotently: `iptables-save -t nat` reads what is
// there, one `iptables-restore --noflush` transaction replaces our chains and
// our jumps (never duplicating them) and leaves everyone else's rules alone.
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tproxy/rules.h"

namespace consulecs::tproxy {

// A failure to apply, with a message that names the cause (no NET_ADMIN, no
// iptables in the image, iptables' own error).
class ApplyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RunResult {
  bool started = false;  // false: the program could not be executed (see error)
  int exit_code = -1;    // shell-style: the code, or 128+signal
  std::string output;    // stdout
  std::string errors;    // stderr, or why it could not start
};

// Runs argv (argv[0] looked up in PATH) with `input` on its stdin.
using Runner = std::function<RunResult(const std::vector<std::string>& argv, const std::string& input)>;

// fork + exec with pipes; no shell.
RunResult run_process(const std::vector<std::string>& argv, const std::string& input);

// True when the process holds CAP_NET_ADMIN in its effective set
// (/proc/self/status CapEff), which iptables needs.
bool has_net_admin();

// The message for a task that lacks NET_ADMIN.
std::string missing_net_admin_message();

struct ApplyOptions {
  std::string iptables_save = "iptables-save";
  std::string iptables_restore = "iptables-restore";
  bool check_capability = true;  // check CAP_NET_ADMIN before running anything
};

// Applies `rules`. Throws ApplyError. Returns the restore input it applied.
std::string apply_rules(const std::vector<Rule>& rules, const Runner& runner = run_process,
                        const ApplyOptions& options = {});

}  // namespace consulecs::tproxy
