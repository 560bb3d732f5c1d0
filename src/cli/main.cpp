// sshdctl: open and close SSH access on Linux hosts, safely.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "commands.h"
#include "output.h"
#include "secrets.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/host/dry_run_host.h"
#include "sshdctl/host/fs_host.h"
#include "sshdctl/host/ssh_host.h"

namespace {

constexpr const char* kFooter = R"(
Every change is validated with `sshd -t` before it replaces a file, files are replaced
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

Exit codes:
  0  changed (or a read-only verb succeeded)
  1  failure (system error, permission, an edit that could not be placed, a failed reload)
  2  bad input: usage, unknown keyword, invalid value, unknown Match criterion
  3  unchanged: everything already was as asked; nothing was written
  4  rejected: sshd -t refused the new configuration; nothing was written
  5  a configuration file could not be parsed (file:line shown); nothing was written
  6  rolled back: after the reload a fresh login failed, so the change was undone

Remote hosts (--host): one SSH connection per run (ssh config, known_hosts checked strictly,
keys, ssh-agent, or a password from --ask-pass/--pass-stdin/--pass-file/--pass-env, never
from the command line). Commands run as root through sudo (-n, or -S fed the login password).
After a reload, a fresh login the same way must work, or the change is rolled back (exit 6).
)";

int print_result(bool json, const sshdctl::Json& j, const std::string& text, int code) {
  std::cout << (json ? j.dump() + "\n" : text);
  return code;
}

}  // namespace

int run_sshdctl(int argc, char** argv) {
  using namespace sshdctl;
  CLI::App app{
      "sshdctl: open and close SSH access on Linux hosts, safely.\n"
      "Edits sshd_config and its drop-ins so that the setting you ask for is the one sshd uses.",
      "sshdctl"};
  app.footer(kFooter);
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
  app.add_option("-i,--identity", remote.identity, "Private key (default: ssh-agent and the default keys)")
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
                 "Seconds a command on the remote host may take (default 120)");
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
               "Remote: do not try a fresh login after the reload (a lock-out would then not be rolled back)");
  app.add_flag("--dry-run,-n", dry_run, "Print the unified diffs and what would happen; change nothing");
  app.add_flag("--json", json, "Print machine-readable JSON");
  app.add_flag("-v,--verbose", verbosity, "Log what is done (-vv: debug)");
  app.add_flag("--no-reload", no_reload, "Change the files but do not reload sshd (the old settings stay live)");
  app.add_option("--unit", unit, "The sshd unit (default: detected: ssh.service, sshd.service, ssh.socket)")
      ->option_text("UNIT");
  app.add_option("--lens-dir", lens_dir, "Where the sshdctl Augeas lenses are (default: next to the binary)")
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

  std::string service_action;
  auto* service = app.add_subcommand("service", "Status, reload or restart of sshd through systemd (D-Bus)");
  service->add_option("action", service_action, "status | reload | restart")
      ->required()
      ->check(CLI::IsMember({"status", "reload", "restart"}));
  service->footer(
      "\nreload keeps open sessions (sshd re-executes itself); restart only when asked. The job is\n"
      "awaited and the unit checked; a failed job is reported with the unit's last journal lines.\n"
      "Without systemd, reload falls back to SIGHUP to the pid in /run/sshd.pid and says so.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : sshdctl::exit_code::kBadInput;
  }

  auto logger = spdlog::stderr_color_mt("sshdctl");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%l%$: %v");
  spdlog::set_level(verbosity >= 2 ? spdlog::level::debug : verbosity == 1 ? spdlog::level::info : spdlog::level::warn);

  try {
    host::FsHost controller("/");
    std::unique_ptr<host::Host> other;
    host::Host* target = &controller;
    if (!root.empty() && !remote.destination.empty())
      throw Error(ErrorKind::kBadInput, "--root and --host exclude each other");
    std::vector<cli::Context::Probe> probes;
    if (login_password.from_stdin && root_password.from_stdin)
      throw Error(ErrorKind::kBadInput, "only one secret can come from stdin (--pass-stdin, --password-stdin)");
    if (key_only && root_password.given())
      throw Error(ErrorKind::kBadInput, "--key-only keeps passwords out: it takes no root password");
    const auto new_root_password = cli::read_secret(root_password, "new root password");
    if (!remote.destination.empty()) {
      remote.password = cli::read_secret(login_password, "login password");
      remote.ask_passphrase = [](const std::string& prompt) { return cli::ask_on_tty(prompt); };
      auto ssh = std::make_unique<host::SshHost>(remote);
      spdlog::info("{}: logged in as {} with {}", ssh->name(), ssh->login_user(),
                   host::auth_methods_text(ssh->auth_method()));
      // Safety invariant 4: after a reload, the way in that was used must still work.
      host::SshTarget again = remote;
      again.methods = ssh->auth_method();
      probes.push_back({ssh->login_user() + " with " + host::auth_methods_text(again.methods),
                        [again] { return host::probe_login(again); }});
      if (new_root_password) {
        // The credential the operator will need next: root with the new password.
        host::SshTarget as_root = remote;
        const auto at = remote.destination.rfind('@');
        as_root.destination =
            "root@" + (at == std::string::npos ? remote.destination : remote.destination.substr(at + 1));
        as_root.identity.clear();
        as_root.password = new_root_password;
        as_root.methods = host::kAuthPassword | host::kAuthKbdInteractive;
        probes.push_back({"root with the new password", [as_root] { return host::probe_login(as_root); }});
      }
      other = std::move(ssh);
      target = other.get();
    } else if (login_password.given() || !remote.jump.empty()) {
      throw Error(ErrorKind::kBadInput, "login passwords and --jump are for --host");
    } else if (!root.empty()) {
      other = std::make_unique<host::FsHost>(root);
      target = other.get();
    }
    host::DryRunHost dry(*target);
    cli::Context ctx;
    ctx.target = dry_run ? static_cast<host::Host*>(&dry) : target;
    ctx.controller = &controller;
    ctx.lens_dir = lens_dir.empty() ? config::default_lens_dir() : lens_dir;
    ctx.dry_run = dry_run;
    ctx.reload = !no_reload;
    ctx.unit = unit;
    if (no_reload && !dry_run) spdlog::warn("--no-reload: the running sshd keeps its old settings until reloaded");
    if (no_probe && !probes.empty() && !show->parsed())
      spdlog::warn("--no-probe: no fresh login is tried after the reload; a change that locks you out stays");
    else
      ctx.probes = std::move(probes);

    if (service->parsed()) {
      const auto report = cli::service(ctx, service_action);
      return print_result(json, cli::to_json(report), cli::render_text(report), exit_code::kChanged);
    }

    if (show->parsed()) {
      const auto report = cli::show(ctx, show_keys, conn, compare);
      return print_result(json, cli::to_json(report), cli::render_text(report),
                          report.mismatches > 0 ? exit_code::kFailed : exit_code::kChanged);
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
    }
    return print_result(json, cli::to_json(report), cli::render_text(report),
                        report.changed ? exit_code::kChanged : exit_code::kUnchanged);
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
