#include "commands.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>

#include "sshdctl/accounts/password.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/config/resolve.h"
#include "sshdctl/config/validate.h"
#include "sshdctl/host/accounts.h"
#include "sshdctl/service/service.h"

namespace sshdctl::cli {

namespace {

using config::Effective;
using config::Model;
using config::OptionKey;
using config::Plan;

std::string where(const config::Entry& e) { return Location{{}, e.file, e.directive->line}.str(); }

// The catalog entry for a keyword typed by the operator, or a helpful error.
const config::Keyword& keyword_or_fail(const std::string& name) {
  if (text::iequals(name, "Match"))
    throw Error(ErrorKind::kBadInput, "Match is not a setting: use --match \"User root\" to edit inside a Match block");
  const config::Keyword* kw = config::option_of(name);
  if (kw == nullptr) {
    std::string message = "unknown keyword '" + name + "'";
    if (auto guess = config::closest_keyword(name)) message += "; did you mean '" + std::string(*guess) + "'?";
    throw Error(ErrorKind::kBadInput, message);
  }
  return *kw;
}

OptionKey option_key(const std::string& name, const std::vector<std::string>& values) {
  const auto& kw = keyword_or_fail(name);
  OptionKey key{&kw, {}};
  if (kw.combine == config::Combine::kPerSubsystem) {
    if (values.empty()) throw Error(ErrorKind::kBadInput, "Subsystem needs the subsystem name, e.g. 'Subsystem sftp'");
    key.subsystem = values[0];
  }
  return key;
}

constexpr std::chrono::seconds kReloadTimeout{30};

std::string describe(const service::ActionResult& r) {
  std::string out = r.action + " of " + r.after.unit + " through " + r.method + ": " + r.job_result;
  if (!r.note.empty()) return out + " (" + r.note + ")";
  out += ", now " + r.after.active_state + (r.after.sub_state.empty() ? "" : "/" + r.after.sub_state);
  if (r.after.main_pid != 0) out += ", main pid " + std::to_string(r.after.main_pid);
  return out + "; open sessions are kept";
}

// Reloads sshd after a change: only on a live target, only when something changed. When the
// listening addresses changed under socket activation, the socket unit is moved instead.
std::string reload_after_change(Context& ctx, const std::optional<std::vector<std::string>>& new_streams) {
  if (ctx.target->offline()) return "offline root: no service to reload";
  if (!ctx.reload) return "NOT RELOADED (--no-reload): the running sshd still uses the old settings";
  auto manager = service::open_service_manager(*ctx.target, ctx.unit);
  if (new_streams)
    if (auto moved = manager->relisten(*new_streams, kReloadTimeout)) return describe(*moved);
  return describe(manager->reload(kReloadTimeout));
}

// The first failing login probe, as "LOGIN: why".
std::optional<std::string> run_probes(const Context& ctx) {
  for (const auto& probe : ctx.probes)
    if (auto why = probe.run()) return "a fresh login as " + probe.what + " fails: " + *why;
  return std::nullopt;
}

// Loads, plans, checks the plan took effect, validates with sshd -t, writes atomically
// (the sshd files and `more`, changes of other files such as /etc/shadow), reloads, probes.
ChangeReport run_change(Context& ctx, const std::string& verb, const std::function<Plan(const Model&)>& make_plan,
                        const std::function<void(const Model&)>& check,
                        const std::vector<config::FileChange>& more = {}) {
  ChangeReport report;
  report.host = ctx.target->name();
  report.verb = verb;
  report.dry_run = ctx.dry_run;

  config::ConfigTree tree(*ctx.target, ctx.lens_dir);
  tree.load();
  const Plan plan = make_plan(tree.model());
  report.notes = plan.notes;
  for (auto& note : report.notes) note.where.host = report.host;
  tree.apply(plan);
  auto changes = tree.changes();
  const bool sshd_changed = !changes.empty();
  changes.insert(changes.end(), more.begin(), more.end());
  if (changes.empty()) return report;
  const Model edited = tree.edited_model();
  if (check) check(edited);

  std::optional<std::vector<std::string>> new_streams;
  if (auto after = config::listen_streams(edited); after != config::listen_streams(tree.model()))
    new_streams = std::move(after);

  if (sshd_changed) {
    config::SshdOracle oracle(*ctx.target, *ctx.controller);
    report.checks = oracle.validate(tree.candidate(), tree.model().main_file, tree.current());
  }

  for (const auto& change : changes) {
    spdlog::info("{}: writing {}", report.host, change.path);
    ctx.target->write_file_atomic(change.path, change.after, change.info);
    report.files.push_back(FileReport{change.path,
                                      change.masked.empty()
                                          ? text::unified_diff(change.before.value_or(""), change.after, change.path)
                                          : change.path + ": " + change.masked + "\n",
                                      !change.before.has_value()});
  }
  report.changed = true;
  if (ctx.dry_run) {
    report.service = "dry run: nothing was written, nothing reloaded";
    return report;
  }
  if (sshd_changed) {
    try {
      report.service = reload_after_change(ctx, new_streams);
    } catch (Error& e) {
      throw Error(e.kind(), "the files were changed and validated, but " + e.message(), e.where())
          .with_detail(e.detail());
    }
  } else {
    report.service = "sshd's configuration is unchanged: nothing to reload";
  }
  if (!ctx.reload || ctx.target->offline()) return report;

  // Safety invariant 4: the operator must still be able to log in; else the change goes.
  const auto failure = run_probes(ctx);
  if (!failure) {
    for (const auto& probe : ctx.probes)
      report.checks.push_back("login probe: a fresh login as " + probe.what + " works");
    return report;
  }
  spdlog::warn("{}: the login probe failed ({}); rolling the change back", report.host, *failure);
  std::size_t restored = 0;
  try {
    for (auto it = changes.rbegin(); it != changes.rend(); ++it, ++restored) {
      if (it->before)
        ctx.target->write_file_atomic(it->path, *it->before, it->info);
      else
        ctx.target->remove_file(it->path);
    }
  } catch (const Error& e) {
    std::vector<std::string> left;
    for (std::size_t k = 0; k + restored < changes.size(); ++k) left.push_back(changes[k].path);
    throw Error(ErrorKind::kInternal, *failure + "; THE ROLLBACK FAILED: " + e.message(), Location{report.host, {}, 0})
        .with_detail("still changed (each file whole, old or new): " + text::join(left, ", ") +
                     "; restore them by hand, from the console if need be");
  }
  std::string outcome;
  try {
    std::optional<std::vector<std::string>> old_streams;
    if (new_streams) old_streams = config::listen_streams(tree.model());
    if (sshd_changed) reload_after_change(ctx, old_streams);
    const auto again = run_probes(ctx);
    outcome = again ? "; the login STILL FAILS after the rollback: " + *again : "; the login works again";
  } catch (const Error& e) {
    outcome = "; the files are restored, but " + e.message();
  }
  throw Error(ErrorKind::kRolledBack, "rolled back: " + *failure + outcome, Location{report.host, {}, 0})
      .with_detail("the change would have locked the operator out; every file is back as it was");
}

// `fallback`: sshd's built-in default, used when no line sets the option.
void require_effective(const Effective& eff, const config::Keyword& kw, const std::vector<std::string>& wanted,
                       const std::string& what, const std::vector<std::string>& fallback = {}) {
  const auto& values = eff.values.empty() ? fallback : eff.values;
  if (!config::same_values(kw, values, wanted))
    throw Error(ErrorKind::kInternal, "the edit would not make " + what + " effective (sshd would use '" +
                                          text::join(values, " ") + "'); nothing was changed");
}

config::Connection to_connection(Context& ctx, const ConnectionArgs& args) {
  config::Connection conn;
  conn.user = args.user;
  conn.host = args.host;
  conn.addr = args.addr;
  conn.laddr = args.laddr;
  conn.lport = args.lport;
  conn.rdomain = args.rdomain;
  if (args.user) {
    if (auto account = host::find_account(*ctx.target, *args.user))
      conn.groups = host::groups_of(*ctx.target, *account);
    else
      conn.groups = std::vector<std::string>{};
  }
  return conn;
}

ShownOption describe(const Model& model, const OptionKey& key, const Effective& eff) {
  ShownOption shown;
  shown.keyword = std::string(key.keyword->name);
  if (!key.subsystem.empty()) shown.keyword += " " + key.subsystem;
  shown.values = eff.values;
  shown.is_default = eff.sources.empty();
  shown.from_match = eff.from_match;
  for (const auto* e : eff.sources) shown.sources.push_back(where(*e));
  for (const auto* e : eff.ignored)
    shown.ignored.push_back(where(*e) + ": " + e->directive->keyword + " " + text::join(e->directive->args, " "));
  for (const auto* e : eff.uncertain) {
    const auto& block = *model.contexts[static_cast<std::size_t>(e->context)].block;
    shown.overrides.push_back(where(*e) + ": Match " + block.condition_text() + ": " + e->directive->keyword + " " +
                              text::join(e->directive->args, " "));
  }
  return shown;
}

}  // namespace

ShowReport show(Context& ctx, const std::vector<std::string>& keys, const ConnectionArgs& args, bool compare) {
  ShowReport report;
  report.host = ctx.target->name();
  report.connection = args;
  config::ConfigTree tree(*ctx.target, ctx.lens_dir);
  tree.load();
  const Model& model = tree.model();
  report.main_file = model.main_file;
  report.files = model.files;

  // Which options: the ones asked for, or every option the files set.
  std::vector<OptionKey> options;
  if (keys.empty()) {
    for (const auto& entry : model.entries) {
      const config::Keyword* kw = config::option_of(entry.directive->keyword);
      if (kw == nullptr) {
        report.notes.push_back(where(entry) + ": unknown keyword '" + entry.directive->keyword + "'");
        continue;
      }
      OptionKey key{kw, {}};
      if (kw->combine == config::Combine::kPerSubsystem && !entry.directive->args.empty())
        key.subsystem = entry.directive->args[0];
      const bool seen = std::any_of(options.begin(), options.end(), [&](const OptionKey& k) {
        return k.keyword == key.keyword && k.subsystem == key.subsystem;
      });
      if (!seen) options.push_back(key);
    }
  } else {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const auto& kw = keyword_or_fail(keys[i]);
      OptionKey key{&kw, {}};
      if (kw.combine == config::Combine::kPerSubsystem && i + 1 < keys.size()) key.subsystem = keys[++i];
      options.push_back(key);
    }
  }

  const bool for_connection = args.any();
  const config::Connection conn = to_connection(ctx, args);
  for (const auto& key : options) {
    const Effective eff = for_connection ? config::resolve_for(model, key, conn, config::Unknown::kIgnore)
                                         : config::resolve_global(model, key);
    report.options.push_back(describe(model, key, eff));
  }

  if (compare) {
    std::string spec;
    if (for_connection) {
      if (!args.user || !args.addr)
        throw Error(ErrorKind::kBadInput,
                    "--compare with a connection needs at least --user and --addr "
                    "(sshd -T -C requires user, host and addr)");
      spec = "user=" + *args.user + ",host=" + args.host.value_or(*args.addr) + ",addr=" + *args.addr;
      if (args.laddr) spec += ",laddr=" + *args.laddr;
      if (args.lport) spec += ",lport=" + *args.lport;
      if (args.rdomain) spec += ",rdomain=" + *args.rdomain;
    }
    config::SshdOracle oracle(*ctx.target, *ctx.controller);
    const auto truth = oracle.effective(tree.candidate(), model.main_file, spec);
    if (!truth) {
      report.notes.push_back("cannot compare: no sshd to ask");
    } else {
      for (auto& shown : report.options) {
        const std::string name = text::lower(shown.keyword);
        std::vector<std::string> said;
        for (const auto& [k, v] : *truth) {
          if (k == name)
            said.push_back(v);
          else if (name.rfind("subsystem ", 0) == 0 && k == "subsystem" &&
                   text::lower(v).rfind(name.substr(10) + " ", 0) == 0)
            said.push_back(v.substr(name.size() - 9));
        }
        if (said.empty()) continue;
        shown.sshd = text::join(said, " ");
        if (!shown.is_default) {
          const std::string ours = text::lower(text::join(shown.values, " "));
          std::string theirs = text::lower(*shown.sshd);
          std::string ours_norm = ours;
          for (auto* s : {&theirs, &ours_norm})
            for (auto& c : *s)
              if (c == ',') c = ' ';
          if (ours_norm != theirs && !(ours == "without-password" && theirs == "prohibit-password"))
            ++report.mismatches;
        }
      }
    }
  }
  return report;
}

ChangeReport set(Context& ctx, const std::string& name, const std::vector<std::string>& values,
                 const std::optional<std::string>& match) {
  const OptionKey key = option_key(name, values);
  const auto& kw = *key.keyword;
  if (text::iequals(kw.name, "Include"))
    throw Error(ErrorKind::kBadInput, "sshdctl does not edit Include lines; edit the settings the included files hold");
  if (auto problem = config::check_value(kw, config::value_words(key, values)))
    throw Error(ErrorKind::kBadInput, *problem);
  std::vector<config::Criterion> criteria;
  if (match) {
    criteria = config::parse_criteria(*match);
    if (!kw.match_allowed)
      throw Error(ErrorKind::kBadInput, std::string(kw.name) + " is not allowed inside a Match block (sshd_config(5))");
  }
  const auto wanted = config::value_words(key, values);
  return run_change(
      ctx, "set",
      [&](const Model& model) {
        return match ? config::plan_set_in_block(model, key, values, criteria) : config::plan_set(model, key, values);
      },
      [&](const Model& edited) {
        if (!match) require_effective(config::resolve_global(edited, key), kw, wanted, std::string(kw.name));
      });
}

ChangeReport unset(Context& ctx, const std::string& name, const std::vector<std::string>& names,
                   const std::optional<std::string>& match) {
  const OptionKey key = option_key(name, names);
  std::vector<config::Criterion> criteria;
  if (match) criteria = config::parse_criteria(*match);
  return run_change(
      ctx, "unset",
      [&](const Model& model) {
        return match ? config::plan_unset_in_block(model, key, criteria) : config::plan_unset(model, key);
      },
      [&](const Model& edited) {
        if (!match && !config::resolve_global(edited, key).sources.empty())
          throw Error(ErrorKind::kInternal, "a line for " + std::string(key.keyword->name) + " would remain");
      });
}

std::vector<config::FileChange> password_change(host::Host& target, const std::string& user,
                                                const std::string& password, std::vector<config::Note>& notes) {
  const std::string path = "/etc/shadow";
  const auto shadow = target.read_file(path);
  if (!shadow) throw Error(ErrorKind::kNotFound, "no shadow file", Location{target.name(), path, 0});
  const auto current = accounts::shadow_field(*shadow, user);
  if (!current) throw Error(ErrorKind::kBadInput, "no user " + user + " in the shadow file", {target.name(), path, 0});
  if (accounts::password_matches(password, *current)) return {};  // already that password
  const auto method = accounts::hash_method(target.read_file("/etc/login.defs").value_or(""));
  if (!method.note.empty()) notes.push_back(config::Note{{target.name(), "/etc/login.defs", 0}, method.note});
  config::FileChange change;
  change.path = path;
  change.before = shadow;
  change.after =
      accounts::with_password(*shadow, user, accounts::hash_password(password, method), accounts::days_since_epoch());
  change.info = target.stat(path);
  change.masked = user + "'s password hash changed (" + method.name + ", as login.defs says)" +
                  (current->rfind('!', 0) == 0 || *current == "*" ? "; the account was locked and is unlocked" : "");
  return {change};
}

ChangeReport root_login(Context& ctx, bool enable, bool key_only, const std::optional<std::string>& new_password) {
  config::RootLoginRequest request;
  request.enable = enable;
  request.password = enable && !key_only;
  request.permit = enable ? (key_only ? "prohibit-password" : "yes") : "no";
  if (auto root = host::find_account(*ctx.target, "root")) request.root_groups = host::groups_of(*ctx.target, *root);

  config::Connection root;
  root.user = "root";
  root.groups = request.root_groups;
  const OptionKey permit{config::find_keyword("PermitRootLogin"), {}};
  const OptionKey password{config::find_keyword("PasswordAuthentication"), {}};
  std::vector<config::Note> password_notes;
  const auto more = new_password ? password_change(*ctx.target, "root", *new_password, password_notes)
                                 : std::vector<config::FileChange>{};
  auto report = run_change(
      ctx, enable ? "root-login enable" : "root-login disable",
      [&](const Model& model) { return config::plan_root_login(model, request); },
      [&](const Model& edited) {
        // Whatever the client's address: every Match block that may apply counts.
        if (!config::certainly(edited, permit, root, request.permit, "prohibit-password"))
          throw Error(ErrorKind::kInternal, "the edit would not make PermitRootLogin " + request.permit +
                                                " certain for root; nothing was changed");
        if (request.password && !config::certainly(edited, password, root, "yes", "yes"))
          throw Error(ErrorKind::kInternal,
                      "the edit would not make PasswordAuthentication yes certain for root; nothing was changed");
      },
      more);
  report.notes.insert(report.notes.end(), password_notes.begin(), password_notes.end());
  if (request.password && !new_password) {
    const auto shadow = ctx.target->read_file("/etc/shadow");
    const auto field = shadow ? accounts::shadow_field(*shadow, "root") : std::nullopt;
    if (field && (field->empty() || field->front() == '!' || field->front() == '*'))
      report.notes.push_back(config::Note{{report.host, "/etc/shadow", 0},
                                          "root has no usable password (locked or empty), so a password logon "
                                          "cannot work yet: give one with --password-stdin (or --ask-password)"});
  }
  return report;
}

ServiceReport service(Context& ctx, const std::string& action) {
  if (ctx.target->offline())
    throw Error(ErrorKind::kUnsupported, "an offline root has no running service", Location{ctx.target->name(), {}, 0});
  ServiceReport report;
  report.host = ctx.target->name();
  report.action = action;
  auto manager = service::open_service_manager(*ctx.target, ctx.unit);
  service::UnitStatus status;
  if (action == "status") {
    status = manager->status();
    report.method = "status";
  } else {
    const auto r = action == "reload" ? manager->reload(kReloadTimeout) : manager->restart(kReloadTimeout);
    status = r.after;
    report.method = r.method;
    report.job_result = r.job_result;
    report.note = r.note;
    // Nothing to roll back here, but the operator must know at once when the way in is gone.
    if (const auto failure = run_probes(ctx))
      throw Error(ErrorKind::kInternal, "the " + action + " is done, but " + *failure, Location{report.host, {}, 0})
          .with_detail("keep this session open and check sshd (sshdctl show --compare, journalctl -u " + status.unit +
                       ")");
    for (const auto& probe : ctx.probes) report.probes.push_back("a fresh login as " + probe.what + " works");
  }
  report.unit = status.unit;
  report.active_state = status.active_state;
  report.sub_state = status.sub_state;
  report.main_pid = status.main_pid;
  return report;
}

}  // namespace sshdctl::cli
