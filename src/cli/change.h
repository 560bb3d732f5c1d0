// The path every change takes: plan, check, validate with sshd -t, write atomically, reload,
// probe a fresh login (remote), and roll back when the probe fails.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/config/plan.h"
#include "sshdctl/service/service.h"

namespace sshdctl::cli {

inline constexpr std::chrono::seconds kReloadTimeout{30};

// Files other than sshd's that a change writes (e.g. /etc/shadow, authorized_keys), given the
// loaded sshd model (AuthorizedKeysFile lives there).
using MoreChanges = std::function<std::vector<config::FileChange>(const config::Model&)>;

// Loads, plans, checks the plan took effect, validates with sshd -t (when sshd files change),
// writes atomically, reloads (only when sshd files changed), probes, rolls back on a failed probe.
// Every change is a change set in the target's journal (recorded before any live file
// changes; `reverts`: the change set it undoes). Takes the target's lock first and deals with
// a change set an earlier run left unfinished (see recover_interrupted).
ChangeReport run_change(Context& ctx, const std::string& verb,
                        const std::function<config::Plan(const config::Model&)>& make_plan,
                        const std::function<void(const config::Model&)>& check, const MoreChanges& more = {},
                        const std::string& reverts = {});

// The rule for change sets left "prepared" or "applied" by a run that died: files still as
// before → abandoned; some files changed by it (none by anyone else) → those are restored from
// the before-images, sshd reloaded, marked rolled back; a file changed by someone else since →
// left alone and reported. Returns what was done, a line per change set.
std::string recover_interrupted(Context& ctx);

// Test hook: see SSHDCTL_TEST_KILL_AT in change.cpp.
void kill_point(const char* where);

// The first failing login probe ("a fresh login as … fails: why"), or nullopt.
std::optional<std::string> run_probes(const Context& ctx);

// What a reload or restart did, in one line.
std::string describe(const service::ActionResult& r);

struct ShadowRequest {
  std::string user;
  std::optional<std::string> password;  // the new password (kept when it already matches)
  bool unlock = false;                  // remove "!" and an account expiry that has passed
  bool lock = false;                    // prefix the hash with "!" (as usermod -L)
};

// The change of /etc/shadow that does what the requests ask (nothing when it already is so).
// Reports show what changed, never a hash.
std::vector<config::FileChange> shadow_change(host::Host& target, const std::string& lens_dir,
                                              const std::vector<ShadowRequest>& requests,
                                              std::vector<config::Note>& notes);

}  // namespace sshdctl::cli
