// What the verbs share beyond the transaction (src/txn): the change of /etc/shadow.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/txn/transaction.h"

namespace sshdctl::cli {

using txn::describe;
using txn::kReloadTimeout;
using txn::recover_interrupted;
using txn::run_change;
using txn::run_probes;

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
