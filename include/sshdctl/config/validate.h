// Asking sshd itself: `sshd -T -C` validates a candidate tree (kCheckConnection) and prints
// effective values.
// The candidate is copied to scratch space with its Include paths pointed into the copy, so
// sshd reads the candidate's drop-ins, not the live ones.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sshdctl/common/error.h"
#include "sshdctl/config/model.h"
#include "sshdctl/host/host.h"

namespace sshdctl::config {

// Rewrites the patterns of every Include line (any indentation, `=` or space) to `prefix` + the
// absolute pattern (relative patterns are under /etc/ssh, as sshd resolves them).
std::string rewrite_includes(const std::string& content, const std::string& prefix);

// Rewrites the absolute path of every HostKey line to `prefix` + the path, adding each such path
// to `paths` (a foreign root's keys are checked from a copy; relative paths are left alone).
std::string rewrite_host_keys(const std::string& content, const std::string& prefix, std::vector<std::string>* paths);

// The connection a candidate is checked for: sshd -T -C with every detail given (sshd's test
// mode refuses a tree with `Match LocalPort` when lport is missing), none of them likely to be
// named by a Match block. sshd -T is sshd -t, then the re-read of the files every connection
// makes: a tree that fails only in that re-read passes sshd -t, yet refuses logins.
inline constexpr const char* kCheckConnection =
    "user=sshdctl-check,host=check.invalid,addr=192.0.2.1,laddr=192.0.2.2,lport=22,rdomain=sshdctl-check";
// The same connection for root: the re-read can fail only inside a Match block that applies,
// and the one connection above meets none of them. Root's is the logon this tool opens, and
// `Match Group root`/`Match User root` blocks are common: a tree that only root's re-read
// refuses passes the first check, yet refuses every root login. (One more sshd run a check.)
inline constexpr const char* kRootCheckConnection =
    "user=root,host=check.invalid,addr=192.0.2.1,laddr=192.0.2.2,lport=22,rdomain=sshdctl-check";
// Every check a candidate must pass, in order (the first refusal is the one reported).
inline constexpr std::array<const char*, 2> kCheckConnections{kCheckConnection, kRootCheckConnection};

// More connections to check a candidate for, one a Match block that neither of
// kCheckConnections meets: the re-read can fail inside such a block only (a value it refuses
// after an earlier block's), and then sshd refuses every login the block meets. Each is
// kCheckConnection with what the block's criteria name (the first pattern that is not negated,
// '*' and '?' as "x", a CIDR's network address; root's, with root's own group, for a block that
// names Group), kept only when sshdctl's own matching says it meets the block; a block that
// names an address or port by wildcard only gets none. At
// most kMaxBlockChecks (each is one more sshd run), in the order the blocks are read.
inline constexpr std::size_t kMaxBlockChecks = 8;
std::vector<std::string> block_check_connections(const Model& model);

// The refusal of a change on a live host without /usr/sbin/sshd: nothing could validate it.
Error sshd_missing(const std::string& host);

// Where sshd's complaint `said` points: the first "FILE: line N" (or "FILE line N") in it, FILE
// absolute; else `fallback` (line 0). So that a refusal names the file and line sshd names.
Location sshd_complaint_location(const std::string& host, const std::string& said, const std::string& fallback);

struct SshdRun {
  std::string validator;           // which sshd answered, for the report
  std::vector<std::string> notes;  // e.g. "validated with this machine's sshd"
  host::CommandResult result;      // scratch paths already mapped back to real ones
};

// Picks the sshd to ask: the target's own (chrooted for an offline root), else — for an
// offline root without sshd — this machine's, said in `notes`. Nothing when there is none.
class SshdOracle {
 public:
  SshdOracle(host::Host& target, host::Host& controller) : target_(target), controller_(controller) {}

  // Runs sshd with `args` (e.g. {"-t"} or {"-T", "-C", "user=root,..."}) on the candidate.
  std::optional<SshdRun> run(const std::map<std::string, std::string>& files, const std::string& main_file,
                             const std::vector<std::string>& args);

  // sshd -T -C for each of kCheckConnections, then each of `more` (block_check_connections),
  // in one scratch copy: the first run sshd refuses, else the last one. Nothing when there is
  // no sshd to ask.
  std::optional<SshdRun> check(const std::map<std::string, std::string>& files, const std::string& main_file,
                               const std::vector<std::string>& more = {});

  // Throws Error(kRejected), at the file and line sshd names, when sshd refuses `current` (the
  // files as they are, before any change): such a tree is reported as that, first.
  void require_current_accepted(const std::map<std::string, std::string>& current, const std::string& main_file,
                                const std::vector<std::string>& more = {});

  // check(); throws Error(kRejected) naming sshd's complaint, and saying so when `current`
  // (the files as they are) is refused too. Returns the notes.
  std::vector<std::string> validate(const std::map<std::string, std::string>& files, const std::string& main_file,
                                    const std::map<std::string, std::string>& current = {},
                                    const std::vector<std::string>& more = {});

  // sshd -T [-C spec]: keyword (lower case) → values, in sshd's order.
  std::optional<std::vector<std::pair<std::string, std::string>>> effective(
      const std::map<std::string, std::string>& files, const std::string& main_file, const std::string& spec);

 private:
  // Runs sshd once per argument list in `runs`, on one scratch copy, up to the first refusal.
  std::optional<SshdRun> run_each(const std::map<std::string, std::string>& files, const std::string& main_file,
                                  const std::vector<std::vector<std::string>>& runs);

  host::Host& target_;
  host::Host& controller_;
};

}  // namespace sshdctl::config
