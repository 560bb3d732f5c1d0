// The path every change takes, for every front end (the CLI, a fleet rollout, the Ansible
// module): snapshot the target, plan against it, check the plan took effect, commit (the
// target's lock, before-hashes still as planned, the journal, sshd -t on the whole candidate
// tree, atomic renames), reload sshd only when its files changed, probe a fresh login, and roll
// back when that fails. A remote target does the snapshot and the commit in one request each;
// a local or offline one in-process, with the same steps. A dry run stops before the commit.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sshdctl/config/engine.h"
#include "sshdctl/config/plan.h"
#include "sshdctl/host/host.h"
#include "sshdctl/service/service.h"

namespace sshdctl::txn {

inline constexpr std::chrono::seconds kReloadTimeout{30};

// The points of a change where a test may inject a fault (kill the process, edit a file on
// the target meanwhile). Production runs have none.
class FaultHook {
 public:
  virtual ~FaultHook() = default;
  // `step` names the point ("planned", "committed", "reloaded", …).
  virtual void at(const std::string& step) = 0;
};

struct Context {
  host::Host* target = nullptr;      // where changes go (a dry-run host under --dry-run)
  host::Host* controller = nullptr;  // this machine, for an offline root without sshd
  std::string lens_dir;
  bool dry_run = false;
  bool reload = true;  // reload sshd after a change on a live target
  std::string unit;    // the sshd unit, when not detected
  // After a reload on a remote target: each probe logs in afresh the way the operator will
  // need to, runs `command` there (the confirmation of the change set: see deadman.h) and
  // returns why that failed (nullopt: it worked). Empty: no probe (local targets, --no-probe).
  struct Probe {
    std::string what;  // e.g. "ecs-user with publickey"
    std::string user;  // the login name the probe uses
    std::function<std::optional<std::string>(const std::string& command)> run;
  };
  std::vector<Probe> probes;
  // A live remote change is undone by the target itself unless the probes confirm it within
  // this long (--confirm-timeout).
  long confirm_timeout_s = 120;
  // Told, as the run goes, what the target is left with if the run ends now (for a signal
  // handler: "nothing was changed", "the target undoes change set ID at T unless …").
  std::function<void(const std::string&)> on_phase;
  std::string who;     // for the journal: operator@machine [via ssh as LOGIN]
  std::string reason;  // --reason
  int lock_timeout_s = 30;
  long window_s = 0;    // --for / --confirm-within: the change reverts itself after this long
  std::string rollout;  // the fleet rollout this change belongs to (journal), if any
  FaultHook* faults = nullptr;
  // sshd's service manager, opened early (relayed bus, D-Bus handshake, unit detection) while
  // the snapshot and the commit run; nullptr: opened when the reload needs it.
  std::shared_future<std::shared_ptr<service::ServiceManager>>* early_service = nullptr;
};

struct FileReport {
  std::string path;
  std::string diff;
  bool created = false;
};

struct ChangeReport {
  std::string host;
  std::string verb;
  std::string id;  // the change set in the target's journal
  bool changed = false;
  bool dry_run = false;
  std::vector<FileReport> files;
  std::vector<config::Note> notes;
  std::vector<std::string> checks;  // validation and other checks done
  std::string service;              // what happened to the running sshd
  // How a live remote change was kept: "confirmed by a fresh login", or "kept by this run
  // (--no-probe)"; empty elsewhere.
  std::string confirmation;
};

// Files other than sshd's that a change writes (e.g. /etc/shadow, authorized_keys), given the
// loaded sshd model (AuthorizedKeysFile lives there).
using MoreChanges = std::function<std::vector<config::FileChange>(const config::Model&)>;

// What every verb reads, for the snapshot: the sshd tree, accounts, login.defs, the journal's
// unfinished change sets, the programs and directories the steps look at. `shadow`: the verb
// may read /etc/shadow (passwords; the hashes are secrets and travel only when needed).
host::SnapshotRequest snapshot_request(bool shadow);

// While it lives, ctx.target answers reads from one snapshot of the target (one request to a
// remote host) and asks the target itself only for what the snapshot lacks.
class SnapshotScope {
 public:
  // `reloads`: the verb is likely to reload sshd; on a remote target its service manager is
  // then opened at once, on a thread of its own, so that its round trips overlap the others.
  SnapshotScope(Context& ctx, const host::SnapshotRequest& request, bool reloads = false);
  ~SnapshotScope();
  SnapshotScope(const SnapshotScope&) = delete;
  SnapshotScope& operator=(const SnapshotScope&) = delete;

 private:
  Context& ctx_;
  host::Host* outer_;
  std::unique_ptr<host::SnapshotHost> snap_;
  std::shared_future<std::shared_ptr<service::ServiceManager>> service_;  // gone before snap_
};

// Plans with `make_plan`, checks the edited model with `check`, adds `more` changes, and
// carries the change out as above. Every change is a change set in the target's journal,
// recorded before any live file changes (`reverts`: the change set it undoes). Throws Error
// naming host, file and line; kRolledBack when the probe failed and the change was undone.
ChangeReport run_change(Context& ctx, const std::string& verb,
                        const std::function<config::Plan(const config::Model&)>& make_plan,
                        const std::function<void(const config::Model&)>& check, const MoreChanges& more = {},
                        const std::string& reverts = {});

// The rule for change sets left "prepared" or "applied" by a run that died: files still as
// before → abandoned; some files changed by it (none by anyone else) → those are restored from
// the before-images, sshd reloaded, marked rolled back; a file changed by someone else since →
// left alone and reported. Returns what was done, a line per change set.
std::string recover_interrupted(Context& ctx);

// The first failing login probe ("a fresh login as … fails: why"), or nullopt. Probe i runs
// commands[i] (none given: `true`).
std::optional<std::string> run_probes(const Context& ctx, const std::vector<std::string>& commands = {});

// What a reload or restart did, in one line.
std::string describe(const service::ActionResult& r);

// The commit step as one POSIX sh script (pure; unit-tested): see commit.cpp.
struct CommitFile {
  std::string path;
  std::optional<std::string> before_sha;  // nullopt: the file must not exist yet
  bool removes = false;
};
std::string commit_script();
// Its arguments: ID, lock wait (s), the time (for the lock), the main file (empty: no sshd
// file changes), the dead-man's delay (s; 0: none is armed), the connections the candidate is
// checked for besides kCheckConnections (config::block_check_connections, one a line; "-":
// none), then per file W|D PATH BEFORE-SHA|-.
std::vector<std::string> commit_args(const std::string& id, int lock_wait_s, std::time_t now,
                                     const std::string& main_file, long arm_s,
                                     const std::vector<std::string>& more_checks, const std::vector<CommitFile>& files);

}  // namespace sshdctl::txn
