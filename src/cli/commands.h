// The verbs: each turns its arguments into library calls and fills a report.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sshdctl/accounts/authorized_keys.h"
#include "sshdctl/common/json.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/config/plan.h"
#include "sshdctl/host/accounts.h"
#include "sshdctl/host/host.h"
#include "sshdctl/txn/journal.h"
#include "sshdctl/txn/transaction.h"

namespace sshdctl::cli {

// The path every change takes is the transaction's (src/txn); the verbs use its types.
using txn::ChangeReport;
using txn::Context;
using txn::FileReport;
using txn::MoreChanges;

struct ConnectionArgs {
  std::optional<std::string> user, host, addr, laddr, lport, rdomain;
  [[nodiscard]] bool any() const { return user || host || addr || laddr || lport || rdomain; }
  // Calls f(name, value) for each field that is set, in sshd -C order.
  template <typename F>
  void each(F f) const {
    for (const auto& [name, value] : {std::pair<const char*, const std::optional<std::string>*>{"user", &user},
                                      {"host", &host},
                                      {"addr", &addr},
                                      {"laddr", &laddr},
                                      {"lport", &lport},
                                      {"rdomain", &rdomain}})
      if (*value) f(name, **value);
  }
};

struct ShownOption {
  std::string keyword;
  std::vector<std::string> values;
  bool is_default = false;
  bool from_match = false;
  std::vector<std::string> sources;    // file:line
  std::vector<std::string> ignored;    // file:line: text
  std::vector<std::string> overrides;  // Match lines that may apply
  std::optional<std::string> sshd;     // what sshd -T says, with --compare
};

struct ShowReport {
  std::string host;
  std::string main_file;
  std::vector<std::string> files;
  ConnectionArgs connection;
  std::vector<ShownOption> options;
  std::vector<std::string> notes;
  int mismatches = 0;
};

ShowReport show(Context& ctx, const std::vector<std::string>& keys, const ConnectionArgs& conn, bool compare);
ChangeReport set(Context& ctx, const std::string& key, const std::vector<std::string>& values,
                 const std::optional<std::string>& match);
ChangeReport unset(Context& ctx, const std::string& key, const std::vector<std::string>& names,
                   const std::optional<std::string>& match);
// `password`: root's new password (enable only), hashed as the target's login.defs says.
ChangeReport root_login(Context& ctx, bool enable, bool key_only, const std::optional<std::string>& password);

// Which keys `key remove` removes: those with this blob, fingerprint (SHA256:…) or comment.
struct KeySelector {
  std::optional<std::string> blob, fingerprint, comment;
  [[nodiscard]] bool matches(const accounts::PublicKey& key) const;
};

struct ListedKey {
  std::string where;  // file:line
  std::string type, fingerprint, comment, options;
  std::string expires;  // expiry-time, as YYYYMMDDHHMMSSZ
  bool expired = false;
  std::string problem;  // why sshd would not use it
};

struct KeyListReport {
  std::string host, user;
  std::vector<std::string> files;  // what AuthorizedKeysFile names for the user
  std::vector<ListedKey> keys;
  std::vector<std::string> notes;
};

struct TempKey {
  ChangeReport change;
  std::string private_key;  // secret: goes to --out or stdout, never into reports
  std::string fingerprint;
  std::string expires;
};

ChangeReport key_add(Context& ctx, const std::string& user, const accounts::PublicKey& key, bool fix_perms);
ChangeReport key_remove(Context& ctx, const std::string& user, const KeySelector& which);
ChangeReport key_prune(Context& ctx, const std::string& user);
KeyListReport key_list(Context& ctx, const std::string& user);
// The account, or Error(kBadInput) naming the host.
host::Account account_or_fail(host::Host& target, const std::string& user);
// The authorized_keys changes that give `a` the keys `add` (in the first file of its effective
// AuthorizedKeysFile, checked for StrictModes first; repaired with `fix_perms`) and take away
// every key matching one of `remove` (in every file sshd reads for it).
std::vector<config::FileChange> key_changes(Context& ctx, const config::Model& model, const host::Account& a,
                                            const std::vector<accounts::PublicKey>& add,
                                            const std::vector<KeySelector>& remove, bool fix_perms,
                                            std::vector<config::Note>& notes);
// A fresh ed25519 key for `user` that sshd accepts for `ttl_seconds` (expiry-time=).
TempKey tempkey(Context& ctx, const std::string& user, long ttl_seconds);
// A new password (hashed as the target's login.defs says) and/or an unlocked account.
ChangeReport passwd(Context& ctx, const std::string& user, const std::optional<std::string>& password, bool unlock);

struct HistoryReport {
  std::string host;
  std::vector<txn::ChangeSet> sets;  // oldest first
};
struct ShowChangeReport {
  std::string host;
  txn::ChangeSet set;
  std::vector<FileReport> files;  // before → after, secrets masked
};
HistoryReport history(Context& ctx);
ShowChangeReport show_change(Context& ctx, const std::string& id);
// Restores the before-images of change set `id` (the newest done one when nullopt), as a change
// set of its own; refuses when a file changed since (three-way picture), unless `force`.
ChangeReport revert(Context& ctx, const std::optional<std::string>& id, bool force);
// Keeps change set `id`: its window's timer is stopped.
ChangeReport confirm(Context& ctx, const std::string& id);
// The change set of fleet rollout `rollout` on this target (the done one), or nullopt.
std::optional<std::string> rollout_change(Context& ctx, const std::string& rollout);

struct ServiceReport {
  std::string host;
  std::string action;  // status | reload | restart
  std::string method;
  std::string unit;
  std::string active_state, sub_state;
  std::uint32_t main_pid = 0;
  std::string socket;  // the socket unit that starts it (socket activation), if any
  std::string job_result;
  std::string note;
  std::vector<std::string> probes;  // login probes that passed after a reload or restart
};
ServiceReport service(Context& ctx, const std::string& action);

// doctor: why USER cannot log in (src/doctor), rendered as text or JSON. `target_args` names the
// target in the fix commands ("--host ecs-user@web1", "--root /mnt/disk" or empty). Returns the
// exit code: 1 when the login would fail, 0 otherwise.
struct DoctorArgs {
  std::string user = "root";
  std::optional<std::string> from;
};
int run_doctor(Context& ctx, const DoctorArgs& args, const std::string& target_args, bool json);

}  // namespace sshdctl::cli
