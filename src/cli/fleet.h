// Policies (plan/apply) and the fleet: any verb on every host of an inventory.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "sshdctl/fleet/inventory.h"
#include "sshdctl/fleet/policy.h"
#include "sshdctl/fleet/rollout.h"
#include "sshdctl/host/ssh_host.h"

namespace sshdctl::cli {

// What a verb did on one target: its exit code, its JSON and text reports.
struct Outcome {
  int code = 0;
  Json json;
  std::string text;
  std::optional<ChangeReport> change;  // for the verbs that change something
};

// The passwords a policy names ({env: VAR} / {file: PATH}), read once on this machine:
// user → password. Throws Error(kBadInput) naming POLICY:LINE when one cannot be read.
std::map<std::string, std::string> policy_passwords(const fleet::Policy& policy);

// Makes the target as the policy says, in one change set (sshd files, key files, /etc/shadow):
// validated, written atomically, reloaded only when sshd's files changed, probed.
ChangeReport apply_policy(Context& ctx, const fleet::Policy& policy,
                          const std::map<std::string, std::string>& passwords);

// A logged-in remote host with the login probes that prove, after a reload, that the way in
// still works (and, with `new_root_password`, that root can log in with it).
struct Remote {
  std::unique_ptr<host::SshHost> host;
  std::vector<Context::Probe> probes;
};
Remote connect_remote(const host::SshTarget& target, const std::optional<std::string>& new_root_password);

struct FleetArgs {
  std::string inventory;
  std::string limit;
  std::string report_file;  // --report: JSON lines, one per host
  fleet::RolloutOptions rollout;
  bool json = false;
  bool mutating = true;  // a verb that changes hosts: the run gets a rollout ID
  bool probe = true;
  std::string verb_name;  // for the summary line, e.g. "set PermitRootLogin no"
};

// Runs `verb` on every selected host of the inventory (each through its own SSH connection,
// as `base` says for what the inventory leaves open), with progress on stderr, a final table
// (or JSON with --json), and --report. Returns the fleet exit code.
int run_fleet(const FleetArgs& args, const host::SshTarget& base, const Context& base_ctx,
              const std::optional<std::string>& new_root_password, const std::function<Outcome(Context&)>& verb);

}  // namespace sshdctl::cli
