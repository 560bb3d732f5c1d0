// Running one job per host across a fleet: canaries first, then batches, at most `forks` hosts
// in flight (a bounded pool of threads: one connection and one thread per host in flight, no
// process per host), and a failure budget after which no new host is started (hosts already
// in flight finish: each one ends old or new, never half).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sshdctl/common/json.h"

namespace sshdctl::fleet {

// "N" hosts or "N%" of the hosts (rounded up, at least 1 when N > 0).
struct Amount {
  long value = 0;
  bool percent = false;
  [[nodiscard]] long of(long total) const;
  // Throws Error(kBadInput) naming `option` for a malformed amount.
  static Amount parse(const std::string& text, const std::string& option);
};

enum class HostStatus { kChanged, kUnchanged, kOk, kFailed, kSkipped };
const char* status_name(HostStatus status);

struct HostResult {
  std::string host;
  HostStatus status = HostStatus::kSkipped;
  int exit_code = 0;
  bool canary = false;
  std::string summary;                    // one line: what changed, or why it failed
  std::vector<std::string> changed_keys;  // sshd keywords and other things changed
  std::string change_id;                  // the change set in the host's journal
  std::string confirmation;               // how the change was kept ("confirmed by a fresh login")
  std::string error;                      // the full error text, when failed
  std::vector<std::string> notes;         // a change's notes ("HOST: OpenSSH 8.4: … is written as …")
  double connect_s = 0;                   // time to log in and become root
  double seconds = 0;                     // the whole host, login included
  Json detail;                            // the verb's own JSON report
};

struct RolloutOptions {
  int forks = 50;
  long canary = 0;
  std::optional<Amount> batch;         // unset: one batch
  std::optional<Amount> max_failures;  // unset: every host is tried
};

struct RolloutSummary {
  std::vector<HostResult> results;  // in the order of the hosts given
  long changed = 0, unchanged = 0, ok = 0, failed = 0, skipped = 0;
  bool aborted = false;
  std::string abort_reason;
  double seconds = 0;
};

class Progress {
 public:
  virtual ~Progress() = default;
  virtual void started(const std::string& /*host*/) {}
  // Called under the scheduler's lock: `done` results so far, of `total`.
  virtual void finished(const HostResult& result, const RolloutSummary& so_far, std::size_t total) = 0;
};

// Runs job(i) for each host i, as RolloutOptions says. Jobs run concurrently on their own
// threads and must not throw (a throw is recorded as a failure of that host).
RolloutSummary run_rollout(const std::vector<std::string>& hosts, const RolloutOptions& options,
                           const std::function<HostResult(std::size_t)>& job, Progress* progress);

// Exit codes of a fleet run.
namespace fleet_exit {
inline constexpr int kAllOk = 0;         // every host succeeded (changed, or a read-only verb)
inline constexpr int kAllUnchanged = 3;  // every host already was as asked: nothing written anywhere
inline constexpr int kSomeFailed = 7;    // every host was tried; some failed
inline constexpr int kAborted = 8;       // a canary failed or the failure budget ran out: hosts were left untried
}  // namespace fleet_exit
int exit_code_of(const RolloutSummary& summary);

}  // namespace sshdctl::fleet
