// Placement of edits (pure): which line to change, where to insert, so that the edit
// becomes the value sshd actually uses. The rules (also in docs/placement.md):
//
//  1. A global `set` edits the line that wins today (the first one sshd reads, wherever the
//     Include tree puts it), in place. Later lines for the same option are dead and reported.
//     Accumulating options (Port, ListenAddress, HostKey, AcceptEnv, Allow/Deny…) keep one
//     line with the new values; the other global lines for the option are removed.
//  2. When no line sets the option, a new line goes into the main file, before its first
//     Match block (at the end when there is none): nothing else sets it, so it wins there.
//  3. Files under /usr (vendor configuration, openSUSE) are never edited: the line goes into
//     /etc/ssh/sshd_config.d/00-sshdctl.conf, which the vendor file includes first.
//  4. `--match "COND"` edits the first block with exactly that condition, or appends a new
//     block at the end of the main file.
//  5. A per-user override (root-login) goes into a `Match User root` block placed before the
//     first Match block sshd reads, so that it is the first matching block for that user.
#pragma once

#include <string>
#include <vector>

#include "sshdctl/common/error.h"
#include "sshdctl/config/model.h"
#include "sshdctl/config/resolve.h"

namespace sshdctl::config {

struct Setting {
  std::string keyword;
  std::vector<std::string> args;
};

struct Edit {
  enum class Kind {
    kReplace,        // path: an existing line; set its values to args
    kRemove,         // path: a line or a Match block
    kInsertGlobal,   // file: add keyword+args before the file's first Match (or at its end)
    kAppendToBlock,  // path: a Match block; add keyword+args at the end of its settings
    kNewBlock,       // file: add a Match block with criteria+settings before `path` (a Match), or at the end
  };
  Kind kind;
  std::string path;
  std::string file;
  Setting setting;
  std::vector<Criterion> criteria;
  std::vector<Setting> settings;
};

struct Note {
  Location where;
  std::string text;
};

struct Plan {
  std::vector<Edit> edits;
  std::vector<Note> notes;
  [[nodiscard]] bool empty() const { return edits.empty(); }
  void append(Plan other);
};

inline constexpr const char* kOverrideDropIn = "/etc/ssh/sshd_config.d/00-sshdctl.conf";

bool is_vendor_file(const std::string& file);
// "User root Address 10.0.0.0/8" → criteria; throws Error(kBadInput) when malformed.
std::vector<Criterion> parse_criteria(const std::string& condition);
bool same_criteria(const std::vector<Criterion>& a, const std::vector<Criterion>& b);

Plan plan_set(const Model& model, const OptionKey& key, const std::vector<std::string>& values);
Plan plan_unset(const Model& model, const OptionKey& key);
Plan plan_set_in_block(const Model& model, const OptionKey& key, const std::vector<std::string>& values,
                       const std::vector<Criterion>& criteria);
Plan plan_unset_in_block(const Model& model, const OptionKey& key, const std::vector<Criterion>& criteria);

// root-login: make what sshd uses for root (pessimistic about Match blocks that depend on the
// client address) PermitRootLogin `permit` and, with `password`, PasswordAuthentication yes.
// A value decided by the global lines is edited there (rule 1); a value decided by a Match
// block is overridden in the leading `Match User root` block (rule 5), which is created before
// the first block when missing or when its own line disagrees (an existing block's lines are
// never rewritten). `disable` wants PermitRootLogin no and removes the root block's password
// override and permissive PermitRootLogin lines, and the block itself when that empties it.
struct RootLoginRequest {
  bool enable = true;
  bool password = true;                  // enable: allow password logins for root
  std::string permit = "yes";            // yes | prohibit-password | no
  std::vector<std::string> root_groups;  // root's groups, for Match Group
};
Plan plan_root_login(const Model& model, const RootLoginRequest& request);

// What an edit must achieve, checked on the model after the plan is applied (a plan edits
// where sshd reads, but some values cannot be reached that way: RekeyLimit's interval "none"
// under a Match block keeps the global lines' interval). Each throws Error(kUnsupported) naming
// what sshd would use instead; `where` (e.g. a policy's file:line) prefixes the message.
// set: the global value is `values` (for Subsystem, the name first, as plan_set takes them).
void require_set_effective(const Model& edited, const OptionKey& key, const std::vector<std::string>& values,
                           const std::string& where = {});
// unset: no line sets the option any more for the global connection.
void require_unset_effective(const Model& edited, const OptionKey& key);
// root-login: PermitRootLogin (and with `password`, PasswordAuthentication yes) certain for
// root whatever the client's address.
void require_root_login_effective(const Model& edited, const RootLoginRequest& request);

// The condition of the per-user block rule 5 manages.
std::vector<Criterion> root_block_criteria();

}  // namespace sshdctl::config
