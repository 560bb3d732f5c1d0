// The diagnosis of one target: each check reads through the Host seam (files, commands) and
// the ServiceManager (units), and judges with the pure functions of parse.cpp.
#include "sshdctl/doctor/doctor.h"

#include <algorithm>
#include <ctime>
#include <memory>

#include "sshdctl/accounts/authorized_keys.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/config/resolve.h"
#include "sshdctl/config/validate.h"
#include "sshdctl/host/accounts.h"
#include "sshdctl/service/service.h"

namespace sshdctl::doctor {

namespace {

constexpr const char* kDefaultFrom = "192.0.2.1";  // TEST-NET-1: a client no Address pattern names by accident

const std::vector<std::string> kSections = {"service", "listening", "policy", "account", "pam", "firewall", "owners"};

// One sshd setting for the connection: the value that counts, where it came from, and what
// sshd -T said about it.
struct Setting {
  std::vector<std::string> values;  // ours (or sshd's default when no line sets it)
  std::string where;                // file:line, or "sshd's default"
  std::string match;                // "Match User root" when a Match block decided
  std::vector<const config::Entry*> sources;
  std::optional<std::string> sshd;  // sshd -T's value (lower case)
  [[nodiscard]] std::string value() const { return text::lower(text::join(values, " ")); }
  [[nodiscard]] std::string origin() const { return where + (match.empty() ? "" : " (" + match + ")"); }
};

std::string normalized(std::string v) {
  v = text::lower(v);
  std::replace(v.begin(), v.end(), ',', ' ');
  if (v == "without-password") v = "prohibit-password";
  return text::join(text::split_words(v), " ");
}

class Doctor {
 public:
  Doctor(host::Host& target, host::Host& controller, const Options& options, Report& report)
      : target_(target), controller_(controller), opt_(options), report_(report) {}

  void run() {
    report_.host = target_.name();
    report_.user = opt_.user;
    report_.offline = target_.offline();
    find_client_address();
    if (check_installed()) load_config();
    check_service();
    check_listening();
    check_account();
    if (model_) {
      check_policy();
      check_keys();
      check_ways_in();
      check_pam();
    }
    check_firewall();
    check_owners();
    std::stable_sort(report_.findings.begin(), report_.findings.end(), [](const Finding& a, const Finding& b) {
      const auto rank = [](const std::string& s) { return std::find(kSections.begin(), kSections.end(), s); };
      return rank(a.section) < rank(b.section);
    });
  }

 private:
  Finding& add(const std::string& section, const std::string& check, Status status, std::string message) {
    Finding f;
    f.section = section;
    f.check = check;
    f.status = status;
    f.message = std::move(message);
    report_.findings.push_back(std::move(f));
    return report_.findings.back();
  }
  [[nodiscard]] std::string sshdctl(const std::string& args) const { return opt_.sshdctl + " " + args; }
  [[nodiscard]] std::string shell(const std::string& command) const {
    return opt_.shell_prefix.empty() ? command : opt_.shell_prefix + " " + command;
  }
  void fix(Finding& f, const std::string& command) { f.fix = command; }
  void fix_outside(Finding& f, const std::string& command) {
    f.fix = shell(command);
    f.fix_outside = true;
  }
  [[nodiscard]] bool root() const { return opt_.user == "root"; }
  [[nodiscard]] std::string where_of(const config::Entry& e) const {
    return Location{{}, e.file, e.directive->line}.str();
  }

  // --from, else the address this session comes from (SSH_CONNECTION of the remote shell or of
  // one of its parents: sudo clears the environment), else a documentation address.
  void find_client_address() {
    if (opt_.from) {
      report_.from = *opt_.from;
      report_.from_note = "--from";
      return;
    }
    report_.from = kDefaultFrom;
    report_.from_note = "an address no Match block names (give --from ADDR for a real client)";
    if (target_.offline()) return;
    long pid = target_.run_pid();
    for (int depth = 0; depth < 8 && pid > 1; ++depth) {
      const auto env = target_.read_file("/proc/" + std::to_string(pid) + "/environ");
      if (env) {
        if (auto client = ssh_connection_client(*env)) {
          report_.from = *client;
          report_.from_note = "SSH_CONNECTION of this session";
          return;
        }
      }
      const auto status = target_.read_file("/proc/" + std::to_string(pid) + "/status");
      if (!status) return;
      long parent = 0;
      for (const auto& line : text::lines(*status))
        if (line.rfind("PPid:", 0) == 0) parent = std::atol(line.substr(5).c_str());
      pid = parent;
    }
  }

  void load_config() {
    tree_ = std::make_unique<config::ConfigTree>(target_, opt_.lens_dir);
    try {
      tree_->load();
      model_ = &tree_->model();
    } catch (const Error& e) {
      auto& f = add("service", "configuration readable", Status::kFail,
                    "the sshd configuration cannot be read: " + e.message());
      f.where = e.where().str();
      return;
    }
    // What sshd itself says: -T (would it start, and would a connection's re-read of the files
    // pass?) and -T -C for this connection (the values).
    config::SshdOracle oracle(target_, controller_);
    try {
      const auto checked = oracle.check(tree_->current(), model_->main_file);
      if (!checked) {
        add("service", "configuration valid", Status::kSkip, "no sshd to ask (sshd -T)");
      } else if (checked->result.exit_code != 0) {
        auto& f = add("service", "configuration valid", Status::kFail,
                      "sshd -T refuses the configuration: sshd cannot start or reload with it");
        f.detail = text::lines(text::trim(checked->result.err));
        f.fix = "edit the line sshd names, then: " + sshdctl("show --compare");
      } else {
        add("service", "configuration valid", Status::kOk,
            "sshd -T accepts the configuration (" + std::to_string(model_->files.size()) + " files)");
        const std::string spec = "user=" + opt_.user + ",host=" + report_.from + ",addr=" + report_.from;
        if (auto said = oracle.effective(tree_->current(), model_->main_file, spec)) sshd_said_ = *said;
      }
    } catch (const Error& e) {
      add("service", "configuration valid", Status::kWarn, "could not ask sshd: " + e.message());
    }
  }

  // --- service ------------------------------------------------------------------------------

  // False when a live target has no sshd (nothing else can be asked of it then).
  bool check_installed() {
    if (target_.has_program("/usr/sbin/sshd")) {
      add("service", "sshd installed", Status::kOk, "/usr/sbin/sshd");
      return true;
    }
    if (target_.offline()) {
      add("service", "sshd installed", Status::kWarn, "no /usr/sbin/sshd in the root: nothing will answer on port 22");
      return true;
    }
    auto& f = add("service", "sshd installed", Status::kFail, "no /usr/sbin/sshd: the SSH server is not installed");
    fix_outside(f, "apt-get install openssh-server");
    return false;
  }

  void check_service() {
    if (target_.offline()) {
      add("service", "sshd runs", Status::kSkip, "offline root: no running service to ask");
      return;
    }
    if (!target_.has_program("/usr/sbin/sshd")) return;
    std::unique_ptr<service::ServiceManager> manager;
    service::UnitStatus status;
    try {
      manager = service::open_service_manager(target_, opt_.unit);
      status = manager->status();
    } catch (const Error& e) {
      auto& f = add("service", "sshd runs", Status::kWarn, "could not ask systemd: " + e.message());
      f.where = e.where().str();
      return;
    }
    unit_ = status.unit;
    socket_unit_ = status.socket_activated ? status.unit : status.active_socket;
    const std::string state = status.active_state + (status.sub_state.empty() ? "" : "/" + status.sub_state);
    if (status.active_state == "active" || status.active_state == "reloading") {
      add("service", "sshd runs", Status::kOk,
          status.unit + " is " + state +
              (status.main_pid != 0 ? ", main pid " + std::to_string(status.main_pid) : std::string()) +
              (socket_unit_.empty() ? "" : " (socket-activated through " + socket_unit_ + ")"));
    } else {
      auto& f = add("service", "sshd runs", Status::kFail,
                    status.unit + " is " + state + ": no sshd answers, nobody can log in");
      fix(f, sshdctl("service restart"));
    }
    if (target_.has_program("/usr/bin/systemctl")) {
      // sshd comes up at boot through its service or through its socket (socket activation:
      // ssh.socket enabled, ssh.service disabled, as Ubuntu 22.10+ ships it): ask of both.
      const auto dot = status.unit.rfind('.');
      const std::string stem = status.unit.substr(0, dot);
      const std::string other =
          stem + (status.unit.compare(dot, std::string::npos, ".socket") == 0 ? ".service" : ".socket");
      const auto enabled = target_.run({"/usr/bin/systemctl", "is-enabled", status.unit, other});
      const auto words = text::lines(text::trim(enabled.out));
      const auto boots = [](const std::string& w) {
        return w == "enabled" || w == "static" || w == "alias" || w == "indirect";
      };
      const std::string word = words.empty() ? std::string() : text::trim(words[0]);
      const std::string other_word = words.size() == 2 ? text::trim(words[1]) : std::string();
      if (boots(word)) {
        add("service", "starts at boot", Status::kOk, status.unit + " is " + word);
      } else if (boots(other_word)) {
        add("service", "starts at boot", Status::kOk,
            other + " is " + other_word + " (" + status.unit + " is " + (word.empty() ? "not enabled" : word) +
                "): it brings sshd up at boot");
      } else {
        auto& f = add("service", "starts at boot", Status::kWarn,
                      status.unit + " is " + (word.empty() ? "not enabled" : word) + ": sshd will not start at boot");
        fix_outside(f, "systemctl enable " + status.unit);
      }
    }
    if (target_.has_program("/usr/bin/journalctl")) {
      const auto journal = target_.run(
          {"/usr/bin/journalctl", "-u", status.unit, "-n", "20", "-p", "warning", "--no-pager", "-o", "short"});
      std::vector<std::string> lines;
      for (const auto& line : text::lines(journal.out))
        if (!line.empty() && line.rfind("-- ", 0) != 0) lines.push_back(line);
      if (journal.exit_code != 0) {
        add("service", "recent failures", Status::kSkip, "could not read the journal: " + text::trim(journal.err));
      } else if (lines.empty()) {
        add("service", "recent failures", Status::kOk, "no warnings or errors of " + status.unit + " in its journal");
      } else {
        auto& f = add("service", "recent failures", Status::kWarn,
                      std::to_string(lines.size()) + " warning or error line(s) of " + status.unit +
                          " in its journal (newest last)");
        f.detail.assign(lines.end() - static_cast<long>(std::min<std::size_t>(lines.size(), 5)), lines.end());
      }
    }
  }

  // --- listening ----------------------------------------------------------------------------

  // What should listen: the socket unit's Listen= under socket activation, else Port and
  // ListenAddress.
  std::vector<std::string> wanted_streams(std::string& from) {
    if (!socket_unit_.empty() && target_.has_program("/usr/bin/systemctl")) {
      const auto r = target_.run({"/usr/bin/systemctl", "show", "-p", "Listen", "--value", socket_unit_});
      std::vector<std::string> streams;
      // One listener a line: "[::]:22 (Stream)".
      for (const auto& line : text::lines(r.out))
        for (const auto& word : text::split_words(line))
          if (word.find('(') == std::string::npos) streams.push_back(word);
      if (r.exit_code == 0 && !streams.empty()) {
        from = socket_unit_ + " Listen";
        return streams;
      }
    }
    from = "Port/ListenAddress";
    return model_ != nullptr ? config::listen_streams(*model_) : std::vector<std::string>{"22"};
  }

  void check_listening() {
    std::string from;
    const auto streams = wanted_streams(from);
    port_ = 22;
    if (!streams.empty()) {
      const auto colon = streams[0].rfind(':');
      port_ = std::atoi(streams[0].substr(colon == std::string::npos ? 0 : colon + 1).c_str());
    }
    if (target_.offline()) {
      add("listening", "port open", Status::kSkip,
          "offline root: nothing listens; sshd will listen on " + text::join(streams, " ") + " (" + from + ")");
      return;
    }
    std::vector<Listener> listeners;
    bool readable = false;
    for (const auto& [path, v6] : {std::pair<const char*, bool>{"/proc/net/tcp", false}, {"/proc/net/tcp6", true}}) {
      if (const auto content = target_.read_file(path)) {
        readable = true;
        auto found = parse_proc_net_tcp(*content, v6);
        listeners.insert(listeners.end(), found.begin(), found.end());
      }
    }
    if (!readable) {
      add("listening", "port open", Status::kSkip, "could not read /proc/net/tcp");
      return;
    }
    std::vector<std::string> open;
    std::vector<std::string> closed;
    for (const auto& stream : streams) {
      const auto colon = stream.rfind(':');
      const int port = std::atoi(stream.substr(colon == std::string::npos ? 0 : colon + 1).c_str());
      std::string addr = colon == std::string::npos ? std::string() : stream.substr(0, colon);
      if (!addr.empty() && addr.front() == '[') addr = addr.substr(1, addr.size() - 2);
      const bool any_addr = addr.empty() || addr == "0.0.0.0" || addr == "::";
      const bool hit = std::any_of(listeners.begin(), listeners.end(), [&](const Listener& l) {
        return l.port == port && (any_addr || l.address == addr || l.address == "0.0.0.0" || l.address == "::");
      });
      (hit ? open : closed).push_back(stream);
    }
    if (closed.empty()) {
      add("listening", "port open", Status::kOk,
          "something listens on " + text::join(open, " ") + " (wanted by " + from + ")");
    } else {
      auto& f = add("listening", "port open", open.empty() ? Status::kFail : Status::kWarn,
                    "nothing listens on " + text::join(closed, " ") + " (wanted by " + from + ")" +
                        (open.empty() ? "" : "; " + text::join(open, " ") + " is open"));
      fix(f, sshdctl("service restart"));
    }
  }

  // --- the account --------------------------------------------------------------------------

  void check_account() {
    if (!target_.offline() && target_.has_program("/usr/bin/getent")) {
      const auto r = target_.run({"/usr/bin/getent", "passwd", opt_.user});
      if (r.exit_code == 0) account_ = host::parse_passwd_entry(r.out, opt_.user);
    }
    if (!account_) account_ = host::find_account(target_, opt_.user);
    if (!account_) {
      auto& f = add("account", "exists", Status::kFail, "no user " + opt_.user + " (getent passwd, /etc/passwd)");
      fix_outside(f, "useradd -m -s /bin/bash " + opt_.user);
      return;
    }
    groups_ = host::groups_of(target_, *account_);
    add("account", "exists", Status::kOk,
        opt_.user + ": uid " + std::to_string(account_->uid) + ", home " + account_->home + ", groups " +
            (groups_.empty() ? "(none)" : text::join(groups_, " ")));

    const std::string shell_path = account_->shell.empty() ? "/bin/sh" : account_->shell;
    const auto info = target_.stat(shell_path);
    if (auto problem = shell_problem(shell_path, info.exists && (info.mode & 0111) != 0)) {
      auto& f = add("account", "shell", Status::kFail, *problem);
      f.where = "/etc/passwd";
      fix_outside(f, "usermod -s /bin/bash " + opt_.user);
    } else if (!listed_in_shells(shell_path, target_.read_file("/etc/shells").value_or(""))) {
      add("account", "shell", Status::kWarn,
          shell_path + " is not in /etc/shells (sshd does not mind; pam_shells and some tools do)");
    } else {
      add("account", "shell", Status::kOk, shell_path + " (in /etc/shells)");
    }

    const auto shadow = target_.read_file("/etc/shadow");
    if (!shadow) {
      add("account", "password", Status::kSkip, "no /etc/shadow");
      return;
    }
    try {
      accounts::ShadowFile file(*shadow, opt_.lens_dir, "/etc/shadow");
      if (const auto entry = file.entry(opt_.user)) {
        password_ = password_state(*entry, accounts::days_since_epoch());
        password_bang_ = entry->password.rfind('!', 0) == 0;
      }
    } catch (const Error& e) {
      add("account", "password", Status::kWarn, "cannot read /etc/shadow: " + e.message());
      return;
    }
    if (!password_) add("account", "password", Status::kSkip, opt_.user + " has no line in /etc/shadow");
    if (password_ == PasswordState::kAccountExpired) {
      auto& f = add("account", "account expiry", Status::kFail,
                    "the account's expiry day has passed: sshd and PAM refuse every login, keys too");
      f.where = "/etc/shadow";
      fix(f, sshdctl("passwd " + opt_.user + " --unlock"));
    }
  }

  // --- policy -------------------------------------------------------------------------------

  config::Connection connection() const {
    config::Connection conn;
    conn.user = opt_.user;
    conn.groups = groups_;
    conn.host = report_.from;
    conn.addr = report_.from;
    return conn;
  }

  Setting setting(const std::string& keyword, const std::vector<std::string>& fallback) {
    const config::OptionKey key{config::find_keyword(keyword), {}};
    const auto eff = config::resolve_for(*model_, key, connection(), config::Unknown::kIgnore);
    Setting s;
    s.values = eff.values.empty() ? fallback : eff.values;
    s.sources = eff.sources;
    s.where = eff.sources.empty() ? "sshd's default" : where_of(*eff.sources[0]);
    if (eff.from_match && !eff.sources.empty()) {
      const auto& ctx = model_->contexts[static_cast<std::size_t>(eff.sources[0]->context)];
      s.match = "Match " + ctx.block->condition_text();
    }
    std::vector<std::string> said;
    for (const auto& [k, v] : sshd_said_)
      if (k == text::lower(keyword)) said.push_back(v);
    if (!said.empty()) s.sshd = text::lower(text::join(said, " "));
    if (s.sshd && eff.values.empty()) {
      s.values = text::split_words(*s.sshd);  // sshd's own default, as this build has it
    } else if (s.sshd && normalized(*s.sshd) != normalized(s.value())) {
      add("policy", keyword + " agrees with sshd", Status::kWarn,
          "sshd -T says '" + *s.sshd + "', the files say '" + s.value() + "' (" + s.origin() +
              "); sshd's value is used");
      s.values = text::split_words(*s.sshd);
    }
    return s;
  }

  // The lines that hold the values of an accumulating list keyword, value by value.
  std::vector<ListValue> list_values(const Setting& s) {
    std::vector<ListValue> out;
    for (const auto* e : s.sources) {
      std::string match;
      if (e->context >= 0)
        match = "Match " + model_->contexts[static_cast<std::size_t>(e->context)].block->condition_text();
      for (const auto& word : e->directive->args) out.push_back({text::unquote(word), where_of(*e), match});
    }
    return out;
  }

  void check_policy() {
    permit_ = setting("PermitRootLogin", {"prohibit-password"});
    password_auth_ = setting("PasswordAuthentication", {"yes"});
    kbd_auth_ = setting("KbdInteractiveAuthentication", {"yes"});
    pubkey_auth_ = setting("PubkeyAuthentication", {"yes"});
    methods_ = setting("AuthenticationMethods", {"any"});
    use_pam_ = setting("UsePAM", {"no"});
    empty_ok_ = setting("PermitEmptyPasswords", {"no"});
    strict_ = setting("StrictModes", {"yes"});

    if (root()) {
      const std::string v = normalized(permit_.value());
      Status st = v == "yes" || v == "prohibit-password" ? Status::kOk : v == "no" ? Status::kFail : Status::kWarn;
      std::string why = v == "yes"                 ? "root may log in with any method"
                        : v == "prohibit-password" ? "root may log in with a key, not with a password"
                        : v == "no"                ? "root may not log in at all"
                                                   : "root may log in only with keys that force a command";
      auto& f = add("policy", "PermitRootLogin", st, "PermitRootLogin " + v + ": " + why);
      f.where = permit_.origin();
      if (st == Status::kFail) fix(f, sshdctl("root-login enable"));
    }
    for (const auto* s : {&password_auth_, &kbd_auth_, &pubkey_auth_, &use_pam_}) {
      const std::string name = s == &password_auth_ ? "PasswordAuthentication"
                               : s == &kbd_auth_    ? "KbdInteractiveAuthentication"
                               : s == &pubkey_auth_ ? "PubkeyAuthentication"
                                                    : "UsePAM";
      auto& f = add("policy", name, Status::kOk, name + " " + s->value());
      f.where = s->origin();
    }
    if (normalized(methods_.value()) != "any") {
      auto& f = add("policy", "AuthenticationMethods", Status::kOk,
                    "AuthenticationMethods " + methods_.value() + ": every method of one list must succeed");
      f.where = methods_.origin();
    }

    AccessLists lists;
    lists.deny_users = list_values(setting("DenyUsers", {}));
    lists.allow_users = list_values(setting("AllowUsers", {}));
    lists.deny_groups = list_values(setting("DenyGroups", {}));
    lists.allow_groups = list_values(setting("AllowGroups", {}));
    const auto verdict = check_access(lists, opt_.user, groups_, report_.from, report_.from);
    if (verdict.allowed) {
      const bool none = lists.deny_users.empty() && lists.allow_users.empty() && lists.deny_groups.empty() &&
                        lists.allow_groups.empty();
      add("policy", "Allow/Deny lists", Status::kOk,
          none ? "no AllowUsers, DenyUsers, AllowGroups or DenyGroups applies"
               : opt_.user + " from " + report_.from + " passes AllowUsers/DenyUsers/AllowGroups/DenyGroups");
      return;
    }
    refused_ = true;
    auto& f = add("policy", "Allow/Deny lists", Status::kFail, verdict.why + ": sshd refuses " + opt_.user);
    if (verdict.value != nullptr) {
      f.where = verdict.value->where + (verdict.value->match.empty() ? "" : " (" + verdict.value->match + ")");
      const std::string in_block =
          verdict.value->match.empty() ? "" : " --match \"" + verdict.value->match.substr(6) + "\"";
      fix(f, sshdctl("unset " + verdict.keyword + in_block));
    } else {
      const auto& list = verdict.keyword == "AllowUsers" ? lists.allow_users : lists.allow_groups;
      if (!list.empty()) {
        f.where = list[0].where + (list[0].match.empty() ? "" : " (" + list[0].match + ")");
        std::vector<std::string> values;
        for (const auto& v : list) values.push_back(v.pattern);
        values.push_back(verdict.keyword == "AllowUsers" ? opt_.user : (groups_.empty() ? opt_.user : groups_[0]));
        const std::string in_block = list[0].match.empty() ? "" : " --match \"" + list[0].match.substr(6) + "\"";
        fix(f, sshdctl("set " + verdict.keyword + " " + text::join(values, " ") + in_block));
      }
    }
  }

  // --- keys ---------------------------------------------------------------------------------

  void check_keys() {
    if (!account_) return;
    const auto found = accounts::effective_key_files(*model_, connection(), *account_);
    if (found.files.empty()) {
      auto& f = add("account", "keys", Status::kWarn, "AuthorizedKeysFile is none: sshd reads no key file");
      f.where = found.decided_by;
      return;
    }
    const bool strict = normalized(strict_.value()) != "no";
    const std::time_t now = std::time(nullptr);
    int present = 0;
    for (const auto& file : found.files) {
      const auto info = target_.stat(file);
      if (!info.exists) continue;
      // StrictModes: the file, its directory and the home directory.
      std::optional<std::string> problem;
      std::string bad_path;
      for (const auto& path : {file, file.substr(0, file.rfind('/')), account_->home}) {
        const auto st = target_.stat(path);
        if (!st.exists) continue;
        if (auto p = accounts::strict_modes_problem(st, *account_)) {
          problem = p;
          bad_path = path;
          break;
        }
      }
      int usable = 0;
      int forced = 0;
      std::vector<std::string> unusable;
      try {
        accounts::AuthorizedKeys keys(target_.read_file(file).value_or(""), opt_.lens_dir, file);
        for (const auto& k : keys.keys()) {
          ++present;
          const auto when = accounts::key_expiry(k);
          if (when && *when <= now) {
            unusable.push_back(Location{{}, file, k.line}.str() + ": expired");
          } else if (auto why = accounts::key_problem(k)) {
            unusable.push_back(Location{{}, file, k.line}.str() + ": " + *why);
          } else {
            ++usable;
            for (const auto& o : k.options)
              if (text::iequals(o.name, "command")) ++forced;
          }
        }
      } catch (const Error& e) {
        add("account", "keys", Status::kWarn, "cannot read " + file + ": " + e.message());
        continue;
      }
      if (problem && strict && usable > 0) {
        key_files_refused_ = true;
        auto& f = add("account", "key file modes", Status::kWarn,
                      bad_path + " " + *problem + ": sshd (StrictModes) ignores the " + std::to_string(usable) +
                          " key(s) in " + file + "; --fix-perms repairs modes and owners (KEY.pub: any key of " +
                          opt_.user + "'s)");
        f.where = strict_.origin();
        fix(f, sshdctl("key add " + opt_.user + " --pubkey KEY.pub --fix-perms"));
        strict_problem_ = &f - &report_.findings[0];
        continue;
      }
      usable_keys_ += usable;
      forced_keys_ += forced;
      auto& f = add("account", "keys", usable > 0 ? Status::kOk : Status::kWarn,
                    std::to_string(usable) + " usable key(s) in " + file);
      f.where = "AuthorizedKeysFile: " + (found.decided_by.empty() ? "sshd's default" : found.decided_by);
      f.detail = unusable;
    }
    if (present == 0) {
      auto& f = add("account", "keys", Status::kWarn,
                    "no key in " + text::join(found.files, " ") + " (AuthorizedKeysFile" +
                        (found.decided_by.empty() ? ", sshd's default" : ", " + found.decided_by) + ")");
      fix(f, sshdctl("key add " + opt_.user + " --pubkey KEY.pub"));
    }
  }

  // --- can any method work? -------------------------------------------------------------

  void check_ways_in() {
    if (!account_) return;
    const std::string permit = root() ? normalized(permit_.value()) : "yes";
    const auto on = [](const Setting& s) { return normalized(s.value()) == "yes"; };
    const bool yes = on(pubkey_auth_);
    const bool pam = on(use_pam_);
    const PasswordState pw = password_.value_or(PasswordState::kNone);
    // Without PAM, sshd refuses an account whose password field starts with '!' outright.
    const bool locked_for_sshd = !pam && password_bang_;
    const bool password_usable = pw == PasswordState::kUsable || pw == PasswordState::kPasswordExpired ||
                                 pw == PasswordState::kMustChange || (pw == PasswordState::kEmpty && on(empty_ok_));
    const bool root_keys = permit != "no" && (permit != "forced-commands-only" || forced_keys_ > 0);
    const bool key_ok = yes && usable_keys_ > 0 && root_keys;
    const bool password_ok = on(password_auth_) && password_usable && permit == "yes";
    const bool kbd_ok = on(kbd_auth_) && pam && password_usable && permit == "yes";

    // AuthenticationMethods: some list whose every method works.
    bool methods_ok = true;
    const std::string methods = normalized(methods_.value());
    if (methods != "any") {
      methods_ok = false;
      for (const auto& list : text::split_words(text::lower(text::join(methods_.values, " ")))) {
        bool all = true;
        for (const auto& m : text::split(list, ',')) {
          const std::string method = m.substr(0, m.find(':'));
          if (!(method == "publickey"              ? key_ok
                : method == "password"             ? password_ok
                : method == "keyboard-interactive" ? kbd_ok
                                                   : false))
            all = false;
        }
        if (all) methods_ok = true;
      }
    }

    std::vector<std::string> ways;
    if (key_ok) ways.push_back("publickey (" + std::to_string(usable_keys_) + " key(s))");
    if (password_ok) ways.push_back("password");
    if (kbd_ok) ways.push_back("keyboard-interactive (PAM)");

    // The password itself.
    if (password_ && pw != PasswordState::kAccountExpired) {
      const bool matters = (on(password_auth_) || (on(kbd_auth_) && pam)) && permit == "yes";
      if (password_usable) {
        add("account", "password", pw == PasswordState::kUsable ? Status::kOk : Status::kWarn,
            std::string("password ") + password_state_text(pw) +
                (pw == PasswordState::kUsable ? "" : ": sshd will ask for a new one at login"));
      } else {
        auto& f =
            add("account", "password", (ways.empty() && matters) || locked_for_sshd ? Status::kFail : Status::kWarn,
                std::string("password ") + password_state_text(pw) +
                    (locked_for_sshd ? ": with UsePAM no, sshd refuses a locked account even with a key"
                     : matters       ? ": password logons cannot work"
                                     : " (password logons are off anyway)"));
        f.where = "/etc/shadow";
        if (pw == PasswordState::kLocked) {
          f.message += " (--unlock brings the old password back; add --ask to set a new one)";
          fix(f, sshdctl("passwd " + opt_.user + " --unlock"));
        } else
          fix(f, sshdctl("passwd " + opt_.user + " --ask"));
      }
    }

    if (refused_ || pw == PasswordState::kAccountExpired || locked_for_sshd) {
      add("policy", "a way in", Status::kFail, "refused before any method (see above)");
      return;
    }
    if (!methods_ok) {
      auto& f = add("policy", "a way in", Status::kFail,
                    "no list of AuthenticationMethods (" + methods_.value() + ") can be completed by " + opt_.user +
                        " (working: " + (ways.empty() ? "none" : text::join(ways, ", ")) + ")");
      f.where = methods_.origin();
      fix(f, sshdctl("unset AuthenticationMethods" +
                     (methods_.match.empty() ? "" : " --match \"" + methods_.match.substr(6) + "\"")));
      return;
    }
    if (!ways.empty()) {
      add("policy", "a way in", Status::kOk, opt_.user + " can log in with " + text::join(ways, " or "));
      return;
    }
    // Nothing works: say why and give the most direct fix.
    std::vector<std::string> why;
    if (!yes)
      why.push_back("PubkeyAuthentication no");
    else if (usable_keys_ == 0)
      why.push_back(key_files_refused_ ? "the keys are ignored (StrictModes)" : "no usable key");
    else if (!root_keys)
      why.push_back("PermitRootLogin " + permit + " refuses keys");
    if (!on(password_auth_) && !(on(kbd_auth_) && pam))
      why.push_back("password logons are off");
    else if (!password_usable)
      why.push_back(std::string("the password is ") + password_state_text(pw));
    else if (permit != "yes")
      why.push_back("PermitRootLogin " + permit + " refuses passwords");
    auto& f =
        add("policy", "a way in", Status::kFail, "no method can work for " + opt_.user + ": " + text::join(why, "; "));
    if (key_files_refused_) {
      f.fix = report_.findings[strict_problem_].fix;
      report_.findings[strict_problem_].status = Status::kFail;
    } else if (root() && permit != "yes" && password_usable) {
      fix(f, sshdctl("root-login enable"));
    } else if (password_usable && !on(password_auth_)) {
      fix(f, sshdctl("set PasswordAuthentication yes --match \"User " + opt_.user + "\""));
    } else if (!password_usable && (on(password_auth_) || (on(kbd_auth_) && pam)) && permit == "yes") {
      f.fix = pw == PasswordState::kLocked ? sshdctl("passwd " + opt_.user + " --unlock")
                                           : sshdctl("passwd " + opt_.user + " --ask");
    } else if (root()) {
      fix(f, sshdctl("root-login enable --ask-password"));
    } else {
      fix(f, sshdctl("key add " + opt_.user + " --pubkey KEY.pub"));
    }
  }

  // --- PAM and nologin ----------------------------------------------------------------------

  void check_pam() {
    std::vector<std::string> present;
    for (const char* path : {"/run/nologin", "/etc/nologin"})
      if (target_.stat(path).exists) present.emplace_back(path);
    const bool pam = normalized(use_pam_.value()) == "yes";
    std::optional<std::string> line;
    if (pam) line = pam_nologin_line("sshd", [this](const std::string& path) { return target_.read_file(path); });
    // Without PAM, sshd itself honours /etc/nologin only.
    if (!pam) present.erase(std::remove(present.begin(), present.end(), "/run/nologin"), present.end());
    const bool enforced = !pam || line.has_value();
    if (present.empty() || !enforced) {
      add("pam", "nologin", Status::kOk,
          std::string(pam ? (line ? "pam_nologin at " + *line : "no pam_nologin in the sshd PAM stack")
                          : "UsePAM no: sshd checks /etc/nologin itself") +
              (present.empty() ? "; no nologin file" : "; " + text::join(present, " ") + " is not enforced"));
      return;
    }
    const std::string who = pam ? "pam_nologin (" + *line + ")" : "sshd (UsePAM no)";
    if (root()) {
      add("pam", "nologin", Status::kWarn,
          text::join(present, " ") + " exists: " + who + " refuses every user except root (root is exempt)");
      return;
    }
    auto& f = add("pam", "nologin", Status::kFail,
                  text::join(present, " ") + " exists: " + who + " refuses " + opt_.user + " (only root may log in)");
    const auto content = target_.read_file(present[0]);
    if (content && !text::trim(*content).empty()) f.detail = {"it says: " + text::trim(*content)};
    fix_outside(f, "rm " + text::join(present, " "));
  }

  // --- firewall -----------------------------------------------------------------------------

  void report_blocks(const std::vector<FirewallBlock>& blocks, const std::string& source, bool live) {
    if (blocks.empty()) {
      add("firewall", source, Status::kOk,
          "no rule drops or rejects tcp port " + std::to_string(port_) + " from " + report_.from);
      return;
    }
    for (const auto& b : blocks) {
      auto& f = add("firewall", source, b.certain && live ? Status::kFail : Status::kWarn,
                    (b.certain ? "drops or rejects tcp port " : "may drop tcp port ") + std::to_string(port_) +
                        " from " + report_.from + ": " + b.rule);
      if (live && !b.fix.empty()) {
        fix_outside(f, b.fix);
      } else if (!live) {
        f.fix = "remove the rule from " + source + " in the root (nftables loads it at boot)";
        f.fix_outside = true;
      }
    }
  }

  void check_firewall() {
    if (target_.offline()) {
      const auto conf = target_.read_file("/etc/nftables.conf");
      if (!conf) {
        add("firewall", "nftables", Status::kSkip, "offline root: no /etc/nftables.conf");
        return;
      }
      report_blocks(nft_blocks(*conf, port_, report_.from), "/etc/nftables.conf", false);
      return;
    }
    bool read_any = false;
    bool tried = false;
    const auto first_line = [](const std::string& err) {
      const auto lines = text::lines(text::trim(err));
      return lines.empty() ? std::string("no output") : lines[0];
    };
    if (target_.has_program("/usr/sbin/nft")) {
      tried = true;
      const auto r = target_.run({"/usr/sbin/nft", "-a", "list", "ruleset"});
      if (r.exit_code == 0) {
        read_any = true;
        report_blocks(nft_blocks(r.out, port_, report_.from), "nft list ruleset", true);
      } else {
        add("firewall", "nft list ruleset", Status::kSkip, "could not read: " + first_line(r.err));
      }
    }
    const bool v6 = report_.from.find(':') != std::string::npos;
    const std::string program = v6 ? "ip6tables" : "iptables";
    if (target_.has_program("/usr/sbin/" + program + "-save")) {
      tried = true;
      // iptables over nf_tables shows rules nft listed already; only the legacy backend adds any.
      const auto version = target_.run({"/usr/sbin/" + program, "--version"});
      const bool over_nft = version.out.find("nf_tables") != std::string::npos;
      if (!(read_any && over_nft)) {
        const auto r = target_.run({"/usr/sbin/" + program + "-save"});
        if (r.exit_code == 0) {
          read_any = true;
          report_blocks(iptables_blocks(r.out, port_, report_.from, program), program + "-save", true);
        } else {
          add("firewall", program + "-save", Status::kSkip, "could not read: " + first_line(r.err));
        }
      }
    }
    if (!tried)
      add("firewall", "local firewall", Status::kSkip,
          "could not read the firewall: neither nft nor iptables-save is installed");
  }

  // --- who else edits the configuration ------------------------------------------------------

  void check_owners() {
    bool any = false;
    const auto warn = [&](const std::string& check, const std::string& message, const std::string& where) {
      auto& f = add("owners", check, Status::kWarn, message);
      f.where = where;
      any = true;
    };
    const bool cloud_init = target_.stat("/usr/bin/cloud-init").exists;
    for (const auto& file : target_.glob("/etc/ssh/sshd_config.d/*cloud-init*")) {
      if (cloud_init)
        warn("cloud-init", "cloud-init wrote this drop-in (ssh_pwauth) and may write it again on a new instance", file);
      else
        add("owners", "cloud-init", Status::kOk, "written by cloud-init, which is not installed: nothing rewrites it")
            .where = file;
    }
    const std::vector<std::pair<const char*, const char*>> agents = {
        {"/usr/bin/google_guest_agent", "google-guest-agent: creates users and writes their keys from metadata"},
        {"/usr/bin/google_oslogin_nss", "Google OS Login: keys come from the cloud (AuthorizedKeysCommand)"},
        {"/usr/sbin/waagent", "waagent (Azure): resets passwords, keys and sshd settings through VMAccess"},
        {"/usr/bin/qemu-ga", "qemu-guest-agent: the hypervisor can set passwords and run commands"},
        {"/usr/sbin/qemu-ga", "qemu-guest-agent: the hypervisor can set passwords and run commands"},
        {"/usr/sbin/aliyun-service", "Alibaba Cloud Assistant: runs commands and resets passwords from the cloud"},
        {"/usr/bin/amazon-ssm-agent", "amazon-ssm-agent: runs commands from AWS Systems Manager"},
        {"/usr/sbin/ec2-instance-connect", "EC2 Instance Connect: pushes short-lived keys"},
    };
    for (const auto& [path, what] : agents)
      if (target_.stat(path).exists) warn("guest agent", what, path);
    const std::string crypto = "/etc/crypto-policies/back-ends/opensshserver.config";
    const bool included =
        model_ != nullptr && std::find(model_->files.begin(), model_->files.end(), crypto) != model_->files.end();
    if (included || target_.stat(crypto).exists)
      warn("crypto-policies",
           std::string("update-crypto-policies owns ") + crypto + (included ? " (included)" : "") +
               ": ciphers and algorithms come from the system policy",
           crypto);
    if (model_ != nullptr)
      for (const auto& file : model_->files)
        if (file.find("50-redhat.conf") != std::string::npos)
          warn("vendor drop-in", "the distribution's drop-in: package updates may replace it", file);
    if (!any && report_.findings.end() == std::find_if(report_.findings.begin(), report_.findings.end(),
                                                       [](const Finding& f) { return f.section == "owners"; }))
      add("owners", "other owners", Status::kOk, "no cloud-init drop-in, guest agent or crypto policy found");
  }

  host::Host& target_;
  host::Host& controller_;
  const Options& opt_;
  Report& report_;
  std::unique_ptr<config::ConfigTree> tree_;
  const config::Model* model_ = nullptr;
  std::vector<std::pair<std::string, std::string>> sshd_said_;
  std::string unit_, socket_unit_;
  int port_ = 22;
  std::optional<host::Account> account_;
  std::vector<std::string> groups_;
  std::optional<PasswordState> password_;
  bool password_bang_ = false;
  Setting permit_, password_auth_, kbd_auth_, pubkey_auth_, methods_, use_pam_, empty_ok_, strict_;
  bool refused_ = false;
  bool key_files_refused_ = false;
  int usable_keys_ = 0;
  int forced_keys_ = 0;
  std::ptrdiff_t strict_problem_ = 0;
};

}  // namespace

Report diagnose(host::Host& target, host::Host& controller, const Options& options) {
  if (options.user.empty()) throw Error(ErrorKind::kBadInput, "doctor needs a user name (--user)");
  Report report;
  Doctor(target, controller, options, report).run();
  return report;
}

}  // namespace sshdctl::doctor
