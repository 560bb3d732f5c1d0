// The journal of change sets, kept on the target (under /var/lib/sshdctl, inside --root for
// an offline root): every change is recorded before any live file changes, with each file's
// before-image, so that it can be shown, reverted, and finished or undone after a crash.
//
// Layout: /var/lib/sshdctl/changes/ID/ (0700, root) holds
//   manifest   the record (format below), written once
//   state      one line: prepared | applied | done | rolled-back | abandoned, rewritten atomically
//   before.N   the content file N had before (absent when the change created it)
//   after.N    the content it has after the change
//   undo.sh, confirm, deadline, owner, armed   a remote change's dead-man (see deadman.h)
// all 0600; and /var/lib/sshdctl/changes/ID.open while the change set is unfinished. Manifest format, version 1, one
// "key value" per line, values %-escaped:
//   sshdctl-change 1
//   id 20261125T014700123456Z-3fa9c1   (UTC time to the microsecond, 6 random hex digits)
//   verb root-login enable
//   who ecs-user via ssh from controller
//   when 2026-11-25T01:47:00Z
//   reason maintenance window
//   reverts ID            (when the change set is a revert)
//   service reload ssh.service | none
//   file N PATH MODE UID GID BEFORE-SHA256|- AFTER-SHA256|-
// A later version reads version 1 as it is; unknown keys are ignored.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "sshdctl/common/error.h"
#include "sshdctl/host/host.h"

namespace sshdctl::txn {

inline constexpr const char* kJournalDir = "/var/lib/sshdctl/changes";

struct FileRecord {
  std::string path;
  host::FileInfo info;                    // mode and owner the file had (or gets, when created)
  std::optional<std::string> before_sha;  // nullopt: the change created the file
  std::optional<std::string> after_sha;   // nullopt: the change removed the file
};

struct ChangeSet {
  std::string id;
  std::string verb;
  std::string who;
  std::string when;  // ISO 8601 UTC
  std::string reason;
  std::string reverts;  // the ID this change set reverts, if any
  std::string rollout;  // the fleet rollout it belongs to, if any
  std::string service;  // what happens to sshd: "reload UNIT", "reload", "none"
  std::vector<FileRecord> files;
  std::string state;   // from the state file
  std::string window;  // from the window file: "ends …", "confirmed …" (empty: no window)
  // An unfinished remote change's dead-man (see deadman.h): when the target undoes it unless a
  // fresh login confirmed it (the deadline file; 0: none armed or the change set is finished).
  std::time_t deadline = 0;
};

// Pure parts (unit-tested).
std::string render_manifest(const ChangeSet& set);
// Throws Error (bad input) naming the line for a malformed or unknown-version manifest.
ChangeSet parse_manifest(const std::string& text);
std::string sha256_hex(const std::string& data);
// A fresh, sortable ID: UTC time to the microsecond and 6 random hex digits.
std::string new_id(std::time_t now);

// The journal of one target, through its Host.
class Journal {
 public:
  explicit Journal(host::Host& target) : target_(target) {}

  // Records a change set before the change: manifest, before- and after-images, state
  // "prepared". `before`/`after` are indexed like set.files (nullopt: no such file).
  void record(ChangeSet& set, const std::vector<std::optional<std::string>>& before,
              const std::vector<std::optional<std::string>>& after);
  // The files record() writes (path, content), in the order it writes them: the commit script
  // of a remote change carries the same ones.
  [[nodiscard]] static std::vector<std::pair<std::string, std::string>> record_files(
      const ChangeSet& set, const std::vector<std::optional<std::string>>& before,
      const std::vector<std::optional<std::string>>& after);
  void set_state(const std::string& id, const std::string& state);
  void set_window(const std::string& id, const std::string& text);
  // Writes an executable script (0700) into the change set's directory; returns its path.
  std::string write_script(const std::string& id, const std::string& name, const std::string& body);
  // Change sets a run left unfinished (state prepared or applied), oldest first.
  [[nodiscard]] std::vector<ChangeSet> unfinished();
  // Every change set, oldest first (a damaged one is listed with state "damaged: why").
  [[nodiscard]] std::vector<ChangeSet> list();
  [[nodiscard]] ChangeSet load(const std::string& id);
  [[nodiscard]] std::optional<std::string> before_image(const ChangeSet& set, std::size_t index);
  [[nodiscard]] std::optional<std::string> after_image(const ChangeSet& set, std::size_t index);

 private:
  [[nodiscard]] std::string dir(const std::string& id) const { return std::string(kJournalDir) + "/" + id; }
  host::Host& target_;
};

// The error for a lock that stayed taken: who holds it (pid on the target, "" when unknown),
// since when (0: unknown), and how long this run waited.
Error lock_held(const std::string& host, const std::string& owner, long since, int waited_s);

// The lock of one target: a directory in /run that holds the owner's pid; a lock whose owner
// is gone is taken over. Released by the destructor.
class TargetLock {
 public:
  // Waits up to `timeout_s`; throws Error naming who holds the lock when it stays taken.
  TargetLock(host::Host& target, int timeout_s);
  ~TargetLock();
  TargetLock(const TargetLock&) = delete;
  TargetLock& operator=(const TargetLock&) = delete;

 private:
  void remove_lock(bool old_style);

  host::Host& target_;
  bool held_ = false;
};

}  // namespace sshdctl::txn
