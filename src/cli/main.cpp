// sshdctl: open and close SSH access on Linux hosts, safely.
#include <fcntl.h>
#include <malloc.h>
#include <pwd.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "commands.h"
#include "fleet.h"
#include "interrupt.h"
#include "output.h"
#include "secrets.h"
#include "sshdctl/accounts/credentials.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/host/dry_run_host.h"
#include "sshdctl/host/fs_host.h"
#include "sshdctl/host/ssh_host.h"
#include "sshdctl_version.h"
#include "test_seam.h"

namespace {

constexpr const char* kFooter = R"(
Every change is validated with `sshd -T` before it replaces a file, files are replaced
atomically (mode, owner and extended attributes kept), then sshd is reloaded through systemd
(the job is awaited; open sessions are kept). `--dry-run` shows the diffs and changes nothing.

Examples:
  sshdctl show PermitRootLogin PasswordAuthentication
  sshdctl show --user root --addr 192.0.2.10 --compare      # Match evaluated, checked against sshd -T
  sshdctl --dry-run set PermitRootLogin prohibit-password
  sshdctl set X11Forwarding no --match "User guest"
  sshdctl root-login enable                  # root may log in, with a password too
  sshdctl root-login disable
  sshdctl --root /mnt/rescue root-login enable               # a rescue disk mounted at /mnt/rescue
  sshdctl service status                     # which unit runs sshd, its state and main pid
  sshdctl --host ecs-user@web1 show PermitRootLogin --compare  # over SSH, as root through sudo
  sshdctl --host ecs-user@web1 set PasswordAuthentication no   # then a fresh login is probed
  sshdctl key add alice --pubkey alice.pub   # to alice's effective AuthorizedKeysFile, 0600
  sshdctl --host ecs-user@web1 tempkey root --ttl 15m --out /tmp/root-15m
  sshdctl passwd alice --stdin --unlock <<<"$NEW_PASSWORD"
  sshdctl history                            # the change sets in the target's journal
  sshdctl revert --last                      # undo the newest one (itself a change set)
  sshdctl --host ecs-user@web1 --for 2h root-login enable --password-stdin   # reverts itself in 2 h
  sshdctl --host ecs-user@web1 confirm 20261125T014700123456Z-3fa9c1        # ... or not
  sshdctl -i hosts.ini plan examples/policies/baseline.yml    # per-host diffs of a policy, nothing changed
  sshdctl -i hosts.ini apply examples/policies/baseline.yml --canary 1 --batch 25% --max-failures 2
  sshdctl -i hosts.ini --limit 'web:!web3' root-login enable --for 2h     # any verb, on every host
  sshdctl -i hosts.ini revert --rollout 20261125T030000123456Z-9c01ab    # a whole rollout back

Exit codes:
  0  changed (or a read-only verb succeeded)
  1  failure (system error, permission, an edit that could not be placed, a failed reload)
  2  bad input: usage, unknown keyword, invalid value, unknown Match criterion
  3  unchanged: everything already was as asked; nothing was written
  4  rejected: sshd -T refused the new configuration; nothing was written
  5  a configuration file could not be parsed (file:line shown); nothing was written
  6  rolled back: the reload or the fresh login after it failed, so the change was undone
     (or the target's dead-man undid it before this run could confirm it)
  130, 143  interrupted by SIGINT (Ctrl-C) or SIGTERM: the message says what the target is
     left with (before the commit: nothing changed; after it: the dead-man's deadline)
With -i INVENTORY: 0 every host succeeded, 3 every host already was as asked, 7 some hosts
failed (every host was tried), 8 aborted (a canary failed or --max-failures was exceeded).

Remote hosts (--host): one SSH connection per run (ssh config, known_hosts checked strictly,
keys, ssh-agent, or a password from --ask-pass/--pass-stdin/--pass-file/--pass-env, never
from the command line). Commands run as root through sudo (-n, or -S fed the login password).
After a reload, a fresh login the same way must work, or the change is rolled back (exit 6).
Never locked out: the commit also arms a dead-man on the target that undoes the change by
itself unless that fresh login confirms it within --confirm-timeout (default 120 s): a
controller killed, a Ctrl-C, a cut or silent path, a reboot (undone at boot, before sshd
starts) all end with the old configuration. --command-timeout bounds the silence of a dead
path (default 30 s). history shows an armed dead-man and its deadline.
)";

int print_result(bool json, const sshdctl::Json& j, const std::string& text, int code) {
  std::cout << (json ? j.dump() + "\n" : text);
  return code;
}

// "alice@laptop": who runs sshdctl (the user behind sudo, if any), and where.
std::string operator_name() {
  const char* user = std::getenv("SUDO_USER");
  if (user == nullptr || *user == '\0') user = std::getenv("USER");
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string name = user != nullptr ? user : "";
  if (name.empty()) {
    const passwd* pw = ::getpwuid(::getuid());
    name = pw != nullptr ? pw->pw_name : "uid " + std::to_string(::getuid());
  }
  return name + "@" + host;
}

// The first key line of FILE, or of stdin for "-".
std::string read_public_key(const std::string& source) {
  std::ifstream file;
  if (source != "-") {
    file.open(source);
    if (!file) throw sshdctl::Error(sshdctl::ErrorKind::kBadInput, "cannot read the public key file " + source);
  }
  std::istream& in = source == "-" ? std::cin : file;
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos && line[first] != '#') return line;
  }
  throw sshdctl::Error(sshdctl::ErrorKind::kBadInput, "no public key in " + (source == "-" ? "stdin" : source));
}

sshdctl::accounts::CredentialStore open_store(const sshdctl::cli::SecretSource& passphrase, const std::string& path) {
  using namespace sshdctl;
  cli::SecretSource source = passphrase;
  if (!source.given()) source.ask = true;
  auto secret = cli::read_secret(source, "credential store passphrase");
  return accounts::CredentialStore(path.empty() ? accounts::default_store_path() : path, std::move(*secret));
}

// --credential NAME: the stored user, password or key become the login of --host.
void use_credential(sshdctl::host::SshTarget& remote, const std::string& name,
                    const sshdctl::cli::SecretSource& passphrase, const std::string& path) {
  using namespace sshdctl;
  const auto store = open_store(passphrase, path);
  const auto found = store.find(name);
  if (!found) throw Error(ErrorKind::kBadInput, "no stored credential '" + name + "' (see: sshdctl credential list)");
  const auto at = remote.destination.rfind('@');
  if (at != std::string::npos && remote.destination.substr(0, at) != found->user)
    throw Error(ErrorKind::kBadInput, "--host names user " + remote.destination.substr(0, at) + " but credential " +
                                          name + " is for " + found->user);
  if (at == std::string::npos) remote.destination = found->user + "@" + remote.destination;
  remote.password = found->password;
  remote.private_key = found->private_key;
}

int run_credential(bool add, bool remove, const std::string& name, const std::string& user, const std::string& key,
                   const sshdctl::cli::SecretSource& password, const sshdctl::cli::SecretSource& passphrase,
                   const std::string& path, bool json) {
  using namespace sshdctl;
  auto store = open_store(passphrase, path);
  Json j = Json::object();
  std::string text;
  int code = exit_code::kChanged;
  if (add) {
    accounts::Credential c;
    c.name = name;
    c.user = user;
    c.password = cli::read_secret(password, "password of " + name);
    if (!key.empty()) {
      if (c.password) throw Error(ErrorKind::kBadInput, "a credential holds a password or a key, not both");
      std::ifstream in(key, std::ios::binary);
      if (!in) throw Error(ErrorKind::kBadInput, "cannot read the key file " + key);
      c.private_key = std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (c.private_key->find("PRIVATE KEY") == std::string::npos)
        throw Error(ErrorKind::kBadInput, key + " is not a private key file");
    }
    if (!c.password && !c.private_key)
      throw Error(ErrorKind::kBadInput, "give the password (--password-stdin/-file/-env) or --key FILE");
    const bool replaced = store.find(name).has_value();
    store.put(std::move(c));
    store.save();
    text = std::string(replaced ? "replaced " : "stored ") + name + " (" + user + ")\n";
    j["stored"] = name;
  } else if (remove) {
    if (!store.remove(name)) {
      text = "no credential " + name + ": nothing removed\n";
      code = exit_code::kUnchanged;
    } else {
      store.save();
      text = "removed " + name + "\n";
    }
    j["removed"] = name;
  } else {
    Json list = Json::array();
    for (const auto& c : store.list()) {
      const std::string kind = c.password ? "password" : "key";
      text += c.name + "  " + c.user + "  " + kind + "\n";
      Json item = Json::object();
      item["name"] = c.name;
      item["user"] = c.user;
      item["kind"] = kind;
      list.push_back(std::move(item));
    }
    if (store.list().empty()) text = "(no credentials)\n";
    j["credentials"] = std::move(list);
  }
  return print_result(json, j, text, code);
}

// 90, 90s, 30m, 2h, 1d as seconds.
long parse_duration(const std::string& text) {
  if (auto seconds = sshdctl::text::parse_duration(text)) return *seconds;
  throw sshdctl::Error(sshdctl::ErrorKind::kBadInput, "'" + text + "' is not a duration (90s, 30m, 2h, 1d)");
}

// tempkey: the key goes to --out (0600, never overwritten) or to a stdout that is not a
// terminal; the report goes to stdout with --out, else to stderr.
int run_tempkey(sshdctl::cli::Context& ctx, const std::string& user, const std::string& ttl, const std::string& out,
                bool json) {
  using namespace sshdctl;
  if (out.empty() && ::isatty(STDOUT_FILENO))
    throw Error(ErrorKind::kBadInput, "the private key would go to the terminal: give --out FILE, or pipe stdout");
  if (out.empty() && json) throw Error(ErrorKind::kBadInput, "--json needs --out FILE (the key cannot share stdout)");
  const long seconds = parse_duration(ttl);
  int fd = -1;
  if (!out.empty() && !ctx.dry_run) {
    fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
      throw Error(ErrorKind::kBadInput, out + ": " + std::strerror(errno) + " (the key file is never overwritten)");
  }
  cli::TempKey key;
  try {
    key = cli::tempkey(ctx, user, seconds);
  } catch (...) {
    if (fd >= 0) {
      ::close(fd);
      ::unlink(out.c_str());
    }
    throw;
  }
  Json j = cli::to_json(key.change);
  j["fingerprint"] = key.fingerprint;
  j["expires"] = key.expires;
  j["private_key_file"] = out;
  std::string text = cli::render_text(key.change) + "tempkey: " + key.fingerprint + " for " + user + ", expires " +
                     key.expires + (out.empty() ? "" : ", private key in " + out) + "\n";
  if (ctx.dry_run) {
    (json ? std::cout : std::cerr) << (json ? j.dump() + "\n" : text);
    return exit_code::kChanged;
  }
  if (fd >= 0) {
    const bool written =
        ::write(fd, key.private_key.data(), key.private_key.size()) == static_cast<ssize_t>(key.private_key.size()) &&
        ::fsync(fd) == 0;
    ::close(fd);
    if (!written) throw Error(ErrorKind::kInternal, "cannot write " + out + " (the public key is installed)");
    std::cout << (json ? j.dump() + "\n" : text);
  } else {
    std::cout << key.private_key << std::flush;
    std::cerr << text;
  }
  std::fill(key.private_key.begin(), key.private_key.end(), '\0');
  return exit_code::kChanged;
}

}  // namespace

// A word where a verb belongs that is none: its name, the closest verbs and every verb.
std::optional<std::string> unknown_verb(CLI::App& app) {
  if (!app.get_subcommands().empty()) return std::nullopt;
  std::string word;
  for (const auto& arg : app.remaining())
    if (!arg.empty() && arg[0] != '-') {
      word = arg;
      break;
    }
  if (word.empty()) return std::nullopt;
  std::vector<std::string> verbs, close;
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    verbs.push_back(sub->get_name());
    if (sshdctl::text::edit_distance(word, sub->get_name()) <= std::max<std::size_t>(2, word.size() / 3))
      close.push_back("'" + sub->get_name() + "'");
  }
  return "sshdctl: error: '" + word + "' is not a verb" +
         (close.empty() ? std::string() : " (did you mean " + sshdctl::text::join(close, " or ") + "?)") +
         "\nverbs: " + sshdctl::text::join(verbs, ", ") + "\nRun sshdctl --help for more information.\n";
}

// An option no verb or the program knows: its name, and the closest options that are.
// `unexpected` is CLI11's "… not expected: ARG…".
std::optional<std::string> unknown_option(CLI::App& app, const std::string& unexpected) {
  CLI::App* where = &app;
  while (!where->get_subcommands().empty()) where = where->get_subcommands().front();
  std::string word;
  if (const auto colon = unexpected.find("expected: "); colon != std::string::npos)
    for (const auto& arg : sshdctl::text::split_words(unexpected.substr(colon + 10)))
      if (arg.size() > 1 && arg[0] == '-') {
        word = arg.substr(0, arg.find('='));
        break;
      }
  if (word.empty()) return std::nullopt;
  std::vector<std::string> close;
  for (CLI::App* a = where; a != nullptr; a = a->get_parent())
    for (const auto* opt : a->get_options()) {
      for (const auto& name : opt->get_lnames())
        if (sshdctl::text::edit_distance(word, "--" + name) <= std::max<std::size_t>(2, word.size() / 4))
          close.push_back("'--" + name + "'");
    }
  std::sort(close.begin(), close.end());
  close.erase(std::unique(close.begin(), close.end()), close.end());
  return "sshdctl: error: unknown option '" + word + "'" +
         (close.empty() ? std::string() : " (did you mean " + sshdctl::text::join(close, " or ") + "?)") +
         "\nRun sshdctl --help for the global options (they go before the verb)" +
         (where == &app ? std::string() : ", sshdctl " + where->get_name() + " --help for the verb's own") + ".\n";
}

// sshdctl --list-keywords: the catalog for the shell completions, one keyword per line with
// its values when they are a fixed set ("PermitRootLogin yes prohibit-password ...").
void list_keywords() {
  for (const auto& k : sshdctl::config::all_keywords()) {
    if (k.deprecated) continue;
    std::string line(k.name);
    for (const auto choice : k.choices) line += " " + std::string(choice);
    std::cout << line << "\n";
  }
  throw CLI::Success();
}

// sshdctl --version
std::string version_text() {
  std::string out = std::string("sshdctl ") + kSshdctlVersion;
  if (*kSshdctlRevision != '\0') out += std::string(" (git ") + kSshdctlRevision + ")";
  return out + "\nbuilt with " + kSshdctlBuiltWith;
}

int run_sshdctl(int argc, char** argv) {
  using namespace sshdctl;
  CLI::App app{
      "sshdctl: open and close SSH access on Linux hosts, safely.\n"
      "Edits sshd_config and its drop-ins so that the setting you ask for is the one sshd uses.",
      "sshdctl"};
  app.footer(kFooter);
  app.set_version_flag("--version", version_text());
  app.add_flag_callback("--list-keywords", list_keywords, "The keywords sshdctl knows, for the shell completions")
      ->group("")
      ->trigger_on_parse();
  app.require_subcommand(1);
  app.fallthrough();

  std::string root;
  bool dry_run = false;
  bool json = false;
  int verbosity = 0;
  std::string lens_dir;
  bool no_reload = false;
  std::string unit;
  app.add_option("--root", root,
                 "Work on an offline root (a mounted rescue disk): paths, Includes and validation resolve inside DIR")
      ->option_text("DIR");
  host::SshTarget remote;
  app.add_option("--host", remote.destination,
                 "Work on a remote host over SSH: [user@]host[:port] or an ssh config alias")
      ->option_text("DEST");
  app.add_option("-F", remote.config_file, "ssh config file (default: ~/.ssh/config)")->option_text("FILE");
  app.add_option("--identity", remote.identity, "Private key (default: ssh-agent and the default keys)")
      ->option_text("FILE");
  app.add_option("--known-hosts", remote.known_hosts,
                 "known_hosts file (default: from the ssh config, else "
                 "~/.ssh/known_hosts); host keys are always checked")
      ->option_text("FILE");
  app.add_flag("--accept-new", remote.accept_new,
               "Record the key of a host not yet in known_hosts (never a changed one)");
  app.add_option("-J,--jump", remote.jump, "Reach --host through this jump host ([user@]host[:port], like ssh -J)")
      ->option_text("DEST");
  app.add_option("--connect-timeout", remote.connect_timeout_s, "Seconds to wait for the connection (default 10)");
  app.add_option("--command-timeout", remote.command_timeout_s,
                 "Seconds of silence from the remote host after which its path counts as cut (default 30)")
      ->check(CLI::Range(1, 3600))
      ->option_text("S");
  long confirm_timeout = 120;
  app.add_option("--confirm-timeout", confirm_timeout,
                 "Remote: the target undoes a change by itself unless a fresh login confirms it within S seconds "
                 "(default 120)")
      ->check(CLI::Range(10, 86400))
      ->option_text("S");
  cli::FleetArgs fleet_args;
  app.add_option("-i,--inventory", fleet_args.inventory,
                 "Run on every host of an inventory: an Ansible INI or YAML inventory, a file of host names, "
                 "or a list 'web1,web2'")
      ->option_text("INV");
  app.add_option("--limit", fleet_args.limit,
                 "With -i: only these hosts (Ansible patterns: web, 'web*', 'web:&prod', 'all:!db', '~regex')")
      ->option_text("PATTERN");
  app.add_option("--forks", fleet_args.rollout.forks, "With -i: hosts in flight at once (default 50)")
      ->check(CLI::Range(1, 1000))
      ->option_text("N");
  std::string canary_text, batch_text, max_failures_text;
  app.add_option("--canary", fleet_args.rollout.canary,
                 "With -i: change the first N hosts first, and stop if any of them fails")
      ->check(CLI::NonNegativeNumber)
      ->option_text("N");
  app.add_option("--batch", batch_text, "With -i: then N hosts (or N% of them) at a time, batch after batch")
      ->option_text("N|N%");
  app.add_option("--max-failures", max_failures_text,
                 "With -i: start no new host once more than N hosts (or N%) failed (default: try every host)")
      ->option_text("N|N%");
  app.add_option("--report", fleet_args.report_file,
                 "With -i: write a JSON line per host to FILE (status, changed keys, diff, timings, error)")
      ->option_text("FILE");
  cli::SecretSource login_password;
  app.add_flag("--ask-pass", login_password.ask,
               "Ask for the login password (no echo); it is also given to sudo when sudo needs one");
  app.add_flag("--pass-stdin", login_password.from_stdin, "Read the login password from the first line of stdin");
  app.add_option("--pass-file", login_password.file, "Read the login password from the first line of FILE")
      ->option_text("FILE");
  app.add_option("--pass-env", login_password.env, "Read the login password from the environment variable VAR")
      ->option_text("VAR");
  bool no_probe = false;
  app.add_flag("--no-probe", no_probe,
               "Remote: do not try a fresh login after the reload; this run's own session confirms the change "
               "(a lock-out would then stay)");
  app.add_flag("--dry-run,-n", dry_run, "Print the unified diffs and what would happen; change nothing");
  app.add_flag("--json", json, "Print machine-readable JSON");
  app.add_flag("-v,--verbose", verbosity, "Log what is done (-vv: debug)");
  app.add_flag("--no-reload", no_reload, "Change the files but do not reload sshd (the old settings stay live)");
  app.add_option("--unit", unit, "The sshd unit (default: detected: ssh.service, sshd.service, ssh.socket)")
      ->option_text("UNIT");
  app.add_option("--lens-dir", lens_dir,
                 "Where the sshdctl Augeas lenses are (default: $SSHDCTL_LENS_DIR, else ../share/sshdctl/lenses from "
                 "the binary, else /usr/share/sshdctl/lenses)")
      ->option_text("DIR");

  cli::ConnectionArgs conn;
  std::vector<std::string> show_keys;
  bool compare = false;
  auto* show = app.add_subcommand("show", "Effective values and the file:line each comes from");
  show->add_option("keys", show_keys, "Keywords to show (default: every keyword the files set)")->option_text("KEY...");
  show->add_option("--user", conn.user, "Evaluate Match blocks for this user");
  show->add_option("--host", conn.host, "… and this client host name");
  show->add_option("--addr", conn.addr, "… and this client address");
  show->add_option("--laddr", conn.laddr, "… and this local address");
  show->add_option("--lport", conn.lport, "… and this local port");
  show->add_option("--rdomain", conn.rdomain, "… and this routing domain");
  show->add_flag("--compare", compare, "Also ask sshd -T (-C with a connection) and report disagreements");
  show->footer(
      "\nA keyword no file sets shows the value sshd uses anyway, from sshd -T on the target, marked\n"
      "(sshd's default). Example: sshdctl show MaxAuthTries  ->  MaxAuthTries 6 (sshd's default)");

  std::string key;
  std::vector<std::string> values;
  std::optional<std::string> match;
  auto* set = app.add_subcommand("set", "Make KEY's effective value VALUE (edits the line that wins)");
  set->add_option("key", key, "sshd_config keyword, any case")->required()->option_text("KEY");
  set->add_option("values", values, "Value words (Subsystem: NAME COMMAND...)")->required()->option_text("VALUE...");
  set->add_option("--match", match, "Edit inside the Match block with this condition (created when missing)")
      ->option_text("\"COND\"");
  set->footer(
      "\nA global set edits the line sshd uses today, wherever the Include tree puts it; when no line\n"
      "sets KEY, a new line goes before the first Match block of the main file. Lines that lose to it\n"
      "are reported. Example: sshdctl set PermitRootLogin no");

  std::vector<std::string> unset_names;
  auto* unset = app.add_subcommand("unset", "Remove KEY's lines so sshd's default (or a Match block) applies");
  unset->add_option("key", key, "sshd_config keyword")->required()->option_text("KEY");
  unset->add_option("name", unset_names, "For Subsystem: the subsystem name")->option_text("NAME");
  unset->add_option("--match", match, "Remove from the Match block with this condition")->option_text("\"COND\"");

  bool key_only = false;
  auto* root_login = app.add_subcommand("root-login", "Allow or forbid root logons over SSH");
  root_login->require_subcommand(1);
  auto* enable = root_login->add_subcommand(
      "enable", "Make root's effective PermitRootLogin yes and PasswordAuthentication yes (for root only)");
  enable->add_flag("--key-only", key_only, "PermitRootLogin prohibit-password; passwords stay as they are");
  cli::SecretSource root_password;
  enable->add_flag("--password-stdin", root_password.from_stdin,
                   "Also set root's password, from the first line of stdin (hashed as /etc/login.defs says)");
  enable->add_option("--password-file", root_password.file, "Also set root's password, from the first line of FILE")
      ->option_text("FILE");
  enable->add_option("--password-env", root_password.env, "Also set root's password, from the environment variable VAR")
      ->option_text("VAR");
  enable->add_flag("--ask-password", root_password.ask, "Also set root's password, asked for without echo");
  enable->footer(
      "\nPermitRootLogin is edited where it wins (e.g. the line in sshd_config); password logons are\n"
      "opened for root only, in a 'Match User root' block placed first, so other users and\n"
      "cloud-init's PasswordAuthentication drop-in are left as they are. Match blocks that would\n"
      "still forbid root are overridden by that block.");
  auto* disable = root_login->add_subcommand(
      "disable", "Make root's effective PermitRootLogin no and remove the root-only password override");

  std::string account_user;
  std::string pubkey_source;
  std::string key_options;
  bool fix_perms = false;
  cli::KeySelector selector;
  auto* keys = app.add_subcommand("key", "Public keys in a user's authorized_keys (where sshd looks for them)");
  keys->require_subcommand(1);
  auto* key_add = keys->add_subcommand("add", "Add a public key for USER (unchanged when it is already there)");
  key_add->add_option("user", account_user, "The account")->required()->option_text("USER");
  key_add->add_option("--pubkey", pubkey_source, "The public key: a .pub file, or - for stdin")
      ->required()
      ->option_text("FILE|-");
  key_add
      ->add_option("--options", key_options,
                   "authorized_keys options, e.g. 'from=\"10.0.0.0/8\",no-port-forwarding,expiry-time=\"20261231\"'")
      ->option_text("OPTS");
  key_add->add_flag("--fix-perms", fix_perms,
                    "Repair modes and owners that make sshd ignore the keys (StrictModes), instead of refusing");
  key_add->footer(
      "\nThe key goes to the first file of the user's effective AuthorizedKeysFile (%h, %u, %U expanded;\n"
      "relative to the home directory), through sshdctl's authorized_keys lens. ~/.ssh is created 0700\n"
      "and the file 0600, owned by the user. Symbolic links and files sshd would ignore are refused.\n"
      "Example: sshdctl key add alice --pubkey alice.pub --options 'from=\"192.0.2.0/24\"'");
  auto* key_remove = keys->add_subcommand("remove", "Remove USER's keys matching --pubkey, --fingerprint or --comment");
  key_remove->add_option("user", account_user, "The account")->required()->option_text("USER");
  key_remove->add_option("--pubkey", pubkey_source, "The public key to remove: a .pub file, or -")
      ->option_text("FILE|-");
  key_remove->add_option("--fingerprint", selector.fingerprint, "SHA256:… as ssh-keygen -l shows it");
  key_remove->add_option("--comment", selector.comment, "The key's comment, exactly");
  auto* key_list = keys->add_subcommand("list", "USER's keys: file:line, options, type, fingerprint, expiry");
  key_list->add_option("user", account_user, "The account")->required()->option_text("USER");
  auto* key_prune = keys->add_subcommand("prune", "Remove USER's keys whose expiry-time has passed");
  key_prune->add_option("user", account_user, "The account")->required()->option_text("USER");

  std::string ttl_text;
  std::string tempkey_out;
  auto* tempkey = app.add_subcommand("tempkey", "A fresh ed25519 key for USER that sshd accepts for --ttl only");
  tempkey->add_option("user", account_user, "The account")->required()->option_text("USER");
  tempkey->add_option("--ttl", ttl_text, "How long the key works: 90s, 30m, 2h, 1d")->required()->option_text("DUR");
  tempkey->add_option("--out", tempkey_out, "Write the private key to FILE (0600; never overwritten)")
      ->option_text("FILE");
  tempkey->footer(
      "\nThe public key is installed with expiry-time= (sshd itself refuses it afterwards; UTC, or the\n"
      "target's local time before OpenSSH 8.7, which knows no UTC suffix); 'key prune' removes it later.\n"
      "Without --out the private key goes to stdout, which must be a pipe or a file.\n"
      "Example: sshdctl --host ecs-user@web1 tempkey root --ttl 15m --out /tmp/root-15m");

  cli::SecretSource new_password;
  bool unlock = false;
  auto* passwd = app.add_subcommand("passwd", "Set USER's password (hashed as the target's login.defs says)");
  passwd->add_option("user", account_user, "The account")->required()->option_text("USER");
  passwd->add_flag("--stdin", new_password.from_stdin, "Read the new password from the first line of stdin");
  passwd->add_option("--file", new_password.file, "Read it from the first line of FILE")->option_text("FILE");
  passwd->add_option("--env", new_password.env, "Read it from the environment variable VAR")->option_text("VAR");
  passwd->add_flag("--ask", new_password.ask, "Ask for it on the terminal (no echo)");
  passwd->add_flag("--unlock", unlock, "Unlock a locked (!) account and clear an account expiry that has passed");
  passwd->footer(
      "\n/etc/shadow is replaced atomically; the password and its hash never appear in arguments, logs,\n"
      "JSON or diffs (reports say '<user>'s password hash changed').");

  std::string credential_name;
  app.add_option("--credential", credential_name,
                 "Log in to --host with a stored credential (see 'sshdctl credential')")
      ->option_text("NAME");
  cli::SecretSource store_passphrase;
  app.add_option("--store-pass-env", store_passphrase.env,
                 "The credential store's passphrase from the environment variable VAR (default: asked)")
      ->option_text("VAR");
  app.add_option("--store-pass-file", store_passphrase.file, "... or from the first line of FILE")->option_text("FILE");
  std::string store_path;
  app.add_option("--store", store_path,
                 "The credential store (default: $SSHDCTL_CREDENTIALS, else ~/.config/sshdctl/credentials)")
      ->option_text("FILE");
  std::string credential_user;
  std::string credential_key;
  cli::SecretSource credential_password;
  auto* credential = app.add_subcommand(
      "credential", "Logins kept encrypted on this machine (Argon2id + XChaCha20-Poly1305), for --credential");
  credential->require_subcommand(1);
  auto* credential_add = credential->add_subcommand("add", "Store (or replace) a login: a user and a password or key");
  credential_add->add_option("name", credential_name, "Its name: letters, digits, . _ -")->required();
  credential_add->add_option("--user", credential_user, "The login user")->required();
  credential_add->add_flag("--password-stdin", credential_password.from_stdin, "The password, from stdin");
  credential_add->add_option("--password-file", credential_password.file, "The password, from FILE");
  credential_add->add_option("--password-env", credential_password.env, "The password, from the variable VAR");
  credential_add->add_option("--key", credential_key, "A private key file (unencrypted, e.g. from tempkey)");
  credential->add_subcommand("list", "Names and users of the stored logins (no secrets)");
  auto* credential_remove = credential->add_subcommand("remove", "Forget a stored login");
  credential_remove->add_option("name", credential_name, "Its name")->required();

  std::string change_id_for_confirm;
  std::string reason;
  app.add_option("--reason", reason, "Why: kept with the change set in the target's journal")->option_text("TEXT");
  int lock_timeout = 30;
  app.add_option("--lock-timeout", lock_timeout, "Seconds to wait for another sshdctl run on the target (default 30)");
  std::string window_for, confirm_within;
  app.add_option("--for", window_for,
                 "A maintenance window: the target reverts the change by itself after DUR (a systemd timer), "
                 "unless 'sshdctl confirm ID'")
      ->option_text("DUR");
  app.add_option("--confirm-within", confirm_within,
                 "Commit-confirm: the change reverts itself after DUR unless 'sshdctl confirm ID' arrives in time")
      ->option_text("DUR");
  auto* confirm = app.add_subcommand("confirm", "Keep a change made with --for or --confirm-within (stops its timer)");
  confirm->add_option("id", change_id_for_confirm, "The change set ID")->required()->option_text("ID");
  auto* history = app.add_subcommand("history", "The change sets in the target's journal, oldest first");
  std::string change_id;
  auto* show_change =
      app.add_subcommand("show-change", "One change set: who, when, why, and its diffs (secrets masked)");
  show_change->add_option("id", change_id, "The change set ID (see history)")->required()->option_text("ID");
  std::string policy_file;
  auto* plan = app.add_subcommand("plan", "What a policy would change on each target (changes nothing)");
  plan->add_option("policy", policy_file, "The policy (YAML; see examples/policies)")
      ->required()
      ->option_text("POLICY");
  auto* apply = app.add_subcommand("apply", "Make each target as the policy says: one change set per host");
  apply->add_option("policy", policy_file, "The policy (YAML; see examples/policies)")
      ->required()
      ->option_text("POLICY");
  apply->footer(
      "\nA policy names effective sshd values (global and per Match block), keys present or absent\n"
      "per user, and password or lock states; 'window: {for: 2h}' makes each host revert by itself.\n"
      "Each host is validated (sshd -T), written atomically, reloaded only when sshd's files changed,\n"
      "and probed with a fresh login (rolled back when that fails). Hosts already as the policy says\n"
      "are left alone (no write, no reload).\n"
      "Example: sshdctl -i hosts.ini apply examples/policies/baseline.yml --canary 1 --batch 25% --max-failures 2");
  bool last = false;
  bool force = false;
  std::string rollout_id;
  auto* revert = app.add_subcommand("revert", "Undo a change set: its files as they were, validated, reloaded, probed");
  revert->add_option("id", change_id, "The change set ID")->option_text("ID");
  revert->add_flag("--last", last, "The newest change set that is done");
  revert->add_option("--rollout", rollout_id, "With -i: on each host, the change set of this fleet rollout")
      ->option_text("ID");
  revert->add_flag("--force", force, "Restore even files that were changed since the change");
  revert->footer(
      "\nA revert is a change set of its own (so it can be reverted too). When a file was changed since\n"
      "the change, revert refuses and shows what the change left and what is there now.");

  std::string service_action;
  auto* service = app.add_subcommand("service", "Status, reload or restart of sshd through systemd (D-Bus)");
  service->add_option("action", service_action, "status | reload | restart")
      ->required()
      ->check(CLI::IsMember({"status", "reload", "restart"}));
  service->footer(
      "\nreload keeps open sessions (sshd re-executes itself); restart only when asked. The job is\n"
      "awaited and the unit checked; a failed job is reported with the unit's last journal lines.\n"
      "Without systemd, reload falls back to SIGHUP to the pid in /run/sshd.pid and says so.");

  cli::DoctorArgs doctor_args;
  auto* doctor = app.add_subcommand("doctor",
                                    "Why can't USER log in? Checks service, port, policy, account, PAM, "
                                    "firewall and who else edits the configuration");
  doctor->add_option("--user", doctor_args.user, "The account that should log in (default: root)")->option_text("USER");
  doctor
      ->add_option("--from", doctor_args.from,
                   "The client address (default: this session's SSH_CONNECTION on --host, else 192.0.2.1)")
      ->option_text("ADDR");
  doctor->footer(
      "\nRead-only: each check says \u2713 (fine), \u2717 (the login fails because of it) or ! (worth knowing),\n"
      "with the file:line that decided, and for a problem the command that fixes it (an sshdctl verb, or\n"
      "a shell command marked 'outside sshdctl'). Match blocks are evaluated for USER from ADDR and\n"
      "checked against sshd -T -C. On --root DIR the service, port and live firewall are skipped.\n"
      "Exit codes: 0 nothing keeps USER from logging in (warnings may remain); 1 the login would fail\n"
      "(or the checks could not run); 2 bad input.\n"
      "Example: sshdctl --host ecs-user@web1 doctor --user root --from 203.0.113.7");
  auto* audit = app.add_subcommand("audit", "Does each target meet a policy? Effective values compared, read-only");
  audit->add_option("--policy", policy_file, "The policy (the same YAML as apply)")->required()->option_text("POLICY");
  audit->footer(
      "\nEffective values are compared (the line sshd uses after Include and first-value-wins, or sshd's\n"
      "own default from sshd -T), not file text; each drift names the file:line that decides it and\n"
      "the policy's line. Keys present/absent, lock states and passwords (checked against the hash) too.\n"
      "Exit codes: 0 compliant, 9 drift (with -i: 0 every host compliant, 7 some drifted or failed).\n"
      "Example: sshdctl -i hosts.ini audit --policy examples/policies/baseline.yml --report audit.jsonl");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (const auto hint = unknown_verb(app)) {
      std::cerr << *hint;
      return sshdctl::exit_code::kBadInput;
    }
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr)
      if (const auto hint = unknown_option(app, e.what())) {
        std::cerr << *hint;
        return sshdctl::exit_code::kBadInput;
      }
    const int code = app.exit(e);
    return code == 0 ? 0 : sshdctl::exit_code::kBadInput;
  }

  auto logger = spdlog::stderr_color_mt("sshdctl");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%l%$: %v");
  spdlog::set_level(verbosity >= 2 ? spdlog::level::debug : verbosity == 1 ? spdlog::level::info : spdlog::level::warn);

  try {
    host::FsHost controller("/");
    const bool fleet = !fleet_args.inventory.empty();
    if (!root.empty() && !remote.destination.empty())
      throw Error(ErrorKind::kBadInput, "--root and --host exclude each other");
    if (fleet && (!root.empty() || !remote.destination.empty()))
      throw Error(ErrorKind::kBadInput, "-i (an inventory) excludes --host and --root");
    if (!fleet && (!fleet_args.limit.empty() || !batch_text.empty() || !max_failures_text.empty() ||
                   fleet_args.rollout.canary > 0 || !fleet_args.report_file.empty()))
      throw Error(ErrorKind::kBadInput, "--limit, --canary, --batch, --max-failures and --report are for -i INVENTORY");
    if (!rollout_id.empty() && (!fleet || !change_id.empty() || last))
      throw Error(ErrorKind::kBadInput, "revert --rollout ID needs -i INVENTORY, and no other change set");
    if (!batch_text.empty()) fleet_args.rollout.batch = fleet::Amount::parse(batch_text, "--batch");
    if (!max_failures_text.empty())
      fleet_args.rollout.max_failures = fleet::Amount::parse(max_failures_text, "--max-failures");
    if ((login_password.from_stdin ? 1 : 0) + (root_password.from_stdin ? 1 : 0) + (new_password.from_stdin ? 1 : 0) +
            (credential_password.from_stdin ? 1 : 0) + (pubkey_source == "-" ? 1 : 0) >
        1)
      throw Error(ErrorKind::kBadInput,
                  "only one thing can come from stdin (--pass-stdin, --password-stdin, --stdin, --pubkey -)");
    if (key_only && root_password.given())
      throw Error(ErrorKind::kBadInput, "--key-only keeps passwords out: it takes no root password");
    const auto new_root_password = cli::read_secret(root_password, "new root password");
    if (credential->parsed())
      return run_credential(credential_add->parsed(), credential_remove->parsed(), credential_name, credential_user,
                            credential_key, credential_password, store_passphrase, store_path, json);
    if (fleet && tempkey->parsed())
      throw Error(ErrorKind::kBadInput, "tempkey makes one key for one host: use --host, not -i");
    if (fleet && doctor->parsed())
      throw Error(ErrorKind::kBadInput, "doctor examines one host: use --host (audit --policy checks a fleet)");
    if (!credential_name.empty()) {
      if (remote.destination.empty() && !fleet) throw Error(ErrorKind::kBadInput, "--credential is for --host or -i");
      use_credential(remote, credential_name, store_passphrase, store_path);
    }
    const bool remote_login = !remote.destination.empty() || fleet;
    if (!remote_login && (login_password.given() || !remote.jump.empty()))
      throw Error(ErrorKind::kBadInput, "login passwords and --jump are for --host or -i");
    if (remote_login) {
      if (login_password.given()) remote.password = cli::read_secret(login_password, "login password");
      remote.ask_passphrase = [](const std::string& prompt) {
        static std::mutex asking;  // hosts log in concurrently with -i: one question at a time
        const std::lock_guard lock(asking);
        return cli::ask_on_tty(prompt);
      };
    }

    // What every verb needs, read once (stdin and files) before any host is touched.
    std::optional<fleet::Policy> policy;
    std::map<std::string, std::string> policy_passwords;
    if (plan->parsed() || apply->parsed() || audit->parsed()) {
      policy = fleet::load_policy(policy_file);
      policy_passwords = cli::policy_passwords(*policy);
      if (plan->parsed()) dry_run = true;
    }
    std::optional<accounts::PublicKey> pubkey;
    if (key_add->parsed()) {
      pubkey = accounts::parse_public_key(read_public_key(pubkey_source));
      if (!key_options.empty()) {
        auto extra = accounts::parse_options(key_options);
        pubkey->options.insert(pubkey->options.end(), extra.begin(), extra.end());
      }
    }
    if (key_remove->parsed()) {
      if (!pubkey_source.empty()) selector.blob = accounts::parse_public_key(read_public_key(pubkey_source)).blob;
      if (!selector.blob && !selector.fingerprint && !selector.comment)
        throw Error(ErrorKind::kBadInput, "say which key: --pubkey, --fingerprint or --comment");
    }
    if (revert->parsed() && rollout_id.empty() && change_id.empty() == !last)
      throw Error(ErrorKind::kBadInput, "say which change set: an ID, --last, or --rollout ID with -i");
    const auto new_account_password =
        passwd->parsed() ? cli::read_secret(new_password, "new password") : std::optional<std::string>();
    if (!window_for.empty() && !confirm_within.empty())
      throw Error(ErrorKind::kBadInput, "--for and --confirm-within exclude each other");

    const auto faults = cli::test_fault_hook();
    cli::Context base;
    base.controller = &controller;
    base.faults = faults.get();
    base.lens_dir = lens_dir.empty() ? config::default_lens_dir() : lens_dir;
    base.dry_run = dry_run;
    base.reload = !no_reload;
    base.unit = unit;
    base.window_s =
        window_for.empty() ? (confirm_within.empty() ? 0 : parse_duration(confirm_within)) : parse_duration(window_for);
    if (base.window_s == 0 && policy) base.window_s = policy->window_s;
    base.reason = reason;
    base.lock_timeout_s = lock_timeout;
    base.confirm_timeout_s = confirm_timeout;
    base.who = operator_name();
    cli::install_interrupt_handler();
    if (no_reload && !dry_run) spdlog::warn("--no-reload: the running sshd keeps its old settings until reloaded");
    const bool read_only = show->parsed() || service->parsed() || history->parsed() || show_change->parsed() ||
                           key_list->parsed() || audit->parsed();
    if (no_probe && remote_login && !read_only)
      spdlog::warn("--no-probe: no fresh login is tried after the reload; a change that locks you out stays");

    // The verb, on one target.
    const auto verb = [&](cli::Context& ctx) -> cli::Outcome {
      // Everything the verb reads comes from one snapshot of the target (one request to a
      // remote host); /etc/shadow only for the verbs that handle passwords. The journal's and
      // the service's verbs read neither sshd's files nor the accounts: no snapshot.
      const bool reads_config = !(history->parsed() || show_change->parsed() || confirm->parsed() || service->parsed());
      const bool reads_shadow =
          enable->parsed() || passwd->parsed() || revert->parsed() || audit->parsed() || policy.has_value();
      const bool reloads = set->parsed() || unset->parsed() || enable->parsed() || disable->parsed() ||
                           revert->parsed() || policy.has_value();
      std::optional<txn::SnapshotScope> snapshot;
      if (reads_config) snapshot.emplace(ctx, txn::snapshot_request(reads_shadow), reloads && !read_only);
      cli::Outcome out;
      const auto done = [&](auto report, int code) {
        out.json = cli::to_json(report);
        out.text = cli::render_text(report);
        out.code = code;
        return out;
      };
      if (service->parsed()) return done(cli::service(ctx, service_action), exit_code::kChanged);
      if (history->parsed()) return done(cli::history(ctx), exit_code::kChanged);
      if (show_change->parsed()) return done(cli::show_change(ctx, change_id), exit_code::kChanged);
      if (key_list->parsed()) return done(cli::key_list(ctx, account_user), exit_code::kChanged);
      if (audit->parsed()) {
        const auto report = doctor::audit(*ctx.target, *ctx.controller, ctx.lens_dir, *policy, policy_passwords);
        return done(report, report.compliant() ? exit_code::kChanged : exit_code::kDrift);
      }
      if (show->parsed()) {
        const auto report = cli::show(ctx, show_keys, conn, compare);
        return done(report, report.mismatches > 0 ? exit_code::kFailed : exit_code::kChanged);
      }
      cli::ChangeReport report;
      if (set->parsed()) {
        report = cli::set(ctx, key, values, match);
      } else if (unset->parsed()) {
        report = cli::unset(ctx, key, unset_names, match);
      } else if (enable->parsed()) {
        report = cli::root_login(ctx, true, key_only, new_root_password);
      } else if (disable->parsed()) {
        report = cli::root_login(ctx, false, false, std::nullopt);
      } else if (key_add->parsed()) {
        report = cli::key_add(ctx, account_user, *pubkey, fix_perms);
      } else if (key_remove->parsed()) {
        report = cli::key_remove(ctx, account_user, selector);
      } else if (key_prune->parsed()) {
        report = cli::key_prune(ctx, account_user);
      } else if (confirm->parsed()) {
        report = cli::confirm(ctx, change_id_for_confirm);
      } else if (revert->parsed()) {
        std::optional<std::string> id = last ? std::nullopt : std::optional<std::string>(change_id);
        if (!rollout_id.empty()) {
          id = cli::rollout_change(ctx, rollout_id);
          if (!id) {
            report.host = ctx.target->name();
            report.verb = "revert";
            report.notes.push_back({{report.host, {}, 0}, "no change set of rollout " + rollout_id + " is done here"});
          }
        }
        if (rollout_id.empty() || id) report = cli::revert(ctx, id, force);
      } else if (passwd->parsed()) {
        report = cli::passwd(ctx, account_user, new_account_password, unlock);
      } else if (policy) {
        report = cli::apply_policy(ctx, *policy, policy_passwords);
      }
      done(report, report.changed ? exit_code::kChanged : exit_code::kUnchanged);
      out.change = std::move(report);
      return out;
    };

    if (fleet) {
      // Hosts run on many threads: two malloc arenas, so memory one host's run frees is
      // reused by the next instead of held in an arena per thread.
      ::mallopt(M_ARENA_MAX, 2);
      fleet_args.json = json;
      fleet_args.mutating = !read_only;
      fleet_args.probe = !no_probe;
      std::vector<std::string> words;
      for (const auto* sub : app.get_subcommands()) words.push_back(sub->get_name());
      fleet_args.verb_name = sshdctl::text::join(words, " ") + (policy ? " " + policy_file : "");
      if (!read_only && !dry_run)
        cli::set_interrupt_note(
            "hosts whose commit got through undo their change by themselves unless a fresh login confirmed it "
            "(see: sshdctl -i INVENTORY history)");
      return cli::run_fleet(fleet_args, remote, base, new_root_password, verb);
    }

    std::unique_ptr<host::Host> other;
    host::Host* target = &controller;
    std::vector<cli::Context::Probe> probes;
    if (!remote.destination.empty()) {
      auto connected = cli::connect_remote(remote, new_root_password);
      probes = std::move(connected.probes);
      base.who += " via ssh as " + connected.host->login_user();
      other = std::move(connected.host);
      target = other.get();
    } else if (!root.empty()) {
      other = std::make_unique<host::FsHost>(root);
      target = other.get();
    }
    host::DryRunHost dry(*target);
    cli::Context ctx = base;
    ctx.target = dry_run ? static_cast<host::Host*>(&dry) : target;
    if (!no_probe) ctx.probes = std::move(probes);
    ctx.on_phase = cli::set_interrupt_note;
    if (doctor->parsed())
      return cli::run_doctor(ctx, doctor_args,
                             !remote.destination.empty() ? "--host " + remote.destination
                             : !root.empty()             ? "--root " + root
                                                         : "",
                             json);
    if (tempkey->parsed()) return run_tempkey(ctx, account_user, ttl_text, tempkey_out, json);
    const auto out = verb(ctx);
    return print_result(json, out.json, out.text, out.code);
  } catch (const Error& e) {
    if (json) std::cout << cli::to_json(e).dump() << "\n";
    std::cerr << cli::render_text(e);
    return exit_code_for(e.kind());
  } catch (const std::exception& e) {
    std::cerr << "sshdctl: internal error: " << e.what() << "\n";
    return exit_code::kFailed;
  }
}

int main(int argc, char** argv) {
  try {
    return run_sshdctl(argc, argv);
  } catch (...) {
    std::cerr << "sshdctl: internal error while starting\n";
    return sshdctl::exit_code::kFailed;
  }
}
