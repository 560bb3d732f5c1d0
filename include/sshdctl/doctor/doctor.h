// "Why can't I log in?": checks of one target, each a finding with its reason and, for a
// problem, the command that fixes it. Every file and command goes through the Host seam and
// units through the ServiceManager, so a live host, an offline root and a remote host are
// diagnosed by the same code. The parsing and judging parts are pure functions (tested alone).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sshdctl/accounts/password.h"
#include "sshdctl/host/host.h"

namespace sshdctl::doctor {

enum class Status {
  kOk,    // ✓
  kWarn,  // !  worth knowing; the login still works
  kFail,  // ✗  the login fails because of this
  kSkip,  // -  not checked (e.g. an offline root has no running service)
};
const char* status_name(Status status);  // ok | warn | fail | skip

struct Finding {
  std::string section;  // service, listening, policy, account, pam, firewall, owners
  std::string check;    // what was checked, e.g. "sshd runs"
  Status status = Status::kOk;
  std::string message;              // one line: what was found and why it matters
  std::string where;                // file:line that decided, when one did
  std::string fix;                  // the command that fixes it (problems only)
  bool fix_outside = false;         // `fix` is a plain shell command, not an sshdctl one
  std::vector<std::string> detail;  // e.g. journal lines
};

struct Report {
  std::string host;
  std::string user;
  std::string from;       // the client address the checks assume
  std::string from_note;  // where that address came from
  bool offline = false;
  std::vector<Finding> findings;
  [[nodiscard]] bool login_fails() const;
};

struct Options {
  std::string user = "root";
  std::optional<std::string> from;  // nullopt: SSH_CONNECTION of a remote session, else 192.0.2.1
  std::string unit;                 // the sshd unit, when not detected
  std::string lens_dir;
  // How fixes name the target: "sshdctl" plus e.g. "--host ecs-user@web1" or "--root /mnt/disk".
  std::string sshdctl = "sshdctl";
  // Where shell fixes run: empty on the target itself; "chroot DIR" for an offline root.
  std::string shell_prefix;
};

// Runs every check. Throws only for what makes the report itself impossible (no user name).
Report diagnose(host::Host& target, host::Host& controller, const Options& options);

// --- pure parts --------------------------------------------------------------------------

// One user pattern of AllowUsers/DenyUsers as sshd's match_user() reads it: USER or
// USER@HOST, '*' and '?' wildcards; the HOST part is a pattern list that may hold addresses,
// CIDR ranges and '!' negations, matched against the client's name and address.
bool user_pattern_matches(const std::string& pattern, const std::string& user, const std::string& host,
                          const std::string& addr);

// The four lists after Match evaluation, each value with the file:line it came from.
struct ListValue {
  std::string pattern;
  std::string where;
  std::string match;  // the Match condition of its block, empty for a global line
};
struct AccessLists {
  std::vector<ListValue> deny_users, allow_users, deny_groups, allow_groups;
};
struct AccessVerdict {
  bool allowed = true;
  std::string keyword;  // DenyUsers, AllowUsers, DenyGroups or AllowGroups that decided
  std::string why;
  const ListValue* value = nullptr;  // the value that refused (DenyUsers/DenyGroups), into the lists
};
// sshd's allowed_user() order: DenyUsers, AllowUsers, DenyGroups, AllowGroups.
AccessVerdict check_access(const AccessLists& lists, const std::string& user, const std::vector<std::string>& groups,
                           const std::string& host, const std::string& addr);

// Why `shell` keeps a user from a session: nologin, false, missing or not executable.
// `executable`: whether the file exists and can be run. nullopt: fine.
std::optional<std::string> shell_problem(const std::string& shell, bool executable);
// True when /etc/shells (text) lists `shell`.
bool listed_in_shells(const std::string& shell, const std::string& shells);

enum class PasswordState {
  kUsable,
  kLocked,           // "!hash": locked, the hash is kept (passwd --unlock lifts it)
  kNone,             // "*", "!", "!*": no password at all
  kEmpty,            // "": a login without password (only with PermitEmptyPasswords)
  kAccountExpired,   // the account's expiry day has passed: every login is refused
  kPasswordExpired,  // the password's lifetime is over: sshd asks for a new one
  kMustChange,       // last change 0: a new password is required at the next login
};
PasswordState password_state(const accounts::ShadowEntry& entry, long today);
const char* password_state_text(PasswordState state);

// The line that runs pam_nologin for a PAM service ("/etc/pam.d/sshd:12"), following
// @include, include and substack; `read` returns a file's text or nullopt.
using FileReader = std::function<std::optional<std::string>(const std::string& path)>;
std::optional<std::string> pam_nologin_line(const std::string& service, const FileReader& read);

// A TCP socket in LISTEN state from /proc/net/tcp or /proc/net/tcp6.
struct Listener {
  std::string address;  // 0.0.0.0, 127.0.0.1, ::, ::1, …
  int port = 0;
  bool v6 = false;
};
std::vector<Listener> parse_proc_net_tcp(const std::string& text, bool v6);

// A firewall rule that drops or rejects connections to the SSH port.
struct FirewallBlock {
  std::string rule;     // the rule (or chain policy) as listed
  std::string fix;      // the command that removes it
  bool certain = true;  // false: a condition here (set, interface, …) was not evaluated
};
// `nft -a list ruleset` text (rules carry "# handle N"); `from`: the client address.
std::vector<FirewallBlock> nft_blocks(const std::string& ruleset, int port, const std::string& from);
// `iptables-save` (or ip6tables-save) text.
std::vector<FirewallBlock> iptables_blocks(const std::string& save, int port, const std::string& from,
                                           const std::string& program);

// The client address of SSH_CONNECTION ("CLIENT CPORT SERVER SPORT") in a NUL-separated
// environment (/proc/PID/environ); nullopt when absent.
std::optional<std::string> ssh_connection_client(const std::string& environ);

}  // namespace sshdctl::doctor
